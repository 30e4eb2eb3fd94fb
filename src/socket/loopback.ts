import { once } from 'node:events';
import { createServer, connect, type Socket } from 'node:net';

export interface LoopbackPair {
  client: Socket;
  accepted: Socket;
  close(): Promise<void>;
}

/** A connected client and its accepted socket on 127.0.0.1 (or ::1), on a port the kernel picks. */
export async function loopbackPair(host = '127.0.0.1'): Promise<LoopbackPair> {
  const server = createServer();
  server.listen(0, host);
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('loopback server has no TCP address');
  const acceptedPromise = once(server, 'connection') as Promise<[Socket]>;
  const client = connect(address.port, host);
  await once(client, 'connect');
  const [accepted] = await acceptedPromise;
  return {
    client,
    accepted,
    async close() {
      client.destroy();
      accepted.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

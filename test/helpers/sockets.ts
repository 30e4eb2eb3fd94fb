import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import * as tls from 'node:tls';
import { repoPath } from './paths.js';

export interface Pair {
  client: Socket;
  accepted: Socket;
  close(): Promise<void>;
}

function port(server: Server): number {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return address.port;
}

/** A client and its accepted socket on loopback, IPv4 or IPv6. */
export async function tcpPair(host: '127.0.0.1' | '::1'): Promise<Pair> {
  const server = createServer();
  server.listen(0, host);
  await once(server, 'listening');
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const client = connect(port(server), host);
  await once(client, 'connect');
  const [socket] = await accepted;
  return { client, accepted: socket, close: () => closeAll(server, client, socket) };
}

export const TLS_KEY = () => readFileSync(repoPath('test', 'fixtures', 'localhost.key'));
export const TLS_CERT = () => readFileSync(repoPath('test', 'fixtures', 'localhost.crt'));

/** A TLS client (tls.connect) and the server's TLSSocket, both past the handshake. */
export async function tlsPair(): Promise<Pair> {
  const server = tls.createServer({ key: TLS_KEY(), cert: TLS_CERT() });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'secureConnection') as Promise<[tls.TLSSocket]>;
  const client = tls.connect({ port: port(server), host: '127.0.0.1', ca: TLS_CERT(), servername: 'localhost' });
  await once(client, 'secureConnect');
  const [socket] = await accepted;
  return { client, accepted: socket, close: () => closeAll(server, client, socket) };
}

async function closeAll(server: Server, ...sockets: Socket[]): Promise<void> {
  for (const socket of sockets) socket.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

export async function listeningServer(host = '127.0.0.1'): Promise<{ server: Server; port: number }> {
  const server = createServer();
  server.listen(0, host);
  await once(server, 'listening');
  return { server, port: port(server) };
}

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { afterEach, describe, test } from 'node:test';
import { Client, GoAwayCodes, LifelineServer, type ServerMessage } from '../../src/index.js';
import { FrameDecoder } from '../../src/protocol/decoder.js';
import { encodeFrame, PROTOCOL_VERSION, type HelloFrame } from '../../src/protocol/frame.js';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function server(options: ConstructorParameters<typeof LifelineServer>[0] = {}, port = 0) {
  const made = new LifelineServer({ keepalive: false, ...options });
  const listening = await made.listen(port, '127.0.0.1');
  cleanup.push(() => made.close());
  const address = listening.address();
  assert.ok(address && typeof address !== 'string');
  const messages: ServerMessage[] = [];
  made.on('message', (message) => messages.push(message));
  return { server: made, port: address.port, messages, sockets: () => listening };
}

function client(port: number, options: Partial<ConstructorParameters<typeof Client>[0]> = {}) {
  const made = new Client({ host: '127.0.0.1', port, keepalive: false, backoff: { base: 10, cap: 100 }, ...options });
  cleanup.push(() => made.close());
  return made;
}

describe('Client', () => {
  test('client: every send resolves once the server acknowledged it; the server gets each once, in order', async () => {
    const { port, messages } = await server();
    const peer = client(port).connect();
    await Promise.all(Array.from({ length: 200 }, (_, index) => peer.send(`m${index}`)));
    const stats = peer.heartbeatStats();
    assert.ok(stats, 'heartbeat stats while connected');
    assert.equal(stats.pingsOutstanding, 0);
    assert.deepEqual(messages.map((message) => message.data.toString()), Array.from({ length: 200 }, (_, index) => `m${index}`));
    assert.equal(peer.pending, 0);
  });

  test('client: connections killed under it lose nothing and repeat nothing', async () => {
    const { port, messages, sockets } = await server();
    const accepted: Socket[] = [];
    sockets().on('connection', (socket: Socket) => accepted.push(socket));
    const peer = client(port).connect();
    const sends: Promise<void>[] = [];
    for (let index = 0; index < 2000; index++) {
      sends.push(peer.send(`line ${index}`));
      if (index % 400 === 399) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        for (const socket of accepted.splice(0)) socket.destroy();
      }
    }
    await Promise.all(sends);
    const lines = messages.map((message) => message.data.toString());
    assert.equal(lines.length, 2000);
    assert.deepEqual(lines, Array.from({ length: 2000 }, (_, index) => `line ${index}`));
  });

  test('client: messages from the server arrive once across reconnects too', async () => {
    const { server: lifeline, port } = await server();
    const peer = client(port).connect();
    const [{ session }] = await once(peer, 'connected');
    const received: string[] = [];
    peer.on('message', ({ data }) => received.push(data.toString()));
    await Promise.all(Array.from({ length: 50 }, (_, index) => lifeline.send(session, Buffer.from(`s${index}`))));
    assert.deepEqual(received, Array.from({ length: 50 }, (_, index) => `s${index}`));
  });

  /** A scripted server: `script` gets each HELLO (and the connection's number) and answers as a test needs. */
  async function scripted(script: (hello: HelloFrame, connection: number, socket: Socket) => void) {
    let connections = 0;
    const fake = createServer((socket) => {
      const connection = connections++;
      const decoder = new FrameDecoder({ maxFrameSize: 1 << 20 });
      socket.on('error', () => {});
      socket.on('data', (chunk) => {
        for (const frame of decoder.push(chunk)) if (frame.type === 'hello' && 'sessionId' in frame) script(frame, connection, socket);
      });
    });
    fake.listen(0, '127.0.0.1');
    await once(fake, 'listening');
    cleanup.push(() => new Promise((resolve) => fake.close(resolve)));
    return (fake.address() as { port: number }).port;
  }

  const welcome = (sessionId: string, heartbeatIntervalMs = 10_000) =>
    encodeFrame({ type: 'welcome', version: PROTOCOL_VERSION, sessionId, heartbeatIntervalMs, heartbeatTimeoutMs: heartbeatIntervalMs * 2, maxFrameSize: 1 << 20, lastReceivedSeq: 0 });

  test('client: a lost session rejects the unacknowledged sends with a typed error and starts anew', async () => {
    const port = await scripted((hello, connection, socket) => {
      if (connection === 0) {
        socket.write(welcome('old'));
        setTimeout(() => socket.destroy(), 100); // never acknowledges, then the connection dies
      } else if (hello.sessionId === 'old') {
        socket.end(encodeFrame({ type: 'goaway', code: GoAwayCodes.SESSION_GONE, reason: 'expired' }));
      } else {
        socket.write(welcome('new'));
      }
    });
    const peer = client(port).connect();
    await once(peer, 'connected');
    const lost = peer.send('never acknowledged');
    const [gone] = await once(peer, 'session-lost');
    assert.deepEqual(gone, { session: 'old', lost: 1 });
    await assert.rejects(lost, { code: 'ERR_LIFELINE_SESSION', reason: 'session-lost' });
    const [connected] = await once(peer, 'connected');
    assert.equal(connected.session, 'new');
    assert.equal(connected.resumed, false);
  });

  test('client: a server that stops answering is declared dead by heartbeat within interval + timeout', async () => {
    const mute = createServer((socket) => {
      const decoder = new FrameDecoder({ maxFrameSize: 1 << 20 });
      socket.on('data', (chunk) => {
        for (const frame of decoder.push(chunk)) {
          if (frame.type !== 'hello') continue;
          socket.write(encodeFrame({
            type: 'welcome', version: PROTOCOL_VERSION, sessionId: 'mute', heartbeatIntervalMs: 200, heartbeatTimeoutMs: 500, maxFrameSize: 1 << 20, lastReceivedSeq: 0,
          }));
        }
      });
    });
    mute.listen(0, '127.0.0.1');
    await once(mute, 'listening');
    cleanup.push(() => new Promise((resolve) => mute.close(resolve)));
    const port = (mute.address() as { port: number }).port;
    const peer = client(port, { backoff: { base: 10_000, cap: 10_000 } }).connect();
    await once(peer, 'connected');
    const connectedAt = Date.now();
    const [dead] = await once(peer, 'dead');
    const after = Date.now() - connectedAt;
    assert.equal(dead.reason, 'heartbeat-timeout');
    assert.ok(after >= 450 && after <= 1200, `declared dead after ${after} ms (interval 200 + timeout 300)`);
  });

  test('client: GOAWAY too_many_pings doubles the interval it proposes next', async () => {
    const proposals: number[] = [];
    const port = await scripted((hello, connection, socket) => {
      proposals.push(hello.heartbeatIntervalMs);
      socket.write(welcome(`s${connection}`, hello.heartbeatIntervalMs));
      if (connection === 0) socket.end(encodeFrame({ type: 'goaway', code: GoAwayCodes.TOO_MANY_PINGS, reason: 'slow down' }));
    });
    const peer = client(port, { heartbeatInterval: 1000 }).connect();
    const [goaway] = await once(peer, 'goaway');
    assert.equal(goaway.name, 'too_many_pings');
    // The WELCOME and the GOAWAY came together: the next 'connected' is the second connection's.
    await once(peer, 'connected');
    assert.deepEqual(proposals, [1000, 2000]);
  });

  test('client: failures come as rejected promises, and end() returns once nothing can be acknowledged', async () => {
    const { port } = await server({ maxFrameSize: 1024 });
    const peer = client(port).connect();
    await once(peer, 'connected');
    await assert.rejects(peer.send(Buffer.alloc(2000)), { code: 'ERR_LIFELINE_INVALID_OPTION', message: /frame limit/ });
    await peer.send('small enough');
    const unreachable = client(1, { backoff: { maxAttempts: 1, base: 1, cap: 1 } }).connect();
    const queued = unreachable.send('never');
    await once(unreachable, 'gave-up');
    await assert.rejects(queued, { code: 'ERR_LIFELINE_QUEUE', reason: 'closed' });
    await unreachable.end();
    await assert.rejects(unreachable.send('after close'), { code: 'ERR_LIFELINE_QUEUE', reason: 'closed' });
  });

  test('client: options are validated', () => {
    assert.throws(() => new Client({ host: '', port: 1 }), { code: 'ERR_LIFELINE_INVALID_OPTION' });
    assert.throws(() => new Client({ host: 'h', port: 0 }), { code: 'ERR_LIFELINE_INVALID_OPTION' });
    assert.throws(() => new Client({ host: 'h', port: 1, heartbeatInterval: 5 }), { code: 'ERR_LIFELINE_INVALID_OPTION' });
  });
});

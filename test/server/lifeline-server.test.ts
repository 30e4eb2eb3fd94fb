import assert from 'node:assert/strict';
import { once } from 'node:events';
import { afterEach, describe, test } from 'node:test';
import { GoAwayCodes, LifelineServer, type ServerMessage } from '../../src/index.js';
import { RawPeer } from '../helpers/raw-peer.js';

let servers: LifelineServer[] = [];
let peers: RawPeer[] = [];
afterEach(async () => {
  for (const peer of peers) peer.close();
  for (const server of servers) await server.close();
  servers = [];
  peers = [];
});

async function start(options: ConstructorParameters<typeof LifelineServer>[0] = {}) {
  const server = new LifelineServer({ keepalive: false, ...options });
  servers.push(server);
  const listening = await server.listen(0, '127.0.0.1');
  const address = listening.address();
  assert.ok(address && typeof address !== 'string');
  return { server, port: address.port };
}

async function peer(port: number): Promise<RawPeer> {
  const made = await RawPeer.connect(port);
  peers.push(made);
  return made;
}

const text = (value: string) => new TextEncoder().encode(value);

describe('LifelineServer', () => {
  test('server: HELLO gets WELCOME with the proposal clamped; DATA is delivered once, in order, and acknowledged', async () => {
    const { server, port } = await start({ heartbeat: { interval: 15_000, min: 2000, max: 60_000 } });
    const messages: ServerMessage[] = [];
    server.on('message', (message) => messages.push(message));
    const client = await peer(port);
    client.hello('', 0, 500);
    const welcome = await client.next('welcome');
    assert.equal(welcome.heartbeatIntervalMs, 2000);
    assert.equal(welcome.heartbeatTimeoutMs, 4000);
    assert.match(welcome.sessionId, /^[A-Za-z0-9_-]{22}$/);
    for (const seq of [1, 2, 3]) client.send({ type: 'data', seq, payload: text(`m${seq}`) });
    client.send({ type: 'data', seq: 2, payload: text('replayed') });
    let ack = await client.next('ack');
    while (ack.seq < 3) ack = await client.next('ack');
    assert.equal(ack.seq, 3);
    assert.deepEqual(messages.map((message) => message.data.toString()), ['m1', 'm2', 'm3']);
  });

  test('server: a resumed session replays what the client missed and continues the numbering', async () => {
    const { server, port } = await start();
    const first = await peer(port);
    first.hello();
    const { sessionId } = await first.next('welcome');
    first.send({ type: 'data', seq: 1, payload: text('one') });
    await first.next('ack');
    first.close();
    await first.closed;
    const pending = server.send(sessionId, text('while you were away'));
    const second = await peer(port);
    second.hello(sessionId, 0);
    const welcome = await second.next('welcome');
    assert.equal(welcome.sessionId, sessionId);
    assert.equal(welcome.lastReceivedSeq, 1);
    const replayed = await second.next('data');
    assert.equal(replayed.seq, 1);
    assert.equal(Buffer.from(replayed.payload).toString(), 'while you were away');
    second.send({ type: 'ack', seq: 1 });
    await pending;
  });

  test('server: an expired session rejects what was not acknowledged and answers a resume with session_gone', async () => {
    const { server, port } = await start({ sessionTtl: 100 });
    const first = await peer(port);
    first.hello();
    const { sessionId } = await first.next('welcome');
    first.close();
    await first.closed;
    const pending = server.send(sessionId, text('lost'));
    const [expired] = await once(server, 'session-expired');
    assert.equal(expired.unacknowledged, 1);
    await assert.rejects(pending, { code: 'ERR_LIFELINE_SESSION', reason: 'session-lost' });
    const second = await peer(port);
    second.hello(sessionId, 0);
    assert.equal((await second.next('goaway')).code, GoAwayCodes.SESSION_GONE);
  });

  test('server: garbage and a 1 GiB length prefix close only their own connection', async () => {
    const { server, port } = await start();
    const good = await peer(port);
    good.hello();
    const { sessionId } = await good.next('welcome');
    const errors: string[] = [];
    server.on('protocol-error', ({ error }) => errors.push((error as { reason?: string }).reason ?? error.message));

    const garbage = await peer(port);
    garbage.socket.write(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
    assert.equal((await garbage.next('goaway')).code, GoAwayCodes.FRAME_TOO_LARGE);
    await garbage.closed;

    const huge = await peer(port);
    huge.hello();
    await huge.next('welcome');
    huge.socket.write(Buffer.from([0x40, 0x00, 0x00, 0x00]));
    assert.equal((await huge.next('goaway')).code, GoAwayCodes.FRAME_TOO_LARGE);
    await huge.closed;

    good.send({ type: 'data', seq: 1, payload: text('still here') });
    assert.equal((await good.next('ack')).seq, 1);
    assert.equal(server.sessionCount >= 1, true);
    assert.ok(errors.includes('frame-too-large'));
    const delivered = server.send(sessionId, text('and back'));
    const data = await good.next('data');
    good.send({ type: 'ack', seq: data.seq });
    await delivered;
  });

  test('server: a frame before HELLO, an unknown version and an ACK for data never sent earn GOAWAY', async () => {
    const { port } = await start();
    const early = await peer(port);
    early.send({ type: 'data', seq: 1, payload: text('too early') });
    assert.equal((await early.next('goaway')).code, GoAwayCodes.PROTOCOL_ERROR);

    const future = await peer(port);
    future.socket.write(Buffer.from([0, 0, 0, 3, 0x01, 99, 0xaa]));
    assert.equal((await future.next('goaway')).code, GoAwayCodes.UNSUPPORTED_VERSION);

    const liar = await peer(port);
    liar.hello();
    await liar.next('welcome');
    liar.send({ type: 'ack', seq: 5 });
    const goaway = await liar.next('goaway');
    assert.equal(goaway.code, GoAwayCodes.PROTOCOL_ERROR);
    assert.match(goaway.reason, /ack-beyond-sent/);
  });

  test('server: a client that says nothing is dropped after the handshake deadline', async () => {
    const { port } = await start({ handshakeTimeout: 150 });
    const silent = await peer(port);
    assert.equal((await silent.next('goaway')).code, GoAwayCodes.HANDSHAKE_TIMEOUT);
    await silent.closed;
  });

  test('server: a client pinging far faster than agreed gets GOAWAY too_many_pings', async () => {
    const { port } = await start({ heartbeat: { interval: 10_000, min: 1000, max: 60_000 } });
    const eager = await peer(port);
    eager.hello('', 0, 1000);
    await eager.next('welcome');
    for (let nonce = 1n; nonce <= 5n; nonce++) eager.send({ type: 'ping', nonce });
    assert.equal((await eager.next('pong')).nonce, 1n);
    assert.equal((await eager.next('goaway')).code, GoAwayCodes.TOO_MANY_PINGS);
  });

  test('server: options are validated', () => {
    assert.throws(() => new LifelineServer({ heartbeat: { interval: 50 } }), { code: 'ERR_LIFELINE_INVALID_OPTION' });
    assert.throws(() => new LifelineServer({ maxFrameSize: 10 }), { code: 'ERR_LIFELINE_INVALID_OPTION', message: /maxFrameSize/ });
    assert.throws(() => new LifelineServer({ sesionTtl: 1 } as never), { code: 'ERR_LIFELINE_INVALID_OPTION' });
  });
});

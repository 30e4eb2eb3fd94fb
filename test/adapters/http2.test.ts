import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  connect as connectH2,
  createSecureServer,
  createServer as createH2Server,
  type ClientHttp2Session,
  type Http2SecureServer,
  type Http2Server,
  type Http2Session,
} from 'node:http2';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { after, describe, test } from 'node:test';
import { Http2Heartbeat, superviseHttp2 } from '../../src/adapters/http2.js';
import { InvalidOptionError } from '../../src/errors.js';
import { getKeepAlive } from '../../src/socket/keepalive.js';
import { hasCommand } from '../helpers/privileges.js';
import { TLS_CERT, TLS_KEY } from '../helpers/sockets.js';

/**
 * lifeline/http2 on loopback against peers nobody here wrote: curl (libcurl's nghttp2) and nghttp answer our
 * PINGs; Node's own http2 server answers a supervised client session; and a hand-made HTTP/2 peer that completes
 * the handshake but never acknowledges a PING shows the verdict, the GOAWAY code, and that bytes read count as life.
 */
const INTERVAL = 300;
const TIMEOUT = 300;
const SLACK = 250;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const portOf = (server: Server | Http2Server | Http2SecureServer) => (server.address() as AddressInfo).port;

const FRAME_SETTINGS = 0x4;
const FRAME_PING = 0x6;
const FRAME_GOAWAY = 0x7;
const FRAME_WINDOW_UPDATE = 0x8;
const PREFACE_LENGTH = 24;

function frame(type: number, flags: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  return Buffer.concat([header, payload]);
}

/**
 * An HTTP/2 server that speaks just enough to be connected to: its SETTINGS and the ACK of the client's, then
 * nothing. It never acknowledges a PING. `chatter` makes it send, every 50 ms, a PING of its own (a frame Node
 * reports as the session's 'ping' event) or a WINDOW_UPDATE (one Node reports to nobody: only socket.bytesRead
 * shows it). It records the frames it receives.
 */
async function mutePeer(chatter: 'none' | 'ping' | 'window-update', wakeOnPing = false) {
  const noise = chatter === 'ping' ? frame(FRAME_PING, 0, Buffer.alloc(8))
    : chatter === 'window-update' ? frame(FRAME_WINDOW_UPDATE, 0, Buffer.from([0, 0, 0, 1])) : null;
  const received: { type: number; flags: number; payload: Buffer }[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    let buffer = Buffer.alloc(0);
    let prefaceSeen = false;
    socket.write(frame(FRAME_SETTINGS, 0));
    let timer = noise === null || wakeOnPing ? null : setInterval(() => socket.write(noise), 50);
    socket.on('close', () => {
      if (timer) clearInterval(timer);
      sockets.delete(socket);
    });
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      if (!prefaceSeen) {
        if (buffer.length < PREFACE_LENGTH) return;
        buffer = buffer.subarray(PREFACE_LENGTH);
        prefaceSeen = true;
      }
      while (buffer.length >= 9) {
        const length = buffer.readUIntBE(0, 3);
        if (buffer.length < 9 + length) return;
        const type = buffer[3] as number;
        const flags = buffer[4] as number;
        received.push({ type, flags, payload: Buffer.from(buffer.subarray(9, 9 + length)) });
        if (wakeOnPing && noise !== null && timer === null && type === FRAME_PING && (flags & 1) === 0) timer = setInterval(() => socket.write(noise), 50);
        if (type === FRAME_SETTINGS && (flags & 1) === 0) socket.write(frame(FRAME_SETTINGS, 1));
        buffer = buffer.subarray(9 + length);
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: portOf(server),
    received,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function record(heartbeat: Http2Heartbeat) {
  const events: { name: string; at: number; event: Record<string, unknown> }[] = [];
  for (const name of ['open', 'suspect', 'alive', 'dead', 'closed', 'warning'] as const) {
    heartbeat.on(name, (event: object) => events.push({ name, at: performance.now(), event: event as Record<string, unknown> }));
  }
  const waitFor = async (name: string, timeoutMs: number) => {
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      const found = events.find((recorded) => recorded.name === name);
      if (found) return found;
      await sleep(10);
    }
    return undefined;
  };
  return { events, waitFor };
}

/** A server whose one route answers with headers and a first line, then holds the stream open. */
async function holdingServer(secure = false) {
  const server = secure ? createSecureServer({ key: TLS_KEY(), cert: TLS_CERT() }) : createH2Server();
  const sessions: Http2Session[] = [];
  server.on('session', (session) => sessions.push(session));
  server.on('stream', (stream) => {
    stream.on('error', () => {});
    stream.respond({ ':status': 200 });
    stream.write('waiting\n');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    server,
    sessions,
    port: portOf(server),
    close: async () => {
      for (const session of sessions) session.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('lifeline/http2 on loopback', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  for (const tool of ['curl', 'nghttp'] as const) {
    test(`http2: a supervised server session with ${tool} (h2c) holding a stream open answers PINGs: RTT measured, alive`, async (t) => {
      if (!hasCommand(tool)) {
        t.skip(`${tool} is not installed (Debian ${tool === 'curl' ? 'curl' : 'nghttp2-client'})`);
        return;
      }
      const { server, sessions, port, close } = await holdingServer();
      cleanups.push(close);
      const heartbeat = superviseHttp2(server, { interval: INTERVAL, timeout: TIMEOUT });
      cleanups.push(() => heartbeat.close());
      const { events, waitFor } = record(heartbeat);
      const url = `http://127.0.0.1:${port}/hold`;
      const argv = tool === 'curl' ? ['curl', '-sSN', '--http2-prior-knowledge', url] : ['nghttp', '-v', url];
      const child = spawn(argv[0] as string, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
      cleanups.push(() => void child.kill('SIGKILL'));
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      assert.ok(await waitFor('open', 5000), `${tool} never connected`);
      await sleep(8 * INTERVAL);
      const session = sessions[0] as Http2Session;
      const stats = heartbeat.stats(session);
      t.diagnostic(`${tool}: RTT last ${stats?.lastRttMs?.toFixed(2)} ms, smoothed ${stats?.smoothedRttMs?.toFixed(2)} ms`);
      assert.equal(events.filter((e) => e.name === 'dead').length, 0);
      assert.equal(heartbeat.state(session), 'alive');
      assert.ok(stats?.lastRttMs !== null && stats?.lastRttMs !== undefined && stats.lastRttMs < 100, `RTT ${stats?.lastRttMs}`);
      assert.match(output, /waiting/);
      if (tool === 'nghttp') {
        const acks = output.split('\n').filter((line) => /send PING frame .*flags=0x01/.test(line)).length;
        t.diagnostic(`nghttp acknowledged ${acks} PINGs`);
        assert.ok(acks >= 4, `nghttp acknowledged ${acks} PINGs:\n${output}`);
      }
      child.kill('SIGTERM');
      const closed = await waitFor('closed', 3000);
      assert.ok(closed);
      assert.notEqual(closed.event['reason'], 'heartbeat-timeout');
    });
  }

  test('http2: a client session supervising a Node http2 server: RTT measured, alive; a graceful close is eof', async () => {
    const { port, close } = await holdingServer();
    cleanups.push(close);
    const session = connectH2(`http://127.0.0.1:${port}`);
    session.on('error', () => {});
    const heartbeat = superviseHttp2(session, { interval: INTERVAL, timeout: TIMEOUT });
    cleanups.push(() => heartbeat.close());
    const { events, waitFor } = record(heartbeat);
    const open = await waitFor('open', 2000);
    assert.ok(open);
    assert.equal(open.event['session'], session);
    assert.equal((open.event['keepalive'] as { idle: number }).idle, 60_000);
    await sleep(8 * INTERVAL);
    const stats = heartbeat.stats(session);
    assert.ok(stats?.lastRttMs !== null && stats?.lastRttMs !== undefined, 'no RTT');
    assert.equal(events.filter((e) => e.name === 'dead').length, 0);
    session.close();
    const closed = await waitFor('closed', 2000);
    assert.equal(closed?.event['reason'], 'eof');
  });

  test('http2: a client session whose peer never acknowledges a PING is destroyed within interval + timeout + a tick, with GOAWAY CANCEL and no error event', async (t) => {
    const peer = await mutePeer('none');
    cleanups.push(peer.close);
    const session: ClientHttp2Session = connectH2(`http://127.0.0.1:${peer.port}`);
    const errors: unknown[] = [];
    session.on('error', (error) => errors.push(error));
    const heartbeat = superviseHttp2(session, { interval: INTERVAL, timeout: TIMEOUT });
    const TICK = heartbeat.options.tick;
    cleanups.push(() => heartbeat.close());
    const { waitFor } = record(heartbeat);
    assert.ok(await waitFor('open', 2000));
    const openedAt = performance.now();
    const dead = await waitFor('dead', INTERVAL + TIMEOUT + TICK + SLACK + 1000);
    assert.ok(dead, 'no verdict');
    const after = dead.at - openedAt;
    t.diagnostic(`dead after ${after.toFixed(0)} ms: ${String(dead.event['because'])}`);
    assert.equal(dead.event['reason'], 'heartbeat-timeout');
    assert.ok(after >= INTERVAL + TIMEOUT - 20 && after <= INTERVAL + TIMEOUT + TICK + SLACK, `${after.toFixed(0)} ms`);
    assert.equal(session.destroyed, true);
    const closed = await waitFor('closed', 1000);
    assert.equal(closed?.event['reason'], 'heartbeat-timeout');
    await sleep(50);
    assert.deepEqual(errors, []);
    const pings = peer.received.filter((f) => f.type === FRAME_PING && (f.flags & 1) === 0);
    assert.ok(pings.length >= 1 && pings.every((f) => f.payload.length === 8));
    const goaway = peer.received.find((f) => f.type === FRAME_GOAWAY);
    assert.ok(goaway, 'no GOAWAY arrived');
    assert.equal(goaway.payload.readUInt32BE(4), 0x8, 'GOAWAY carries CANCEL');
  });

  for (const chatter of ['ping', 'window-update'] as const) {
    test(`http2: what the peer sends counts as life (${chatter === 'ping' ? "its PINGs, Node's 'ping' event" : 'WINDOW_UPDATEs, seen only in socket.bytesRead'}): a peer that never acknowledges our PINGs but keeps sending is neither pinged nor convicted`, async () => {
      const peer = await mutePeer(chatter);
      cleanups.push(peer.close);
      const session = connectH2(`http://127.0.0.1:${peer.port}`);
      session.on('error', () => {});
      const heartbeat = superviseHttp2(session, { interval: INTERVAL, timeout: TIMEOUT });
      cleanups.push(() => heartbeat.close());
      const { events, waitFor } = record(heartbeat);
      assert.ok(await waitFor('open', 2000));
      await sleep(8 * (INTERVAL + TIMEOUT));
      assert.deepEqual(events.filter((e) => e.name === 'dead' || e.name === 'suspect'), []);
      assert.equal(session.destroyed, false);
      const ourPings = peer.received.filter((f) => f.type === FRAME_PING && (f.flags & 1) === 0);
      assert.equal(ourPings.length, 0, 'a session that read something every 50 ms was pinged');
      if (chatter === 'ping') assert.ok(peer.received.filter((f) => f.type === FRAME_PING && (f.flags & 1) === 1).length > 10, 'the client answered the peer');
    });
  }

  test('http2: a peer that starts sending after our PING (WINDOW_UPDATEs, never the ACK) is not convicted: bytes read since the ping veto the verdict', async () => {
    const peer = await mutePeer('window-update', true);
    cleanups.push(peer.close);
    const session = connectH2(`http://127.0.0.1:${peer.port}`);
    session.on('error', () => {});
    const heartbeat = superviseHttp2(session, { interval: INTERVAL, timeout: TIMEOUT });
    cleanups.push(() => heartbeat.close());
    const { events, waitFor } = record(heartbeat);
    assert.ok(await waitFor('open', 2000));
    await sleep(6 * (INTERVAL + TIMEOUT));
    const ourPings = peer.received.filter((f) => f.type === FRAME_PING && (f.flags & 1) === 0);
    assert.equal(ourPings.length, 1, 'one ping while the peer was silent, none once it was sending');
    assert.deepEqual(events.filter((e) => e.name === 'dead' || e.name === 'closed'), []);
    assert.equal(session.destroyed, false);
    assert.equal(heartbeat.state(session), 'alive');
  });

  test('http2: over TLS, keepalive is set on the TLS socket under the session and read back; a session added after connect is supervised too', async () => {
    const { server, sessions, port, close } = await holdingServer(true);
    cleanups.push(close);
    const heartbeat = new Http2Heartbeat({ interval: INTERVAL, timeout: TIMEOUT, keepalive: { idle: 7000, interval: 3000, count: 4 } }).attach(server);
    cleanups.push(() => heartbeat.close());
    const { waitFor } = record(heartbeat);
    const rawSockets: Socket[] = [];
    server.on('session', (session) => session.once('connect', (_session, socket) => rawSockets.push(socket)));
    const client = connectH2(`https://localhost:${port}`, { ca: TLS_CERT() });
    client.on('error', () => {});
    cleanups.push(() => void client.destroy());
    const open = await waitFor('open', 3000);
    assert.ok(open);
    const reported = open.event['keepalive'] as { idle: number; interval: number; count: number };
    assert.deepEqual([reported.idle, reported.interval, reported.count], [7000, 3000, 4]);
    const kernel = getKeepAlive(rawSockets[0] as Socket);
    assert.deepEqual([kernel.enabled, kernel.idle, kernel.interval, kernel.count], [true, 7000, 3000, 4]);
    await sleep(4 * INTERVAL);
    assert.ok(heartbeat.stats(sessions[0] as Http2Session)?.lastRttMs !== null);

    // The client session, handed over long after its 'connect': its TLS socket is still found for keepalive.
    assert.equal(client.connecting, false);
    const late = new Http2Heartbeat({ interval: INTERVAL, timeout: TIMEOUT, keepalive: { idle: 9000 } });
    cleanups.push(() => late.close());
    const lateOpen = once(late, 'open') as Promise<[{ keepalive: { idle: number } | null }]>;
    assert.equal(late.add(client), true);
    const [{ keepalive }] = await lateOpen;
    assert.equal(keepalive?.idle, 9000);
  });

  test('http2: options are checked; goawayCode must be an HTTP/2 error code', () => {
    assert.throws(() => new Http2Heartbeat({ goawayCode: -1 }), (error: unknown) => error instanceof InvalidOptionError && error.option === 'goawayCode');
    assert.throws(() => new Http2Heartbeat({ goAwayCode: 8 } as never), (error: unknown) =>
      error instanceof InvalidOptionError && /did you mean goawayCode\?/.test(error.message));
    const heartbeat = new Http2Heartbeat({ goawayCode: 0 });
    assert.equal(heartbeat.goawayCode, 0);
    assert.equal(new Http2Heartbeat().goawayCode, 8);
  });
});

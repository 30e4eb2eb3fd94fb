import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { after, describe, test } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import { Registry } from 'prom-client';
import { WebSocketHeartbeat, superviseWebSockets } from '../../src/adapters/ws.js';
import { InvalidOptionError } from '../../src/errors.js';
import { LivenessMetrics, type LivenessRecorder } from '../../src/server/metrics.js';
import { getKeepAlive } from '../../src/socket/keepalive.js';
import { repoPath } from '../helpers/paths.js';

/**
 * lifeline/ws on loopback against the real `ws` client (nobody here wrote its pong), each behaviour with a bounded
 * wait. interval 200 ms + timeout 200 ms; verdicts may come one engine tick late (read from the options: under
 * 100 ms here).
 */
const INTERVAL = 200;
const TIMEOUT = 200;
/** Scheduling and loopback noise on a loaded 2-core machine. */
const SLACK = 250;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Recorded {
  name: string;
  at: number;
  event: Record<string, unknown>;
}

async function setup(options: ConstructorParameters<typeof WebSocketHeartbeat>[0] = { interval: INTERVAL, timeout: TIMEOUT }) {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await once(wss, 'listening');
  const heartbeat = new WebSocketHeartbeat(options).attach(wss);
  const events: Recorded[] = [];
  for (const name of ['open', 'suspect', 'alive', 'dead', 'closed', 'warning'] as const) {
    heartbeat.on(name, (event: object) => events.push({ name, at: performance.now(), event: event as Record<string, unknown> }));
  }
  const address = wss.address();
  const url = `ws://127.0.0.1:${address !== null && typeof address === 'object' ? address.port : 0}`;
  const accepted = () => new Promise<WebSocket>((resolve) => wss.once('connection', (ws) => resolve(ws)));
  const clients: WebSocket[] = [];
  const client = async (options?: ConstructorParameters<typeof WebSocket>[2]) => {
    const server = accepted();
    const ws = new WebSocket(url, options);
    clients.push(ws);
    ws.on('error', () => {});
    await once(ws, 'open');
    return { ws, server: await server, openedAt: performance.now() };
  };
  const waitFor = async (name: string, timeoutMs: number, match: (event: Record<string, unknown>) => boolean = () => true) => {
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      const found = events.find((recorded) => recorded.name === name && match(recorded.event));
      if (found) return found;
      await sleep(10);
    }
    return undefined;
  };
  const close = async () => {
    heartbeat.close();
    for (const ws of clients) ws.terminate();
    for (const ws of wss.clients) ws.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  };
  return { wss, heartbeat, events, url, client, waitFor, close };
}

/** A client that does the upgrade by hand and then writes whatever frames the test wants; it never reads a ping. */
async function rawClient(port: number): Promise<Socket> {
  const socket: Socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  await once(socket, 'connect');
  socket.write(
    'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  );
  await once(socket, 'data');
  return socket;
}

describe('lifeline/ws with real ws clients on loopback', () => {
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => {
    for (const cleanup of cleanups) await cleanup();
  });
  async function start(options?: Parameters<typeof setup>[0]) {
    const context = await setup(options);
    cleanups.push(context.close);
    return context;
  }

  test('ws: a client that answers pings stays alive for many intervals, with its RTT measured', async (t) => {
    const { heartbeat, events, client } = await start();
    const { ws, server } = await client();
    let pings = 0;
    ws.on('ping', () => pings++);
    await sleep(12 * INTERVAL);
    const stats = heartbeat.stats(server);
    t.diagnostic(`${pings} pings in ${12 * INTERVAL} ms; RTT last ${stats?.lastRttMs?.toFixed(2)} ms, smoothed ${stats?.smoothedRttMs?.toFixed(2)} ms`);
    assert.ok(pings >= 6, `only ${pings} pings in 12 intervals`);
    assert.equal(events.filter((e) => e.name === 'dead').length, 0);
    assert.equal(ws.readyState, WebSocket.OPEN);
    assert.equal(heartbeat.state(server), 'alive');
    assert.ok(stats, 'supervised');
    assert.ok(stats.lastRttMs !== null && stats.lastRttMs >= 0 && stats.lastRttMs < 100, `RTT ${stats.lastRttMs}`);
    assert.ok(stats.smoothedRttMs !== null && stats.rttVarianceMs !== null);
    assert.match(stats.remote, /127\.0\.0\.1:\d+$/);
  });

  test('ws: a client whose pongs are suppressed (autoPong: false) is terminated as heartbeat-timeout within interval + timeout + a tick', async (t) => {
    const { events, client, waitFor, heartbeat } = await start();
    const TICK = heartbeat.options.tick;
    const { ws, server, openedAt } = await client({ autoPong: false });
    const clientClosed = once(ws, 'close') as Promise<[number, Buffer]>;
    const dead = await waitFor('dead', INTERVAL + TIMEOUT + TICK + SLACK + 1000);
    assert.ok(dead, 'no verdict');
    const after = dead.at - openedAt;
    t.diagnostic(`dead after ${after.toFixed(0)} ms: ${String(dead.event['because'])}`);
    assert.equal(dead.event['reason'], 'heartbeat-timeout');
    assert.equal(dead.event['ws'], server);
    assert.ok(after >= INTERVAL + TIMEOUT - 20, `convicted early: ${after.toFixed(0)} ms`);
    assert.ok(after <= INTERVAL + TIMEOUT + TICK + SLACK, `convicted late: ${after.toFixed(0)} ms`);
    assert.equal((dead.event['pingsOutstanding'] as number) >= 1, true);
    // terminate, not close: the client sees the TCP connection end without a close frame.
    const [code] = await clientClosed;
    assert.equal(code, 1006);
    const closed = await waitFor('closed', 1000);
    assert.equal(closed?.event['reason'], 'heartbeat-timeout');
    assert.equal(events.filter((e) => e.name === 'dead').length, 1);
  });

  test('ws: messages count as life: a chatty client that never answers pings is never pinged nor convicted', async () => {
    const { events, client, heartbeat } = await start();
    const { ws, server } = await client({ autoPong: false });
    let pings = 0;
    ws.on('ping', () => pings++);
    const until = performance.now() + 8 * INTERVAL;
    while (performance.now() < until) {
      ws.send('still here');
      await sleep(INTERVAL / 4);
    }
    assert.equal(pings, 0, 'a client that sent something every quarter interval was pinged');
    assert.equal(events.filter((e) => e.name === 'dead').length, 0);
    assert.equal(heartbeat.state(server), 'alive');
  });

  test('ws: any byte counts: a large message trickling in for 10 intervals is life, though no pong ever comes', async () => {
    const { wss, events, url } = await start();
    const messages: number[] = [];
    wss.on('connection', (ws) => ws.on('message', (data: Buffer) => messages.push(data.length)));
    // A raw client: the upgrade by hand, then one 4000-byte binary frame sent 100 bytes at a time; pings are never read.
    const socket = await rawClient(Number(new URL(url).port));
    const size = 4000;
    const frame = Buffer.concat([Buffer.from([0x82, 0x80 | 126, size >> 8, size & 0xff, 0, 0, 0, 0]), Buffer.alloc(size, 7)]);
    try {
      for (let offset = 0; offset < frame.length; offset += 100) {
        socket.write(frame.subarray(offset, offset + 100));
        await sleep(INTERVAL / 4);
      }
      await sleep(50);
      assert.deepEqual(messages, [size]);
      assert.equal(events.filter((e) => e.name === 'dead').length, 0, 'convicted while its message was arriving');
    } finally {
      socket.destroy();
    }
  });

  test('ws: closed says why: eof with the close code, reset for an RST, local when this side terminated', async () => {
    const context = await start();
    const { client, waitFor } = context;
    const first = await client();
    first.ws.close(1001, 'going away');
    const eof = await waitFor('closed', 2000, (event) => event['ws'] === first.server);
    assert.equal(eof?.event['reason'], 'eof');
    assert.match(String(eof?.event['because']), /close code 1001 "going away"/);
    assert.match(String(eof?.event['remote']), /127\.0\.0\.1:\d+$/);

    const second = await client();
    (second.ws as unknown as { _socket: Socket })._socket.resetAndDestroy();
    const reset = await waitFor('closed', 2000, (event) => event['ws'] === second.server);
    assert.equal(reset?.event['reason'], 'reset');
    assert.equal(reset?.event['code'], 'ECONNRESET');

    // A close frame, then an RST instead of a FIN (as browsers often do): still an orderly close.
    const { wss } = context;
    const rawAccepted = new Promise<WebSocket>((resolve) => wss.once('connection', (ws) => resolve(ws)));
    const raw = await rawClient(Number(new URL(context.url).port));
    const rawServer = await rawAccepted;
    // The RST right behind the close frame, before the server's own close frame and FIN can make it orderly.
    raw.write(Buffer.from([0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe9]), () => raw.resetAndDestroy());
    const rude = await waitFor('closed', 2000, (event) => event['ws'] === rawServer);
    assert.equal(rude?.event['reason'], 'eof', String(rude?.event['because']));
    assert.equal(rude?.event['code'], 'ECONNRESET', 'the RST came after the close frame');
    assert.match(String(rude?.event['because']), /close code 1001/);

    const third = await client();
    third.server.terminate();
    const local = await waitFor('closed', 2000, (event) => event['ws'] === third.server);
    assert.equal(local?.event['reason'], 'local');
  });

  test('ws: a client WebSocket added while connecting is supervised from open; a server that suppresses pongs gets it terminated', async (t) => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', autoPong: false });
    await once(wss, 'listening');
    const address = wss.address();
    const ws = new WebSocket(`ws://127.0.0.1:${address !== null && typeof address === 'object' ? address.port : 0}`);
    ws.on('error', () => {});
    const heartbeat = superviseWebSockets(ws, { interval: INTERVAL, timeout: TIMEOUT });
    const TICK = heartbeat.options.tick;
    cleanups.push(async () => {
      heartbeat.close();
      ws.terminate();
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    });
    assert.equal(heartbeat.size, 0, 'not before open');
    await once(heartbeat, 'open');
    const openedAt = performance.now();
    assert.equal(heartbeat.has(ws), true);
    const [dead] = (await once(heartbeat, 'dead')) as [{ ws: WebSocket; reason: string }];
    const after = performance.now() - openedAt;
    t.diagnostic(`client side: dead after ${after.toFixed(0)} ms`);
    assert.equal(dead.ws, ws);
    assert.equal(dead.reason, 'heartbeat-timeout');
    assert.ok(after <= INTERVAL + TIMEOUT + TICK + SLACK, `${after.toFixed(0)} ms`);
    assert.notEqual(ws.readyState, WebSocket.OPEN);
  });

  test('ws: keepalive is set on the accepted socket and read back from the kernel', async () => {
    const { client, waitFor } = await start({ interval: INTERVAL, timeout: TIMEOUT, keepalive: { idle: '7s', interval: '3s', count: 4 } });
    const { server } = await client();
    const open = await waitFor('open', 1000, (event) => event['ws'] === server);
    assert.ok(open);
    const reported = open.event['keepalive'] as { enabled: boolean; idle: number; interval: number; count: number; source: string };
    assert.deepEqual({ enabled: reported.enabled, idle: reported.idle, interval: reported.interval, count: reported.count }, { enabled: true, idle: 7000, interval: 3000, count: 4 });
    const kernel = getKeepAlive((server as unknown as { _socket: Socket })._socket);
    assert.deepEqual({ enabled: kernel.enabled, idle: kernel.idle, interval: kernel.interval, count: kernel.count }, { enabled: true, idle: 7000, interval: 3000, count: 4 });
  });

  test('ws: keepalive: false leaves the socket as Node made it', async () => {
    const { client, waitFor } = await start({ interval: INTERVAL, timeout: TIMEOUT, keepalive: false });
    const { server } = await client();
    const open = await waitFor('open', 1000, (event) => event['ws'] === server);
    assert.equal(open?.event['keepalive'], null);
    assert.equal(getKeepAlive((server as unknown as { _socket: Socket })._socket).enabled, false);
  });

  test('ws: remove() stops supervising one connection, close() all of them, and neither closes anything', async () => {
    const { heartbeat, client, events } = await start();
    const muted = await client({ autoPong: false });
    const other = await client({ autoPong: false });
    assert.equal(heartbeat.size, 2);
    assert.equal(heartbeat.remove(muted.server), true);
    assert.equal(heartbeat.remove(muted.server), false);
    assert.equal(heartbeat.size, 1);
    heartbeat.close();
    assert.equal(heartbeat.size, 0);
    assert.throws(() => heartbeat.add(other.server), /closed/);
    await sleep(INTERVAL + TIMEOUT + 3 * heartbeat.options.tick);
    assert.equal(muted.ws.readyState, WebSocket.OPEN);
    assert.equal(other.ws.readyState, WebSocket.OPEN);
    assert.equal(events.filter((e) => e.name === 'dead' || e.name === 'closed').length, 0);
  });

  test('ws: a metrics recorder hears each connection open, suspect, closing and closed, every end as a death with its reason, pings and RTTs', async () => {
    const calls: string[] = [];
    const rtts: number[] = [];
    const keys = new Map<unknown, string>();
    const name = (key: unknown) => {
      if (!keys.has(key)) keys.set(key, `c${keys.size + 1}`);
      return keys.get(key) as string;
    };
    const metrics: LivenessRecorder = {
      connectionOpened: (key, state) => calls.push(`${name(key)} opened ${state}`),
      connectionStateChanged: (key, state) => calls.push(`${name(key)} ${state}`),
      connectionClosed: (key) => calls.push(`${name(key)} closed`),
      death: (reason, latency, details) =>
        calls.push(`death ${reason} ${latency === null ? 'no-latency' : latency >= INTERVAL + 1500 ? 'latency' : `early ${latency}`} ${details?.remote === undefined ? '' : 'remote'}`),
      rtt: (ms) => rtts.push(ms),
      pingSent: () => calls.push('ping'),
      strike: () => calls.push('strike'),
    };
    // timeout 1.5 s > the 1 s minimum RTO: the unanswered ping is suspected before the verdict.
    const { client, waitFor, heartbeat } = await start({ interval: INTERVAL, timeout: 1500, metrics });
    const TICK = heartbeat.options.tick;
    const answering = await client();
    await sleep(3 * INTERVAL);
    answering.ws.close();
    await waitFor('closed', 1000);
    await client({ autoPong: false });
    assert.ok(await waitFor('dead', INTERVAL + 1500 + TICK + SLACK + 1000));
    await waitFor('closed', 1000, (event) => event['reason'] === 'heartbeat-timeout');
    assert.ok(rtts.length >= 1 && rtts.every((ms) => ms >= 0 && ms < 100), `rtts ${rtts.join(', ')}`);
    const compact = calls.filter((call, index) => call !== 'ping' || calls[index - 1] !== 'ping');
    assert.deepEqual(compact, [
      'c1 opened open', 'ping', 'c1 closed', 'death eof no-latency remote',
      'c2 opened open', 'ping', 'c2 suspect', 'c2 closing', 'c2 closed', 'death heartbeat-timeout latency remote',
    ]);
  });

  test('ws: with a LivenessMetrics, Prometheus sees the deaths by reason, the detection latency, the RTT and the pings', async () => {
    const metrics = new LivenessMetrics({ registry: new Registry() });
    const { client, waitFor, heartbeat } = await start({ interval: INTERVAL, timeout: TIMEOUT, metrics });
    const answering = await client();
    await sleep(3 * INTERVAL);
    assert.deepEqual(metrics.connectionCounts(), { open: 1 });
    await client({ autoPong: false });
    assert.ok(await waitFor('dead', INTERVAL + TIMEOUT + heartbeat.options.tick + SLACK + 1000));
    await waitFor('closed', 1000);
    answering.ws.close();
    await waitFor('closed', 1000, (event) => event['reason'] === 'eof');
    const text = await metrics.metrics();
    assert.deepEqual(metrics.deathTotals(), { 'heartbeat-timeout': 1, eof: 1 });
    assert.deepEqual(metrics.connectionCounts(), {});
    assert.match(text, /lifeline_deaths_total\{reason="heartbeat-timeout"\} 1/);
    assert.match(text, /lifeline_detection_latency_seconds_count\{reason="heartbeat-timeout"\} 1/);
    assert.match(text, /lifeline_heartbeat_rtt_seconds_count [1-9]/);
    assert.match(text, /lifeline_pings_sent_total [1-9]/);
  });

  test('ws: options are checked like every lifeline option', () => {
    assert.throws(() => new WebSocketHeartbeat({ intervall: 1000 } as never), (error: unknown) =>
      error instanceof InvalidOptionError && error.option === 'intervall' && /did you mean interval\?/.test(error.message));
    assert.throws(() => new WebSocketHeartbeat({ sendPing: () => {} } as never), (error: unknown) =>
      error instanceof InvalidOptionError && error.option === 'sendPing');
    assert.throws(() => new WebSocketHeartbeat({ timeout: '5 parsecs' }), (error: unknown) =>
      error instanceof InvalidOptionError && error.option === 'timeout');
    assert.throws(() => new WebSocketHeartbeat({ interval: 1000, timeout: 1000, maxSilence: 1500 }), (error: unknown) =>
      error instanceof InvalidOptionError && error.option === 'maxSilence');
    assert.throws(() => new WebSocketHeartbeat({ keepalive: { idle: 1500 } }), (error: unknown) =>
      error instanceof InvalidOptionError && error.option === 'keepalive.idle' && /whole seconds/.test(error.message));
    assert.throws(() => new WebSocketHeartbeat({ keepalive: { idel: 5000 } as never }), (error: unknown) =>
      error instanceof InvalidOptionError && error.option === 'keepalive.idel' && /did you mean idle\?/.test(error.message));
    assert.throws(() => new WebSocketHeartbeat({ keepalive: 'on' as never }), (error: unknown) =>
      error instanceof InvalidOptionError && error.option === 'keepalive');
    assert.throws(() => new WebSocketHeartbeat({ metrics: { rtt: () => {} } as never }), (error: unknown) =>
      error instanceof InvalidOptionError && error.option === 'metrics');
    const heartbeat = new WebSocketHeartbeat({ interval: '30s', timeout: '10s' });
    assert.equal(heartbeat.options.interval, 30_000);
    assert.equal(heartbeat.options.maxSilence, 40_000);
    assert.deepEqual(heartbeat.options.keepalive, { idle: 60_000, interval: 10_000, count: 6 });
    heartbeat.close();
  });

  test("ws: lifeline's main entry never loads the adapters, and lifeline/ws has no runtime import of ws", () => {
    const index = readFileSync(repoPath('dist', 'src', 'index.js'), 'utf8');
    assert.doesNotMatch(index, /adapters\//);
    for (const file of ['ws.js', 'transport-heartbeat.js', 'http2.js']) {
      const text = readFileSync(repoPath('dist', 'src', 'adapters', file), 'utf8');
      assert.doesNotMatch(text, /from ['"]ws['"]|import\(['"]ws['"]\)|require\(['"]ws['"]\)/, file);
    }
  });
});

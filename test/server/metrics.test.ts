import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import * as promClient from 'prom-client';
import {
  LifelineServer,
  LivenessMetrics,
  Supervisor,
  detectionLatency,
  loadPromClient,
  type DeathRecord,
  type LifelineServerEvents,
} from '../../src/index.js';
import { CablePair, removeLeftoverNamespaces } from '../helpers/netns.js';
import { repoPath } from '../helpers/paths.js';
import { needsNetns } from '../helpers/privileges.js';
import { parsePrometheusText } from '../helpers/prometheus.js';
import { RawPeer } from '../helpers/raw-peer.js';

type Closable = { close(): Promise<void> | void };
let cleanup: Closable[] = [];
afterEach(async () => {
  for (const item of cleanup.reverse()) await item.close();
  cleanup = [];
});

function freshMetrics() {
  const registry = new promClient.Registry();
  const metrics = new LivenessMetrics({ registry });
  const deaths: DeathRecord[] = [];
  metrics.on('death', (record) => deaths.push(record));
  return { registry, metrics, deaths, scrape: async () => parsePrometheusText(await registry.metrics()) };
}

/** Polls `condition` every 10 ms until it holds or `timeoutMs` passes; a bounded wait. */
async function until(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function connected(port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  await once(socket, 'connect');
  cleanup.push({ close: () => void socket.destroy() });
  return socket;
}

describe('LivenessMetrics with a Supervisor (loopback)', () => {
  test('metrics: connections by state and deaths by reason move as clients connect, end, reset and are closed', async () => {
    const { metrics, deaths, scrape } = freshMetrics();
    const supervisor = new Supervisor({ metrics, keepalive: { idle: 2000, interval: 1000, count: 3 } });
    cleanup.push(supervisor);
    supervisor.on('accepted', (snapshot) => supervisor.connection(snapshot.id)?.socket.resume());
    const server = await supervisor.listen(0, '127.0.0.1');
    const port = (server.address() as { port: number }).port;

    const initial = await scrape();
    assert.equal(initial.value('lifeline_connections', { state: 'open' }), 0, 'series exported at 0 from the start');
    assert.equal(initial.value('lifeline_deaths_total', { reason: 'keepalive-timeout' }), 0);

    const first = await connected(port);
    const second = await connected(port);
    await until(() => supervisor.size === 2, 2000, 'two accepted');
    assert.equal((await scrape()).value('lifeline_connections', { state: 'open' }), 2);

    first.end();
    await once(supervisor, 'dead');
    second.resetAndDestroy();
    await once(supervisor, 'dead');
    const third = await connected(port);
    await until(() => supervisor.size === 1, 2000, 'third accepted');
    await supervisor.close();
    third.destroy();

    const final = await scrape();
    assert.equal(final.value('lifeline_deaths_total', { reason: 'eof' }), 1);
    assert.equal(final.value('lifeline_deaths_total', { reason: 'reset' }), 1);
    assert.equal(final.value('lifeline_deaths_total', { reason: 'local' }), 1);
    assert.equal(final.value('lifeline_connections', { state: 'open' }), 0);
    assert.equal(final.value('lifeline_connections', { state: 'closing' }), 0);
    // eof, reset and local were announced by the peer or by us, not found by silence: no detection latency.
    assert.equal(final.value('lifeline_detection_latency_seconds_count', { reason: 'eof' }), undefined);
    assert.deepEqual(deaths.map((death) => death.reason), ['eof', 'reset', 'local']);
    assert.match(deaths[0]?.remote ?? '', /^127\.0\.0\.1:\d+$/);
    assert.equal(deaths[1]?.code, 'ECONNRESET');
    assert.deepEqual(metrics.deathTotals(), { eof: 1, reset: 1, local: 1 });
  });

  test('metrics: Supervisor.connections() reports silence and RTT from the kernel, and keepalive read back', async () => {
    const supervisor = new Supervisor({ keepalive: { idle: 2000, interval: 1000, count: 3 } });
    cleanup.push(supervisor);
    const server = await supervisor.listen(0, '127.0.0.1');
    const client = await connected((server.address() as { port: number }).port);
    await until(() => supervisor.size === 1, 2000, 'accepted');
    await new Promise((resolve) => setTimeout(resolve, 120));
    const [status] = supervisor.connections();
    assert.ok(status);
    assert.ok(status.silentMs >= 100 && status.silentMs < 2000, `silentMs ${status.silentMs}`);
    assert.ok(status.rttMs !== null && status.rttMs >= 0 && status.rttMs < 50, `rttMs ${status.rttMs}`);
    assert.equal(status.keepalive?.idle, 2000);
    assert.equal(status.state, 'open');
    client.write('x');
    await until(() => (supervisor.connections()[0]?.silentMs ?? Infinity) < 100, 2000, 'silence reset by data');
  });
});

describe('LivenessMetrics with a LifelineServer (loopback)', () => {
  async function start(options: ConstructorParameters<typeof LifelineServer>[0]) {
    const server = new LifelineServer({ keepalive: false, ...options });
    cleanup.push(server);
    const listening = await server.listen(0, '127.0.0.1');
    return { server, port: (listening.address() as { port: number }).port };
  }

  async function peer(port: number): Promise<RawPeer> {
    const made = await RawPeer.connect(port);
    cleanup.push(made);
    return made;
  }

  test('metrics: handshake -> open -> suspect, pings and RTT counted, then heartbeat-timeout with its detection latency', async () => {
    const { metrics, deaths, scrape } = freshMetrics();
    // Interval 200 ms, timeout 2 s: a pong is overdue (suspect) after the 1 s minimum RTO, dead after 2 s of silence.
    const { server, port } = await start({ metrics, heartbeat: { interval: 200, min: 100, max: 1000, timeoutFactor: 10 } });
    const client = await peer(port);
    await until(() => metrics.connectionCounts()['handshake'] === 1, 2000, 'counted in handshake');
    assert.equal((await scrape()).value('lifeline_connections', { state: 'handshake' }), 1);
    assert.equal(server.connections()[0]?.state, 'handshake');

    client.hello();
    await client.next('welcome');
    await until(() => metrics.connectionCounts()['open'] === 1, 2000, 'open after HELLO');
    const ping = await client.next('ping', 2000);
    client.send({ type: 'pong', nonce: ping.nonce });
    await until(async () => (await scrape()).value('lifeline_heartbeat_rtt_seconds_count') === 1, 2000, 'one RTT sample');
    const [status] = server.connections();
    assert.ok(status?.rttMs !== null && status!.rttMs < 200, `rttMs ${status?.rttMs}`);
    assert.equal(status?.heartbeatIntervalMs, 200);
    assert.ok(status?.session);

    const disconnected = once(server, 'disconnect') as Promise<LifelineServerEvents['disconnect']>;
    await until(() => metrics.connectionCounts()['suspect'] === 1, 3000, 'suspect when the pong is overdue');
    assert.equal((await scrape()).value('lifeline_connections', { state: 'suspect' }), 1);
    assert.equal(server.connections()[0]?.state, 'suspect');
    const [disconnect] = await disconnected;
    assert.equal(disconnect.reason, 'heartbeat-timeout');

    const text = await scrape();
    assert.equal(text.value('lifeline_deaths_total', { reason: 'heartbeat-timeout' }), 1);
    assert.equal(text.value('lifeline_detection_latency_seconds_count', { reason: 'heartbeat-timeout' }), 1);
    const latency = text.value('lifeline_detection_latency_seconds_sum', { reason: 'heartbeat-timeout' }) ?? NaN;
    assert.ok(latency >= 2.0 && latency < 3.0, `detection latency ${latency} s for 2 s of allowed silence`);
    assert.ok((text.value('lifeline_pings_sent_total') ?? 0) >= 2, 'the answered ping and the unanswered one');
    assert.equal(text.value('lifeline_connections', { state: 'suspect' }), 0);
    assert.equal(deaths[0]?.detectionLatencyMs, Math.round(latency * 1000));
  });

  test('metrics: pings faster than agreed are counted as strikes', async () => {
    const { metrics, scrape } = freshMetrics();
    const { port } = await start({ metrics, heartbeat: { interval: 5000, min: 1000, max: 60_000 } });
    const client = await peer(port);
    client.hello();
    await client.next('welcome');
    for (let nonce = 1n; nonce <= 4n; nonce++) client.send({ type: 'ping', nonce });
    const goaway = await client.next('goaway');
    assert.equal(goaway.code, 4, 'too_many_pings');
    assert.equal((await scrape()).value('lifeline_ping_strikes_total'), 3);
  });
});

describe('LivenessMetrics options and prom-client loading', () => {
  test('metrics: detection latency is the silence at the verdict, only for deaths found by silence', () => {
    assert.equal(detectionLatency('keepalive-timeout', 5100), 5100);
    assert.equal(detectionLatency('heartbeat-timeout', 3000), 3000);
    assert.equal(detectionLatency('user-timeout', 3300), 3300);
    assert.equal(detectionLatency('eof', 10), null);
    assert.equal(detectionLatency('reset', 10), null);
    assert.equal(detectionLatency('local', 10), null);
  });

  test('metrics: without prom-client the error is ERR_LIFELINE_UNSUPPORTED and says npm install prom-client', () => {
    const missing = () => {
      throw Object.assign(new Error("Cannot find module 'prom-client'"), { code: 'MODULE_NOT_FOUND' });
    };
    assert.throws(() => loadPromClient(missing), { code: 'ERR_LIFELINE_UNSUPPORTED', message: /npm install prom-client/ });
    const broken = () => {
      throw new SyntaxError('Unexpected token');
    };
    assert.throws(() => loadPromClient(broken), { code: 'ERR_LIFELINE_UNSUPPORTED', message: /failed to load \(Unexpected token\)/ });
    assert.throws(() => loadPromClient(() => ({})), { code: 'ERR_LIFELINE_INVALID_OPTION' });
    assert.equal(loadPromClient().Registry, promClient.Registry);
  });

  test('metrics: import lifeline works without prom-client installed; asking for metrics then says how to install it', (t) => {
    // A copy of the built package with koffi and commander but no prom-client anywhere on its resolution path.
    const dir = mkdtempSync(join(tmpdir(), 'lifeline-noprom-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    cpSync(repoPath('dist', 'src'), join(dir, 'dist', 'src'), { recursive: true });
    cpSync(repoPath('package.json'), join(dir, 'package.json'));
    mkdirSync(join(dir, 'node_modules'));
    for (const dependency of ['koffi', 'commander']) symlinkSync(repoPath('node_modules', dependency), join(dir, 'node_modules', dependency));
    const script = `
      const lifeline = await import(${JSON.stringify(join(dir, 'dist', 'src', 'index.js'))});
      const out = { imported: typeof lifeline.Supervisor };
      const plain = new lifeline.Supervisor({});
      out.plain = plain.size;
      try { new lifeline.Supervisor({ metrics: true }); out.error = 'none'; } catch (error) { out.error = error.code; out.message = error.message; }
      try { new lifeline.LivenessMetrics(); } catch (error) { out.direct = error.code; }
      console.log(JSON.stringify(out));`;
    writeFileSync(join(dir, 'probe.mjs'), script);
    const run = spawnSync(process.execPath, [join(dir, 'probe.mjs')], { cwd: dir, encoding: 'utf8', timeout: 20_000 });
    assert.equal(run.status, 0, run.stderr);
    const out = JSON.parse(run.stdout) as Record<string, unknown>;
    assert.equal(out['imported'], 'function');
    assert.equal(out['plain'], 0);
    assert.equal(out['error'], 'ERR_LIFELINE_UNSUPPORTED');
    assert.equal(out['direct'], 'ERR_LIFELINE_UNSUPPORTED');
    assert.match(String(out['message']), /npm install prom-client/);
  });

  test('metrics: options are validated, naming the option; unknown keys are rejected', () => {
    assert.throws(() => new Supervisor({ metrics: 'yes' as never }), { code: 'ERR_LIFELINE_INVALID_OPTION', message: /invalid option metrics: "yes"/ });
    assert.throws(() => new LifelineServer({ metrics: {} as never }), { code: 'ERR_LIFELINE_INVALID_OPTION', message: /metrics/ });
    assert.throws(() => new LivenessMetrics({ registy: new promClient.Registry() } as never), { code: 'ERR_LIFELINE_INVALID_OPTION', message: /did you mean registry/ });
    assert.throws(() => new LivenessMetrics({ registry: new promClient.Registry(), rttBuckets: [0.1, 0.05] }), { code: 'ERR_LIFELINE_INVALID_OPTION', message: /rttBuckets/ });
    assert.throws(() => new LivenessMetrics({ registry: {} as never }), { code: 'ERR_LIFELINE_INVALID_OPTION', message: /registry/ });
  });

  test('metrics: two recorders on one registry share the metrics; metrics: true uses the default registry', async () => {
    const registry = new promClient.Registry();
    const a = new LivenessMetrics({ registry });
    const b = new LivenessMetrics({ registry });
    a.death('reset', null);
    b.death('reset', null);
    a.connectionOpened('x');
    b.connectionOpened('x');
    b.connectionClosed('x');
    b.connectionClosed('x');
    const text = parsePrometheusText(await registry.metrics());
    assert.equal(text.value('lifeline_deaths_total', { reason: 'reset' }), 2);
    assert.equal(text.value('lifeline_connections', { state: 'open' }), 1, 'a key closed twice counts once');

    const supervisor = new Supervisor({ metrics: true });
    cleanup.push(supervisor);
    assert.ok(promClient.register.getSingleMetric('lifeline_connections'));
    assert.equal(LivenessMetrics.default(), LivenessMetrics.default());
  });
});

const skip = needsNetns();

describe('metrics in network namespaces', { skip }, () => {
  const pairs: CablePair[] = [];
  before(() => removeLeftoverNamespaces());
  after(() => {
    for (const pair of pairs) pair.remove();
  });

  test('metrics: a pulled cable under keepalive 2,1,3 is one keepalive-timeout with a detection latency of about 5 s', async (t) => {
    const pair = new CablePair();
    pairs.push(pair);
    const server = pair.lifeline('server', ['server', pair.serverIp, '1234', '--json', '--keepalive', '2,1,3', '--metrics', '127.0.0.1:0']);
    const metricsLine = await server.waitForEvent((event) => event['event'] === 'metrics', 5000);
    assert.ok(metricsLine, `no metrics line: ${server.stderr.map((line) => line.text).join('\n')}`);
    const url = `${String(metricsLine['url'])}metrics`;
    const client = pair.lifeline('client', ['client', pair.serverIp, '1234', '--json', '--keepalive', 'off']);
    assert.ok(await client.waitForEvent((event) => event['event'] === 'connected', 5000, 'stderr'), 'client did not connect');
    client.write('hello\n');
    assert.ok(await server.waitForEvent((event) => event['event'] === 'data', 5000));
    pair.pull('client');
    const dead = await server.waitForEvent((event) => event['event'] === 'dead', 12_000);
    assert.equal(dead?.['reason'], 'keepalive-timeout');
    // The metrics listen on the server namespace's loopback: scrape them from inside it.
    const scraper = pair.spawn('server', [process.execPath, '-e', `fetch(${JSON.stringify(url)}).then((r) => r.text()).then((t) => process.stdout.write(t))`]);
    assert.equal(await scraper.exited, 0, scraper.stderr.map((line) => line.text).join('\n'));
    const text = parsePrometheusText(scraper.stdout.map((line) => line.text).join('\n'));
    assert.equal(text.value('lifeline_deaths_total', { reason: 'keepalive-timeout' }), 1);
    assert.equal(text.value('lifeline_detection_latency_seconds_count', { reason: 'keepalive-timeout' }), 1);
    const latency = text.value('lifeline_detection_latency_seconds_sum', { reason: 'keepalive-timeout' }) ?? NaN;
    t.diagnostic(`detection latency ${latency} s`);
    assert.ok(latency >= 4 && latency <= 6.5, `detection latency ${latency} s; the budget of 2,1,3 is 5 s`);
    assert.equal(text.value('lifeline_detection_latency_seconds_bucket', { reason: 'keepalive-timeout', le: '4' }), 0);
    assert.equal(text.value('lifeline_detection_latency_seconds_bucket', { reason: 'keepalive-timeout', le: '8' }), 1);
    assert.equal(text.value('lifeline_connections', { state: 'open' }), 0);
  });
});

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { request, type IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, test } from 'node:test';
import * as promClient from 'prom-client';
import { LifelineServer, LivenessMetrics, StatusPage, Supervisor, type StatusRow } from '../../src/index.js';
import { CliProcess } from '../helpers/netns.js';
import { CLI } from '../helpers/paths.js';
import { parsePrometheusText } from '../helpers/prometheus.js';
import { RawPeer } from '../helpers/raw-peer.js';

type Closable = { close(): Promise<void> | void };
let cleanup: Closable[] = [];
afterEach(async () => {
  for (const item of cleanup.reverse()) await item.close();
  cleanup = [];
});

interface Fetched {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
}

function fetchText(url: string, method = 'GET'): Promise<Fetched> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

interface SseEvent {
  at: number;
  event: string;
  data: unknown;
}

/** An open /events stream whose events are collected as they arrive. */
class EventStream {
  readonly events: SseEvent[] = [];
  readonly response: Promise<IncomingMessage>;
  readonly #request;
  #buffer = '';
  #waiters: (() => void)[] = [];

  constructor(url: string) {
    this.#request = request(url);
    this.response = new Promise((resolve, reject) => {
      this.#request.on('response', (res) => {
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => this.#push(chunk));
        res.on('error', () => {});
        resolve(res);
      });
      this.#request.on('error', reject);
    });
    this.#request.end();
  }

  #push(chunk: string): void {
    this.#buffer += chunk;
    let end;
    while ((end = this.#buffer.indexOf('\n\n')) >= 0) {
      const block = this.#buffer.slice(0, end);
      this.#buffer = this.#buffer.slice(end + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (event !== undefined && data !== undefined) this.events.push({ at: performance.now(), event, data: JSON.parse(data) });
    }
    for (const wake of this.#waiters.splice(0)) wake();
  }

  /** Waits (bounded) for an event of this name matching `match`, looking from index `from`. */
  async next(name: string, match: (data: unknown) => boolean = () => true, timeoutMs = 3000, from = 0): Promise<SseEvent> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const found = this.events.slice(from).find((event) => event.event === name && match(event.data));
      if (found) return found;
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`no ${name} event within ${timeoutMs} ms; got ${this.events.map((event) => event.event).join(', ')}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.#request.destroy();
  }
}

async function page(options: Partial<ConstructorParameters<typeof StatusPage>[0]> = {}) {
  const metrics = options.metrics ?? new LivenessMetrics({ registry: new promClient.Registry() });
  const statusPage = new StatusPage({ metrics, ...options });
  cleanup.push(statusPage);
  const address = await statusPage.listen(0, '127.0.0.1');
  return { metrics, page: statusPage, base: `http://127.0.0.1:${address.port}` };
}

async function supervised(metrics: LivenessMetrics) {
  const supervisor = new Supervisor({ metrics, keepalive: { idle: 2000, interval: 1000, count: 3 } });
  cleanup.push(supervisor);
  supervisor.on('accepted', (snapshot) => supervisor.connection(snapshot.id)?.socket.resume());
  const server = await supervisor.listen(0, '127.0.0.1');
  return { supervisor, port: (server.address() as { port: number }).port };
}

async function connected(port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  await once(socket, 'connect');
  cleanup.push({ close: () => void socket.destroy() });
  return socket;
}

const rows = (data: unknown) => (data as { connections: StatusRow[] }).connections;

describe('StatusPage over HTTP', () => {
  test('status page: / is one self-contained HTML page; HEAD works, other methods get 405, unknown paths 404', async () => {
    const { base } = await page({ title: 'edge <1>' });
    const html = await fetchText(`${base}/`);
    assert.equal(html.status, 200);
    assert.match(String(html.headers['content-type']), /^text\/html/);
    assert.match(html.body, /<title>edge &#60;1&#62;: connections<\/title>/, 'the title is escaped');
    assert.match(html.body, /<svg id="chart"/);
    assert.match(html.body, /new EventSource\('events'\)/);
    // Nothing is fetched from elsewhere: no external scripts, styles, images or fonts.
    assert.doesNotMatch(html.body, /<(script|img|link|iframe)[^>]+(src|href)=/i);
    assert.doesNotMatch(html.body, /https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    assert.doesNotMatch(html.body, /@import|url\(/);
    const head = await fetchText(`${base}/`, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    assert.equal(Number(head.headers['content-length']), Buffer.byteLength(html.body));
    const post = await fetchText(`${base}/metrics`, 'POST');
    assert.equal(post.status, 405);
    assert.equal(post.headers['allow'], 'GET, HEAD');
    assert.equal((await fetchText(`${base}/nope`)).status, 404);
  });

  test('status page: /metrics is the Prometheus text of the registry and /connections.json lists live connections', async () => {
    const metrics = new LivenessMetrics({ registry: new promClient.Registry() });
    const { supervisor, port } = await supervised(metrics);
    const { base } = await page({ metrics, sources: [supervisor] });
    const client = await connected(port);
    await new Promise((resolve) => setTimeout(resolve, 50));

    const scraped = await fetchText(`${base}/metrics`);
    assert.equal(scraped.status, 200);
    assert.match(String(scraped.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    const text = parsePrometheusText(scraped.body);
    assert.equal(text.types.get('lifeline_detection_latency_seconds'), 'histogram');
    assert.equal(text.types.get('lifeline_heartbeat_rtt_seconds'), 'histogram');
    assert.equal(text.types.get('lifeline_deaths_total'), 'counter');
    assert.equal(text.value('lifeline_connections', { state: 'open' }), 1);

    const json = JSON.parse((await fetchText(`${base}/connections.json`)).body) as { total: number; connections: StatusRow[]; deaths: unknown[] };
    assert.equal(json.total, 1);
    const [row] = json.connections;
    assert.equal(row?.remote, `127.0.0.1:${client.localPort}`);
    assert.equal(row?.state, 'open');
    assert.deepEqual(row?.keepalive, { enabled: true, idle: 2000, interval: 1000, count: 3, userTimeout: 0 });
    assert.ok(typeof row?.silentMs === 'number' && row.silentMs >= 0);
    assert.ok(row?.rttMs !== null);
    client.end();
    await once(supervisor, 'dead');
    const after = JSON.parse((await fetchText(`${base}/connections.json`)).body) as { total: number; deaths: { reason: string }[] };
    assert.equal(after.total, 0);
    assert.deepEqual(after.deaths.map((death) => death.reason), ['eof']);
  });

  test('status page: /events says hello with the state, then streams a connection and its death (deaths before the snapshot without it)', async () => {
    const metrics = new LivenessMetrics({ registry: new promClient.Registry() });
    const { supervisor, port } = await supervised(metrics);
    const statusPage = new StatusPage({ metrics, sources: [supervisor], updateInterval: 200 });
    cleanup.push(statusPage);
    const base = `http://127.0.0.1:${(await statusPage.listen(0, '127.0.0.1')).port}`;
    const stream = new EventStream(`${base}/events`);
    cleanup.push(stream);
    const response = await stream.response;
    assert.match(String(response.headers['content-type']), /^text\/event-stream/);
    const hello = await stream.next('hello');
    assert.deepEqual(rows(hello.data), []);

    const client = await connected(port);
    const remote = `127.0.0.1:${client.localPort}`;
    await stream.next('connections', (data) => rows(data).some((row) => row.remote === remote));
    client.resetAndDestroy();
    const deaths = await stream.next('deaths', (data) => (data as { remote: string }[]).some((death) => death.remote === remote));
    const death = (deaths.data as { remote: string; reason: string; code: string }[])[0];
    assert.equal(death?.reason, 'reset');
    assert.equal(death?.code, 'ECONNRESET');
    const index = stream.events.indexOf(deaths);
    assert.equal(stream.events[index + 1]?.event, 'connections', 'the snapshot without the dead connection comes right after its death');
    assert.deepEqual(rows(stream.events[index + 1]?.data), []);
  });

  test('status page: updates are rate-bounded (at most 4 a second) however fast deaths come, and no death is lost in batching', async () => {
    const { metrics, page: statusPage, base } = await page({ updateInterval: 1000 });
    const stream = new EventStream(`${base}/events`);
    cleanup.push(stream);
    await stream.next('hello');
    const started = performance.now();
    const burst = setInterval(() => {
      for (let index = 0; index < 10; index++) metrics.death('reset', null, { remote: `10.0.0.1:${index}` });
    }, 10);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    clearInterval(burst);
    const sent = metrics.deathTotals()['reset'] ?? 0;
    await stream.next('deaths', () => true, 2000, stream.events.length);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const window = stream.events.filter((event) => event.event === 'connections' && event.at - started <= 1500);
    assert.ok(window.length <= 7, `${window.length} updates in 1.5 s; at most 4 a second allowed`);
    assert.ok(window.length >= 3, `${window.length} updates in 1.5 s of constant change`);
    const streamed = stream.events.filter((event) => event.event === 'deaths').reduce((sum, event) => sum + (event.data as unknown[]).length, 0);
    assert.ok(sent > 500, `sent ${sent}`);
    assert.equal(streamed, sent, 'every death reached the page exactly once');
    assert.equal(statusPage.deaths().length, Math.min(sent, 1000), 'the page keeps at most maxDeaths');
  });

  test('status page: memory is bounded: the last maxDeaths deaths, maxClients streams; a closed stream is cleaned up', async () => {
    const { metrics, page: statusPage, base } = await page({ maxDeaths: 10, maxClients: 1 });
    for (let index = 0; index < 25; index++) metrics.death(index % 2 ? 'reset' : 'eof', null, { id: index });
    assert.deepEqual(statusPage.deaths().map((death) => death.id), [15, 16, 17, 18, 19, 20, 21, 22, 23, 24]);
    const first = new EventStream(`${base}/events`);
    cleanup.push(first);
    const hello = await first.next('hello');
    assert.deepEqual((hello.data as { deaths: { id: number }[] }).deaths.map((death) => death.id), [15, 16, 17, 18, 19, 20, 21, 22, 23, 24]);
    assert.deepEqual((hello.data as { totals: Record<string, number> }).totals, { eof: 13, reset: 12 });
    assert.equal(statusPage.clientCount, 1);
    const refused = await fetchText(`${base}/events`);
    assert.equal(refused.status, 503);
    assert.equal(refused.headers['retry-after'], '5');
    first.close();
    const deadline = performance.now() + 2000;
    while (statusPage.clientCount > 0 && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(statusPage.clientCount, 0, 'the closed stream was removed');
    const second = new EventStream(`${base}/events`);
    cleanup.push(second);
    await second.next('hello');
  });

  test('status page: lists LifelineServer connections with session, heartbeat interval and state', async () => {
    const metrics = new LivenessMetrics({ registry: new promClient.Registry() });
    const server = new LifelineServer({ metrics, keepalive: { idle: 5000, interval: 1000, count: 3 } });
    cleanup.push(server);
    const port = ((await server.listen(0, '127.0.0.1')).address() as { port: number }).port;
    const statusPage = new StatusPage({ metrics, sources: [server] });
    cleanup.push(statusPage);
    const peer = await RawPeer.connect(port);
    cleanup.push(peer);
    peer.hello('', 0, 2000);
    const { sessionId } = await peer.next('welcome');
    const [row] = statusPage.snapshot().connections;
    assert.equal(row?.state, 'open');
    assert.equal(row?.session, sessionId);
    assert.equal(row?.heartbeatIntervalMs, 2000);
    assert.deepEqual(row?.keepalive, { enabled: true, idle: 5000, interval: 1000, count: 3, userTimeout: 0 });
    assert.deepEqual(statusPage.snapshot().states, { open: 1 });
  });

  test('status page: options are validated, naming the option', () => {
    const metrics = new LivenessMetrics({ registry: new promClient.Registry() });
    assert.throws(() => new StatusPage({ metrics, maxDeath: 5 } as never), { code: 'ERR_LIFELINE_INVALID_OPTION', message: /did you mean maxDeaths/ });
    assert.throws(() => new StatusPage({ metrics: {} as never }), { code: 'ERR_LIFELINE_INVALID_OPTION', message: /metrics/ });
    assert.throws(() => new StatusPage({ metrics, sources: [{}] as never }), { code: 'ERR_LIFELINE_INVALID_OPTION', message: /sources/ });
    assert.throws(() => new StatusPage({ metrics, updateInterval: '10ms' }), { code: 'ERR_LIFELINE_INVALID_OPTION', message: /updateInterval/ });
    assert.throws(() => new StatusPage({ metrics, maxDeaths: 0 }), { code: 'ERR_LIFELINE_INVALID_OPTION', message: /maxDeaths/ });
  });
});

describe('lifeline server --metrics (loopback)', () => {
  function cli(args: string[]): CliProcess {
    const process_ = new CliProcess(spawn(process.execPath, [CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'] }));
    cleanup.push({ close: () => process_.kill() });
    return process_;
  }

  test('cli: server --metrics serves /metrics and the page for the raw protocol and prints where', async () => {
    const server = cli(['server', '127.0.0.1', '0', '--json', '--keepalive', '2,1,3', '--metrics', '127.0.0.1:0']);
    const listening = await server.waitForEvent((event) => event['event'] === 'listening', 5000);
    const served = await server.waitForEvent((event) => event['event'] === 'metrics', 5000);
    assert.ok(listening && served, server.stderr.map((line) => line.text).join('\n'));
    assert.match(String(served['url']), /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const client = await connected(Number(listening['port']));
    await server.waitForEvent((event) => event['event'] === 'accepted', 5000);
    const json = JSON.parse((await fetchText(`${String(served['url'])}connections.json`)).body) as { connections: StatusRow[] };
    assert.equal(json.connections[0]?.remote, `127.0.0.1:${client.localPort}`);
    assert.equal(json.connections[0]?.keepalive?.idle, 2000);
    const text = parsePrometheusText((await fetchText(`${String(served['url'])}metrics`)).body);
    assert.equal(text.value('lifeline_connections', { state: 'open' }), 1);
    assert.equal((await fetchText(String(served['url']))).status, 200);
    server.child.kill('SIGTERM');
    assert.equal(await server.exited, 0);
  });

  test('cli: server --protocol lifeline --metrics counts sessions; human output says where it serves', async () => {
    const server = cli(['server', '127.0.0.1', '0', '--protocol', 'lifeline', '--metrics', '[::1]:0']);
    const deadline = performance.now() + 5000;
    while (server.stdout.length < 2 && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    const lines = server.stdout.map((line) => line.text);
    const port = Number(/listening 127\.0\.0\.1:(\d+)/.exec(lines.join('\n'))?.[1]);
    const url = /^metrics (http:\/\/\[::1\]:\d+\/)metrics, status page http:\/\/\[::1\]:\d+\/$/m.exec(lines.join('\n'))?.[1];
    assert.ok(port && url, `output: ${lines.join('\n')} ${server.stderr.map((line) => line.text).join('\n')}`);
    const peer = await RawPeer.connect(port);
    cleanup.push(peer);
    peer.hello();
    await peer.next('welcome');
    const text = parsePrometheusText((await fetchText(`${url}metrics`)).body);
    assert.equal(text.value('lifeline_connections', { state: 'open' }), 1);
  });

  test('cli: a bad --metrics address is a usage error (exit 2) naming the flag', () => {
    for (const bad of ['9464', 'localhost', '127.0.0.1:99999', 'a b:1', '[::1:5']) {
      const run = spawnSync(process.execPath, [CLI, 'server', '127.0.0.1', '0', '--metrics', bad], { encoding: 'utf8', timeout: 10_000 });
      assert.equal(run.status, 2, `${bad}: ${run.stderr}`);
      assert.match(run.stderr, /invalid --metrics .*allowed HOST:PORT such as 127\.0\.0\.1:9464/);
    }
  });
});

import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Duration } from '../duration.js';
import { InvalidOptionError } from '../errors.js';
import { durationIn, integerIn, rejectUnknownKeys } from '../options.js';
import type { KeepAliveState } from '../socket/keepalive.js';
import type { ConnectionSource, ConnectionStatus } from './connection-status.js';
import { LivenessMetrics, type DeathRecord } from './metrics.js';
import { statusPageHtml } from './status-page-html.js';

/**
 * An HTTP endpoint for operators (docs/operators.md):
 * - `GET /metrics`: the registry of `metrics` in the Prometheus text format;
 * - `GET /`: a self-contained page (inline CSS, JS and SVG; nothing fetched from elsewhere) listing the live
 *   connections with state, silence, RTT and keepalive, updating live, and a chart of deaths by reason over time;
 * - `GET /events`: server-sent events feeding that page (`hello`, then `connections` and `deaths`);
 * - `GET /connections.json`: the same data once.
 * Memory is bounded: the last `maxDeaths` deaths, `maxClients` event streams, `maxRows` connections per update.
 */

export interface StatusPageOptions {
  /** Where /metrics comes from, and whose deaths and connection changes the page follows. */
  metrics: LivenessMetrics;
  /** The servers whose connections are listed (Supervisor, LifelineServer, ...). Default none. */
  sources?: readonly ConnectionSource[];
  /** The page's title. Default `lifeline`. */
  title?: string;
  /** Deaths kept for the chart and the list. Default 1000. */
  maxDeaths?: number;
  /** Connections sent per update (the most silent first). Default 500. */
  maxRows?: number;
  /** How often the page gets a fresh snapshot (silences grow); changes come sooner, at most 4 times a second. Default 1 s. */
  updateInterval?: Duration;
  /** Event streams (open pages) at once; more get 503. Default 32. */
  maxClients?: number;
}

export const DEFAULT_STATUS_PAGE = { title: 'lifeline', maxDeaths: 1000, maxRows: 500, updateInterval: 1000, maxClients: 32 } as const;

/** The least time between two updates, however fast connections change. */
const MIN_UPDATE_GAP_MS = 250;
/** A page that does not read its stream is dropped once this much waits for it. */
const MAX_BUFFERED_BYTES = 1 << 20;

const KNOWN = ['metrics', 'sources', 'title', 'maxDeaths', 'maxRows', 'updateInterval', 'maxClients'] as const;

export function resolveStatusPageOptions(options: StatusPageOptions) {
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', options, 'an object with at least metrics');
  rejectUnknownKeys('', options, KNOWN);
  if (!(options.metrics instanceof LivenessMetrics)) throw new InvalidOptionError('metrics', options.metrics, 'a LivenessMetrics');
  const sources = options.sources ?? [];
  if (!Array.isArray(sources) || !sources.every((source) => typeof (source as Partial<ConnectionSource>)?.connections === 'function')) {
    throw new InvalidOptionError('sources', sources, 'an array of objects with connections() (Supervisor, LifelineServer)');
  }
  const title = options.title ?? DEFAULT_STATUS_PAGE.title;
  if (typeof title !== 'string' || title.length > 200) throw new InvalidOptionError('title', title, 'a string of at most 200 characters');
  return {
    metrics: options.metrics,
    sources: [...sources] as ConnectionSource[],
    title,
    maxDeaths: integerIn('maxDeaths', options.maxDeaths ?? DEFAULT_STATUS_PAGE.maxDeaths, 1, 100_000),
    maxRows: integerIn('maxRows', options.maxRows ?? DEFAULT_STATUS_PAGE.maxRows, 1, 10_000),
    updateInterval: durationIn('updateInterval', options.updateInterval ?? DEFAULT_STATUS_PAGE.updateInterval, 100, 60_000),
    maxClients: integerIn('maxClients', options.maxClients ?? DEFAULT_STATUS_PAGE.maxClients, 1, 1000),
  };
}

/** A connection as the page and /connections.json show it. */
export interface StatusRow {
  id: number | string;
  remote: string;
  state: string;
  silentMs: number;
  rttMs: number | null;
  keepalive: Omit<KeepAliveState, 'source'> | null;
  heartbeatIntervalMs?: number;
  session?: string;
}

export interface StatusSnapshot {
  /** Wall-clock ms. */
  at: number;
  /** Live connections in all sources (the list may hold fewer: maxRows). */
  total: number;
  connections: StatusRow[];
  /** Connections by state, as the metrics count them. */
  states: Record<string, number>;
  /** Deaths by reason since the metrics were made. */
  totals: Record<string, number>;
}

/** A fixed-size ring of the latest deaths. */
class DeathRing {
  readonly #items: (DeathRecord | undefined)[];
  #next = 0;
  #size = 0;

  constructor(capacity: number) {
    this.#items = new Array<DeathRecord | undefined>(capacity);
  }

  push(record: DeathRecord): void {
    this.#items[this.#next] = record;
    this.#next = (this.#next + 1) % this.#items.length;
    this.#size = Math.min(this.#size + 1, this.#items.length);
  }

  /** Oldest first. */
  toArray(): DeathRecord[] {
    const start = (this.#next - this.#size + this.#items.length) % this.#items.length;
    return Array.from({ length: this.#size }, (_, index) => this.#items[(start + index) % this.#items.length] as DeathRecord);
  }
}

const STATE_ORDER: Record<string, number> = { suspect: 0, closing: 1, handshake: 2, open: 3 };

function toRow(status: ConnectionStatus): StatusRow {
  const keepalive = status.keepalive;
  const row: StatusRow = {
    id: status.id,
    remote: status.remote,
    state: status.state,
    silentMs: Math.round(status.silentMs),
    rttMs: status.rttMs === null ? null : Math.round(status.rttMs * 1000) / 1000,
    keepalive: keepalive
      ? { enabled: keepalive.enabled, idle: keepalive.idle, interval: keepalive.interval, count: keepalive.count, userTimeout: keepalive.userTimeout }
      : null,
  };
  if (status.heartbeatIntervalMs !== undefined) row.heartbeatIntervalMs = status.heartbeatIntervalMs;
  if (status.session !== undefined) row.session = status.session;
  return row;
}

export class StatusPage {
  readonly #options: ReturnType<typeof resolveStatusPageOptions>;
  readonly #deaths: DeathRing;
  readonly #clients = new Set<ServerResponse>();
  readonly #html: string;
  #pendingDeaths: DeathRecord[] = [];
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Infinity;
  #lastUpdate = -Infinity;
  #server: Server | undefined;
  #closed = false;

  readonly #onDeath = (record: DeathRecord) => {
    this.#deaths.push(record);
    this.#pendingDeaths.push(record);
    if (this.#pendingDeaths.length > this.#options.maxDeaths) this.#pendingDeaths.splice(0, this.#pendingDeaths.length - this.#options.maxDeaths);
    this.#schedule(true);
  };

  readonly #onChange = () => this.#schedule(true);

  constructor(options: StatusPageOptions) {
    this.#options = resolveStatusPageOptions(options);
    this.#deaths = new DeathRing(this.#options.maxDeaths);
    this.#html = statusPageHtml(this.#options.title);
    this.#options.metrics.on('death', this.#onDeath);
    this.#options.metrics.on('change', this.#onChange);
  }

  /** Event streams open now. */
  get clientCount(): number {
    return this.#clients.size;
  }

  /** The deaths kept (oldest first). */
  deaths(): DeathRecord[] {
    return this.#deaths.toArray();
  }

  /** Every live connection of every source, with the counts (not cut to maxRows). */
  snapshot(limit = Infinity): StatusSnapshot {
    const all: ConnectionStatus[] = [];
    for (const source of this.#options.sources) all.push(...source.connections());
    all.sort((a, b) => (STATE_ORDER[a.state] ?? -1) - (STATE_ORDER[b.state] ?? -1) || b.silentMs - a.silentMs);
    return {
      at: Date.now(),
      total: all.length,
      connections: all.slice(0, limit).map(toRow),
      states: this.#options.metrics.connectionCounts(),
      totals: this.#options.metrics.deathTotals(),
    };
  }

  /** The request handler: mount it in a server of your own, or call listen(). */
  readonly handler = (request: IncomingMessage, response: ServerResponse): void => {
    void this.#handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) this.#send(response, 500, 'text/plain; charset=utf-8', `${(error as Error).message}\n`);
      else response.destroy();
    });
  };

  /** Serves on its own http server; resolves with the address once listening. */
  async listen(port: number, host?: string): Promise<AddressInfo> {
    if (this.#server) throw new Error('the status page is already listening');
    const server = createServer(this.handler);
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port, ...(host !== undefined && { host }) }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return server.address() as AddressInfo;
  }

  /** Ends every event stream, stops following the metrics, and closes the server listen() made. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#options.metrics.off('death', this.#onDeath);
    this.#options.metrics.off('change', this.#onChange);
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const client of this.#clients) client.end();
    this.#clients.clear();
    const server = this.#server;
    if (server?.listening) {
      const closed = once(server, 'close');
      server.close();
      server.closeAllConnections();
      await closed;
    }
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.setHeader('allow', 'GET, HEAD');
      this.#send(response, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
      return;
    }
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    switch (path) {
      case '/':
      case '/index.html':
        this.#send(response, 200, 'text/html; charset=utf-8', this.#html, request.method === 'HEAD');
        return;
      case '/metrics': {
        const registry = this.#options.metrics.registry;
        this.#send(response, 200, registry.contentType, await registry.metrics(), request.method === 'HEAD');
        return;
      }
      case '/connections.json':
        this.#send(response, 200, 'application/json; charset=utf-8', `${JSON.stringify({ ...this.snapshot(), deaths: this.deaths() })}\n`, request.method === 'HEAD');
        return;
      case '/events':
        this.#openStream(request, response);
        return;
      default:
        this.#send(response, 404, 'text/plain; charset=utf-8', 'not found: try /, /metrics, /events or /connections.json\n');
    }
  }

  #send(response: ServerResponse, status: number, type: string, body: string, headOnly = false): void {
    response.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
    response.end(headOnly ? undefined : body);
  }

  #openStream(request: IncomingMessage, response: ServerResponse): void {
    if (this.#closed || this.#clients.size >= this.#options.maxClients) {
      response.setHeader('retry-after', '5');
      this.#send(response, 503, 'text/plain; charset=utf-8', `too many open status pages (${this.#options.maxClients})\n`);
      return;
    }
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    if (request.method === 'HEAD') {
      response.end();
      return;
    }
    request.socket.setNoDelay(true);
    const hello = {
      title: this.#options.title,
      maxDeaths: this.#options.maxDeaths,
      updateIntervalMs: this.#options.updateInterval,
      deaths: this.deaths(),
      ...this.snapshot(this.#options.maxRows),
    };
    response.write(`retry: 2000\n\n${event('hello', hello)}`);
    this.#clients.add(response);
    response.once('close', () => {
      this.#clients.delete(response);
      if (this.#clients.size === 0 && this.#timer) {
        clearTimeout(this.#timer);
        this.#timer = undefined;
        this.#timerAt = Infinity;
      }
    });
    this.#schedule(false);
  }

  /** Plans the next update: `soon` after a change (but not within MIN_UPDATE_GAP_MS of the last), else at the interval. */
  #schedule(soon: boolean): void {
    if (this.#clients.size === 0 || this.#closed) {
      if (this.#clients.size === 0) this.#pendingDeaths = [];
      return;
    }
    const now = performance.now();
    const gap = Math.min(MIN_UPDATE_GAP_MS, this.#options.updateInterval);
    const at = soon ? Math.max(now, this.#lastUpdate + gap) : Math.max(now + gap, this.#lastUpdate + this.#options.updateInterval);
    if (this.#timer && this.#timerAt <= at) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(() => this.#update(), at - now);
    this.#timer.unref();
  }

  #update(): void {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    this.#lastUpdate = performance.now();
    // Deaths first: the page then still has the dead connection's row and marks it dead before it disappears.
    let message = this.#pendingDeaths.length > 0 ? event('deaths', this.#pendingDeaths) : '';
    message += event('connections', this.snapshot(this.#options.maxRows));
    this.#pendingDeaths = [];
    for (const client of this.#clients) {
      if (client.writableLength > MAX_BUFFERED_BYTES) {
        client.destroy();
        continue;
      }
      client.write(message);
    }
    this.#schedule(false);
  }
}

function event(name: string, data: unknown): string {
  return `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
}

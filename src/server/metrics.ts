import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import type * as Prom from 'prom-client';
import { InvalidOptionError, UnsupportedError } from '../errors.js';
import { DeathReasons } from '../liveness/verdict.js';
import { rejectUnknownKeys } from '../options.js';

/**
 * Prometheus metrics for every kind of connection lifeline follows (Supervisor, LifelineServer, and adapters).
 *
 * prom-client is an OPTIONAL peer dependency: it is loaded (synchronously, with require) only when a
 * LivenessMetrics is made, never by `import 'lifeline'`. Without it, making one throws ERR_LIFELINE_UNSUPPORTED
 * saying `npm install prom-client`. Servers take any LivenessRecorder, so another metrics system can stand in.
 */

/** States a connection can be counted in (`lifeline_connections{state}`). Adapters may add their own. */
export const LiveStates = {
  /** Accepted; the protocol's handshake has not completed (LifelineServer before HELLO). */
  HANDSHAKE: 'handshake',
  /** Established and, as far as anyone knows, alive. */
  OPEN: 'open',
  /** The heartbeat engine suspects it (a pong is overdue); it may still recover. */
  SUSPECT: 'suspect',
  /** This side is closing it. */
  CLOSING: 'closing',
} as const;
export type LiveState = (typeof LiveStates)[keyof typeof LiveStates];

/**
 * What servers report. `key` names one connection (any value unique among live connections of this recorder,
 * e.g. the connection object); a key must be closed once it is done with, or its count stays.
 */
export interface LivenessRecorder {
  connectionOpened(key: unknown, state?: string): void;
  connectionStateChanged(key: unknown, state: string): void;
  connectionClosed(key: unknown): void;
  /** A connection died. `detectionLatencyMs`: the silence at the verdict (see detectionLatency), null when the peer said so itself. */
  death(reason: string, detectionLatencyMs: number | null, details?: DeathDetails): void;
  /** A heartbeat round trip, ms. */
  rtt(ms: number): void;
  pingSent(): void;
  /** A peer pinged faster than agreed (a too_many_pings strike). */
  strike(): void;
}

export interface DeathDetails {
  id?: number | string;
  remote?: string;
  /** The socket error's code, when one decided. */
  code?: string | null;
  /** The deciding evidence in words. */
  because?: string;
  /** How long the peer had been silent when the connection ended (also for eof and reset). */
  silentMs?: number;
}

/** A death as the status page keeps it. `at` is wall-clock ms (Date.now()). */
export interface DeathRecord extends DeathDetails {
  at: number;
  reason: string;
  detectionLatencyMs: number | null;
}

export interface LivenessMetricsEvents {
  death: [DeathRecord];
  /** A connection opened, changed state or closed. */
  change: [];
}

/**
 * Deaths found by silence: the peer said nothing, and lifeline (or the kernel, on lifeline's settings) decided.
 * Only these have a detection latency; eof, reset and local are announced, not detected.
 */
export const SILENCE_VERDICTS: ReadonlySet<string> = new Set([
  DeathReasons.KEEPALIVE_TIMEOUT,
  DeathReasons.USER_TIMEOUT,
  DeathReasons.HEARTBEAT_TIMEOUT,
  DeathReasons.UNREACHABLE,
]);

/**
 * Detection latency: the silence at the verdict, i.e. the time from the last thing heard from the peer (any
 * byte, or for kernel verdicts any ACK, as TCP_INFO says) to the moment the connection was declared dead. It is
 * the time a dead peer went unnoticed, at its worst when the peer died just after its last packet. Null for
 * reasons that are not silence verdicts.
 */
export function detectionLatency(reason: string, silentMs: number): number | null {
  return SILENCE_VERDICTS.has(reason) && Number.isFinite(silentMs) && silentMs >= 0 ? silentMs : null;
}

/**
 * Detection latency buckets, seconds: dense where tuned keepalive and heartbeats decide (1 to 10 s), then the
 * usual budgets: 2 min (the supervisor's default 60 s + 6 x 10 s), 15 min (tcp_retries2 = 15: 924.6 s) and
 * 2 h 11 min 15 s (Linux's default keepalive, 7875 s).
 */
export const DEFAULT_DETECTION_LATENCY_BUCKETS: readonly number[] = Object.freeze([
  0.5, 1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600, 930, 1800, 3600, 7875,
]);

/** Heartbeat RTT buckets, seconds: from a LAN's half millisecond to 5 s (a pong that late is a suspect anyway). */
export const DEFAULT_RTT_BUCKETS: readonly number[] = Object.freeze([
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
]);

/** The part of a prom-client Registry lifeline uses; a prom-client `Registry` is one. */
export interface MetricsRegistry {
  metrics(): Promise<string>;
  readonly contentType: string;
  getSingleMetric(name: string): unknown;
}

/** The prom-client module, as `import * as client from 'prom-client'` gives it. */
export interface PromClientModule {
  Registry: unknown;
  Counter: unknown;
  Gauge: unknown;
  Histogram: unknown;
  register: MetricsRegistry;
}

export interface LivenessMetricsOptions {
  /** Where the metrics are registered. Default: prom-client's default registry (`register`). */
  registry?: MetricsRegistry;
  /** Upper bounds, seconds, for lifeline_detection_latency_seconds. Default DEFAULT_DETECTION_LATENCY_BUCKETS. */
  detectionLatencyBuckets?: readonly number[];
  /** Upper bounds, seconds, for lifeline_heartbeat_rtt_seconds. Default DEFAULT_RTT_BUCKETS. */
  rttBuckets?: readonly number[];
  /** The prom-client module to use (when your application has its own copy). Default: require('prom-client'). */
  promClient?: PromClientModule;
}

export const METRIC_NAMES = {
  connections: 'lifeline_connections',
  deaths: 'lifeline_deaths_total',
  detectionLatency: 'lifeline_detection_latency_seconds',
  rtt: 'lifeline_heartbeat_rtt_seconds',
  pingsSent: 'lifeline_pings_sent_total',
  strikes: 'lifeline_ping_strikes_total',
} as const;

const KNOWN = ['registry', 'detectionLatencyBuckets', 'rttBuckets', 'promClient'] as const;
const INSTALL_HINT = 'prom-client is not installed; run `npm install prom-client` (an optional peer dependency of lifeline)';

/**
 * Loads prom-client. `load` is the module loader (tests pass one that fails). Throws UnsupportedError
 * (ERR_LIFELINE_UNSUPPORTED) saying `npm install prom-client` when it is not installed.
 */
export function loadPromClient(load: (id: string) => unknown = createRequire(import.meta.url)): PromClientModule {
  let loaded: unknown;
  try {
    loaded = load('prom-client');
  } catch (error) {
    const code = (error as { code?: string }).code;
    const missing = code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND';
    const reason = missing ? INSTALL_HINT : `prom-client failed to load (${(error as Error).message}); reinstall it with \`npm install prom-client\``;
    throw Object.assign(new UnsupportedError('Prometheus metrics', reason), { cause: error });
  }
  checkPromClient(loaded, 'prom-client');
  return loaded;
}

function checkPromClient(value: unknown, option: string): asserts value is PromClientModule {
  const module = value as Partial<Record<keyof PromClientModule, unknown>> | null;
  const ok = typeof module === 'object' && module !== null && typeof module.Counter === 'function' && typeof module.Gauge === 'function'
    && typeof module.Histogram === 'function' && typeof module.Registry === 'function' && typeof module.register === 'object';
  if (!ok) throw new InvalidOptionError(option, '(not prom-client)', 'the prom-client module (import * as client from \'prom-client\')');
}

function checkBuckets(option: string, value: unknown, fallback: readonly number[]): number[] {
  if (value === undefined) return [...fallback];
  const valid = Array.isArray(value) && value.length > 0 && value.length <= 100
    && value.every((bound, index) => typeof bound === 'number' && Number.isFinite(bound) && bound > 0 && (index === 0 || bound > (value[index - 1] as number)));
  if (!valid) throw new InvalidOptionError(option, value, '1 to 100 increasing positive numbers (seconds)');
  return [...(value as number[])];
}

export function resolveLivenessMetricsOptions(options: LivenessMetricsOptions = {}) {
  rejectUnknownKeys('', options, KNOWN);
  if (options.promClient !== undefined) checkPromClient(options.promClient, 'promClient');
  const registry = options.registry;
  if (registry !== undefined && (typeof registry !== 'object' || registry === null || typeof registry.metrics !== 'function' || typeof registry.getSingleMetric !== 'function')) {
    throw new InvalidOptionError('registry', registry, 'a prom-client Registry');
  }
  return {
    registry,
    detectionLatencyBuckets: checkBuckets('detectionLatencyBuckets', options.detectionLatencyBuckets, DEFAULT_DETECTION_LATENCY_BUCKETS),
    rttBuckets: checkBuckets('rttBuckets', options.rttBuckets, DEFAULT_RTT_BUCKETS),
    promClient: options.promClient,
  };
}

/**
 * Records connections, deaths, detection latency, heartbeat RTT, pings and strikes as Prometheus metrics, and
 * emits each death (`death` event) for live views such as the status page.
 *
 * Metrics already in the registry under these names (from another LivenessMetrics on the same registry) are
 * shared, not registered twice: a Supervisor and a LifelineServer in one process can count into one set.
 */
export class LivenessMetrics extends EventEmitter<LivenessMetricsEvents> implements LivenessRecorder {
  readonly registry: MetricsRegistry;
  readonly #connections: Prom.Gauge<'state'>;
  readonly #deaths: Prom.Counter<'reason'>;
  readonly #latency: Prom.Histogram<'reason'>;
  readonly #rtt: Prom.Histogram;
  readonly #pings: Prom.Counter;
  readonly #strikes: Prom.Counter;
  readonly #states = new Map<unknown, string>();
  readonly #totals = new Map<string, number>();

  constructor(options: LivenessMetricsOptions = {}) {
    super();
    const resolved = resolveLivenessMetricsOptions(options);
    const client = (resolved.promClient ?? loadPromClient()) as unknown as typeof Prom;
    const registry = (resolved.registry ?? client.register) as Prom.Registry;
    this.registry = registry;
    const registers = [registry];
    const existing = <T>(name: string): T | undefined => registry.getSingleMetric(name) as T | undefined;
    this.#connections = existing(METRIC_NAMES.connections) ?? new client.Gauge({
      name: METRIC_NAMES.connections,
      help: 'Live connections lifeline follows, by state (handshake, open, suspect, closing).',
      labelNames: ['state'] as const,
      registers,
    });
    this.#deaths = existing(METRIC_NAMES.deaths) ?? new client.Counter({
      name: METRIC_NAMES.deaths,
      help: 'Connections ended, by the reason lifeline gave (keepalive-timeout, heartbeat-timeout, eof, reset, local, ...).',
      labelNames: ['reason'] as const,
      registers,
    });
    this.#latency = existing(METRIC_NAMES.detectionLatency) ?? new client.Histogram({
      name: METRIC_NAMES.detectionLatency,
      help: 'Silence at the verdict: time from the last byte or ACK heard from the peer to the death verdict, for deaths found by silence.',
      labelNames: ['reason'] as const,
      buckets: resolved.detectionLatencyBuckets,
      registers,
    });
    this.#rtt = existing(METRIC_NAMES.rtt) ?? new client.Histogram({
      name: METRIC_NAMES.rtt,
      help: 'Heartbeat round-trip time: from sending a PING to its PONG.',
      buckets: resolved.rttBuckets,
      registers,
    });
    this.#pings = existing(METRIC_NAMES.pingsSent) ?? new client.Counter({
      name: METRIC_NAMES.pingsSent,
      help: 'Heartbeat PINGs sent to peers that fell silent.',
      registers,
    });
    this.#strikes = existing(METRIC_NAMES.strikes) ?? new client.Counter({
      name: METRIC_NAMES.strikes,
      help: 'PINGs received faster than the agreed interval allows (too_many_pings strikes).',
      registers,
    });
    // Every known state and silence reason is exported from the start, at 0, so dashboards see the series.
    for (const state of Object.values(LiveStates)) this.#connections.inc({ state }, 0);
    for (const reason of Object.values(DeathReasons)) this.#deaths.inc({ reason }, 0);
  }

  connectionOpened(key: unknown, state: string = LiveStates.OPEN): void {
    if (this.#states.has(key)) {
      this.connectionStateChanged(key, state);
      return;
    }
    this.#states.set(key, state);
    this.#connections.inc({ state });
    this.emit('change');
  }

  connectionStateChanged(key: unknown, state: string): void {
    const previous = this.#states.get(key);
    if (previous === undefined || previous === state) return;
    this.#states.set(key, state);
    this.#connections.dec({ state: previous });
    this.#connections.inc({ state });
    this.emit('change');
  }

  connectionClosed(key: unknown): void {
    const previous = this.#states.get(key);
    if (previous === undefined) return;
    this.#states.delete(key);
    this.#connections.dec({ state: previous });
    this.emit('change');
  }

  death(reason: string, detectionLatencyMs: number | null, details: DeathDetails = {}): void {
    this.#deaths.inc({ reason });
    this.#totals.set(reason, (this.#totals.get(reason) ?? 0) + 1);
    if (detectionLatencyMs !== null && Number.isFinite(detectionLatencyMs) && detectionLatencyMs >= 0) {
      this.#latency.observe({ reason }, detectionLatencyMs / 1000);
    }
    this.emit('death', { ...details, at: Date.now(), reason, detectionLatencyMs });
  }

  rtt(ms: number): void {
    if (Number.isFinite(ms) && ms >= 0) this.#rtt.observe(ms / 1000);
  }

  pingSent(): void {
    this.#pings.inc();
  }

  strike(): void {
    this.#strikes.inc();
  }

  /** Connections this recorder counts now, by state. */
  connectionCounts(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const state of this.#states.values()) counts[state] = (counts[state] ?? 0) + 1;
    return counts;
  }

  /** Deaths this recorder counted since it was made, by reason. */
  deathTotals(): Record<string, number> {
    return Object.fromEntries(this.#totals);
  }

  /** The metrics of its registry in the Prometheus text format (what /metrics serves). */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  /** The one LivenessMetrics on prom-client's default registry (what `metrics: true` uses). */
  static default(): LivenessMetrics {
    defaultMetrics ??= new LivenessMetrics();
    return defaultMetrics;
  }
}

let defaultMetrics: LivenessMetrics | undefined;

const RECORDER_METHODS = ['connectionOpened', 'connectionStateChanged', 'connectionClosed', 'death', 'rtt', 'pingSent', 'strike'] as const;

/**
 * The `metrics` option every server takes: a LivenessRecorder (a LivenessMetrics or your own), `true` for
 * LivenessMetrics.default(), `false` or undefined for none.
 */
export function resolveMetricsOption(value: unknown, option = 'metrics'): LivenessRecorder | null {
  if (value === undefined || value === false) return null;
  if (value === true) return LivenessMetrics.default();
  const recorder = value as Partial<Record<(typeof RECORDER_METHODS)[number], unknown>> | null;
  if (typeof recorder === 'object' && recorder !== null && RECORDER_METHODS.every((method) => typeof recorder[method] === 'function')) {
    return value as LivenessRecorder;
  }
  throw new InvalidOptionError(option, value, `true, false, or a LivenessMetrics (any object with ${RECORDER_METHODS.join(', ')})`);
}

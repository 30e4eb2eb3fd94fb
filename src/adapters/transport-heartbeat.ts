import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { systemClock, type Clock } from '../clock.js';
import { InvalidOptionError, describeValue, type LifelineError } from '../errors.js';
import {
  HeartbeatEngine,
  type HeartbeatDeadPeer,
  type HeartbeatHandle,
  type HeartbeatState,
  type HeartbeatStats,
  type RecoveredPeer,
  type SuspectPeer,
} from '../liveness/heartbeat.js';
import { resolveHeartbeatOptions, type HeartbeatOptions, type ResolvedHeartbeatOptions } from '../liveness/heartbeat-options.js';
import type { StallReport } from '../liveness/stall-guard.js';
import { DeathReasons, classifyDeath, type DeathReason } from '../liveness/verdict.js';
import { LiveStates, detectionLatency, resolveMetricsOption, type LivenessRecorder } from '../server/metrics.js';
import { checkObject, rejectUnknownKeys } from '../options.js';
import { platformBackend } from '../platform/index.js';
import { setKeepAlive, type KeepAliveResult } from '../socket/keepalive.js';
import { resolveKeepAliveOptions, type KeepAliveOptions } from '../socket/options.js';

/**
 * What lifeline/ws and lifeline/http2 share: one HeartbeatEngine per adapter instance (one interval), keepalive
 * on each underlying socket, the events with their evidence, the metrics and the end-of-connection verdict.
 * A transport says how to ping, how to kill, and reports what arrives (touch, pong) and when a connection ends.
 *
 * Per connection: one small Entry object (the engine's id), the engine's 55 bytes, and a property under a
 * per-instance symbol on the transport's objects so that shared listener functions find their entry. No timer,
 * no closure per connection.
 */

/** The engine's settings (interval, timeout, jitter, maxSilence, tick, phi, stallThreshold, ...) plus the adapter's own. */
export interface AdapterOptions extends Omit<HeartbeatOptions, 'sendPing'> {
  /**
   * Keepalive (and user timeout) for each connection's TCP socket, set and read back as setKeepAlive does.
   * Default DEFAULT_ADAPTER_KEEPALIVE (idle 60 s, interval 10 s, count 6); `false` leaves the sockets alone.
   */
  keepalive?: KeepAliveOptions | false;
  /**
   * Prometheus metrics (docs/operators.md): a LivenessMetrics (or any LivenessRecorder), `true` for
   * LivenessMetrics.default() on prom-client's default registry (needs prom-client installed). Default: none.
   * Each connection is counted as open, suspect, then closing after the verdict; every end is a death with its
   * reason (eof, reset, heartbeat-timeout, ...), and silence verdicts carry their detection latency.
   */
  metrics?: LivenessRecorder | boolean;
}

/** The keepalive each supervised socket gets when none is given: the Supervisor's default. */
export const DEFAULT_ADAPTER_KEEPALIVE = Object.freeze({ idle: 60_000, interval: 10_000, count: 6 }) satisfies KeepAliveOptions;

const HEARTBEAT_KEYS = [
  'interval', 'timeout', 'jitter', 'maxSilence', 'tick', 'phi', 'stallThreshold', 'sliceSize', 'sliceTime', 'clock', 'random', 'initialCapacity',
] as const;
const ADAPTER_KEYS = [...HEARTBEAT_KEYS, 'keepalive', 'metrics'] as const;

/** The settings an adapter runs with, durations in ms. */
export type AdapterSettings = Pick<ResolvedHeartbeatOptions, 'interval' | 'timeout' | 'jitter' | 'maxSilence' | 'tick' | 'phi' | 'stallThreshold' | 'sliceSize' | 'sliceTime'>
  & { keepalive: KeepAliveOptions | false };

export interface ResolvedAdapterOptions {
  heartbeat: Omit<HeartbeatOptions, 'sendPing'>;
  keepalive: KeepAliveOptions | false;
  metrics: LivenessRecorder | null;
  clock: Clock;
}

/**
 * Checks the options every adapter takes (plus `ownKeys`, which the adapter checks itself). Throws
 * InvalidOptionError naming the option, the value and what is allowed; unknown keys are rejected with a hint.
 */
export function resolveAdapterOptions(options: AdapterOptions = {}, ownKeys: readonly string[] = []): ResolvedAdapterOptions {
  checkObject('options', options, "{ interval: '10s', timeout: '5s' }");
  rejectUnknownKeys('', options, [...ADAPTER_KEYS, ...ownKeys]);
  const heartbeat: Record<string, unknown> = {};
  for (const key of HEARTBEAT_KEYS) if (options[key] !== undefined) heartbeat[key] = options[key];
  // The engine checks them again when it is built; checking here first fails before anything is attached.
  resolveHeartbeatOptions(heartbeat);
  const keepalive = options.keepalive === undefined ? DEFAULT_ADAPTER_KEEPALIVE : options.keepalive;
  if (keepalive !== false) {
    try {
      resolveKeepAliveOptions(keepalive, platformBackend().limits);
    } catch (error) {
      if (error instanceof InvalidOptionError && error.option !== 'options') {
        // Name it as the user wrote it (keepalive.idle), keeping the hint (did you mean ...?).
        const base = `invalid option ${error.option}: ${describeValue(error.value)}; allowed: ${error.allowed}`;
        const hint = error.message.startsWith(`${base} (`) ? error.message.slice(base.length + 2, -1) : undefined;
        throw new InvalidOptionError(`keepalive.${error.option}`, error.value, error.allowed, hint);
      }
      if (error instanceof InvalidOptionError) throw new InvalidOptionError('keepalive', keepalive, `${error.allowed}, or false`);
      throw error;
    }
  }
  const metrics = resolveMetricsOption(options.metrics);
  return { heartbeat: heartbeat as Omit<HeartbeatOptions, 'sendPing'>, keepalive, metrics, clock: options.clock ?? systemClock };
}

/** Every event of an adapter names the peer by `remote` ("address:port") and by the transport's object (Tag). */
export interface PeerRef {
  /**
   * The peer's "address:port". Read from the socket the first time something needs it (it costs about 180 bytes
   * a connection to keep): with an `open` listener, for every connection; otherwise a `closed` event of a
   * connection nothing asked about while it was open (no other event, no stats()) may say "?".
   */
  remote: string;
}

export interface AdapterOpened extends PeerRef {
  /** Keepalive as the kernel holds it after setting it; null with `keepalive: false` or when it failed (see `warning`). */
  keepalive: KeepAliveResult | null;
}
export type AdapterSuspect = Omit<SuspectPeer<unknown>, 'id' | 'handle'> & PeerRef;
export type AdapterRecovered = Omit<RecoveredPeer<unknown>, 'id' | 'handle'> & PeerRef;
/** The heartbeat verdict with its evidence (HeartbeatDeadPeer): reason `heartbeat-timeout`, silence, pings, RTT, configuration. */
export type AdapterDead = Omit<HeartbeatDeadPeer<unknown>, 'id' | 'handle'> & PeerRef;
export type AdapterStats = Omit<HeartbeatStats<unknown>, 'id'> & PeerRef;

/** A supervised connection ended, whatever ended it. */
export interface AdapterClosed extends PeerRef {
  /** heartbeat-timeout (our verdict), eof (the peer closed in order), reset, unreachable, keepalive-timeout, local, error. */
  reason: DeathReason;
  /** The socket error's code (ECONNRESET, ETIMEDOUT, ...), or null; also kept when it came after an orderly close. */
  code: string | null;
  because: string;
  /** How long nothing had arrived from the peer when it ended, as far as the engine knew (HTTP/2: see its docs). */
  silentMs: number;
  /** How long it was supervised. */
  lifetimeMs: number;
}

export interface AdapterWarning extends PeerRef {
  /** What failed: applying keepalive to the socket, or sending a ping (the ping then counts as unanswered). */
  during: 'keepalive' | 'ping';
  error: LifelineError | Error | unknown;
}

export interface TransportHeartbeatEvents<Tag> {
  /** A connection is supervised from now on. */
  open: [AdapterOpened & Tag];
  /** A pong is overdue by this peer's own RTO, or phi says so: a warning, nothing is done. */
  suspect: [AdapterSuspect & Tag];
  /** A suspect connection was heard from again. */
  alive: [AdapterRecovered & Tag];
  /** The heartbeat verdict: the connection has already been terminated (WebSocket) or destroyed (HTTP/2). */
  dead: [AdapterDead & Tag];
  /** A supervised connection ended, with the reason (after `dead`, or on its own: eof, reset, ...). */
  closed: [AdapterClosed & Tag];
  /** Something failed for one connection; supervision goes on. */
  warning: [AdapterWarning & Tag];
  /** This process stalled: verdicts are postponed until a fresh ping has had a full timeout. */
  stall: [StallReport];
}

/** One supervised connection: the engine's id. */
export interface Entry<Conn> {
  readonly conn: Conn;
  /** The TCP (or TLS) socket under the connection; null where the transport could not reach it. */
  readonly socket: Socket | null;
  /** "address:port", read when first needed (see PeerRef). */
  remote: string | null;
  readonly openedAt: number;
  handle: HeartbeatHandle;
  suspect: boolean;
  /** Set when the engine convicted it (and the transport was told to kill it). */
  verdict: AdapterDead | null;
  /** The transport's own counter (HTTP/2: socket bytes read at the last look). */
  mark: number;
}

/** What the transport saw when a connection ended (the socket's state decides the rest). */
export interface EndInfo {
  /** Added to the verdict's words, e.g. `close code 1001 "going away"`. */
  detail?: string;
  /** The transport knows the peer closed in order (e.g. a WebSocket close frame came in). */
  peerClosed?: boolean;
}

export abstract class TransportHeartbeat<Conn extends object, Tag extends object> extends EventEmitter<TransportHeartbeatEvents<Tag>> {
  /** The heartbeat settings in force (durations in ms). */
  readonly options: Readonly<AdapterSettings>;
  protected readonly engine: HeartbeatEngine<Entry<Conn>>;
  protected readonly clock: Clock;
  /** Where this instance keeps its Entry on the transport's objects. */
  protected readonly key: symbol;
  readonly #keepalive: KeepAliveOptions | false;
  readonly #metrics: LivenessRecorder | null;
  /** With metrics only: the connections counted, so that close() can take them out of the counts. */
  readonly #counted: Set<Entry<Conn>> | null;
  #closed = false;

  protected constructor(resolved: ResolvedAdapterOptions, name: string) {
    super();
    this.clock = resolved.clock;
    this.#keepalive = resolved.keepalive;
    this.#metrics = resolved.metrics;
    this.#counted = resolved.metrics === null ? null : new Set();
    this.key = Symbol(name);
    this.engine = new HeartbeatEngine<Entry<Conn>>({
      ...resolved.heartbeat,
      sendPing: (entry, nonce) => {
        if (this.sendPing(entry, nonce)) this.#metrics?.pingSent();
      },
    });
    const { interval, timeout, jitter, maxSilence, tick, phi, stallThreshold, sliceSize, sliceTime } = this.engine.options;
    this.options = Object.freeze({ interval, timeout, jitter, maxSilence, tick, phi, stallThreshold, sliceSize, sliceTime, keepalive: this.#keepalive });
    this.engine.on('suspect', (peer) => this.#onSuspect(peer));
    this.engine.on('alive', (peer) => this.#onAlive(peer));
    this.engine.on('dead', (peer) => this.#onDead(peer));
    this.engine.on('stall', (report) => this.emit('stall', report));
    this.engine.on('warning', ({ id: entry, error }) => this.#warn(entry, 'ping', error));
  }

  /** Connections supervised now. */
  get size(): number {
    return this.engine.size;
  }

  /** Whether this connection is supervised (false after it ended, was removed, or was convicted). */
  has(conn: Conn): boolean {
    const entry = this.entryOf(conn);
    return entry !== undefined && this.engine.has(entry.handle);
  }

  /** 'alive' or 'suspect'; undefined when the connection is not supervised. */
  state(conn: Conn): HeartbeatState | undefined {
    const entry = this.entryOf(conn);
    return entry === undefined ? undefined : this.engine.state(entry.handle);
  }

  /** Silence, pings outstanding, RTT (last, SRTT, RTTVAR, RTO) and phi of one connection; undefined when not supervised. */
  stats(conn: Conn): AdapterStats | undefined {
    const entry = this.entryOf(conn);
    const stats = entry === undefined ? undefined : this.engine.stats(entry.handle);
    if (entry === undefined || stats === undefined) return undefined;
    const { id: _id, ...rest } = stats;
    return { remote: this.remoteOf(entry), ...rest };
  }

  /**
   * Reports event loop delay measured elsewhere (perf_hooks.monitorEventLoopDelay), so that verdicts are
   * postponed after a stall as they are after a late timer. See HeartbeatEngine.recordLoopDelay.
   */
  recordLoopDelay(delayMs: number): boolean {
    return this.engine.recordLoopDelay(delayMs);
  }

  /**
   * Stops supervising every connection (they stay open) and releases the timer. The instance cannot be reused.
   * Listeners already on live connections stay until those end, and do nothing (removing them would need a list
   * of every connection, which supervision itself never needs).
   */
  close(): void {
    this.#closed = true;
    this.engine.clear();
    this.detachAll();
    for (const entry of this.#counted ?? []) this.#metrics?.connectionClosed(entry);
    this.#counted?.clear();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * How the transport pings (the nonce must come back in the pong). Returns whether a ping went out (false: the
   * connection is closing, or it turned out to have been heard from). It may throw: that is a `warning`.
   */
  protected abstract sendPing(entry: Entry<Conn>, nonce: number): boolean;
  /** Ends a convicted connection at once (no polite close: the peer is not answering). */
  protected abstract kill(entry: Entry<Conn>): void;
  /** The transport's name for the connection in events: { ws } or { session }. */
  protected abstract tag(conn: Conn): Tag;
  /** Removes the transport's listeners of every kind (close()). */
  protected abstract detachAll(): void;
  /**
   * Whether the peer was heard from in a way the engine was not told about (HTTP/2: bytes read since the last
   * look). Asked before a connection is called suspect or convicted: true clears the suspicion, or gives the
   * connection a fresh start instead of killing it.
   */
  protected heardSince(_entry: Entry<Conn>): boolean {
    return false;
  }

  protected entryOf(target: object): Entry<Conn> | undefined {
    return (target as Record<symbol, Entry<Conn> | undefined>)[this.key];
  }

  protected bind(target: object, entry: Entry<Conn> | undefined): void {
    if (entry === undefined) delete (target as Record<symbol, unknown>)[this.key];
    else (target as Record<symbol, unknown>)[this.key] = entry;
  }

  /** Starts supervising: the engine follows it, keepalive is applied, `open` is emitted. */
  protected track(conn: Conn, socket: Socket | null): Entry<Conn> {
    const entry: Entry<Conn> = {
      conn, socket, remote: null, openedAt: this.clock.now(), handle: 0 as HeartbeatHandle, suspect: false, verdict: null, mark: 0,
    };
    entry.handle = this.engine.add(entry);
    this.bind(conn, entry);
    let keepalive: KeepAliveResult | null = null;
    if (this.#keepalive !== false && socket !== null) {
      try {
        keepalive = setKeepAlive(socket, this.#keepalive) ?? null;
      } catch (error) {
        this.#warn(entry, 'keepalive', error);
      }
    }
    if (this.#metrics !== null) {
      this.#counted?.add(entry);
      this.#metrics.connectionOpened(entry, LiveStates.OPEN);
    }
    if (this.listenerCount('open') > 0) this.emit('open', { ...this.tag(conn), remote: this.remoteOf(entry), keepalive } as AdapterOpened & Tag);
    return entry;
  }

  /** The peer's "address:port", read from the socket once ("?" once the socket is gone and nothing asked before). */
  protected remoteOf(entry: Entry<Conn>): string {
    return (entry.remote ??= remoteOf(entry.socket));
  }

  protected touch(entry: Entry<Conn>): void {
    this.engine.touch(entry.handle);
  }

  /** A pong carrying `nonce` arrived; feeds the RTT metric when it answered the last ping. */
  protected pong(entry: Entry<Conn>, nonce: number): void {
    if (!this.engine.pong(entry.handle, nonce) || this.#metrics === null) return;
    const rtt = this.engine.stats(entry.handle)?.lastRttMs;
    if (rtt !== null && rtt !== undefined) this.#metrics.rtt(rtt);
  }

  /** Stops following without a `closed` event (the user took the connection back). */
  protected untrack(entry: Entry<Conn>): boolean {
    this.bind(entry.conn, undefined);
    this.#uncount(entry);
    return this.engine.remove(entry.handle);
  }

  #uncount(entry: Entry<Conn>): void {
    if (this.#counted?.delete(entry)) this.#metrics?.connectionClosed(entry);
  }

  /** The connection ended: emits `closed` with one reason, from our verdict or from the socket's state. */
  protected ended(entry: Entry<Conn>, info: EndInfo = {}): void {
    const stats = this.engine.stats(entry.handle);
    const followed = this.engine.remove(entry.handle);
    if (!followed && entry.verdict === null) return; // removed by the user, or by close()
    const now = this.clock.now();
    const silentMs = entry.verdict?.silentMs ?? stats?.silentMs ?? 0;
    const remote = this.remoteOf(entry);
    let closed: AdapterClosed;
    if (entry.verdict !== null) {
      closed = {
        remote, reason: DeathReasons.HEARTBEAT_TIMEOUT, code: null, because: entry.verdict.because, silentMs, lifetimeMs: now - entry.openedAt,
      };
    } else {
      const socket = entry.socket;
      const errorCode = (socket?.errored as NodeJS.ErrnoException | null | undefined)?.code ?? null;
      // A peer that said goodbye in its protocol (a WebSocket close frame) closed in order, even when its socket
      // then went away with an RST (browsers often close without waiting for our close frame).
      const verdict = classifyDeath({
        errorCode: info.peerClosed === true ? null : errorCode,
        peerEnded: info.peerClosed === true || socket?.readableEnded === true,
        closedLocally: false,
        atDeath: null,
        lastSample: null,
        pendingWriteBytes: socket?.writableLength ?? 0,
      });
      let because = info.detail === undefined ? verdict.because : `${verdict.because}; ${info.detail}`;
      if (info.peerClosed === true && errorCode !== null) because += `; then ${errorCode}`;
      closed = { remote, reason: verdict.reason, code: errorCode, because, silentMs, lifetimeMs: now - entry.openedAt };
    }
    if (this.#metrics !== null) {
      this.#uncount(entry);
      this.#metrics.death(closed.reason, detectionLatency(closed.reason, silentMs), { remote, code: closed.code, because: closed.because, silentMs });
    }
    this.emit('closed', { ...this.tag(entry.conn), ...closed });
  }

  #onSuspect(peer: SuspectPeer<Entry<Conn>>): void {
    const { id: entry, handle: _handle, ...evidence } = peer;
    if (this.heardSince(entry)) {
      // The engine recovers it at once; #onAlive stays quiet, as nobody was told of a suspicion.
      this.touch(entry);
      return;
    }
    entry.suspect = true;
    this.#metrics?.connectionStateChanged(entry, LiveStates.SUSPECT);
    this.emit('suspect', { ...this.tag(entry.conn), remote: this.remoteOf(entry), ...evidence });
  }

  #onAlive(peer: RecoveredPeer<Entry<Conn>>): void {
    const { id: entry, handle: _handle, ...evidence } = peer;
    if (!entry.suspect) return;
    entry.suspect = false;
    this.#metrics?.connectionStateChanged(entry, LiveStates.OPEN);
    this.emit('alive', { ...this.tag(entry.conn), remote: this.remoteOf(entry), ...evidence });
  }

  #onDead(peer: HeartbeatDeadPeer<Entry<Conn>>): void {
    const { id: entry, handle: _handle, ...evidence } = peer;
    if (this.heardSince(entry)) {
      // The engine has forgotten it; follow it again from now, as a connection that was just heard from.
      entry.handle = this.engine.add(entry);
      if (entry.suspect) {
        entry.suspect = false;
        this.#metrics?.connectionStateChanged(entry, LiveStates.OPEN);
        this.emit('alive', { ...this.tag(entry.conn), remote: this.remoteOf(entry), via: 'traffic', silentMs: evidence.silentMs, rttMs: null });
      }
      return;
    }
    const dead: AdapterDead = { remote: this.remoteOf(entry), ...evidence };
    entry.verdict = dead;
    // Counted as closing until the transport reports the end (then as a death, with its detection latency).
    this.#metrics?.connectionStateChanged(entry, LiveStates.CLOSING);
    try {
      this.kill(entry);
    } finally {
      this.emit('dead', { ...this.tag(entry.conn), ...dead });
    }
  }

  #warn(entry: Entry<Conn>, during: AdapterWarning['during'], error: unknown): void {
    this.emit('warning', { ...this.tag(entry.conn), remote: this.remoteOf(entry), during, error });
  }
}

/** "address:port" of a socket's peer ("?" where the socket does not say). */
export function remoteOf(socket: { remoteAddress?: string | undefined; remotePort?: number | undefined } | null | undefined): string {
  if (!socket || socket.remoteAddress === undefined) return '?';
  return `${socket.remoteAddress}:${socket.remotePort ?? '?'}`;
}

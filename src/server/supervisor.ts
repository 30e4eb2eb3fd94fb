import { EventEmitter, once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { systemClock, type Clock, type ClockTimer } from '../clock.js';
import { parseDuration, type Duration } from '../duration.js';
import { InvalidOptionError, LifelineError } from '../errors.js';
import { platformBackend } from '../platform/index.js';
import { setKeepAlive, type KeepAliveResult, type KeepAliveState } from '../socket/keepalive.js';
import { resolveKeepAliveOptions, type KeepAliveOptions } from '../socket/options.js';
import { readTcpInfo } from '../socket/tcp-info.js';
import { ConnectionStates, WatchedConnection, type ConnectionSnapshot, type DeadPeer } from '../socket/watched-connection.js';
import { detectionLatency, LiveStates, resolveMetricsOption, type LivenessRecorder } from './metrics.js';

/** Keepalive the supervisor applies when none is given: a dead idle peer is found within 2 minutes. */
export const DEFAULT_SUPERVISOR_KEEPALIVE = { idle: 60_000, interval: 10_000, count: 6 } as const satisfies KeepAliveOptions;

export interface SupervisorOptions {
  /**
   * Keepalive (and user timeout) for every accepted socket. Default DEFAULT_SUPERVISOR_KEEPALIVE
   * (idle 60 s, interval 10 s, count 6); `false` applies nothing and leaves the sockets as Node made them.
   */
  keepalive?: KeepAliveOptions | false;
  /** How often traffic counters are sampled (the resolution of lastReceivedAt/lastSentAt). Default 1000 ms. */
  sampleInterval?: Duration;
  /**
   * At every tick, read TCP_INFO of each connection that received nothing since the last tick: evidence for the
   * verdict, and the way to find connections the kernel killed while Node was not reading them. Costs one
   * getsockopt per quiet connection per tick. Default true.
   */
  sampleTcpInfo?: boolean;
  /** Time source; tests pass a ManualClock. Default: the system clock. */
  clock?: Clock;
  /**
   * Prometheus metrics (docs/operators.md): a LivenessMetrics (or any LivenessRecorder), `true` for
   * LivenessMetrics.default() on prom-client's default registry (needs prom-client installed). Default: none.
   */
  metrics?: LivenessRecorder | boolean;
}

/** A live connection as `connections()` reports it: the snapshot, plus silence and RTT as the kernel counts them. */
export interface SupervisedConnection extends ConnectionSnapshot {
  /**
   * How long nothing (no data, no ACK) has come from the peer, ms: from TCP_INFO where it can be read, else from
   * the sampled byte counters on the supervisor's clock (data only).
   */
  silentMs: number;
  /** The kernel's smoothed RTT (TCP_INFO), ms; null where TCP_INFO cannot be read. */
  rttMs: number | null;
}

export interface SupervisorEvents {
  accepted: [ConnectionSnapshot];
  dead: [DeadPeer];
  /** Something went wrong with one connection (e.g. keepalive could not be applied); the others carry on. */
  warning: [{ id: number; remote: string; error: LifelineError | Error }];
}

/** Connections sampled between two turns of the event loop. */
const SAMPLE_SLICE = 256;

const KNOWN = ['keepalive', 'sampleInterval', 'sampleTcpInfo', 'clock', 'metrics'];

export function resolveSupervisorOptions(options: SupervisorOptions = {}) {
  for (const key of Object.keys(options)) {
    if (!KNOWN.includes(key)) throw new InvalidOptionError(key, (options as Record<string, unknown>)[key], `one of ${KNOWN.join(', ')}`);
  }
  const keepalive = options.keepalive === undefined ? DEFAULT_SUPERVISOR_KEEPALIVE : options.keepalive;
  if (keepalive !== false) resolveKeepAliveOptions(keepalive, platformBackend().limits);
  const sampleInterval = parseDuration(options.sampleInterval ?? 1000, 'sampleInterval');
  if (sampleInterval < 10) throw new InvalidOptionError('sampleInterval', options.sampleInterval, 'at least 10 ms');
  if (options.sampleTcpInfo !== undefined && typeof options.sampleTcpInfo !== 'boolean') {
    throw new InvalidOptionError('sampleTcpInfo', options.sampleTcpInfo, 'true or false');
  }
  const metrics = resolveMetricsOption(options.metrics);
  return { keepalive, sampleInterval, sampleTcpInfo: options.sampleTcpInfo ?? true, clock: options.clock ?? systemClock, metrics };
}

/**
 * Applies a keepalive policy to every connection a server accepts, follows each one, and emits `dead` with one
 * reason and its evidence when it ends. Attach it to your own net.Server (or tls.Server), or let it make one.
 */
export class Supervisor extends EventEmitter<SupervisorEvents> {
  readonly #options: ReturnType<typeof resolveSupervisorOptions>;
  readonly #connections = new Map<number, WatchedConnection>();
  readonly #servers = new Set<Server>();
  #ownServer: Server | undefined;
  #nextId = 1;
  #timer: ClockTimer | undefined;
  #closed = false;

  constructor(options: SupervisorOptions = {}) {
    super();
    this.#options = resolveSupervisorOptions(options);
  }

  /** Supervises every connection `server` accepts from now on. */
  attach(server: Server): this {
    this.#servers.add(server);
    server.on('connection', (socket: Socket) => this.watch(socket));
    return this;
  }

  /**
   * Creates a net.Server, supervises it and listens; resolves once listening, rejects with the listen error.
   * `backlog` is the kernel's accept queue (Node's default 511 overflows when thousands connect at once).
   */
  listen(port: number, host?: string, backlog?: number): Promise<Server> {
    const server = createServer();
    this.#ownServer = server;
    this.attach(server);
    return new Promise((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      server.once('error', onError);
      server.listen({ port, ...(host !== undefined && { host }), ...(backlog !== undefined && { backlog }) }, () => {
        server.off('error', onError);
        resolve(server);
      });
    });
  }

  /** Supervises one socket (accepted elsewhere, or a client socket). */
  watch(socket: Socket): WatchedConnection {
    const id = this.#nextId++;
    const metrics = this.#options.metrics;
    const connection = new WatchedConnection(id, socket, this.#options.clock, (dead, watched) => {
      this.#connections.delete(id);
      if (metrics) {
        metrics.connectionClosed(watched);
        metrics.death(dead.reason, detectionLatency(dead.reason, dead.silentMs), {
          id: dead.id, remote: dead.remote, code: dead.code, because: dead.because, silentMs: dead.silentMs,
        });
      }
      this.emit('dead', dead);
    });
    this.#connections.set(id, connection);
    metrics?.connectionOpened(connection, LiveStates.OPEN);
    if (this.#options.keepalive !== false) {
      try {
        connection.keepalive = keptAlive(setKeepAlive(socket, this.#options.keepalive));
      } catch (error) {
        this.emit('warning', { id, remote: connection.remote, error: error as Error });
      }
    }
    this.#arm();
    this.emit('accepted', connection.snapshot());
    return connection;
  }

  /** A snapshot of every live connection, with its silence and RTT (one TCP_INFO read each). */
  connections(): SupervisedConnection[] {
    const now = this.#options.clock.now();
    return [...this.#connections.values()].map((connection) => {
      const snapshot = connection.snapshot();
      const info = connection.state === ConnectionStates.OPEN ? readTcpInfo(connection.socket) : undefined;
      return {
        ...snapshot,
        silentMs: info ? Math.min(info.lastDataRecvMs, info.lastAckRecvMs) : Math.max(0, Math.round(now - snapshot.lastReceivedAt)),
        rttMs: info ? info.rttUs / 1000 : null,
      };
    });
  }

  /** The live connection with this id, if any. */
  connection(id: number): WatchedConnection | undefined {
    return this.#connections.get(id);
  }

  get size(): number {
    return this.#connections.size;
  }

  /** Closes every connection (reason `local`), stops sampling, and closes the server it created itself. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) this.#options.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    const closing = [...this.#connections.values()].map((connection) => {
      this.#options.metrics?.connectionStateChanged(connection, LiveStates.CLOSING);
      const closed = once(connection.socket, 'close');
      connection.close();
      return closed;
    });
    await Promise.all(closing);
    if (this.#ownServer?.listening) {
      this.#ownServer.close();
      await once(this.#ownServer, 'close');
    }
  }

  #arm(): void {
    if (this.#timer || this.#closed) return;
    this.#timer = this.#options.clock.setTimeout(() => this.#tick(), this.#options.sampleInterval);
    this.#timer.unref?.();
  }

  /**
   * Samples every connection, SAMPLE_SLICE at a time with a turn of the event loop between slices: reading
   * TCP_INFO costs a few microseconds per connection, and 5000 at once blocked the loop for about 40 ms.
   */
  #tick(): void {
    const pending = [...this.#connections.values()];
    const sampleSlice = (start: number) => {
      if (this.#closed) return;
      const end = Math.min(start + SAMPLE_SLICE, pending.length);
      for (let index = start; index < end; index++) pending[index]?.sample(this.#options.sampleTcpInfo);
      if (end < pending.length) {
        setImmediate(sampleSlice, end);
        return;
      }
      this.#timer = undefined;
      if (this.#connections.size > 0) this.#arm();
    };
    sampleSlice(0);
  }
}

/** The configured values as the kernel confirmed them, or null where they could not be read back. */
export function keptAlive(result: KeepAliveResult | undefined): KeepAliveState | null {
  if (!result || result.source !== 'kernel') return null;
  const { enabled, idle, interval, count, userTimeout } = result;
  if (enabled === null || idle === null || interval === null || count === null || userTimeout === null) return null;
  return { enabled, idle, interval, count, userTimeout, source: 'kernel' };
}

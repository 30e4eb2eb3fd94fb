import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { systemClock, type Clock, type ClockTimer } from '../clock.js';
import { parseDuration, type Duration } from '../duration.js';
import { InvalidOptionError } from '../errors.js';
import { HeartbeatEngine, type HeartbeatHandle } from '../liveness/heartbeat.js';
import { classifyDeath } from '../liveness/verdict.js';
import { DEFAULT_MAX_FRAME_SIZE, PROTOCOL_VERSION, isSupportedHello, maxDataPayload, type Frame } from '../protocol/frame.js';
import { GoAwayCodes } from '../protocol/goaway.js';
import { InboundLog, OutboundLog, SessionError } from '../protocol/session.js';
import { FramedSocket } from '../socket/framed-socket.js';
import { setKeepAlive, type KeepAliveState } from '../socket/keepalive.js';
import { resolveKeepAliveOptions, type KeepAliveOptions } from '../socket/options.js';
import { platformBackend } from '../platform/index.js';
import type { ConnectionStatus } from './connection-status.js';
import { detectionLatency, LiveStates, resolveMetricsOption, type LivenessRecorder } from './metrics.js';
import { keptAlive } from './supervisor.js';

export interface LifelineServerOptions {
  /** The heartbeat interval a client gets when it proposes none, and the range a proposal is clamped to. */
  heartbeat?: { interval?: Duration; min?: Duration; max?: Duration; /** Timeout as a multiple of the interval. Default 2. */ timeoutFactor?: number };
  /** A client must say HELLO within this. Default 10 s. */
  handshakeTimeout?: Duration;
  /** How long a disconnected session waits for its client to resume. Default 30 s. */
  sessionTtl?: Duration;
  /** Connections at once; more are refused with GOAWAY shutting_down. Default 10 000. */
  maxConnections?: number;
  /** Largest frame accepted. Default 1 MiB. */
  maxFrameSize?: number;
  /** Unacknowledged messages kept per session for replay. Default 10 000 messages, 16 MiB. */
  replay?: { maxMessages?: number; maxBytes?: number };
  /** Keepalive for accepted sockets (default idle 60 s, interval 10 s, count 6); `false` for none. */
  keepalive?: KeepAliveOptions | false;
  clock?: Clock;
  /**
   * Prometheus metrics (docs/operators.md): a LivenessMetrics (or any LivenessRecorder), `true` for
   * LivenessMetrics.default() on prom-client's default registry (needs prom-client installed). Default: none.
   */
  metrics?: LivenessRecorder | boolean;
}

/** A live connection as `LifelineServer.connections()` reports it. */
export interface LifelineConnectionStatus extends ConnectionStatus {
  id: number;
  /** `handshake` (no HELLO yet), `open`, or `suspect` (the heartbeat engine waits for an overdue pong). */
  state: string;
  /** Since the last inbound byte, ms. */
  silentMs: number;
  /** The heartbeat's smoothed RTT (RFC 6298), ms; null before the first pong. */
  rttMs: number | null;
  /** The agreed heartbeat interval, ms (0 before the handshake). */
  heartbeatIntervalMs: number;
  pingsOutstanding: number;
}

export const DEFAULT_SERVER_HEARTBEAT = { interval: 15_000, min: 1000, max: 300_000, timeoutFactor: 2 } as const;

export interface ServerMessage {
  session: string;
  seq: number;
  data: Buffer;
}

export interface LifelineServerEvents {
  session: [{ session: string; remote: string; resumed: boolean; heartbeatIntervalMs: number }];
  message: [ServerMessage];
  /**
   * A connection ended; its session waits sessionTtl for the client to resume. `reason`: heartbeat-timeout, eof,
   * reset, goaway (the client said why), protocol-error, local, or another socket error code; `silentMs`: how long
   * nothing had arrived from the client.
   */
  disconnect: [{ session: string | null; remote: string; reason: string; code: string | null; detail: string; silentMs: number }];
  'session-expired': [{ session: string; unacknowledged: number }];
  /** A connection broke the protocol and was closed alone; the server and the other sessions go on. */
  'protocol-error': [{ remote: string; session: string | null; error: Error }];
}

interface Session {
  id: string;
  /** The largest frame the client accepts, from its latest HELLO. */
  peerMaxFrameSize: number;
  outbound: OutboundLog;
  inbound: InboundLog;
  connection: Connection | null;
  expiry: ClockTimer | null;
}

interface Connection {
  id: number;
  keepalive: KeepAliveState | null;
  /** Silence when the heartbeat engine declared it dead: the detection latency. */
  verdictSilenceMs: number | null;
  framed: FramedSocket;
  remote: string;
  session: Session | null;
  handshake: ClockTimer | null;
  heartbeat: { engine: HeartbeatEngine<Connection>; handle: HeartbeatHandle } | null;
  lastValidPing: number;
  strikes: number;
  intervalMs: number;
  lastAckSent: number;
  ackScheduled: boolean;
  lastBytesAt: number;
  end: { reason: string; code: string | null; detail: string } | null;
}

const MAX_PING_STRIKES = 2;

/**
 * The server side of the lifeline protocol (docs/protocol.md): handshake with interval negotiation, sessions
 * that outlive connections, in-order exactly-once delivery with replay on resume, heartbeats through the shared
 * engine, ping-rate enforcement, and limits that close one bad connection without touching the others.
 */
export class LifelineServer extends EventEmitter<LifelineServerEvents> {
  readonly #clock: Clock;
  readonly #options: ReturnType<typeof resolve>;
  readonly #sessions = new Map<string, Session>();
  readonly #connections = new Set<Connection>();
  readonly #engines = new Map<number, HeartbeatEngine<Connection>>();
  #server: Server | undefined;
  #nextId = 1;

  constructor(options: LifelineServerOptions = {}) {
    super();
    this.#options = resolve(options);
    this.#clock = options.clock ?? systemClock;
  }

  async listen(port: number, host?: string): Promise<Server> {
    const server = createServer((socket) => this.accept(socket));
    this.#server = server;
    await new Promise<void>((resolvePromise, reject) => {
      server.once('error', reject);
      server.listen({ port, ...(host !== undefined && { host }) }, () => {
        server.off('error', reject);
        resolvePromise();
      });
    });
    return server;
  }

  get sessionCount(): number {
    return this.#sessions.size;
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  /** Every live connection: state, silence, heartbeat RTT, keepalive read back (what the status page lists). */
  connections(): LifelineConnectionStatus[] {
    const now = this.#clock.now();
    return [...this.#connections].map((connection) => {
      const stats = connection.heartbeat ? connection.heartbeat.engine.stats(connection.heartbeat.handle) : undefined;
      const status: LifelineConnectionStatus = {
        id: connection.id,
        remote: connection.remote,
        state: this.#stateOf(connection),
        silentMs: Math.max(0, Math.round(now - connection.lastBytesAt)),
        rttMs: stats?.smoothedRttMs ?? null,
        keepalive: connection.keepalive,
        heartbeatIntervalMs: connection.intervalMs,
        pingsOutstanding: stats?.pingsOutstanding ?? 0,
      };
      if (connection.session) status.session = connection.session.id;
      return status;
    });
  }

  #stateOf(connection: Connection): string {
    if (!connection.heartbeat) return LiveStates.HANDSHAKE;
    return connection.heartbeat.engine.state(connection.heartbeat.handle) === 'suspect' ? LiveStates.SUSPECT : LiveStates.OPEN;
  }

  /** Takes one accepted socket (from listen(), or a server of your own). */
  accept(socket: Socket): void {
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    const framed = new FramedSocket(socket, this.#options.maxFrameSize);
    if (this.#connections.size >= this.#options.maxConnections) {
      framed.goAway(GoAwayCodes.SHUTTING_DOWN, `too many connections (${this.#options.maxConnections})`);
      return;
    }
    let keepalive: KeepAliveState | null = null;
    if (this.#options.keepalive !== false) {
      try {
        keepalive = keptAlive(setKeepAlive(socket, this.#options.keepalive));
      } catch {
        // Keepalive is a second line of defence here; the heartbeat is the first.
      }
    }
    const connection: Connection = {
      id: this.#nextId++, keepalive, verdictSilenceMs: null, framed, remote, session: null, handshake: null, heartbeat: null, lastValidPing: -Infinity, strikes: 0, intervalMs: 0, lastAckSent: 0, ackScheduled: false,
      lastBytesAt: this.#clock.now(), end: null,
    };
    this.#connections.add(connection);
    this.#options.metrics?.connectionOpened(connection, LiveStates.HANDSHAKE);
    connection.handshake = this.#clock.setTimeout(() => {
      framed.goAway(GoAwayCodes.HANDSHAKE_TIMEOUT, `no HELLO within ${this.#options.handshakeTimeout} ms`);
    }, this.#options.handshakeTimeout);
    framed.on('bytes', () => {
      connection.lastBytesAt = this.#clock.now();
      if (connection.heartbeat) connection.heartbeat.engine.touch(connection.heartbeat.handle);
    });
    socket.on('end', () => (connection.end ??= { reason: 'eof', code: null, detail: 'the client closed the connection' }));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      // The same reasons as the Supervisor's (ETIMEDOUT split into keepalive-timeout / user-timeout), from what is
      // known here: the kernel's counters are gone once Node reports the error, the bytes still queued are not.
      const verdict = classifyDeath({
        errorCode: error.code ?? 'EIO', peerEnded: false, closedLocally: false, atDeath: null, lastSample: null, pendingWriteBytes: socket.writableLength,
      });
      connection.end ??= { reason: verdict.reason, code: verdict.code, detail: `${error.message}: ${verdict.because}` };
    });
    framed.on('frame', (frame) => {
      try {
        this.#onFrame(connection, frame);
      } catch (error) {
        connection.end ??= { reason: 'protocol-error', code: (error as { code?: string }).code ?? null, detail: (error as Error).message };
        framed.violation(error as Error);
        this.emit('protocol-error', { remote, session: connection.session?.id ?? null, error: error as Error });
      }
    });
    framed.on('protocol-error', (error) => {
      connection.end ??= { reason: 'protocol-error', code: error.code, detail: error.message };
    });
    framed.on('protocol-error', (error) => this.emit('protocol-error', { remote, session: connection.session?.id ?? null, error }));
    framed.once('close', () => this.#onClose(connection));
  }

  /** Sends to a session; resolves when the client acknowledged it (across reconnects within sessionTtl). */
  send(sessionId: string, data: Uint8Array): Promise<void> {
    const session = this.#sessions.get(sessionId);
    if (!session) return Promise.reject(new SessionError('session-lost', `no session ${sessionId}`));
    let appended;
    try {
      const limit = maxDataPayload(session.peerMaxFrameSize);
      if (data.length > limit) throw new InvalidOptionError('data', `${data.length} bytes`, `at most ${limit} bytes (the client's frame limit)`);
      appended = session.outbound.append(data);
    } catch (error) {
      return Promise.reject(error);
    }
    const { message, acknowledged } = appended;
    const connection = session.connection;
    if (connection) {
      connection.framed.send({ type: 'data', seq: message.seq, payload: message.payload });
      connection.strikes = 0;
      connection.lastValidPing = -Infinity;
    }
    return acknowledged;
  }

  async close(): Promise<void> {
    for (const connection of this.#connections) connection.framed.goAway(GoAwayCodes.SHUTTING_DOWN, 'server closing');
    for (const session of this.#sessions.values()) this.#expire(session, false);
    for (const engine of this.#engines.values()) engine.clear();
    if (this.#server?.listening) await new Promise<void>((resolvePromise) => this.#server?.close(() => resolvePromise()));
  }

  #onFrame(connection: Connection, frame: Frame): void {
    if (!connection.session) {
      if (frame.type !== 'hello') throw new Error(`${frame.type} before HELLO`);
      this.#onHello(connection, frame);
      return;
    }
    const session = connection.session;
    switch (frame.type) {
      case 'data': {
        if (session.inbound.receive(frame.seq) === 'deliver') {
          // Outside the frame handler: a listener that throws is the application's error, not the client's violation.
          const message = { session: session.id, seq: frame.seq, data: Buffer.from(frame.payload) };
          queueMicrotask(() => this.emit('message', message));
        }
        this.#scheduleAck(connection, session);
        return;
      }
      case 'ack':
        session.outbound.acknowledge(frame.seq);
        return;
      case 'ping':
        this.#enforcePingRate(connection);
        connection.framed.send({ type: 'pong', nonce: frame.nonce });
        return;
      case 'pong':
        if (connection.heartbeat) {
          const { engine, handle } = connection.heartbeat;
          if (engine.pong(handle, Number(frame.nonce)) && this.#options.metrics) {
            const rtt = engine.stats(handle)?.lastRttMs;
            if (rtt !== null && rtt !== undefined) this.#options.metrics.rtt(rtt);
          }
        }
        return;
      case 'goaway':
        connection.end ??= { reason: 'goaway', code: String(frame.code), detail: frame.reason };
        connection.framed.destroy();
        if (frame.code === GoAwayCodes.NORMAL) this.#expire(session, false);
        return;
      default:
        throw new Error(`unexpected ${frame.type}`);
    }
  }

  /** One cumulative ACK per chunk of DATA frames: the frames of a chunk are handled before microtasks run. */
  #scheduleAck(connection: Connection, session: Session): void {
    if (connection.ackScheduled) return;
    connection.ackScheduled = true;
    queueMicrotask(() => {
      connection.ackScheduled = false;
      const delivered = session.inbound.lastDelivered;
      if (connection.session !== session || delivered <= connection.lastAckSent) return;
      connection.lastAckSent = delivered;
      connection.framed.send({ type: 'ack', seq: delivered });
    });
  }

  #enforcePingRate(connection: Connection): void {
    const now = this.#clock.now();
    if (now - connection.lastValidPing < connection.intervalMs / 2) {
      connection.strikes++;
      this.#options.metrics?.strike();
      if (connection.strikes > MAX_PING_STRIKES) {
        connection.framed.goAway(GoAwayCodes.TOO_MANY_PINGS, `pings faster than every ${connection.intervalMs / 2} ms`);
      }
      return;
    }
    connection.lastValidPing = now;
  }

  #onHello(connection: Connection, frame: Extract<Frame, { type: 'hello' }>): void {
    if (connection.handshake) this.#clock.clearTimeout(connection.handshake);
    connection.handshake = null;
    if (!isSupportedHello(frame)) {
      connection.framed.goAway(GoAwayCodes.UNSUPPORTED_VERSION, `this server speaks version ${PROTOCOL_VERSION}`);
      return;
    }
    const { min, max, interval, timeoutFactor } = this.#options.heartbeat;
    const agreed = frame.heartbeatIntervalMs === 0 ? interval : Math.min(max, Math.max(min, frame.heartbeatIntervalMs));
    const timeout = Math.round(agreed * timeoutFactor);
    let session: Session;
    let resumed = false;
    let replay: { seq: number; payload: Uint8Array }[] = [];
    if (frame.sessionId === '') {
      if (frame.lastReceivedSeq !== 0) throw new Error('a new session cannot have received anything');
      session = this.#newSession();
    } else {
      const known = this.#sessions.get(frame.sessionId);
      if (!known || frame.lastReceivedSeq < known.outbound.lastAcknowledged) {
        connection.framed.goAway(GoAwayCodes.SESSION_GONE, `session ${frame.sessionId} is not known here (expired?)`);
        return;
      }
      session = known;
      resumed = true;
      replay = session.outbound.resume(frame.lastReceivedSeq);
      if (session.expiry) this.#clock.clearTimeout(session.expiry);
      session.expiry = null;
      session.connection?.framed.goAway(GoAwayCodes.NORMAL, 'the session moved to a new connection');
    }
    session.connection = connection;
    session.peerMaxFrameSize = frame.maxFrameSize;
    connection.framed.peerMaxFrameSize = frame.maxFrameSize;
    connection.session = session;
    connection.intervalMs = agreed;
    connection.framed.send({
      type: 'welcome',
      version: PROTOCOL_VERSION,
      sessionId: session.id,
      heartbeatIntervalMs: agreed,
      heartbeatTimeoutMs: timeout,
      maxFrameSize: this.#options.maxFrameSize,
      lastReceivedSeq: session.inbound.lastDelivered,
    });
    connection.lastAckSent = session.inbound.lastDelivered;
    for (const message of replay) connection.framed.send({ type: 'data', seq: message.seq, payload: message.payload });
    const engine = this.#engine(agreed, timeout);
    connection.heartbeat = { engine, handle: engine.add(connection) };
    this.#options.metrics?.connectionStateChanged(connection, LiveStates.OPEN);
    const event = { session: session.id, remote: connection.remote, resumed, heartbeatIntervalMs: agreed };
    queueMicrotask(() => this.emit('session', event));
  }

  #engine(interval: number, timeout: number): HeartbeatEngine<Connection> {
    let engine = this.#engines.get(interval);
    if (!engine) {
      // The server pings a connection silent for an interval (or a little more: the jitter and the tick only delay
      // it), as the client does: with a client keeping its agreement the two take turns, about one
      // ping per interval in all (measured: 3 of 6 in 30 s at 5 s), which protocol.md allows (the server MAY ping,
      // at most once per interval).
      engine = new HeartbeatEngine<Connection>({
        interval: Math.max(10, interval),
        timeout: Math.max(10, timeout - interval),
        clock: this.#clock,
        sendPing: (connection, nonce) => {
          this.#options.metrics?.pingSent();
          connection.framed.send({ type: 'ping', nonce: BigInt(nonce) });
        },
      });
      const metrics = this.#options.metrics;
      if (metrics) {
        engine.on('suspect', ({ id: connection }) => metrics.connectionStateChanged(connection, LiveStates.SUSPECT));
        engine.on('alive', ({ id: connection }) => metrics.connectionStateChanged(connection, LiveStates.OPEN));
      }
      engine.on('dead', ({ id: connection, silentMs }) => {
        connection.verdictSilenceMs ??= silentMs;
        connection.end ??= { reason: 'heartbeat-timeout', code: null, detail: `nothing heard for ${Math.round(silentMs)} ms` };
        connection.framed.goAway(GoAwayCodes.HEARTBEAT_TIMEOUT, `nothing heard for ${Math.round(silentMs)} ms`);
        // The verdict is final: no linger for a peer judged dead (the GOAWAY is in the kernel's hands), so that
        // `disconnect` comes at the verdict, not a second later.
        connection.framed.destroy();
      });
      this.#engines.set(interval, engine);
    }
    return engine;
  }

  #newSession(): Session {
    const id = randomBytes(16).toString('base64url');
    const session: Session = {
      id,
      outbound: new OutboundLog({ maxMessages: this.#options.replay.maxMessages, maxBytes: this.#options.replay.maxBytes }),
      inbound: new InboundLog(),
      connection: null,
      expiry: null,
      peerMaxFrameSize: DEFAULT_MAX_FRAME_SIZE,
    };
    this.#sessions.set(id, session);
    return session;
  }

  #onClose(connection: Connection): void {
    this.#connections.delete(connection);
    if (connection.handshake) this.#clock.clearTimeout(connection.handshake);
    if (connection.heartbeat) {
      const { engine, handle } = connection.heartbeat;
      engine.remove(handle);
      // One engine per agreed interval, dropped when its last connection goes: proposals cannot pile engines up.
      if (engine.size === 0) this.#engines.delete(connection.intervalMs);
    }
    const session = connection.session;
    const end = connection.end ?? { reason: 'local', code: null, detail: 'closed by this server' };
    const silentMs = Math.round(connection.verdictSilenceMs ?? this.#clock.now() - connection.lastBytesAt);
    const metrics = this.#options.metrics;
    if (metrics) {
      metrics.connectionClosed(connection);
      const latency = connection.verdictSilenceMs !== null && end.reason === 'heartbeat-timeout'
        ? Math.round(connection.verdictSilenceMs)
        : detectionLatency(end.reason, silentMs);
      metrics.death(end.reason, latency, { id: connection.id, remote: connection.remote, code: end.code, because: end.detail, silentMs });
    }
    this.emit('disconnect', { session: session?.id ?? null, remote: connection.remote, ...end, silentMs });
    if (!session || session.connection !== connection) return;
    session.connection = null;
    if (!this.#sessions.has(session.id)) return;
    session.expiry = this.#clock.setTimeout(() => this.#expire(session, true), this.#options.sessionTtl);
    session.expiry.unref?.();
  }

  #expire(session: Session, announce: boolean): void {
    if (session.expiry) this.#clock.clearTimeout(session.expiry);
    const unacknowledged = session.outbound.size;
    session.outbound.fail();
    this.#sessions.delete(session.id);
    if (announce) this.emit('session-expired', { session: session.id, unacknowledged });
  }
}

const KNOWN = ['heartbeat', 'handshakeTimeout', 'sessionTtl', 'maxConnections', 'maxFrameSize', 'replay', 'keepalive', 'clock', 'metrics'];

function resolve(options: LifelineServerOptions) {
  for (const key of Object.keys(options)) {
    if (!KNOWN.includes(key)) throw new InvalidOptionError(key, (options as Record<string, unknown>)[key], `one of ${KNOWN.join(', ')}`);
  }
  const heartbeat = {
    interval: parseDuration(options.heartbeat?.interval ?? DEFAULT_SERVER_HEARTBEAT.interval, 'heartbeat.interval'),
    min: parseDuration(options.heartbeat?.min ?? DEFAULT_SERVER_HEARTBEAT.min, 'heartbeat.min'),
    max: parseDuration(options.heartbeat?.max ?? DEFAULT_SERVER_HEARTBEAT.max, 'heartbeat.max'),
    timeoutFactor: options.heartbeat?.timeoutFactor ?? DEFAULT_SERVER_HEARTBEAT.timeoutFactor,
  };
  if (heartbeat.min < 100 || heartbeat.min > heartbeat.max) throw new InvalidOptionError('heartbeat.min', heartbeat.min, `100 ms to heartbeat.max (${heartbeat.max} ms)`);
  if (heartbeat.interval < heartbeat.min || heartbeat.interval > heartbeat.max) {
    throw new InvalidOptionError('heartbeat.interval', heartbeat.interval, `heartbeat.min to heartbeat.max (${heartbeat.min} to ${heartbeat.max} ms)`);
  }
  if (!(heartbeat.timeoutFactor > 1 && heartbeat.timeoutFactor <= 10)) throw new InvalidOptionError('heartbeat.timeoutFactor', heartbeat.timeoutFactor, 'more than 1, at most 10');
  const maxConnections = options.maxConnections ?? 10_000;
  if (!Number.isInteger(maxConnections) || maxConnections < 1) throw new InvalidOptionError('maxConnections', maxConnections, 'a positive integer');
  const maxFrameSize = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
  if (!Number.isInteger(maxFrameSize) || maxFrameSize < 1024 || maxFrameSize > 16 * 1024 * 1024) throw new InvalidOptionError('maxFrameSize', maxFrameSize, '1024 to 16777216 bytes');
  const keepalive = options.keepalive === undefined ? { idle: 60_000, interval: 10_000, count: 6 } : options.keepalive;
  if (keepalive !== false) resolveKeepAliveOptions(keepalive, platformBackend().limits);
  return {
    heartbeat,
    handshakeTimeout: parseDuration(options.handshakeTimeout ?? 10_000, 'handshakeTimeout'),
    sessionTtl: parseDuration(options.sessionTtl ?? 30_000, 'sessionTtl'),
    maxConnections,
    maxFrameSize,
    replay: { maxMessages: options.replay?.maxMessages ?? 10_000, maxBytes: options.replay?.maxBytes ?? 16 * 1024 * 1024 },
    keepalive,
    metrics: resolveMetricsOption(options.metrics),
  };
}

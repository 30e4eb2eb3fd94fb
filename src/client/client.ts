import { EventEmitter } from 'node:events';
import { connect } from 'node:net';
import { systemClock, type Clock, type ClockTimer } from '../clock.js';
import { parseDuration, type Duration } from '../duration.js';
import { InvalidOptionError } from '../errors.js';
import { HeartbeatEngine, type HeartbeatStats } from '../liveness/heartbeat.js';
import { DEFAULT_MAX_FRAME_SIZE, PROTOCOL_VERSION, maxDataPayload, type Frame, type WelcomeFrame } from '../protocol/frame.js';

/** The heartbeat engine's smallest interval and timeout. */
const MIN_HEARTBEAT_MS = 10;
import { GoAwayCodes, goAwayCodeName } from '../protocol/goaway.js';
import { InboundLog, OutboundLog, SessionError, SessionErrorReasons } from '../protocol/session.js';
import { FramedSocket } from '../socket/framed-socket.js';
import { setKeepAlive } from '../socket/keepalive.js';
import type { KeepAliveOptions } from '../socket/options.js';
import { Backoff, retryVerdict, type BackoffOptions } from './backoff.js';
import { OfflineQueue, type OfflineQueueOptions } from './queue.js';

export interface ClientOptions {
  host: string;
  port: number;
  /** The heartbeat interval to propose; the server may clamp it. Default 15 s. */
  heartbeatInterval?: Duration;
  /** Reconnect delays: exponential with full jitter (see Backoff). */
  backoff?: BackoffOptions;
  /** Messages sent while disconnected wait here: bounded, with a policy when full and an optional TTL. */
  queue?: OfflineQueueOptions;
  /** Unacknowledged messages kept for replay after a reconnect. Default 10 000 messages, 16 MiB. */
  replay?: { maxMessages?: number; maxBytes?: number };
  /** WELCOME must come within this after connecting. Default 10 s. */
  handshakeTimeout?: Duration;
  /** TCP keepalive on each connection, beside the heartbeat (default idle 60 s, interval 10 s, count 6); false: none. */
  keepalive?: KeepAliveOptions | false;
  clock?: Clock;
}

export interface ClientEvents {
  connecting: [{ attempt: number }];
  connected: [{ session: string; resumed: boolean; heartbeatIntervalMs: number; heartbeatTimeoutMs: number; replayed: number }];
  /** The heartbeat engine suspects the server (no answer yet to a ping). */
  suspect: [{ silentMs: number }];
  /** The connection ended: why, in one word (`heartbeat-timeout`, `goaway`, an errno code) and in words. */
  dead: [{ reason: string; code: string | null; detail: string }];
  reconnecting: [{ inMs: number; attempt: number }];
  /** The server no longer knows the session: these unacknowledged messages were not delivered (their send() rejected). */
  'session-lost': [{ session: string; lost: number }];
  message: [{ seq: number; data: Buffer }];
  goaway: [{ code: number; name: string; reason: string }];
  /** Retrying cannot help (or attempts are exhausted): queued and unacknowledged messages were rejected. */
  'gave-up': [{ reason: string }];
  closed: [];
}

/**
 * A client of the lifeline protocol that loses nothing: every send() resolves only when the server acknowledged
 * the message, messages sent while offline wait in a bounded queue, and after a reconnect the session resumes
 * where it stopped (both directions replay what the other side had not received). Reconnects use exponential
 * backoff with full jitter and stop on errors retrying cannot fix. Dead servers are found by heartbeats.
 */
export class Client extends EventEmitter<ClientEvents> {
  readonly #options: ReturnType<typeof resolveClientOptions>;
  readonly #clock: Clock;
  readonly #backoff: Backoff;
  readonly #queue: OfflineQueue;
  #outbound: OutboundLog;
  #inbound = new InboundLog();
  #sessionId = '';
  #proposal: number;
  #framed: FramedSocket | null = null;
  #ready = false;
  #closed = false;
  #retryTimer: ClockTimer | null = null;
  #handshakeTimer: ClockTimer | null = null;
  #heartbeat: { engine: HeartbeatEngine<null>; handle: ReturnType<HeartbeatEngine<null>['add']> } | null = null;
  #lastAckSent = 0;
  #ackScheduled = false;
  #deathReason: { reason: string; code: string | null; detail: string } | null = null;
  #peerMaxFrameSize = DEFAULT_MAX_FRAME_SIZE;
  #idleWaiters: (() => void)[] = [];

  constructor(options: ClientOptions) {
    super();
    this.#options = resolveClientOptions(options);
    this.#clock = options.clock ?? systemClock;
    this.#backoff = new Backoff({ ...options.backoff, clock: this.#clock });
    this.#queue = new OfflineQueue({ ...options.queue, clock: this.#clock });
    this.#outbound = this.#newOutbound();
    this.#proposal = this.#options.heartbeatInterval;
  }

  /** Starts connecting (and reconnecting, until close()). */
  connect(): this {
    if (!this.#framed && !this.#retryTimer && !this.#closed) this.#attempt();
    return this;
  }

  get session(): string {
    return this.#sessionId;
  }

  get connected(): boolean {
    return this.#ready;
  }

  /** The heartbeat's view of the current connection: silence, pings outstanding, RTT (last, smoothed, variance); null between connections. */
  heartbeatStats(): HeartbeatStats<null> | null {
    return this.#heartbeat ? (this.#heartbeat.engine.stats(this.#heartbeat.handle) ?? null) : null;
  }

  /** The current connection's socket, or null between connections (for diagnostics and tests). */
  get socket(): import('node:net').Socket | null {
    return this.#framed?.socket ?? null;
  }

  /** Messages not yet acknowledged by the server: in the session's log and in the offline queue. */
  get pending(): number {
    return this.#outbound.size + this.#queue.size;
  }

  /** Resolves when the server has acknowledged the message; rejects with a typed error if it never can be. */
  send(data: string | Uint8Array): Promise<void> {
    try {
      const payload = typeof data === 'string' ? Buffer.from(data) : data;
      const limit = maxDataPayload(this.#peerMaxFrameSize);
      if (payload.length > limit) {
        throw new InvalidOptionError('data', `${payload.length} bytes`, `at most ${limit} bytes (the server's frame limit)`);
      }
      if (this.#ready && this.#queue.size === 0 && this.#outbound.fits(payload.length)) {
        const { message, acknowledged } = this.#outbound.append(payload);
        this.#framed?.send({ type: 'data', seq: message.seq, payload: message.payload });
        return acknowledged;
      }
      return this.#queue.enqueue(payload);
    } catch (error) {
      // A promise API reports every failure the same way: a caller's .catch() must see it.
      return Promise.reject(error);
    }
  }

  /** Waits until every message was acknowledged, then says goodbye (GOAWAY normal) and closes. */
  async end(): Promise<void> {
    if (this.pending > 0 && !this.#closed) await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
    // GOAWAY then end(): FramedSocket destroys the socket after a linger, so the server reads the goodbye.
    const framed = this.#framed;
    this.#framed = null;
    framed?.goAway(GoAwayCodes.NORMAL, 'client done');
    this.close();
  }

  /** Stops at once: no more reconnects; what was not acknowledged rejects. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#retryTimer) this.#clock.clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    this.#queue.close();
    this.#outbound.fail(new SessionError(SessionErrorReasons.SESSION_LOST, 'the client was closed'));
    this.#framed?.destroy();
    // Nothing more can be acknowledged: whoever waits in end() stops waiting.
    for (const wake of this.#idleWaiters.splice(0)) wake();
    this.emit('closed');
  }

  #newOutbound(): OutboundLog {
    return new OutboundLog(this.#options.replay);
  }

  #attempt(): void {
    this.#retryTimer = null;
    this.emit('connecting', { attempt: this.#backoff.attempts });
    const socket = connect({ host: this.#options.host, port: this.#options.port });
    const framed = new FramedSocket(socket, DEFAULT_MAX_FRAME_SIZE);
    this.#framed = framed;
    this.#deathReason = null;
    // The deadline covers the TCP connect too: dropped SYNs would otherwise wait for the kernel's ~127 s.
    this.#handshakeTimer = this.#clock.setTimeout(() => {
      this.#deathReason = { reason: 'handshake-timeout', code: null, detail: `no WELCOME within ${this.#options.handshakeTimeout} ms` };
      framed.destroy();
    }, this.#options.handshakeTimeout);
    socket.once('connect', () => {
      if (this.#options.keepalive !== false) {
        try {
          setKeepAlive(socket, this.#options.keepalive);
        } catch {
          // The heartbeat finds a dead server anyway; keepalive only adds a second line.
        }
      }
      framed.send({
        type: 'hello',
        version: PROTOCOL_VERSION,
        sessionId: this.#sessionId,
        heartbeatIntervalMs: this.#proposal,
        maxFrameSize: DEFAULT_MAX_FRAME_SIZE,
        lastReceivedSeq: this.#inbound.lastDelivered,
      });
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      this.#deathReason ??= { reason: error.code ?? 'error', code: error.code ?? null, detail: error.message };
    });
    framed.on('bytes', () => {
      if (this.#heartbeat) this.#heartbeat.engine.touch(this.#heartbeat.handle);
    });
    framed.on('frame', (frame) => {
      try {
        this.#onFrame(framed, frame);
      } catch (error) {
        this.#deathReason = { reason: 'protocol-error', code: (error as { code?: string }).code ?? null, detail: (error as Error).message };
        framed.violation(error as Error);
      }
    });
    framed.on('protocol-error', (error) => {
      this.#deathReason = { reason: 'protocol-error', code: error.code, detail: error.message };
    });
    framed.once('close', () => this.#onClose(framed));
  }

  #onFrame(framed: FramedSocket, frame: Frame): void {
    if (!this.#ready) {
      if (frame.type === 'goaway') return this.#onGoAway(framed, frame.code, frame.reason);
      if (frame.type !== 'welcome') throw new Error(`${frame.type} before WELCOME`);
      return this.#onWelcome(framed, frame);
    }
    switch (frame.type) {
      case 'data':
        if (this.#inbound.receive(frame.seq) === 'deliver') this.#emitLater('message', { seq: frame.seq, data: Buffer.from(frame.payload) });
        this.#scheduleAck(framed);
        return;
      case 'ack':
        this.#outbound.acknowledge(frame.seq);
        this.#flushQueue(framed);
        this.#wakeIdle();
        return;
      case 'ping':
        framed.send({ type: 'pong', nonce: frame.nonce });
        return;
      case 'pong':
        if (this.#heartbeat) this.#heartbeat.engine.pong(this.#heartbeat.handle, Number(frame.nonce));
        return;
      case 'goaway':
        return this.#onGoAway(framed, frame.code, frame.reason);
      default:
        throw new Error(`unexpected ${frame.type}`);
    }
  }

  #onWelcome(framed: FramedSocket, welcome: WelcomeFrame): void {
    if (this.#handshakeTimer) this.#clock.clearTimeout(this.#handshakeTimer);
    this.#handshakeTimer = null;
    framed.peerMaxFrameSize = welcome.maxFrameSize;
    this.#peerMaxFrameSize = welcome.maxFrameSize;
    const resumed = this.#sessionId !== '' && welcome.sessionId === this.#sessionId;
    if (!resumed) {
      this.#startSession(welcome.sessionId);
    }
    const replay = this.#outbound.resume(welcome.lastReceivedSeq);
    for (const message of replay) framed.send({ type: 'data', seq: message.seq, payload: message.payload });
    this.#ready = true;
    this.#lastAckSent = this.#inbound.lastDelivered;
    this.#backoff.connected();
    this.#startHeartbeat(framed, welcome);
    this.#emitLater('connected', {
      session: welcome.sessionId,
      resumed,
      heartbeatIntervalMs: welcome.heartbeatIntervalMs,
      heartbeatTimeoutMs: welcome.heartbeatTimeoutMs,
      replayed: replay.length,
    });
    this.#flushQueue(framed);
  }

  /** A new session: whatever the old one had not delivered is lost, and said so. */
  #startSession(id: string): void {
    if (this.#sessionId !== '' && this.#outbound.size > 0) {
      const lost = this.#outbound.size;
      this.#outbound.fail(new SessionError(SessionErrorReasons.SESSION_LOST, `session ${this.#sessionId} is gone: ${lost} messages were not delivered`));
      this.emit('session-lost', { session: this.#sessionId, lost });
      this.#wakeIdle();
    }
    if (this.#sessionId !== '' || this.#outbound.lastSent > 0) {
      this.#outbound = this.#newOutbound();
      this.#inbound = new InboundLog();
    }
    this.#sessionId = id;
  }

  #startHeartbeat(framed: FramedSocket, welcome: WelcomeFrame): void {
    // The engine resolves time in ticks of at least 10 ms: a WELCOME with tighter values is taken at that floor.
    const engine = new HeartbeatEngine<null>({
      interval: Math.max(MIN_HEARTBEAT_MS, welcome.heartbeatIntervalMs),
      timeout: Math.max(MIN_HEARTBEAT_MS, welcome.heartbeatTimeoutMs - welcome.heartbeatIntervalMs),
      jitter: 0,
      clock: this.#clock,
      sendPing: (_id, nonce) => framed.send({ type: 'ping', nonce: BigInt(nonce) }),
    });
    engine.on('suspect', ({ silentMs }) => this.emit('suspect', { silentMs }));
    engine.on('dead', ({ silentMs }) => {
      this.#deathReason = { reason: 'heartbeat-timeout', code: null, detail: `nothing from the server for ${Math.round(silentMs)} ms` };
      framed.destroy();
    });
    this.#heartbeat = { engine, handle: engine.add(null) };
  }

  #scheduleAck(framed: FramedSocket): void {
    if (this.#ackScheduled) return;
    this.#ackScheduled = true;
    queueMicrotask(() => {
      this.#ackScheduled = false;
      const delivered = this.#inbound.lastDelivered;
      if (delivered > this.#lastAckSent && framed === this.#framed) {
        this.#lastAckSent = delivered;
        framed.send({ type: 'ack', seq: delivered });
      }
    });
  }

  /**
   * Application events leave the frame handler first: a listener that throws is the application's error, not a
   * protocol violation by the server (and it must not stop the queue from draining).
   */
  #emitLater<E extends 'message' | 'connected'>(event: E, payload: ClientEvents[E][0]): void {
    queueMicrotask(() => (this.emit as (event: E, payload: ClientEvents[E][0]) => boolean)(event, payload));
  }

  #flushQueue(framed: FramedSocket): void {
    for (const message of this.#queue.drainInto(this.#outbound)) framed.send({ type: 'data', seq: message.seq, payload: message.payload });
  }

  #wakeIdle(): void {
    if (this.pending > 0) return;
    for (const wake of this.#idleWaiters.splice(0)) wake();
  }

  #onGoAway(framed: FramedSocket, code: number, reason: string): void {
    const name = goAwayCodeName(code) ?? 'protocol_error';
    this.emit('goaway', { code, name, reason });
    this.#deathReason = { reason: 'goaway', code: name, detail: reason };
    if (code === GoAwayCodes.TOO_MANY_PINGS) this.#proposal = Math.min(this.#proposal * 2, 2 ** 31 - 1);
    if (code === GoAwayCodes.SESSION_GONE) this.#startSession('');
    framed.destroy();
  }

  #onClose(framed: FramedSocket): void {
    if (framed !== this.#framed) return;
    this.#framed = null;
    this.#ready = false;
    if (this.#handshakeTimer) this.#clock.clearTimeout(this.#handshakeTimer);
    this.#handshakeTimer = null;
    if (this.#heartbeat) {
      this.#heartbeat.engine.clear();
      this.#heartbeat = null;
    }
    if (this.#closed) return;
    const death = this.#deathReason ?? { reason: 'eof', code: null, detail: 'the server closed the connection' };
    this.emit('dead', death);
    const verdict = retryVerdict({ code: death.code ?? undefined, ...(death.reason === 'goaway' && { goAway: death.code ?? 'protocol_error' }) });
    const delay = verdict.retryable ? this.#backoff.next() : null;
    if (delay === null) {
      const reason = verdict.retryable ? `gave up after ${this.#backoff.attempts} attempts` : `${verdict.decidedBy}: ${verdict.because}`;
      this.emit('gave-up', { reason });
      this.close();
      return;
    }
    this.emit('reconnecting', { inMs: delay, attempt: this.#backoff.attempts });
    this.#retryTimer = this.#clock.setTimeout(() => this.#attempt(), delay);
  }
}

const KNOWN = ['host', 'port', 'heartbeatInterval', 'backoff', 'queue', 'replay', 'handshakeTimeout', 'keepalive', 'clock'];

export function resolveClientOptions(options: ClientOptions) {
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', options, 'an object with host and port');
  for (const key of Object.keys(options)) {
    if (!KNOWN.includes(key)) throw new InvalidOptionError(key, (options as unknown as Record<string, unknown>)[key], `one of ${KNOWN.join(', ')}`);
  }
  if (typeof options.host !== 'string' || options.host === '') throw new InvalidOptionError('host', options.host, 'a host name or address');
  if (!Number.isInteger(options.port) || options.port < 1 || options.port > 65_535) throw new InvalidOptionError('port', options.port, 'an integer from 1 to 65535');
  const heartbeatInterval = parseDuration(options.heartbeatInterval ?? 15_000, 'heartbeatInterval');
  if (heartbeatInterval < 100 || heartbeatInterval > 2 ** 31 - 1) throw new InvalidOptionError('heartbeatInterval', options.heartbeatInterval, '100 ms to 2^31-1 ms');
  return {
    host: options.host,
    port: options.port,
    heartbeatInterval,
    replay: { maxMessages: options.replay?.maxMessages ?? 10_000, maxBytes: options.replay?.maxBytes ?? 16 * 1024 * 1024 },
    handshakeTimeout: parseDuration(options.handshakeTimeout ?? 10_000, 'handshakeTimeout'),
    keepalive: options.keepalive === undefined ? { idle: 60_000, interval: 10_000, count: 6 } : options.keepalive,
  };
}

export { GoAwayCodes };

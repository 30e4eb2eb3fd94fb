import { constants, type Http2SecureServer, type Http2Server, type Http2Session } from 'node:http2';
import { Socket } from 'node:net';
import { integerIn } from '../options.js';
import {
  TransportHeartbeat,
  resolveAdapterOptions,
  type AdapterOptions,
  type Entry,
} from './transport-heartbeat.js';

/**
 * lifeline/http2: the heartbeat engine on node:http2 sessions (server and client), through HTTP/2 PING frames,
 * which every HTTP/2 peer must answer (RFC 9113 6.7), so nothing changes on the peer.
 *
 * What counts as life. Node reads an HTTP/2 socket in C++ and tells JavaScript about few frames, so:
 * - the PING ACK of our ping (it also gives the RTT);
 * - the frames Node does report: the peer's PING, its SETTINGS and the ACK of ours, and (server sessions) each
 *   new stream;
 * - any byte the session's socket read since the last look (`socket.bytesRead`): looked at whenever the engine
 *   is about to ping, suspect or convict a session. A session that read anything meanwhile is not pinged, not
 *   suspected and not convicted; it is stamped alive at that moment.
 * Consequence: a session whose peer vanishes after a PING exchange (an idle one) is found dead within interval +
 * timeout, as everywhere; one whose last traffic was DATA within 2 x interval + timeout (those bytes are noticed
 * up to one interval after they arrived). Never earlier than the deadline.
 *
 * Dead: `session.destroy()` with a GOAWAY carrying `goawayCode` (CANCEL by default), without an error, so no
 * 'error' event is emitted on the session; its open streams close with that code.
 */

export interface Http2HeartbeatOptions extends AdapterOptions {
  /** The HTTP/2 error code of the GOAWAY sent when a session is destroyed after the verdict. Default NGHTTP2_CANCEL (0x8). */
  goawayCode?: number;
}

/** What every event carries besides its evidence: the session. */
export interface Http2SessionRef {
  session: Http2Session;
}

export const DEFAULT_GOAWAY_CODE = constants.NGHTTP2_CANCEL;

type Listener<This, Args extends unknown[]> = (this: This, ...args: Args) => void;

/** The session events that mean a frame came from the peer. */
const FRAME_EVENTS = ['ping', 'remoteSettings', 'localSettings', 'stream'] as const;

export class Http2Heartbeat extends TransportHeartbeat<Http2Session, Http2SessionRef> {
  readonly goawayCode: number;
  readonly #servers = new Set<Http2Server | Http2SecureServer>();
  readonly #onSession: (session: Http2Session) => void;
  readonly #onServerClose: Listener<Http2Server | Http2SecureServer, []>;
  readonly #onConnect: Listener<Http2Session, [Http2Session, Socket]>;
  readonly #onClose: Listener<Http2Session, []>;
  /** A frame Node does tell JavaScript about arrived (a PING or SETTINGS from the peer, a new stream): life now. */
  readonly #onFrame: Listener<Http2Session, []>;

  constructor(options: Http2HeartbeatOptions = {}) {
    super(resolveAdapterOptions(options, ['goawayCode']), 'lifeline.http2');
    const goawayCode = options.goawayCode;
    this.goawayCode = goawayCode === undefined ? DEFAULT_GOAWAY_CODE
      : integerIn('goawayCode', goawayCode, 0, 0xffff_ffff, 'an HTTP/2 error code such as http2.constants.NGHTTP2_CANCEL (8)');
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    this.#onSession = (session) => {
      if (!session.destroyed) session.on('connect', this.#onConnect);
    };
    this.#onServerClose = function () {
      self.detach(this);
    };
    this.#onConnect = function (_session, socket) {
      this.off('connect', self.#onConnect);
      if (!self.closed) self.#start(this, socket);
    };
    this.#onClose = function () {
      const entry = self.entryOf(this);
      if (entry !== undefined) self.ended(entry);
    };
    this.#onFrame = function () {
      const entry = self.entryOf(this);
      if (entry === undefined) return;
      entry.mark = bytesRead(entry);
      self.touch(entry);
    };
  }

  /** Supervises every session this server (http2.createServer or createSecureServer) starts from now on. */
  attach(server: Http2Server | Http2SecureServer): this {
    this.#assertOpen();
    if (this.#servers.has(server)) return this;
    this.#servers.add(server);
    server.on('session', this.#onSession);
    server.on('close', this.#onServerClose);
    return this;
  }

  /** Stops supervising new sessions of this server (the ones supervised already stay so). */
  detach(server: Http2Server | Http2SecureServer): this {
    if (!this.#servers.delete(server)) return this;
    server.off('session', this.#onSession);
    server.off('close', this.#onServerClose);
    return this;
  }

  /**
   * Supervises one session: a client's (http2.connect; from 'connect' on if it is still connecting) or a server's.
   * Returns false when it is already destroyed.
   */
  add(session: Http2Session): boolean {
    this.#assertOpen();
    if (session.destroyed) return false;
    if (this.has(session) || session.listeners('connect').includes(this.#onConnect)) return true;
    if (session.connecting) session.on('connect', this.#onConnect);
    else this.#start(session, tcpSocketOf(session));
    return true;
  }

  /** Stops supervising this session (it stays open). False when it was not supervised. */
  remove(session: Http2Session): boolean {
    session.off('connect', this.#onConnect);
    const entry = this.entryOf(session);
    if (entry === undefined) return false;
    session.off('close', this.#onClose);
    for (const event of FRAME_EVENTS) session.off(event, this.#onFrame);
    return this.untrack(entry);
  }

  protected sendPing(entry: Entry<Http2Session>, nonce: number): boolean {
    const session = entry.conn;
    if (session.destroyed) return false;
    if (this.heardSince(entry)) {
      this.touch(entry);
      return false;
    }
    const payload = Buffer.alloc(8);
    payload.writeUInt32BE(nonce, 0);
    // The callback errs when the session goes away first (ERR_HTTP2_PING_CANCEL): the close says why.
    return session.ping(payload, (error, _duration, echoed) => {
      if (error !== null || echoed.length !== 8) return;
      entry.mark = bytesRead(entry);
      this.pong(entry, echoed.readUInt32BE(0));
    });
  }

  protected override heardSince(entry: Entry<Http2Session>): boolean {
    const read = bytesRead(entry);
    if (read === entry.mark) return false;
    entry.mark = read;
    return true;
  }

  protected kill(entry: Entry<Http2Session>): void {
    // destroy(error, code): with no error object, nothing is emitted as 'error'; `null` (not undefined, which
    // would take the default NO_ERROR) lets the code through to the GOAWAY.
    entry.conn.destroy(null as unknown as undefined, this.goawayCode);
  }

  protected tag(session: Http2Session): Http2SessionRef {
    return { session };
  }

  protected detachAll(): void {
    for (const server of [...this.#servers]) this.detach(server);
  }

  #start(session: Http2Session, socket: Socket | null): void {
    if (session.destroyed || this.has(session)) return;
    const entry = this.track(session, socket ?? session.socket);
    entry.mark = bytesRead(entry);
    session.on('close', this.#onClose);
    session.on('ping', this.#onFrame);
    session.on('remoteSettings', this.#onFrame);
    session.on('localSettings', this.#onFrame);
    // Server sessions only: on a client session 'stream' announces pushed streams, the application's business.
    if (session.type === constants.NGHTTP2_SESSION_SERVER) session.on('stream', this.#onFrame);
  }

  #assertOpen(): void {
    if (this.closed) throw new Error('this Http2Heartbeat was closed; create a new one');
  }
}

function bytesRead(entry: Entry<Http2Session>): number {
  const socket = entry.socket ?? (entry.conn.destroyed ? null : entry.conn.socket);
  return socket?.bytesRead ?? 0;
}

/**
 * The TCP (or TLS) socket of a session that has already connected. Node hands it out only in the session's
 * 'connect' event; `session.socket` is a proxy that refuses setKeepAlive (ERR_HTTP2_NO_SOCKET_MANIPULATION).
 * Node keeps the socket under a symbol named 'socket': the one place this module reaches into Node's internals,
 * and only for a session added after its 'connect'. Without it, the proxy still reads (bytesRead) and keepalive
 * through the FFI still works; Node's own setKeepAlive then fails as a `warning`.
 */
function tcpSocketOf(session: Http2Session): Socket | null {
  const symbol = Object.getOwnPropertySymbols(session).find((candidate) => candidate.description === 'socket');
  const socket = symbol === undefined ? undefined : (session as unknown as Record<symbol, unknown>)[symbol];
  if (socket instanceof Socket) return socket;
  return session.socket ?? null;
}

/**
 * The one-line form: supervises an HTTP/2 server (every session it starts) or a single session.
 *
 * ```ts
 * const heartbeat = superviseHttp2(server, { interval: '10s', timeout: '5s' });
 * heartbeat.on('dead', ({ session, remote, because }) => log(remote, because));   // session was destroyed
 * ```
 */
export function superviseHttp2(target: Http2Server | Http2SecureServer | Http2Session, options?: Http2HeartbeatOptions): Http2Heartbeat {
  const heartbeat = new Http2Heartbeat(options);
  if (typeof (target as Http2Session).ping === 'function') heartbeat.add(target as Http2Session);
  else heartbeat.attach(target as Http2Server | Http2SecureServer);
  return heartbeat;
}

export {
  DEFAULT_ADAPTER_KEEPALIVE,
  type AdapterOpened,
  type AdapterSuspect,
  type AdapterRecovered,
  type AdapterDead,
  type AdapterClosed,
  type AdapterWarning,
  type AdapterStats,
  type TransportHeartbeatEvents,
} from './transport-heartbeat.js';

import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { WebSocket, WebSocketServer } from 'ws';
import {
  TransportHeartbeat,
  resolveAdapterOptions,
  type AdapterOptions,
  type Entry,
} from './transport-heartbeat.js';

/**
 * lifeline/ws: the heartbeat engine on `ws` connections, through RFC 6455 ping/pong frames, so nothing changes
 * on the peer (every WebSocket implementation, browsers included, answers a ping with a pong carrying its
 * payload). A drop-in replacement for the `isAlive` + setInterval recipe of the ws README (docs/adapters.md).
 *
 * - Life: every byte read from the connection's socket (messages, pings, pongs, fragments of a large message
 *   still arriving) stamps the connection as alive; a connection that carried anything within `interval` is never
 *   pinged.
 * - Ping: a silent connection gets `ws.ping(nonce)` (4 bytes); the pong echoing it gives the RTT.
 * - Dead: silent for interval + timeout (maxSilence) with the last ping unanswered (for at least
 *   timeout - tick - jitter x interval, the most a ping can leave after `interval`):
 *   `ws.terminate()` (the socket is destroyed: no close handshake with a peer that does not answer), then `dead`.
 * - `closed`: every supervised connection that ends says why (heartbeat-timeout, eof, reset, local, ...).
 *
 * `ws` is an optional peer dependency: this module imports only its types; it works on the WebSocketServer and
 * WebSocket objects you pass.
 */

/** Options: the heartbeat engine's (interval, timeout, maxSilence, jitter, tick, phi, ...), keepalive, metrics. */
export type WebSocketHeartbeatOptions = AdapterOptions;

/** What every event carries besides its evidence: the WebSocket. */
export interface WebSocketRef {
  ws: WebSocket;
}

// WebSocket.CONNECTING and OPEN, without importing ws at runtime.
const CONNECTING = 0;
const OPEN = 1;
const NO_CLOSE_FRAME = 1006;

type Listener<This, Args extends unknown[]> = (this: This, ...args: Args) => void;

export class WebSocketHeartbeat extends TransportHeartbeat<WebSocket, WebSocketRef> {
  readonly #servers = new Set<WebSocketServer>();
  /** Client WebSockets added while still connecting: supervised from 'open'. */
  readonly #pending = new Set<WebSocket>();
  readonly #onConnection: (ws: WebSocket, request: IncomingMessage) => void;
  readonly #onServerClose: Listener<WebSocketServer, []>;
  readonly #onOpen: Listener<WebSocket, []>;
  /** A client WebSocket that closed before it opened (refused, failed handshake): nothing to supervise. */
  readonly #onPendingClose: Listener<WebSocket, []>;
  readonly #onPong: Listener<WebSocket, [Buffer]>;
  readonly #onClose: Listener<WebSocket, [number, Buffer]>;
  readonly #onData: Listener<Socket, []>;
  /** Only when the socket cannot be reached (never with ws 8): whole messages and pings count instead of bytes. */
  readonly #onMessage: Listener<WebSocket, []>;

  constructor(options: WebSocketHeartbeatOptions = {}) {
    super(resolveAdapterOptions(options), 'lifeline.ws');
    // Shared listeners, one set per instance: `this` is the emitter, its entry sits under this instance's symbol.
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    this.#onConnection = (ws, request) => {
      this.add(ws, request);
    };
    this.#onServerClose = function () {
      self.detach(this);
    };
    this.#onOpen = function () {
      self.#pending.delete(this);
      this.off('close', self.#onPendingClose);
      self.#start(this, undefined);
    };
    this.#onPendingClose = function () {
      self.remove(this);
    };
    this.#onPong = function (data) {
      const entry = self.entryOf(this);
      if (entry === undefined) return;
      if (data.length === 4) self.pong(entry, data.readUInt32BE(0));
      else self.touch(entry); // an unsolicited pong, or another pinger's: life all the same
    };
    this.#onClose = function (code, reason) {
      const entry = self.entryOf(this);
      if (entry === undefined) return;
      const text = reason.length > 0 ? ` ${JSON.stringify(reason.toString('utf8'))}` : '';
      self.ended(entry, {
        detail: code === NO_CLOSE_FRAME ? 'no close frame (1006)' : `close code ${code}${text}`,
        peerClosed: code !== NO_CLOSE_FRAME,
      });
    };
    this.#onData = function () {
      const entry = self.entryOf(this);
      if (entry !== undefined) self.touch(entry);
    };
    this.#onMessage = function () {
      const entry = self.entryOf(this);
      if (entry !== undefined) self.touch(entry);
    };
  }

  /**
   * Supervises every connection this server accepts from now on, and those it holds already (`wss.clients`).
   * When the server closes, new connections are no longer followed; the open ones stay supervised (ws 8 does not
   * close them with the server).
   */
  attach(server: WebSocketServer): this {
    this.#assertOpen();
    if (this.#servers.has(server)) return this;
    this.#servers.add(server);
    server.on('connection', this.#onConnection);
    server.on('close', this.#onServerClose);
    for (const ws of (server.clients as Set<WebSocket> | undefined) ?? []) this.add(ws);
    return this;
  }

  /** Stops supervising new connections of this server (the ones supervised already stay so). */
  detach(server: WebSocketServer): this {
    if (!this.#servers.delete(server)) return this;
    server.off('connection', this.#onConnection);
    server.off('close', this.#onServerClose);
    return this;
  }

  /**
   * Supervises one WebSocket: one a server accepted (pass the upgrade request too when you have it), or a client
   * `new WebSocket(url)` (supervised from 'open' on). Returns false when it is already closing or closed.
   */
  add(ws: WebSocket, request?: IncomingMessage): boolean {
    this.#assertOpen();
    if (this.has(ws) || this.#pending.has(ws)) return true;
    if (ws.readyState === CONNECTING) {
      this.#pending.add(ws);
      ws.on('open', this.#onOpen);
      ws.on('close', this.#onPendingClose);
      return true;
    }
    if (ws.readyState !== OPEN) return false;
    this.#start(ws, request);
    return true;
  }

  /** Stops supervising this WebSocket (it stays open). False when it was not supervised. */
  remove(ws: WebSocket): boolean {
    if (this.#pending.delete(ws)) {
      ws.off('open', this.#onOpen);
      ws.off('close', this.#onPendingClose);
      return true;
    }
    const entry = this.entryOf(ws);
    if (entry === undefined) return false;
    ws.off('pong', this.#onPong);
    ws.off('close', this.#onClose);
    ws.off('message', this.#onMessage);
    ws.off('ping', this.#onMessage);
    if (entry.socket !== null) {
      entry.socket.off('data', this.#onData);
      this.bind(entry.socket, undefined);
    }
    return this.untrack(entry);
  }

  protected sendPing(entry: Entry<WebSocket>, nonce: number): boolean {
    const ws = entry.conn;
    // ws.ping() throws unless OPEN. A closing connection is still followed: if its peer stays silent it is
    // terminated by the deadline instead of waiting for ws's 30 s close timeout.
    if (ws.readyState !== OPEN) return false;
    // A fresh buffer per ping: ws may hold it while a compressed message is being sent.
    const payload = Buffer.allocUnsafe(4);
    payload.writeUInt32BE(nonce, 0);
    ws.ping(payload);
    return true;
  }

  protected kill(entry: Entry<WebSocket>): void {
    entry.conn.terminate();
  }

  protected tag(ws: WebSocket): WebSocketRef {
    return { ws };
  }

  protected detachAll(): void {
    for (const server of [...this.#servers]) this.detach(server);
    for (const ws of [...this.#pending]) this.remove(ws);
  }

  #start(ws: WebSocket, request: IncomingMessage | undefined): void {
    const socket = request?.socket ?? (ws as unknown as { _socket?: Socket })._socket ?? null;
    const entry = this.track(ws, socket);
    ws.on('pong', this.#onPong);
    ws.on('close', this.#onClose);
    if (socket !== null) {
      this.bind(socket, entry);
      socket.on('data', this.#onData);
    } else {
      ws.on('message', this.#onMessage);
      ws.on('ping', this.#onMessage);
    }
  }

  #assertOpen(): void {
    if (this.closed) throw new Error('this WebSocketHeartbeat was closed; create a new one');
  }
}

/**
 * The one-line form: supervises a WebSocketServer (every connection it accepts) or a single WebSocket.
 *
 * ```ts
 * const heartbeat = superviseWebSockets(wss, { interval: '30s', timeout: '10s' });
 * heartbeat.on('dead', ({ ws, remote, because }) => log(remote, because));   // ws was terminated
 * ```
 */
export function superviseWebSockets(target: WebSocketServer | WebSocket, options?: WebSocketHeartbeatOptions): WebSocketHeartbeat {
  const heartbeat = new WebSocketHeartbeat(options);
  if (typeof (target as WebSocket).ping === 'function') heartbeat.add(target as WebSocket);
  else heartbeat.attach(target as WebSocketServer);
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

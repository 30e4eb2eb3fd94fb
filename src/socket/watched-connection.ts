import type { Socket } from 'node:net';
import type { Clock } from '../clock.js';
import { classifyDeath, type DeathReason } from '../liveness/verdict.js';
import type { KeepAliveState } from './keepalive.js';
import { readPendingError, readTcpInfo, type TcpInfo } from './tcp-info.js';

export const ConnectionStates = {
  OPEN: 'open',
  /** Our side has started closing it. */
  CLOSING: 'closing',
  DEAD: 'dead',
} as const;
export type ConnectionState = (typeof ConnectionStates)[keyof typeof ConnectionStates];

/** A connection as lifeline sees it at one moment. Times are ms on the supervisor's clock. */
export interface ConnectionSnapshot {
  id: number;
  remote: string;
  local: string;
  state: ConnectionState;
  openedAt: number;
  /** When bytes from the peer were last seen (the open time until the first byte). */
  lastReceivedAt: number;
  lastSentAt: number;
  bytesIn: number;
  bytesOut: number;
  /** Keepalive as read back from the kernel when the connection was set up; null when none was applied. */
  keepalive: KeepAliveState | null;
}

/** The `dead` event: one reason, and the evidence behind it. */
export interface DeadPeer {
  id: number;
  remote: string;
  local: string;
  reason: DeathReason;
  /** The socket error's code (ETIMEDOUT, ECONNRESET, ...), null for eof and local. */
  code: string | null;
  /** The deciding evidence in words, e.g. `3 keepalive probes unanswered`. */
  because: string;
  /** How long the peer had been silent (no data and no ACK) when the connection died. */
  silentMs: number;
  lifetimeMs: number;
  bytesIn: number;
  bytesOut: number;
  /** Keepalive as configured (read back from the kernel at setup). */
  keepalive: KeepAliveState | null;
  /** The kernel's counters at the moment of death (or the last sample), where the platform has TCP_INFO. */
  tcpInfo: TcpInfo | null;
}

function formatAddress(address: string | undefined, port: number | undefined): string {
  if (address === undefined) return 'unknown';
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/**
 * Follows one socket from setup to death. It never reads the socket's data (it compares byte counters), so it
 * does not change how the application consumes the stream. At the moment Node tears the socket down, while
 * the descriptor is still open, it reads TCP_INFO: the kernel's own account of why the connection failed.
 */
export class WatchedConnection {
  readonly id: number;
  readonly socket: Socket;
  readonly remote: string;
  readonly local: string;
  readonly openedAt: number;
  keepalive: KeepAliveState | null = null;
  state: ConnectionState = ConnectionStates.OPEN;
  lastReceivedAt: number;
  lastSentAt: number;
  #bytesIn = 0;
  #bytesOut = 0;
  #error: NodeJS.ErrnoException | null = null;
  #peerEnded = false;
  #closedLocally = false;
  #atDeath: TcpInfo | null = null;
  #lastSample: TcpInfo | null = null;
  readonly #clock: Clock;

  constructor(id: number, socket: Socket, clock: Clock, onDead: (dead: DeadPeer, connection: WatchedConnection) => void) {
    this.id = id;
    this.socket = socket;
    this.#clock = clock;
    this.openedAt = clock.now();
    this.lastReceivedAt = this.openedAt;
    this.lastSentAt = this.openedAt;
    this.remote = formatAddress(socket.remoteAddress, socket.remotePort);
    this.local = formatAddress(socket.localAddress, socket.localPort);
    this.#hookDestroy();
    socket.on('end', () => {
      this.#peerEnded = true;
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      this.#error ??= error;
    });
    socket.once('close', () => {
      this.sample();
      this.state = ConnectionStates.DEAD;
      onDead(this.#verdict(), this);
    });
  }

  /**
   * Stamps traffic seen since the last call; cheap enough to run for every connection every second.
   * With `withTcpInfo`, a connection that received nothing since the last call also gets its TCP_INFO read:
   * the evidence for a later verdict, and the way to notice a connection the kernel has already killed while
   * Node is not reading it (backpressure stops reads, and then Node emits neither 'error' nor 'close').
   */
  sample(withTcpInfo = false): void {
    const now = this.#clock.now();
    const bytesIn = this.socket.bytesRead;
    const bytesOut = this.socket.bytesWritten;
    const quiet = bytesIn === this.#bytesIn;
    if (!quiet) {
      this.#bytesIn = bytesIn;
      this.lastReceivedAt = now;
    }
    if (bytesOut !== this.#bytesOut) {
      this.#bytesOut = bytesOut;
      this.lastSentAt = now;
    }
    if (withTcpInfo && quiet && this.state === ConnectionStates.OPEN) this.#inspect();
  }

  #inspect(): void {
    const info = readTcpInfo(this.socket);
    if (!info) return;
    this.#lastSample = info;
    if (info.state !== 'CLOSE' || this.socket.destroyed) return;
    const code = readPendingError(this.socket);
    if (code === null) return;
    const error: NodeJS.ErrnoException = new Error(`read ${code} (found by polling: Node was not reading)`);
    error.code = code;
    error.syscall = 'read';
    this.socket.destroy(error);
  }

  /** The kernel's counters now (null where the platform has no TCP_INFO or the socket is gone). */
  tcpInfo(): TcpInfo | null {
    return readTcpInfo(this.socket) ?? null;
  }

  /** Closes it from our side; the dead event then says `local`. */
  close(): void {
    if (this.state !== ConnectionStates.OPEN) return;
    this.#closedLocally = true;
    this.state = ConnectionStates.CLOSING;
    this.socket.destroy();
  }

  snapshot(): ConnectionSnapshot {
    this.sample();
    return {
      id: this.id,
      remote: this.remote,
      local: this.local,
      state: this.state,
      openedAt: this.openedAt,
      lastReceivedAt: this.lastReceivedAt,
      lastSentAt: this.lastSentAt,
      bytesIn: this.#bytesIn,
      bytesOut: this.#bytesOut,
      keepalive: this.keepalive,
    };
  }

  /**
   * Node closes the descriptor inside _destroy, before 'error' and 'close' are emitted; afterwards the kernel's
   * counters are gone. Wrapping this one socket's _destroy reads them first.
   */
  #hookDestroy(): void {
    const socket = this.socket as Socket & { _destroy: (error: Error | null, callback: (error?: Error | null) => void) => void };
    const original = socket._destroy;
    socket._destroy = (error, callback) => {
      this.#atDeath = readTcpInfo(socket) ?? null;
      return original.call(socket, error, callback);
    };
  }

  #verdict(): DeadPeer {
    const verdict = classifyDeath({
      errorCode: this.#error?.code ?? null,
      peerEnded: this.#peerEnded,
      closedLocally: this.#closedLocally,
      atDeath: this.#atDeath,
      lastSample: this.#lastSample,
      pendingWriteBytes: this.socket.writableLength,
    });
    const now = this.#clock.now();
    const info = this.#atDeath ?? this.#lastSample;
    // The kernel knows when the peer last sent anything, ACKs included; our byte counters only see data.
    const kernelSilence = this.#atDeath ? Math.min(this.#atDeath.lastDataRecvMs, this.#atDeath.lastAckRecvMs) : null;
    return {
      id: this.id,
      remote: this.remote,
      local: this.local,
      reason: verdict.reason,
      code: verdict.code,
      because: verdict.because,
      silentMs: kernelSilence ?? Math.round(now - this.lastReceivedAt),
      lifetimeMs: Math.round(now - this.openedAt),
      bytesIn: this.#bytesIn,
      bytesOut: this.#bytesOut,
      keepalive: this.keepalive,
      tcpInfo: info,
    };
  }
}

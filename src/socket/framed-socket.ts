import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { FrameDecoder } from '../protocol/decoder.js';
import { ProtocolError } from '../protocol/errors.js';
import { encodeFrame, DEFAULT_MAX_FRAME_SIZE, type Frame } from '../protocol/frame.js';
import { goAwayCodeFor, GoAwayCodes } from '../protocol/goaway.js';

/** Bytes Node may hold for a socket before DATA waits in our own queue (so PING/PONG never wait behind it). */
const DATA_HIGH_WATER = 256 * 1024;
/** After GOAWAY, how long the peer gets to read it before the socket is destroyed (an RST could lose it). */
export const GOAWAY_LINGER_MS = 1000;

export interface FramedSocketEvents {
  frame: [Frame];
  /** Any bytes arrived: proof of life, whatever they turn out to be. */
  bytes: [number];
  /** The peer broke the protocol; GOAWAY has been sent and the socket is closing. */
  'protocol-error': [ProtocolError];
  close: [];
}

/**
 * Frames over one socket. Control frames (PING, PONG, ACK, GOAWAY, handshake) are written at once; DATA waits in a
 * queue of its own while Node already holds DATA_HIGH_WATER bytes for the socket, so a burst of large messages
 * cannot delay a heartbeat by more than that much data: the ping lane.
 */
export class FramedSocket extends EventEmitter<FramedSocketEvents> {
  readonly socket: Socket;
  readonly #decoder: FrameDecoder;
  readonly #dataQueue: Buffer[] = [];
  #closing = false;
  /** The largest frame the peer accepts (announced in HELLO / WELCOME); the default until then. */
  peerMaxFrameSize = DEFAULT_MAX_FRAME_SIZE;

  constructor(socket: Socket, maxFrameSize = DEFAULT_MAX_FRAME_SIZE) {
    super();
    this.socket = socket;
    this.#decoder = new FrameDecoder({ maxFrameSize });
    socket.on('data', (chunk: Buffer) => this.#receive(chunk));
    socket.on('drain', () => this.#flushData());
    socket.on('error', () => {});
    socket.once('close', () => {
      this.#dataQueue.length = 0;
      this.emit('close');
    });
  }

  get closed(): boolean {
    return this.#closing || this.socket.destroyed;
  }

  send(frame: Frame): void {
    if (this.closed) return;
    const bytes = encodeFrame(frame, { maxFrameSize: this.peerMaxFrameSize });
    if (frame.type !== 'data') {
      this.socket.write(bytes);
      return;
    }
    this.#dataQueue.push(bytes);
    this.#flushData();
  }

  /** Says why, then closes: end() first so the GOAWAY is not lost to an RST, destroy after a linger. */
  goAway(code: number, reason: string): void {
    if (this.closed) return;
    this.socket.write(encodeFrame({ type: 'goaway', code, reason: reason.slice(0, 200) }));
    this.#closing = true;
    this.socket.end();
    setTimeout(() => this.socket.destroy(), GOAWAY_LINGER_MS).unref();
  }

  destroy(): void {
    this.#closing = true;
    this.socket.destroy();
  }

  #flushData(): void {
    while (this.#dataQueue.length > 0 && this.socket.writableLength < DATA_HIGH_WATER && !this.socket.destroyed) {
      this.socket.write(this.#dataQueue.shift() as Buffer);
    }
  }

  #receive(chunk: Buffer): void {
    if (this.#closing) return;
    this.emit('bytes', chunk.length);
    let frames: readonly Frame[];
    try {
      frames = this.#decoder.push(chunk);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.goAway(goAwayCodeFor(error), error.message);
      this.emit('protocol-error', error);
      return;
    }
    for (const frame of frames) {
      if (this.#closing) return;
      this.emit('frame', frame);
    }
  }

  /** Sends GOAWAY protocol_error for a rule the session layer enforces (an ACK for data never sent, ...). */
  violation(error: Error): void {
    this.goAway(GoAwayCodes.PROTOCOL_ERROR, error.message);
  }
}

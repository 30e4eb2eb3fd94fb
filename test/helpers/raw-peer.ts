import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { FrameDecoder } from '../../src/protocol/decoder.js';
import { encodeFrame, PROTOCOL_VERSION, type Frame } from '../../src/protocol/frame.js';

/** A hand-driven protocol peer for tests: writes exactly the frames (or bytes) a test says, collects what comes. */
export class RawPeer {
  readonly socket: Socket;
  readonly frames: Frame[] = [];
  readonly closed: Promise<unknown>;
  readonly #decoder = new FrameDecoder({ maxFrameSize: 16 * 1024 * 1024 });

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => this.frames.push(...this.#decoder.push(chunk)));
    socket.on('error', () => {});
    this.closed = once(socket, 'close');
  }

  static async connect(port: number): Promise<RawPeer> {
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    return new RawPeer(socket);
  }

  send(frame: Frame): void {
    this.socket.write(encodeFrame(frame));
  }

  hello(sessionId = '', lastReceivedSeq = 0, heartbeatIntervalMs = 0): void {
    this.send({ type: 'hello', version: PROTOCOL_VERSION, sessionId, heartbeatIntervalMs, maxFrameSize: 1024 * 1024, lastReceivedSeq });
  }

  async next<T extends Frame['type']>(type: T, timeoutMs = 3000): Promise<Extract<Frame, { type: T }>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.frames.find((frame) => frame.type === type);
      if (found) {
        this.frames.splice(this.frames.indexOf(found), 1);
        return found as Extract<Frame, { type: T }>;
      }
      if (Date.now() > deadline) throw new Error(`no ${type} frame within ${timeoutMs} ms; got ${this.frames.map((f) => f.type).join(', ')}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

/**
 * The incremental frame decoder: bytes in, in chunks of any size, frames out. A state machine with one method per
 * state (like websockets/ws lib/receiver.js): read the 4-byte length, read the type byte, read the body.
 *
 * Memory: the decoder never allocates from an untrusted length beyond maxFrameSize. The length is checked the
 * moment its 4 bytes are in, the type and the length together the moment the type byte is in (a PING is always 9),
 * and a body that does not fit in one chunk is accumulated in a buffer that grows with the bytes actually received
 * (at least 64 KiB, doubling, never beyond the frame). A frame that arrives whole inside one chunk is not copied:
 * its payload is a view into that chunk.
 */
import { InvalidOptionError } from '../errors.js';
import { ProtocolError, ProtocolErrorReasons } from './errors.js';
import { DEFAULT_MAX_FRAME_SIZE, FRAME_HEADER_SIZE, LENGTH_PREFIX_SIZE, checkMaxFrameSize, type Frame } from './frame.js';
import { checkFrameStart, decodeFrameBody, frameTypeName } from './parse.js';

export interface FrameDecoderOptions {
  /**
   * The largest length-prefix value accepted (type byte and body, not the 4 length bytes); a larger one fails with
   * 'frame-too-large' as soon as the length is read. Announce the same value in your HELLO or WELCOME.
   * Default DEFAULT_MAX_FRAME_SIZE (1 MiB); MaxFrameSizeLimits.MIN (1024) to .MAX (16 MiB).
   */
  maxFrameSize?: number;
}

const KNOWN_OPTIONS = ['maxFrameSize'];

/** Validates the decoder's options and fills the defaults. Unknown keys are refused, not ignored. */
export function resolveFrameDecoderOptions(options: FrameDecoderOptions = {}): Required<FrameDecoderOptions> {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('options', options, 'an object');
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.includes(key)) {
      const hint = key.toLowerCase().replaceAll(/[^a-z]/g, '') === 'maxframesize' ? 'did you mean maxFrameSize?' : undefined;
      throw new InvalidOptionError(key, (options as Record<string, unknown>)[key], `one of ${KNOWN_OPTIONS.join(', ')}`, hint);
    }
  }
  return { maxFrameSize: checkMaxFrameSize(options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE, 'maxFrameSize') };
}

const READ_LENGTH = 0;
const READ_TYPE = 1;
const READ_BODY = 2;
const FAILED = 3;
type State = typeof READ_LENGTH | typeof READ_TYPE | typeof READ_BODY | typeof FAILED;

/** The smallest buffer for a body that straddles chunks: the size of one of Node's socket reads. */
const MIN_ACCUMULATOR = 64 * 1024;
const NO_FRAMES: readonly Frame[] = Object.freeze([]);
const NO_BYTES = Buffer.alloc(0);

/**
 * Turns a byte stream into frames.
 *
 * ```ts
 * const decoder = new FrameDecoder({ maxFrameSize: 1 << 20 });
 * socket.on('data', (chunk) => {
 *   let frames;
 *   try { frames = decoder.push(chunk); } catch (error) { return goAway(error); } // ProtocolError
 *   for (const frame of frames) session.receive(frame);
 * });
 * socket.on('end', () => decoder.end()); // throws 'truncated' if the stream stopped inside a frame
 * ```
 *
 * - `push` returns the frames completed by this chunk, in order (often none: the same empty, frozen array).
 * - A DATA payload (and an unsupported HELLO's `rest`) is a view into the chunk you pushed when the frame lay
 *   whole inside it: do not reuse or overwrite pushed buffers (Node's sockets do not, unless you give
 *   `net.connect` an `onread` buffer), or copy the payload.
 * - The first bad frame makes `push` throw a ProtocolError, and the decoder stays failed: every later `push` and
 *   `end` throws that same error. Frames that completed earlier in the failing chunk are not returned: the
 *   connection must end anyway (GOAWAY, close), and DATA that was not acknowledged is replayed on resume.
 */
export class FrameDecoder {
  readonly maxFrameSize: number;

  #state: State = READ_LENGTH;
  /** What failed the decoder: a ProtocolError (anything else would be a bug in this file, kept and rethrown as is). */
  #failure: Error | undefined;

  /** The length prefix's bytes when it straddles chunks. */
  readonly #lengthBytes = Buffer.alloc(LENGTH_PREFIX_SIZE);
  #lengthFilled = 0;
  /** The current frame's length prefix, type byte, and stream offset (for errors). */
  #frameLength = 0;
  #typeCode = 0;
  #frameStart = 0;
  /** A body that straddles chunks, copied here as it arrives; fresh for each frame (payloads are views into it). */
  #body: Buffer = NO_BYTES;
  #bodyFilled = 0;

  /** The chunk being decoded, the read position in it, and its first byte's offset in the stream. */
  #chunk: Buffer = NO_BYTES;
  #offset = 0;
  #chunkStart = 0;
  #frames: Frame[] | undefined;

  constructor(options: FrameDecoderOptions = {}) {
    this.maxFrameSize = resolveFrameDecoderOptions(options).maxFrameSize;
  }

  /** Bytes of the incomplete frame received so far; never more than maxFrameSize + 4. */
  get pendingBytes(): number {
    switch (this.#state) {
      case READ_LENGTH:
        return this.#lengthFilled;
      case READ_TYPE:
        return LENGTH_PREFIX_SIZE;
      case READ_BODY:
        return FRAME_HEADER_SIZE + this.#bodyFilled;
      default:
        return 0;
    }
  }

  /** Bytes the decoder has allocated for a body that straddles chunks; never more than maxFrameSize - 1. */
  get bufferedCapacity(): number {
    return this.#body.length;
  }

  /** The error that failed the decoder, or undefined while it works. */
  get error(): Error | undefined {
    return this.#failure;
  }

  /** Bytes consumed since the decoder was made. */
  get streamOffset(): number {
    return this.#chunkStart;
  }

  /** Decodes a chunk; returns the frames it completes. Throws ProtocolError (and keeps throwing it). */
  push(chunk: Uint8Array): readonly Frame[] {
    if (this.#failure) throw this.#failure;
    if (!(chunk instanceof Uint8Array)) throw new InvalidOptionError('push(chunk)', chunk, 'a Uint8Array or Buffer');
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.#chunk = buffer;
    this.#offset = 0;
    this.#frames = undefined;
    try {
      while (this.#offset < buffer.length) {
        switch (this.#state) {
          case READ_LENGTH:
            this.#readLength();
            break;
          case READ_TYPE:
            this.#readType();
            break;
          case READ_BODY:
            this.#readBody();
            break;
        }
      }
      return this.#frames ?? NO_FRAMES;
    } catch (error) {
      this.#fail(error);
      throw error;
    } finally {
      this.#chunkStart += buffer.length;
      this.#chunk = NO_BYTES;
      this.#frames = undefined;
    }
  }

  /** The stream ended: throws 'truncated' if it ended inside a frame, or the earlier failure. */
  end(): void {
    if (this.#failure) throw this.#failure;
    const pending = this.pendingBytes;
    if (pending === 0) return;
    const type = this.#state === READ_BODY ? (frameTypeName(this.#typeCode) ?? null) : null;
    const error = new ProtocolError(
      ProtocolErrorReasons.TRUNCATED,
      `the stream ended inside a frame, after ${pending} of its ${this.#state === READ_LENGTH ? 'length bytes' : `${LENGTH_PREFIX_SIZE + this.#frameLength} bytes`}`,
      { frameType: type, streamOffset: this.#frameStart },
    );
    this.#fail(error);
    throw error;
  }

  /** State READ_LENGTH: 4 bytes, big-endian; judged before anything else is read. */
  #readLength(): void {
    const chunk = this.#chunk;
    let offset = this.#offset;
    if (this.#lengthFilled === 0) {
      this.#frameStart = this.#chunkStart + offset;
      if (chunk.length - offset >= LENGTH_PREFIX_SIZE) {
        this.#offset = offset + LENGTH_PREFIX_SIZE;
        this.#startFrame(chunk.readUInt32BE(offset));
        return;
      }
    }
    // The length straddles chunks: gather its bytes one by one (at most 3 from this chunk).
    while (this.#lengthFilled < LENGTH_PREFIX_SIZE && offset < chunk.length) {
      this.#lengthBytes[this.#lengthFilled++] = chunk[offset++] ?? 0;
    }
    this.#offset = offset;
    if (this.#lengthFilled < LENGTH_PREFIX_SIZE) return;
    this.#lengthFilled = 0;
    this.#startFrame(this.#lengthBytes.readUInt32BE(0));
  }

  #startFrame(length: number): void {
    if (length > this.maxFrameSize) {
      throw new ProtocolError(
        ProtocolErrorReasons.FRAME_TOO_LARGE,
        `length prefix ${length} exceeds maxFrameSize ${this.maxFrameSize}`,
        { streamOffset: this.#frameStart },
      );
    }
    if (length === 0) {
      throw new ProtocolError(ProtocolErrorReasons.BAD_LENGTH, 'length prefix 0: every frame has at least a type byte', {
        streamOffset: this.#frameStart,
      });
    }
    this.#frameLength = length;
    this.#state = READ_TYPE;
  }

  /** State READ_TYPE: 1 byte; the type and the length are checked together before any body is buffered. */
  #readType(): void {
    const typeCode = this.#chunk[this.#offset++] ?? 0;
    checkFrameStart(typeCode, this.#frameLength - 1, this.#frameStart);
    this.#typeCode = typeCode;
    this.#bodyFilled = 0;
    this.#state = READ_BODY;
    // Every type has a body of at least one byte (checkFrameStart), so READ_BODY always has bytes to wait for.
  }

  /** State READ_BODY: decode in place when the body is whole in this chunk, else accumulate it. */
  #readBody(): void {
    const chunk = this.#chunk;
    const offset = this.#offset;
    const bodyLength = this.#frameLength - 1;
    const available = chunk.length - offset;
    if (this.#bodyFilled === 0 && available >= bodyLength) {
      this.#offset = offset + bodyLength;
      this.#state = READ_LENGTH;
      this.#emit(decodeFrameBody(this.#typeCode, chunk, offset, offset + bodyLength, this.#frameStart));
      return;
    }
    const take = Math.min(available, bodyLength - this.#bodyFilled);
    this.#reserve(this.#bodyFilled + take, bodyLength);
    chunk.copy(this.#body, this.#bodyFilled, offset, offset + take);
    this.#bodyFilled += take;
    this.#offset = offset + take;
    if (this.#bodyFilled < bodyLength) return;
    const body = this.#body;
    this.#body = NO_BYTES;
    this.#bodyFilled = 0;
    this.#state = READ_LENGTH;
    this.#emit(decodeFrameBody(this.#typeCode, body, 0, bodyLength, this.#frameStart));
  }

  /**
   * Makes room for `needed` body bytes. Capacity follows the bytes received (doubling, at least MIN_ACCUMULATOR),
   * never beyond the body's length: a peer that announces a large frame and sends 5 bytes costs 64 KiB, not 1 MiB.
   */
  #reserve(needed: number, bodyLength: number): void {
    if (needed <= this.#body.length) return;
    let capacity = Math.max(needed * 2, MIN_ACCUMULATOR);
    // Within a quarter of the whole body, take all of it: growing again for the last few bytes (a 64 KiB payload
    // is 65544 body bytes) would copy more than it saves.
    if (capacity * 4 >= bodyLength * 3) capacity = bodyLength;
    const grown = Buffer.allocUnsafe(capacity);
    this.#body.copy(grown, 0, 0, this.#bodyFilled);
    this.#body = grown;
  }

  #emit(frame: Frame): void {
    if (this.#frames === undefined) this.#frames = [frame];
    else this.#frames.push(frame);
  }

  #fail(error: unknown): void {
    this.#failure = error instanceof Error ? error : new Error(String(error));
    this.#state = FAILED;
    this.#body = NO_BYTES;
    this.#bodyFilled = 0;
    this.#lengthFilled = 0;
  }
}

/** Decodes a complete byte string of frames at once (tests, fixtures, one-shot tools). */
export function decodeFrames(bytes: Uint8Array, options?: FrameDecoderOptions): Frame[] {
  const decoder = new FrameDecoder(options);
  const frames = [...decoder.push(bytes)];
  decoder.end();
  return frames;
}

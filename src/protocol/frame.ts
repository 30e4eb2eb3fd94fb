/**
 * The lifeline wire protocol's frames and their encoder. docs/protocol.md is the specification, byte by byte;
 * this file and parse.ts are its two halves (write and read) and change together with it.
 *
 * Every frame: a 4-byte big-endian length of what follows, a 1-byte type, then the type's body.
 * Sequence numbers are JavaScript numbers, 0 to 2^53-1 (Number.MAX_SAFE_INTEGER), sent as uint64: a safe integer
 * keeps arithmetic and Map keys simple, and at a million frames a second it lasts 285 years. PING nonces are
 * opaque 8-byte values and are bigints, so any nonce a peer sends can be echoed exactly.
 */
import { InvalidOptionError } from '../errors.js';
import { ProtocolError, ProtocolErrorReasons } from './errors.js';

/** The version this implementation speaks; the byte right after HELLO's and WELCOME's type byte. */
export const PROTOCOL_VERSION = 1;

/** The length prefix: a uint32, big-endian, counting the type byte and the body. */
export const LENGTH_PREFIX_SIZE = 4;
/** Length prefix plus type byte: the bytes in front of every body. */
export const FRAME_HEADER_SIZE = LENGTH_PREFIX_SIZE + 1;

/**
 * The bounds of `maxFrameSize`, the largest length-prefix value a receiver accepts (the type byte and the body;
 * the 4 length bytes are not counted). Each side announces its own in HELLO / WELCOME, and the other side must not
 * send anything larger. The floor is there so any HELLO fits any server (see MAX_HANDSHAKE_FRAME_SIZE); the
 * ceiling, HTTP/2's, bounds what a peer can make a receiver buffer; a larger message belongs in several DATA frames.
 */
export const MaxFrameSizeLimits = {
  MIN: 1024,
  MAX: 16 * 1024 * 1024,
  /** 1 MiB: room for 64 KiB writes with margin, and at most 1 MiB buffered per connection for a partial frame. */
  DEFAULT: 1024 * 1024,
} as const;
export const DEFAULT_MAX_FRAME_SIZE = MaxFrameSizeLimits.DEFAULT;

/**
 * HELLO and WELCOME of every version, present and future, have a length of at most 1024 (MaxFrameSizeLimits.MIN),
 * so a server can always read a HELLO far enough to answer GOAWAY unsupported_version.
 */
export const MAX_HANDSHAKE_FRAME_SIZE = 1024;
/** Session ids: 0 to 64 visible ASCII characters (0x21 to 0x7e), safe in logs, JSON and file names. */
export const MAX_SESSION_ID_LENGTH = 64;
/** GOAWAY reasons are for people and logs; 512 bytes of UTF-8 is plenty and keeps GOAWAY small. */
export const MAX_GOAWAY_REASON_BYTES = 512;
/** The largest sequence number: sequence numbers are safe integers. */
export const MAX_SEQ = Number.MAX_SAFE_INTEGER;
/** Wire bytes a DATA frame adds to its payload: length prefix, type, sequence number. */
export const DATA_FRAME_OVERHEAD = FRAME_HEADER_SIZE + 8;

/** The type byte of each frame. 0x00 is reserved, so a zeroed buffer never reads as a frame. */
export const FrameTypeCodes = {
  hello: 0x01,
  welcome: 0x02,
  data: 0x03,
  ack: 0x04,
  ping: 0x05,
  pong: 0x06,
  goaway: 0x07,
} as const;

/** Client -> server, first frame of every connection: who I am and what I propose. */
export interface HelloFrame {
  type: 'hello';
  version: typeof PROTOCOL_VERSION;
  /** The session to resume, or '' for a new session. */
  sessionId: string;
  /** The heartbeat interval the client proposes, ms; 0 = no preference (the server's default). uint32. */
  heartbeatIntervalMs: number;
  /** The largest frame the client accepts (length-prefix value), MaxFrameSizeLimits.MIN to .MAX. */
  maxFrameSize: number;
  /** The last sequence number the client received in order in this session; 0 for none (and for a new session). */
  lastReceivedSeq: number;
}

/**
 * A HELLO of a version this implementation does not speak. Only the version is read (it is at a fixed place);
 * `rest` holds the bytes after it, undecoded. A server answers it with GOAWAY unsupported_version.
 */
export interface UnsupportedHelloFrame {
  type: 'hello';
  /** Any version but PROTOCOL_VERSION, 0 to 255. */
  version: number;
  rest: Uint8Array;
}

/** Server -> client, the answer to HELLO: what was agreed. */
export interface WelcomeFrame {
  type: 'welcome';
  version: typeof PROTOCOL_VERSION;
  /** The session's id: new, or the one the client asked to resume. 1 to 64 visible ASCII characters. */
  sessionId: string;
  /** The agreed heartbeat interval, ms (the client's proposal clamped to the server's range). 1 to 2^32-1. */
  heartbeatIntervalMs: number;
  /** Nothing received for this long, ms, and the peer is dead. Greater than the interval; up to 2^32-1. */
  heartbeatTimeoutMs: number;
  /** The largest frame the server accepts (length-prefix value), MaxFrameSizeLimits.MIN to .MAX. */
  maxFrameSize: number;
  /** The last sequence number the server received in order in this session; the client replays from the next. */
  lastReceivedSeq: number;
}

/** Application bytes, numbered. The first DATA of a session in each direction has seq 1, each next one +1. */
export interface DataFrame {
  type: 'data';
  /** 1 to 2^53-1. */
  seq: number;
  /** From the decoder: a view into the pushed chunk when the frame arrived whole in one chunk (see FrameDecoder). */
  payload: Uint8Array;
}

/** Cumulative acknowledgement: every DATA up to and including `seq` was delivered in order. */
export interface AckFrame {
  type: 'ack';
  /** 0 to 2^53-1. */
  seq: number;
}

/** Are you there? Answered by a PONG with the same nonce, at once. */
export interface PingFrame {
  type: 'ping';
  /** Opaque, 0 to 2^64-1: the sender's way to match the PONG (and time the round trip). */
  nonce: bigint;
}

export interface PongFrame {
  type: 'pong';
  /** The PING's nonce, echoed. */
  nonce: bigint;
}

/** The sender is closing the connection, and why. It sends nothing after it. */
export interface GoAwayFrame {
  type: 'goaway';
  /** A GoAwayCodes value (0 to 65535); a code this side does not know is read as protocol_error. */
  code: number;
  /** For people and logs, UTF-8, at most MAX_GOAWAY_REASON_BYTES bytes; may be ''. */
  reason: string;
}

export type Frame =
  | HelloFrame
  | UnsupportedHelloFrame
  | WelcomeFrame
  | DataFrame
  | AckFrame
  | PingFrame
  | PongFrame
  | GoAwayFrame;

export type FrameType = Frame['type'];

/** True for a HELLO of the version this implementation speaks; false for one it can only answer with GOAWAY. */
export function isSupportedHello(frame: HelloFrame | UnsupportedHelloFrame): frame is HelloFrame {
  return !('rest' in frame);
}

export interface EncodeOptions {
  /**
   * The largest frame the receiver accepts: the peer's `maxFrameSize` from its HELLO or WELCOME.
   * Default DEFAULT_MAX_FRAME_SIZE (what every peer accepts unless it announced less).
   */
  maxFrameSize?: number;
}

/** The largest DATA payload a receiver with this maxFrameSize accepts. */
export function maxDataPayload(maxFrameSize: number = DEFAULT_MAX_FRAME_SIZE): number {
  return checkMaxFrameSize(maxFrameSize, 'maxFrameSize') - (DATA_FRAME_OVERHEAD - LENGTH_PREFIX_SIZE);
}

/** Encodes one frame into a new Buffer. Throws ProtocolError 'invalid-frame' or 'frame-too-large'. */
export function encodeFrame(frame: Frame, options?: EncodeOptions): Buffer {
  const size = encodedSize(frame, options);
  const out = Buffer.allocUnsafe(size);
  writeFrame(frame, out, 0, size);
  return out;
}

/**
 * Encodes one frame into `target` at `offset` (several frames into one buffer, one socket write) and returns the
 * offset after it. A target too small is a ProtocolError 'invalid-frame', and nothing is written.
 */
export function encodeFrameInto(frame: Frame, target: Uint8Array, offset: number, options?: EncodeOptions): number {
  const size = encodedSize(frame, options);
  if (!Number.isInteger(offset) || offset < 0 || offset + size > target.byteLength) {
    throw invalid(frame.type, `${size} bytes do not fit in the target at offset ${offset} (target length ${target.byteLength})`);
  }
  const out = Buffer.isBuffer(target) ? target : Buffer.from(target.buffer, target.byteOffset, target.byteLength);
  writeFrame(frame, out, offset, size);
  return offset + size;
}

/**
 * The 13 bytes in front of a DATA payload: write these and then the payload itself (socket.cork(), or writev)
 * to send a large payload without copying it into a frame buffer.
 */
export function encodeDataHeader(seq: number, payloadLength: number, options?: EncodeOptions): Buffer {
  const limit = checkMaxFrameSize(options?.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE, 'maxFrameSize');
  checkSeq('data', 'seq', seq, 1);
  if (!Number.isSafeInteger(payloadLength) || payloadLength < 0) {
    throw invalid('data', `payload length must be a non-negative integer, got ${String(payloadLength)}`);
  }
  const length = 1 + 8 + payloadLength;
  if (length > limit) throw tooLarge('data', length, limit);
  const out = Buffer.allocUnsafe(DATA_FRAME_OVERHEAD);
  out.writeUInt32BE(length, 0);
  out[4] = FrameTypeCodes.data;
  writeUInt53(out, 5, seq);
  return out;
}

/** The frame's size on the wire, length prefix included; validates every field first. */
export function encodedSize(frame: Frame, options?: EncodeOptions): number {
  const limit = checkMaxFrameSize(options?.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE, 'maxFrameSize');
  if (typeof frame !== 'object' || frame === null) throw invalid(null, `a frame must be an object, got ${String(frame)}`);
  const length = 1 + validBodyLength(frame);
  if (length > limit) throw tooLarge(frame.type, length, limit);
  return LENGTH_PREFIX_SIZE + length;
}

/** Validates the frame's fields and returns its body length. */
function validBodyLength(frame: Frame): number {
  switch (frame.type) {
    case 'hello': {
      if ('rest' in frame) {
        const version: unknown = frame.version;
        if (!Number.isInteger(version) || (version as number) < 0 || (version as number) > 255 || version === PROTOCOL_VERSION) {
          throw invalid('hello', `an unsupported HELLO's version must be 0 to 255 and not ${PROTOCOL_VERSION}, got ${String(version)}`);
        }
        if (!(frame.rest instanceof Uint8Array)) throw invalid('hello', 'rest must be a Uint8Array');
        const length = 1 + frame.rest.byteLength;
        if (1 + length > MAX_HANDSHAKE_FRAME_SIZE) {
          throw invalid('hello', `a HELLO of any version is at most ${MAX_HANDSHAKE_FRAME_SIZE} bytes, this one ${1 + length}`);
        }
        return length;
      }
      checkVersion('hello', frame.version);
      checkUInt32('hello', 'heartbeatIntervalMs', frame.heartbeatIntervalMs, 0);
      checkMaxFrameSizeField('hello', frame.maxFrameSize);
      checkSeq('hello', 'lastReceivedSeq', frame.lastReceivedSeq, 0);
      return HELLO_FIXED_BODY + checkSessionId('hello', frame.sessionId, 0);
    }
    case 'welcome': {
      checkVersion('welcome', frame.version);
      checkUInt32('welcome', 'heartbeatIntervalMs', frame.heartbeatIntervalMs, 1);
      checkUInt32('welcome', 'heartbeatTimeoutMs', frame.heartbeatTimeoutMs, frame.heartbeatIntervalMs + 1);
      checkMaxFrameSizeField('welcome', frame.maxFrameSize);
      checkSeq('welcome', 'lastReceivedSeq', frame.lastReceivedSeq, 0);
      return WELCOME_FIXED_BODY + checkSessionId('welcome', frame.sessionId, 1);
    }
    case 'data':
      checkSeq('data', 'seq', frame.seq, 1);
      if (!(frame.payload instanceof Uint8Array)) throw invalid('data', 'payload must be a Uint8Array');
      return 8 + frame.payload.byteLength;
    case 'ack':
      checkSeq('ack', 'seq', frame.seq, 0);
      return 8;
    case 'ping':
    case 'pong':
      if (typeof frame.nonce !== 'bigint' || frame.nonce < 0n || frame.nonce > 0xffff_ffff_ffff_ffffn) {
        throw invalid(frame.type, `nonce must be a bigint from 0 to 2^64-1, got ${String(frame.nonce)}`);
      }
      return 8;
    case 'goaway': {
      if (!Number.isInteger(frame.code) || frame.code < 0 || frame.code > 0xffff) {
        throw invalid('goaway', `code must be an integer from 0 to 65535, got ${String(frame.code)}`);
      }
      if (typeof frame.reason !== 'string' || LONE_SURROGATE.test(frame.reason)) {
        throw invalid('goaway', 'reason must be a well-formed string (no lone surrogates: it is sent as UTF-8)');
      }
      const bytes = Buffer.byteLength(frame.reason, 'utf8');
      if (bytes > MAX_GOAWAY_REASON_BYTES) {
        throw invalid('goaway', `reason is ${bytes} bytes of UTF-8; at most ${MAX_GOAWAY_REASON_BYTES}`);
      }
      return 2 + bytes;
    }
    default: {
      const type: unknown = (frame as { type?: unknown }).type;
      throw invalid(null, `unknown frame type ${JSON.stringify(type) ?? String(type)}`);
    }
  }
}

/** HELLO v1 body before the session id: version 1, interval 4, maxFrameSize 4, lastReceivedSeq 8. */
export const HELLO_FIXED_BODY = 1 + 4 + 4 + 8;
/** WELCOME v1 body before the session id: version 1, interval 4, timeout 4, maxFrameSize 4, lastReceivedSeq 8. */
export const WELCOME_FIXED_BODY = 1 + 4 + 4 + 4 + 8;

/** Writes a frame already validated by validBodyLength; `size` includes the length prefix. */
function writeFrame(frame: Frame, out: Buffer, start: number, size: number): void {
  out.writeUInt32BE(size - LENGTH_PREFIX_SIZE, start);
  out[start + 4] = FrameTypeCodes[frame.type];
  let at = start + FRAME_HEADER_SIZE;
  switch (frame.type) {
    case 'hello':
      if ('rest' in frame) {
        out[at] = frame.version;
        out.set(frame.rest, at + 1);
        return;
      }
      out[at] = frame.version;
      out.writeUInt32BE(frame.heartbeatIntervalMs, at + 1);
      out.writeUInt32BE(frame.maxFrameSize, at + 5);
      writeUInt53(out, at + 9, frame.lastReceivedSeq);
      out.write(frame.sessionId, at + HELLO_FIXED_BODY, 'latin1');
      return;
    case 'welcome':
      out[at] = frame.version;
      out.writeUInt32BE(frame.heartbeatIntervalMs, at + 1);
      out.writeUInt32BE(frame.heartbeatTimeoutMs, at + 5);
      out.writeUInt32BE(frame.maxFrameSize, at + 9);
      writeUInt53(out, at + 13, frame.lastReceivedSeq);
      out.write(frame.sessionId, at + WELCOME_FIXED_BODY, 'latin1');
      return;
    case 'data':
      writeUInt53(out, at, frame.seq);
      out.set(frame.payload, at + 8);
      return;
    case 'ack':
      writeUInt53(out, at, frame.seq);
      return;
    case 'ping':
    case 'pong':
      out.writeBigUInt64BE(frame.nonce, at);
      return;
    case 'goaway':
      out.writeUInt16BE(frame.code, at);
      at += 2;
      out.write(frame.reason, at, 'utf8');
      return;
  }
}

/** A safe integer as a big-endian uint64, without going through BigInt. */
function writeUInt53(out: Buffer, at: number, value: number): void {
  out.writeUInt32BE(Math.floor(value / 0x1_0000_0000), at);
  out.writeUInt32BE(value % 0x1_0000_0000, at + 4);
}

/** A lone surrogate cannot be encoded as UTF-8 (it would become U+FFFD and not come back the same). */
const LONE_SURROGATE = /\p{Cs}/u;

/** Validates a maxFrameSize option (the decoder's own, or the peer's that an encoder writes for). */
export function checkMaxFrameSize(value: unknown, option: string): number {
  if (!isMaxFrameSize(value)) {
    throw new InvalidOptionError(option, value, `an integer from ${MaxFrameSizeLimits.MIN} to ${MaxFrameSizeLimits.MAX} (bytes)`);
  }
  return value;
}

export function isMaxFrameSize(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= MaxFrameSizeLimits.MIN && (value as number) <= MaxFrameSizeLimits.MAX;
}

function checkVersion(type: FrameType, version: unknown): void {
  if (version !== PROTOCOL_VERSION) throw invalid(type, `version must be ${PROTOCOL_VERSION} (or use an UnsupportedHelloFrame), got ${String(version)}`);
}

function checkUInt32(type: FrameType, field: string, value: unknown, min: number): void {
  if (!Number.isInteger(value) || (value as number) < min || (value as number) > 0xffff_ffff) {
    throw invalid(type, `${field} must be an integer from ${min} to ${0xffff_ffff}, got ${String(value)}`);
  }
}

function checkMaxFrameSizeField(type: FrameType, value: unknown): void {
  if (!isMaxFrameSize(value)) {
    throw invalid(type, `maxFrameSize must be an integer from ${MaxFrameSizeLimits.MIN} to ${MaxFrameSizeLimits.MAX}, got ${String(value)}`);
  }
}

function checkSeq(type: FrameType, field: string, value: unknown, min: number): void {
  if (!Number.isSafeInteger(value) || (value as number) < min) {
    throw invalid(type, `${field} must be an integer from ${min} to 2^53-1, got ${String(value)}`);
  }
}

/** Returns the session id's length in bytes (one per character: visible ASCII only). */
function checkSessionId(type: FrameType, sessionId: unknown, minLength: number): number {
  if (typeof sessionId !== 'string' || sessionId.length < minLength || sessionId.length > MAX_SESSION_ID_LENGTH) {
    throw invalid(type, `sessionId must be a string of ${minLength} to ${MAX_SESSION_ID_LENGTH} characters`);
  }
  for (let index = 0; index < sessionId.length; index++) {
    if (!isSessionIdByte(sessionId.charCodeAt(index))) {
      throw invalid(type, `sessionId may hold only visible ASCII (0x21 to 0x7e); character ${index} is not`);
    }
  }
  return sessionId.length;
}

export function isSessionIdByte(code: number): boolean {
  return code >= 0x21 && code <= 0x7e;
}

function invalid(type: FrameType | null, message: string): ProtocolError {
  return new ProtocolError(ProtocolErrorReasons.INVALID_FRAME, message, { frameType: type });
}

function tooLarge(type: FrameType, length: number, limit: number): ProtocolError {
  return new ProtocolError(
    ProtocolErrorReasons.FRAME_TOO_LARGE,
    `a ${type} frame of length ${length} exceeds the receiver's maxFrameSize ${limit}` +
      (type === 'data' ? ` (at most ${limit - 9} payload bytes)` : ''),
    { frameType: type },
  );
}

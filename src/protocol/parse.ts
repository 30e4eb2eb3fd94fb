/**
 * Reads one frame's body. FrameDecoder finds where frames start and end; this file knows what is inside them.
 * It is the read half of frame.ts: every frame it returns re-encodes to the same bytes (the encoding is canonical),
 * because it accepts exactly what the encoder can produce.
 */
import { isUtf8 } from 'node:buffer';
import { ProtocolError, ProtocolErrorReasons, type ProtocolErrorReason } from './errors.js';
import {
  FrameTypeCodes,
  HELLO_FIXED_BODY,
  MAX_GOAWAY_REASON_BYTES,
  MAX_HANDSHAKE_FRAME_SIZE,
  MAX_SESSION_ID_LENGTH,
  PROTOCOL_VERSION,
  WELCOME_FIXED_BODY,
  isMaxFrameSize,
  isSessionIdByte,
  type Frame,
  type FrameType,
} from './frame.js';

/** The frame type's name for each type byte; undefined for an unknown type. */
const TYPE_NAMES: readonly (FrameType | undefined)[] = (() => {
  const names: (FrameType | undefined)[] = [];
  for (const [name, code] of Object.entries(FrameTypeCodes)) names[code] = name as FrameType;
  return names;
})();

/**
 * The body lengths each type can have, by type byte: checked as soon as the type byte arrives, so a peer cannot
 * make the decoder buffer a megabyte for what must be an 8-byte PING. Handshake frames are bounded for every
 * version (MAX_HANDSHAKE_FRAME_SIZE); their exact length depends on the version and is checked with the body.
 */
const BODY_LENGTH_RANGES: readonly (readonly [min: number, max: number] | undefined)[] = (() => {
  const ranges: (readonly [number, number] | undefined)[] = [];
  ranges[FrameTypeCodes.hello] = [1, MAX_HANDSHAKE_FRAME_SIZE - 1];
  ranges[FrameTypeCodes.welcome] = [1, MAX_HANDSHAKE_FRAME_SIZE - 1];
  ranges[FrameTypeCodes.data] = [8, Number.POSITIVE_INFINITY];
  ranges[FrameTypeCodes.ack] = [8, 8];
  ranges[FrameTypeCodes.ping] = [8, 8];
  ranges[FrameTypeCodes.pong] = [8, 8];
  ranges[FrameTypeCodes.goaway] = [2, 2 + MAX_GOAWAY_REASON_BYTES];
  return ranges;
})();

/** The name of a known type byte, or undefined. */
export function frameTypeName(typeCode: number): FrameType | undefined {
  return TYPE_NAMES[typeCode];
}

/** Checks the type byte and the body length before any of the body is read: 'unknown-type' or 'bad-length'. */
export function checkFrameStart(typeCode: number, bodyLength: number, streamOffset: number): void {
  const range = BODY_LENGTH_RANGES[typeCode];
  const type = TYPE_NAMES[typeCode];
  if (range === undefined || type === undefined) {
    throw new ProtocolError(ProtocolErrorReasons.UNKNOWN_TYPE, `unknown frame type 0x${hex2(typeCode)}`, { streamOffset });
  }
  if (bodyLength < range[0] || bodyLength > range[1]) {
    throw new ProtocolError(ProtocolErrorReasons.BAD_LENGTH, `a ${type} frame cannot have length ${bodyLength + 1} (${describeRange(range)})`, {
      frameType: type,
      streamOffset,
    });
  }
}

/**
 * Decodes the body in `buffer[start, end)` of a frame whose type byte (already checked by checkFrameStart) is
 * `typeCode`. Payloads and unsupported HELLOs' `rest` are views into `buffer`, not copies.
 */
export function decodeFrameBody(typeCode: number, buffer: Buffer, start: number, end: number, streamOffset: number): Frame {
  const length = end - start;
  switch (typeCode) {
    case FrameTypeCodes.data: {
      const seq = readUInt53(buffer, start);
      if (seq < 1) throw bad('data', streamOffset, `seq must be 1 to 2^53-1, got ${describeUInt64(buffer, start)}`);
      return { type: 'data', seq, payload: buffer.subarray(start + 8, end) };
    }
    case FrameTypeCodes.ack: {
      const seq = readUInt53(buffer, start);
      if (seq < 0) throw bad('ack', streamOffset, `seq must be 0 to 2^53-1, got ${describeUInt64(buffer, start)}`);
      return { type: 'ack', seq };
    }
    case FrameTypeCodes.ping:
      return { type: 'ping', nonce: buffer.readBigUInt64BE(start) };
    case FrameTypeCodes.pong:
      return { type: 'pong', nonce: buffer.readBigUInt64BE(start) };
    case FrameTypeCodes.goaway: {
      const reason = buffer.subarray(start + 2, end);
      if (!isUtf8(reason)) throw bad('goaway', streamOffset, 'reason is not valid UTF-8');
      return { type: 'goaway', code: buffer.readUInt16BE(start), reason: reason.toString('utf8') };
    }
    case FrameTypeCodes.hello:
      return decodeHello(buffer, start, end, streamOffset);
    case FrameTypeCodes.welcome:
      return decodeWelcome(buffer, start, end, streamOffset);
    default:
      // checkFrameStart has already refused unknown types; this keeps the function total on its own.
      throw new ProtocolError(ProtocolErrorReasons.UNKNOWN_TYPE, `unknown frame type 0x${hex2(typeCode)} (length ${length + 1})`, { streamOffset });
  }
}

/** Any version decodes: the version byte is at a fixed place, and the frame's length delimits what follows. */
function decodeHello(buffer: Buffer, start: number, end: number, streamOffset: number): Frame {
  const version = buffer[start] ?? 0;
  if (version !== PROTOCOL_VERSION) return { type: 'hello', version, rest: buffer.subarray(start + 1, end) };
  const sessionIdLength = end - start - HELLO_FIXED_BODY;
  if (sessionIdLength < 0 || sessionIdLength > MAX_SESSION_ID_LENGTH) {
    throw badLength('hello', streamOffset, end - start, HELLO_FIXED_BODY, HELLO_FIXED_BODY + MAX_SESSION_ID_LENGTH);
  }
  const heartbeatIntervalMs = buffer.readUInt32BE(start + 1);
  const maxFrameSize = readMaxFrameSize('hello', buffer, start + 5, streamOffset);
  const lastReceivedSeq = readSeq('hello', 'lastReceivedSeq', buffer, start + 9, streamOffset);
  const sessionId = readSessionId('hello', buffer, start + HELLO_FIXED_BODY, end, streamOffset);
  return { type: 'hello', version, sessionId, heartbeatIntervalMs, maxFrameSize, lastReceivedSeq };
}

/** A WELCOME answers our HELLO, so it must be in our version: a server that answers in another is broken. */
function decodeWelcome(buffer: Buffer, start: number, end: number, streamOffset: number): Frame {
  const version = buffer[start] ?? 0;
  if (version !== PROTOCOL_VERSION) {
    throw new ProtocolError(ProtocolErrorReasons.UNSUPPORTED_VERSION, `WELCOME in version ${version}; this side speaks ${PROTOCOL_VERSION}`, {
      frameType: 'welcome',
      streamOffset,
    });
  }
  const sessionIdLength = end - start - WELCOME_FIXED_BODY;
  if (sessionIdLength < 1 || sessionIdLength > MAX_SESSION_ID_LENGTH) {
    throw badLength('welcome', streamOffset, end - start, WELCOME_FIXED_BODY + 1, WELCOME_FIXED_BODY + MAX_SESSION_ID_LENGTH);
  }
  const heartbeatIntervalMs = buffer.readUInt32BE(start + 1);
  const heartbeatTimeoutMs = buffer.readUInt32BE(start + 5);
  if (heartbeatIntervalMs < 1) throw bad('welcome', streamOffset, 'heartbeatIntervalMs must be at least 1');
  if (heartbeatTimeoutMs <= heartbeatIntervalMs) {
    throw bad('welcome', streamOffset, `heartbeatTimeoutMs ${heartbeatTimeoutMs} must exceed heartbeatIntervalMs ${heartbeatIntervalMs}`);
  }
  const maxFrameSize = readMaxFrameSize('welcome', buffer, start + 9, streamOffset);
  const lastReceivedSeq = readSeq('welcome', 'lastReceivedSeq', buffer, start + 13, streamOffset);
  const sessionId = readSessionId('welcome', buffer, start + WELCOME_FIXED_BODY, end, streamOffset);
  return { type: 'welcome', version, sessionId, heartbeatIntervalMs, heartbeatTimeoutMs, maxFrameSize, lastReceivedSeq };
}

/**
 * A big-endian uint64 as a number, or -1 when it is above 2^53-1. Every DATA and ACK goes through here, so it reads
 * the bytes directly (callers have checked the length): no BigInt, and none of readUInt32BE's argument checks.
 */
function readUInt53(buffer: Buffer, at: number): number {
  const high = ((buffer[at] ?? 0) << 24) | ((buffer[at + 1] ?? 0) << 16) | ((buffer[at + 2] ?? 0) << 8) | (buffer[at + 3] ?? 0);
  if (high < 0 || high > 0x1f_ffff) return -1;
  const low = ((buffer[at + 4] ?? 0) * 0x100_0000) + (((buffer[at + 5] ?? 0) << 16) | ((buffer[at + 6] ?? 0) << 8) | (buffer[at + 7] ?? 0));
  return high * 0x1_0000_0000 + low;
}

function readSeq(type: FrameType, field: string, buffer: Buffer, at: number, streamOffset: number): number {
  const value = readUInt53(buffer, at);
  if (value < 0) throw bad(type, streamOffset, `${field} must be 0 to 2^53-1, got ${describeUInt64(buffer, at)}`);
  return value;
}

function readMaxFrameSize(type: FrameType, buffer: Buffer, at: number, streamOffset: number): number {
  const value = buffer.readUInt32BE(at);
  if (!isMaxFrameSize(value)) throw bad(type, streamOffset, `maxFrameSize ${value} is outside 1024 to 16777216`);
  return value;
}

function readSessionId(type: FrameType, buffer: Buffer, start: number, end: number, streamOffset: number): string {
  for (let at = start; at < end; at++) {
    if (!isSessionIdByte(buffer[at] ?? 0)) throw bad(type, streamOffset, `sessionId byte ${at - start} is not visible ASCII`);
  }
  return buffer.toString('latin1', start, end);
}

function describeUInt64(buffer: Buffer, at: number): string {
  return buffer.readBigUInt64BE(at).toString();
}

function describeRange([min, max]: readonly [number, number]): string {
  if (min === max) return `it is always ${min + 1}`;
  if (max === Number.POSITIVE_INFINITY) return `at least ${min + 1}`;
  return `${min + 1} to ${max + 1}`;
}

function bad(type: FrameType, streamOffset: number, message: string, reason: ProtocolErrorReason = ProtocolErrorReasons.BAD_PAYLOAD): ProtocolError {
  return new ProtocolError(reason, `${type}: ${message}`, { frameType: type, streamOffset });
}

function badLength(type: FrameType, streamOffset: number, bodyLength: number, min: number, max: number): ProtocolError {
  return bad(type, streamOffset, `length ${bodyLength + 1} does not fit version ${PROTOCOL_VERSION} (${min + 1} to ${max + 1})`, ProtocolErrorReasons.BAD_LENGTH);
}

function hex2(byte: number): string {
  return byte.toString(16).padStart(2, '0');
}

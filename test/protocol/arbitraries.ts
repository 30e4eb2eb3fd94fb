/** fast-check arbitraries for valid frames, and helpers shared by the protocol tests. */
import fc from 'fast-check';
import {
  MAX_SESSION_ID_LENGTH,
  MaxFrameSizeLimits,
  type AckFrame,
  type DataFrame,
  type Frame,
  type GoAwayFrame,
  type HelloFrame,
  type PingFrame,
  type PongFrame,
  type UnsupportedHelloFrame,
  type WelcomeFrame,
} from '../../src/protocol/frame.js';

/** Small numbers most of the time (where off-by-ones live), the edges, and anything up to 2^53-1. */
function safeIntegerFrom(min: number): fc.Arbitrary<number> {
  return fc.oneof(
    fc.integer({ min, max: min + 1000 }),
    fc.constantFrom(min, 0xffff_ffff, 0x1_0000_0000, Number.MAX_SAFE_INTEGER),
    fc.maxSafeNat().filter((value) => value >= min),
  );
}

const uint32 = (min = 0) => fc.integer({ min, max: 0xffff_ffff });
const maxFrameSize = fc.oneof(
  fc.constantFrom(MaxFrameSizeLimits.MIN, MaxFrameSizeLimits.DEFAULT, MaxFrameSizeLimits.MAX),
  fc.integer({ min: MaxFrameSizeLimits.MIN, max: MaxFrameSizeLimits.MAX }),
);
const sessionIdChar = fc.integer({ min: 0x21, max: 0x7e }).map((code) => String.fromCharCode(code));
const sessionId = (minLength: number) => fc.string({ unit: sessionIdChar, minLength, maxLength: MAX_SESSION_ID_LENGTH });

export const helloArb: fc.Arbitrary<HelloFrame> = fc.record({
  type: fc.constant('hello' as const),
  version: fc.constant(1 as const),
  sessionId: sessionId(0),
  heartbeatIntervalMs: uint32(),
  maxFrameSize,
  lastReceivedSeq: safeIntegerFrom(0),
});

export const unsupportedHelloArb: fc.Arbitrary<UnsupportedHelloFrame> = fc.record({
  type: fc.constant('hello' as const),
  version: fc.integer({ min: 0, max: 255 }).filter((version) => version !== 1),
  rest: fc.uint8Array({ maxLength: 1022 }),
});

export const welcomeArb: fc.Arbitrary<WelcomeFrame> = uint32(1)
  .filter((interval) => interval < 0xffff_ffff)
  .chain((heartbeatIntervalMs) =>
    fc.record({
      type: fc.constant('welcome' as const),
      version: fc.constant(1 as const),
      sessionId: sessionId(1),
      heartbeatIntervalMs: fc.constant(heartbeatIntervalMs),
      heartbeatTimeoutMs: uint32(heartbeatIntervalMs + 1),
      maxFrameSize,
      lastReceivedSeq: safeIntegerFrom(0),
    }),
  );

export const dataArb: fc.Arbitrary<DataFrame> = fc.record({
  type: fc.constant('data' as const),
  seq: safeIntegerFrom(1),
  payload: fc.uint8Array({ maxLength: 2048 }),
});

export const ackArb: fc.Arbitrary<AckFrame> = fc.record({ type: fc.constant('ack' as const), seq: safeIntegerFrom(0) });

const nonce = fc.bigInt({ min: 0n, max: 0xffff_ffff_ffff_ffffn });
export const pingArb: fc.Arbitrary<PingFrame> = fc.record({ type: fc.constant('ping' as const), nonce });
export const pongArb: fc.Arbitrary<PongFrame> = fc.record({ type: fc.constant('pong' as const), nonce });

export const goAwayArb: fc.Arbitrary<GoAwayFrame> = fc.record({
  type: fc.constant('goaway' as const),
  code: fc.integer({ min: 0, max: 0xffff }),
  // At most 4 UTF-8 bytes per code point: 128 code points always fit in 512 bytes.
  reason: fc.string({ unit: 'binary', maxLength: 128 }),
});

export const frameArbs = {
  hello: helloArb,
  'unsupported hello': unsupportedHelloArb,
  welcome: welcomeArb,
  data: dataArb,
  ack: ackArb,
  ping: pingArb,
  pong: pongArb,
  goaway: goAwayArb,
} as const;

export const anyFrameArb: fc.Arbitrary<Frame> = fc.oneof(...Object.values(frameArbs));

/** Frames with byte fields as plain Buffers, so deepStrictEqual compares contents, not Uint8Array vs Buffer. */
export function normalize(frames: readonly Frame[]): Frame[] {
  return frames.map((frame) => {
    if (frame.type === 'data') return { ...frame, payload: Buffer.from(frame.payload) };
    if (frame.type === 'hello' && 'rest' in frame) return { ...frame, rest: Buffer.from(frame.rest) };
    return { ...frame };
  });
}

/** Cuts `bytes` at the given points (any numbers; taken modulo the length, sorted, duplicates kept). */
export function splitAt(bytes: Buffer, points: readonly number[]): Buffer[] {
  const cuts = points.map((point) => (bytes.length === 0 ? 0 : point % (bytes.length + 1))).sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const cut of cuts) {
    chunks.push(bytes.subarray(start, cut));
    start = cut;
  }
  chunks.push(bytes.subarray(start));
  return chunks;
}

/** Copies each chunk into its own buffer, as a socket delivers them (no chunk shares memory with another). */
export function separateBuffers(chunks: readonly Buffer[]): Buffer[] {
  return chunks.map((chunk) => Buffer.from(chunk));
}

export function hex(text: string): Buffer {
  return Buffer.from(text.replaceAll(/\s+/g, ''), 'hex');
}

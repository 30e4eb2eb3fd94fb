import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import { FrameDecoder, decodeFrames, type FrameDecoderOptions } from '../../src/protocol/decoder.js';
import { ProtocolError } from '../../src/protocol/errors.js';
import { MaxFrameSizeLimits, encodeFrame, type Frame } from '../../src/protocol/frame.js';
import { repoPath } from '../helpers/paths.js';
import { anyFrameArb, hex, normalize, separateBuffers, splitAt } from './arbitraries.js';

/** The examples of docs/protocol.md, field by field: the doc must show these exact bytes, and they must decode so. */
const FIXTURES: { name: string; hex: string; frame: Frame }[] = [
  {
    name: 'HELLO, new session',
    hex: '00000012 01 01 00003a98 00100000 0000000000000000',
    frame: { type: 'hello', version: 1, sessionId: '', heartbeatIntervalMs: 15000, maxFrameSize: 1048576, lastReceivedSeq: 0 },
  },
  {
    name: 'HELLO, resuming session s-7f3a',
    hex: '00000018 01 01 00003a98 00100000 0000000000000029 732d37663361',
    frame: { type: 'hello', version: 1, sessionId: 's-7f3a', heartbeatIntervalMs: 15000, maxFrameSize: 1048576, lastReceivedSeq: 41 },
  },
  {
    name: 'HELLO of a future version 99',
    hex: '00000008 01 63 667574757265',
    frame: { type: 'hello', version: 99, rest: Buffer.from('future') },
  },
  {
    name: 'WELCOME',
    hex: '0000001c 02 01 00002710 00007530 00100000 0000000000000011 732d37663361',
    frame: {
      type: 'welcome',
      version: 1,
      sessionId: 's-7f3a',
      heartbeatIntervalMs: 10000,
      heartbeatTimeoutMs: 30000,
      maxFrameSize: 1048576,
      lastReceivedSeq: 17,
    },
  },
  { name: 'DATA', hex: '0000000c 03 000000000000002a 686921', frame: { type: 'data', seq: 42, payload: Buffer.from('hi!') } },
  { name: 'ACK', hex: '00000009 04 000000000000002a', frame: { type: 'ack', seq: 42 } },
  { name: 'PING', hex: '00000009 05 0102030405060708', frame: { type: 'ping', nonce: 0x0102030405060708n } },
  { name: 'PONG', hex: '00000009 06 0102030405060708', frame: { type: 'pong', nonce: 0x0102030405060708n } },
  {
    name: 'GOAWAY too_many_pings',
    hex: '00000011 07 0004 746f6f5f6d616e795f70696e6773',
    frame: { type: 'goaway', code: 4, reason: 'too_many_pings' },
  },
];

/** Bad streams, and the 1-based byte at which the decoder must notice, fed one byte at a time. */
const BAD_STREAMS: { name: string; hex: string; reason: string; atByte: number; options?: FrameDecoderOptions }[] = [
  { name: 'a 1 GiB length prefix', hex: '40000000 03 00', reason: 'frame-too-large', atByte: 4 },
  { name: 'the largest length prefix', hex: 'ffffffff', reason: 'frame-too-large', atByte: 4 },
  { name: 'one byte over maxFrameSize', hex: '00000401 03', reason: 'frame-too-large', atByte: 4, options: { maxFrameSize: 1024 } },
  { name: 'length 0', hex: '00000000 05', reason: 'bad-length', atByte: 4 },
  { name: 'type 0x00 (reserved)', hex: '00000009 00 0000000000000000', reason: 'unknown-type', atByte: 5 },
  { name: 'type 0x09', hex: '00000009 09 0000000000000000', reason: 'unknown-type', atByte: 5 },
  { name: 'a PING of 10 bytes', hex: '0000000a 05 000000000000000000', reason: 'bad-length', atByte: 5 },
  { name: 'an ACK of 4 bytes', hex: '00000005 04 00000000', reason: 'bad-length', atByte: 5 },
  { name: 'a DATA shorter than its sequence number', hex: '00000005 03 00000001', reason: 'bad-length', atByte: 5 },
  { name: 'a HELLO over 1024 bytes', hex: '00000401 01 01', reason: 'bad-length', atByte: 5 },
  { name: 'a GOAWAY reason over 512 bytes', hex: '00000204 07 0001', reason: 'bad-length', atByte: 5 },
  { name: 'DATA with seq 0', hex: '00000009 03 0000000000000000', reason: 'bad-payload', atByte: 13 },
  { name: 'DATA with seq 2^53', hex: '00000009 03 0020000000000000', reason: 'bad-payload', atByte: 13 },
  { name: 'ACK with seq 2^64-1', hex: '00000009 04 ffffffffffffffff', reason: 'bad-payload', atByte: 13 },
  { name: 'GOAWAY with a reason that is not UTF-8', hex: '00000004 07 0001 ff', reason: 'bad-payload', atByte: 8 },
  { name: 'HELLO v1 one byte short', hex: '00000011 01 01 00003a98 00100000 00000000000000', reason: 'bad-length', atByte: 21 },
  { name: 'HELLO v1 with a space in the session id', hex: '00000013 01 01 00003a98 00100000 0000000000000000 20', reason: 'bad-payload', atByte: 23 },
  { name: 'HELLO v1 announcing maxFrameSize 512', hex: '00000012 01 01 00003a98 00000200 0000000000000000', reason: 'bad-payload', atByte: 22 },
  { name: 'WELCOME in version 2', hex: '00000017 02 02 00002710 00007530 00100000 0000000000000011 73', reason: 'unsupported-version', atByte: 27 },
  { name: 'WELCOME without a session id', hex: '00000016 02 01 00002710 00007530 00100000 0000000000000011', reason: 'bad-length', atByte: 26 },
  { name: 'WELCOME with timeout = interval', hex: '00000017 02 01 00002710 00002710 00100000 0000000000000011 73', reason: 'bad-payload', atByte: 27 },
];

/** Feeds bytes one at a time; returns the frames and the 1-based byte at which the decoder threw, if it did. */
function feedByteByByte(bytes: Buffer, options?: FrameDecoderOptions) {
  const decoder = new FrameDecoder(options);
  const frames: Frame[] = [];
  for (let index = 0; index < bytes.length; index++) {
    try {
      frames.push(...decoder.push(bytes.subarray(index, index + 1)));
    } catch (error) {
      return { frames, error, atByte: index + 1, decoder };
    }
  }
  return { frames, error: undefined, atByte: undefined, decoder };
}

function assertProtocolError(error: unknown, reason: string): asserts error is ProtocolError {
  assert.ok(error instanceof ProtocolError, `expected a ProtocolError, got ${String(error)}`);
  assert.equal(error.code, 'ERR_LIFELINE_PROTOCOL');
  assert.equal(error.reason, reason, error.message);
}

test('decoder: every example of docs/protocol.md, fed byte by byte, decodes to its frame', () => {
  const doc = readFileSync(repoPath('docs', 'protocol.md'), 'utf8');
  for (const fixture of FIXTURES) {
    assert.ok(doc.includes(fixture.hex), `docs/protocol.md shows ${fixture.name} as ${fixture.hex}`);
    const bytes = hex(fixture.hex);
    const { frames, error, decoder } = feedByteByByte(bytes);
    assert.equal(error, undefined, fixture.name);
    assert.deepStrictEqual(normalize(frames), normalize([fixture.frame]), fixture.name);
    assert.equal(decoder.pendingBytes, 0);
    assert.deepStrictEqual(encodeFrame(fixture.frame), bytes, `${fixture.name} encodes to the documented bytes`);
  }
});

test('decoder: each kind of bad stream, fed byte by byte, fails at the first byte that proves it bad', () => {
  for (const bad of BAD_STREAMS) {
    const { frames, error, atByte } = feedByteByByte(hex(bad.hex), bad.options);
    assertProtocolError(error, bad.reason);
    assert.equal(atByte, bad.atByte, `${bad.name}: ${error.message}`);
    assert.deepStrictEqual(frames, [], bad.name);
    assert.equal(error.streamOffset, 0, bad.name);
  }
});

test('decoder: a 1 GiB length prefix is rejected as soon as its 4 bytes are in, before any allocation', () => {
  const decoder = new FrameDecoder();
  assert.deepStrictEqual(decoder.push(hex('400000')), []);
  assert.throws(() => decoder.push(hex('00 03 00000000')), (error: unknown) => {
    assertProtocolError(error, 'frame-too-large');
    assert.match(error.message, /length prefix 1073741824 exceeds maxFrameSize 1048576/);
    return true;
  });
  assert.equal(decoder.bufferedCapacity, 0);
  assert.equal(decoder.pendingBytes, 0);
});

test('decoder: an unknown type is rejected at its type byte, naming the type and where the frame starts', () => {
  const decoder = new FrameDecoder();
  const ping = encodeFrame({ type: 'ping', nonce: 7n });
  assert.throws(() => decoder.push(Buffer.concat([ping, hex('00000009 2a')])), (error: unknown) => {
    assertProtocolError(error, 'unknown-type');
    assert.equal(error.streamOffset, 13);
    assert.equal(error.frameType, null);
    assert.match(error.message, /unknown frame type 0x2a \(frame at byte 13 of the stream\)/);
    return true;
  });
});

test('decoder: a HELLO of version 99 decodes to a hello frame with version 99, so the server can answer GOAWAY', () => {
  const frames = decodeFrames(encodeFrame({ type: 'hello', version: 99, rest: Buffer.from('anything a future version sends') }));
  assert.equal(frames.length, 1);
  const [hello] = frames;
  assert.ok(hello?.type === 'hello' && 'rest' in hello);
  assert.equal(hello.version, 99);
  assert.equal(Buffer.from(hello.rest).toString(), 'anything a future version sends');
  // The largest HELLO any version may send (1024) decodes even at the smallest maxFrameSize.
  const largest = decodeFrames(Buffer.concat([hex('00000400 01 07'), Buffer.alloc(1022)]), { maxFrameSize: 1024 });
  assert.equal(largest[0]?.type === 'hello' && largest[0].version, 7);
});

test('decoder: after an error it stays failed, throwing the same error for every push and for end()', () => {
  const decoder = new FrameDecoder();
  let first: unknown;
  try {
    decoder.push(hex('00000009 09'));
  } catch (error) {
    first = error;
  }
  assertProtocolError(first, 'unknown-type');
  assert.equal(decoder.error, first);
  for (const chunk of [encodeFrame({ type: 'ack', seq: 1 }), Buffer.alloc(0), hex('00')]) {
    assert.throws(() => decoder.push(chunk), (error: unknown) => error === first);
  }
  assert.throws(() => decoder.end(), (error: unknown) => error === first);
});

test('decoder: end() inside a frame is truncated; at a frame boundary it is fine', () => {
  const ack = encodeFrame({ type: 'ack', seq: 5 });
  const complete = new FrameDecoder();
  complete.push(ack);
  complete.end();
  for (const [cut, type] of [[2, null], [4, null], [6, 'ack']] as const) {
    const decoder = new FrameDecoder();
    decoder.push(Buffer.concat([ack, ack.subarray(0, cut)]));
    assert.throws(() => decoder.end(), (error: unknown) => {
      assertProtocolError(error, 'truncated');
      assert.equal(error.streamOffset, 13);
      assert.equal(error.frameType, type);
      return true;
    });
    assert.throws(() => decoder.push(ack), { reason: 'truncated' });
  }
});

test('decoder: any split of a valid stream decodes to the same frames', () => {
  fc.assert(
    fc.property(fc.array(anyFrameArb, { maxLength: 20 }), fc.array(fc.nat(), { maxLength: 40 }), (frames, points) => {
      const stream = Buffer.concat(frames.map((frame) => encodeFrame(frame, { maxFrameSize: MaxFrameSizeLimits.MAX })));
      const decoder = new FrameDecoder({ maxFrameSize: MaxFrameSizeLimits.MAX });
      const decoded: Frame[] = [];
      for (const chunk of separateBuffers(splitAt(stream, points))) decoded.push(...decoder.push(chunk));
      decoder.end();
      assert.deepStrictEqual(normalize(decoded), normalize(frames));
      assert.equal(decoder.streamOffset, stream.length);
    }),
  );
});

test('decoder: a random stream fed byte by byte decodes to the same frames', () => {
  fc.assert(
    fc.property(fc.array(anyFrameArb, { maxLength: 5 }), (frames) => {
      const stream = Buffer.concat(frames.map((frame) => encodeFrame(frame, { maxFrameSize: MaxFrameSizeLimits.MAX })));
      const { frames: decoded, error } = feedByteByByte(stream, { maxFrameSize: MaxFrameSizeLimits.MAX });
      assert.equal(error, undefined);
      assert.deepStrictEqual(normalize(decoded), normalize(frames));
    }),
    { numRuns: 30 },
  );
});

test('decoder: many frames in one chunk all come out, in order', () => {
  const frames: Frame[] = Array.from({ length: 1000 }, (_, index) => ({ type: 'ack', seq: index }));
  const decoded = new FrameDecoder().push(Buffer.concat(frames.map((frame) => encodeFrame(frame))));
  assert.deepStrictEqual(decoded, frames);
});

test('decoder: a frame whole inside one chunk is not copied; one that straddles chunks is, into its own buffer', () => {
  const data = encodeFrame({ type: 'data', seq: 1, payload: Buffer.from('payload') });
  const chunk = Buffer.concat([data, data.subarray(0, 15)]);
  const decoder = new FrameDecoder();
  const [whole] = decoder.push(chunk);
  assert.ok(whole?.type === 'data');
  assert.equal(whole.payload.buffer, chunk.buffer, 'a view into the pushed chunk');
  assert.equal(whole.payload.byteOffset, chunk.byteOffset + 13);
  const rest = Buffer.from(data.subarray(15));
  const [straddling] = decoder.push(rest);
  assert.ok(straddling?.type === 'data');
  assert.equal(Buffer.from(straddling.payload).toString(), 'payload');
  chunk.fill(0);
  rest.fill(0);
  assert.equal(Buffer.from(straddling.payload).toString(), 'payload', 'survives the chunks being overwritten');
});

test('decoder: accepts plain Uint8Arrays as well as Buffers', () => {
  const bytes = encodeFrame({ type: 'ping', nonce: 1n });
  const view = new Uint8Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  assert.deepStrictEqual(new FrameDecoder().push(view), [{ type: 'ping', nonce: 1n }]);
});

test('decoder: buffering follows the bytes received, not the length announced', () => {
  const decoder = new FrameDecoder({ maxFrameSize: MaxFrameSizeLimits.MAX });
  const bodyLength = MaxFrameSizeLimits.MAX - 1;
  const header = Buffer.alloc(13);
  header.writeUInt32BE(MaxFrameSizeLimits.MAX, 0);
  header[4] = 0x03;
  header.writeUInt32BE(1, 9);
  decoder.push(Buffer.concat([header, Buffer.alloc(100)]));
  assert.equal(decoder.pendingBytes, 113);
  assert.equal(decoder.bufferedCapacity, 64 * 1024, 'a 16 MiB frame announced with 113 bytes sent holds 64 KiB');
  let frames: readonly Frame[] = [];
  for (let sent = 108; sent < bodyLength; sent += 1 << 20) {
    frames = decoder.push(Buffer.alloc(Math.min(1 << 20, bodyLength - sent), 1));
    // Twice what came in (at least 64 KiB), or the whole body once that is within a quarter of it.
    assert.ok(decoder.bufferedCapacity <= (4 / 3) * Math.max(2 * decoder.pendingBytes, 64 * 1024));
    assert.ok(decoder.bufferedCapacity <= bodyLength);
  }
  assert.equal(frames.length, 1);
  assert.equal(frames[0]?.type === 'data' && frames[0].payload.length, bodyLength - 8);
  assert.equal(decoder.bufferedCapacity, 0, 'released once the frame is out');
});

test('decoder: a 64 KiB payload arriving in 16 KiB reads is accumulated in one buffer of the body\'s exact size', () => {
  const frame = encodeFrame({ type: 'data', seq: 9, payload: Buffer.alloc(64 * 1024, 7) });
  const decoder = new FrameDecoder();
  const reads = splitAt(frame, [16384, 32768, 49152, 65536]);
  decoder.push(reads[0] ?? Buffer.alloc(0));
  assert.equal(decoder.bufferedCapacity, 8 + 64 * 1024, 'allocated once, not grown for the last 8 bytes');
  const frames = reads.slice(1).flatMap((chunk) => [...decoder.push(chunk)]);
  assert.equal(frames.length, 1);
  assert.ok(frames[0]?.type === 'data' && frames[0].payload.every((byte) => byte === 7));
});

/** Valid streams with bytes overwritten, truncated or spliced with noise: garbage that gets past the length. */
const garbageArb = fc.oneof(
  fc.uint8Array({ maxLength: 600 }),
  fc
    .tuple(
      fc.array(anyFrameArb, { maxLength: 6 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
      fc.uint8Array({ maxLength: 20 }),
    )
    .map(([frames, edits, tail]) => {
      const stream = Buffer.concat([...frames.map((frame) => encodeFrame(frame, { maxFrameSize: MaxFrameSizeLimits.MAX })), tail]);
      for (const [position, value] of edits) if (stream.length > 0) stream[position % stream.length] = value;
      return new Uint8Array(stream);
    }),
  fc
    .array(fc.tuple(fc.integer({ min: 0, max: 9 }), fc.uint8Array({ maxLength: 90 }), fc.integer({ min: -2, max: 2 })), { maxLength: 8 })
    .map((parts) =>
      new Uint8Array(
        Buffer.concat(
          parts.map(([type, body, skew]) => {
            const header = Buffer.alloc(5);
            header.writeUInt32BE(Math.max(0, body.length + 1 + skew), 0);
            header[4] = type;
            return Buffer.concat([header, body]);
          }),
        ),
      ),
    ),
);

test('decoder: garbage only ever yields frames or a ProtocolError, within maxFrameSize, and what it yields re-encodes to the bytes that came in', () => {
  for (const maxFrameSize of [MaxFrameSizeLimits.MIN, MaxFrameSizeLimits.DEFAULT]) {
    fc.assert(
      fc.property(garbageArb, fc.array(fc.nat(), { maxLength: 10 }), (garbage, points) => {
        const bytes = Buffer.from(garbage);
        const decoder = new FrameDecoder({ maxFrameSize });
        const decoded: Frame[] = [];
        let failure: unknown;
        for (const chunk of separateBuffers(splitAt(bytes, points))) {
          try {
            decoded.push(...decoder.push(chunk));
          } catch (error) {
            failure = error;
            break;
          } finally {
            assert.ok(decoder.pendingBytes <= maxFrameSize + 4, `pending ${decoder.pendingBytes}`);
            assert.ok(decoder.bufferedCapacity < maxFrameSize, `buffered ${decoder.bufferedCapacity}`);
          }
        }
        if (failure === undefined) {
          try {
            decoder.end();
          } catch (error) {
            failure = error;
          }
        }
        if (failure !== undefined) assert.ok(failure instanceof ProtocolError, `not a ProtocolError: ${String(failure)}`);
        const reencoded = Buffer.concat(decoded.map((frame) => encodeFrame(frame, { maxFrameSize })));
        for (const frame of reencoded.length > 0 ? decoded : []) {
          assert.ok(encodeFrame(frame, { maxFrameSize }).length <= maxFrameSize + 4);
        }
        assert.deepStrictEqual(reencoded, bytes.subarray(0, reencoded.length), 'canonical: the frames are exactly the bytes received');
        if (failure === undefined) assert.equal(reencoded.length, bytes.length);
      }),
      { numRuns: 300 },
    );
  }
});

test('decoder: options are checked; an unknown key is refused with a hint', () => {
  assert.throws(() => new FrameDecoder({ maxframesize: 2048 } as FrameDecoderOptions), {
    code: 'ERR_LIFELINE_INVALID_OPTION',
    message: /invalid option maxframesize: 2048; allowed: one of maxFrameSize \(did you mean maxFrameSize\?\)/,
  });
  assert.throws(() => new FrameDecoder({ maxFrameSize: 1023 }), { code: 'ERR_LIFELINE_INVALID_OPTION', message: /1024 to 16777216/ });
  assert.equal(new FrameDecoder().maxFrameSize, 1024 * 1024);
  assert.equal(new FrameDecoder({ maxFrameSize: undefined as unknown as number }).maxFrameSize, 1024 * 1024);
  assert.throws(() => new FrameDecoder().push('00000009' as unknown as Uint8Array), { code: 'ERR_LIFELINE_INVALID_OPTION' });
});

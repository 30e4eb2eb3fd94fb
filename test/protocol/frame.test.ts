import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { decodeFrames } from '../../src/protocol/decoder.js';
import { ProtocolError } from '../../src/protocol/errors.js';
import {
  DATA_FRAME_OVERHEAD,
  DEFAULT_MAX_FRAME_SIZE,
  MaxFrameSizeLimits,
  encodeDataHeader,
  encodeFrame,
  encodeFrameInto,
  encodedSize,
  isSupportedHello,
  maxDataPayload,
  type Frame,
} from '../../src/protocol/frame.js';
import { GoAwayCodes, goAwayCodeFor, goAwayCodeName } from '../../src/protocol/goaway.js';
import { anyFrameArb, frameArbs, normalize } from './arbitraries.js';

const rejects = (reason: string) => (error: unknown) => {
  assert.ok(error instanceof ProtocolError, `expected a ProtocolError, got ${String(error)}`);
  assert.equal(error.code, 'ERR_LIFELINE_PROTOCOL');
  assert.equal(error.reason, reason, error.message);
  return true;
};

for (const [name, arbitrary] of Object.entries(frameArbs)) {
  test(`frame: every ${name} frame decodes back to itself`, () => {
    fc.assert(
      fc.property(arbitrary, (frame: Frame) => {
        const bytes = encodeFrame(frame, { maxFrameSize: MaxFrameSizeLimits.MAX });
        assert.equal(bytes.length, encodedSize(frame, { maxFrameSize: MaxFrameSizeLimits.MAX }));
        assert.equal(bytes.readUInt32BE(0), bytes.length - 4, 'the length prefix counts what follows it');
        assert.deepStrictEqual(normalize(decodeFrames(bytes)), normalize([frame]));
      }),
    );
  });
}

test('frame: encodeFrameInto packs several frames into one buffer, byte for byte as encodeFrame', () => {
  fc.assert(
    fc.property(fc.array(anyFrameArb, { maxLength: 8 }), fc.nat({ max: 16 }), (frames, lead) => {
      const parts = frames.map((frame) => encodeFrame(frame));
      const target = Buffer.alloc(lead + parts.reduce((sum, part) => sum + part.length, 0));
      let offset = lead;
      for (const frame of frames) offset = encodeFrameInto(frame, target, offset);
      assert.equal(offset, target.length);
      assert.deepStrictEqual(target.subarray(lead), Buffer.concat(parts));
    }),
  );
});

test('frame: encodeFrameInto refuses a target too small and writes nothing', () => {
  const target = Buffer.alloc(12, 0xaa);
  assert.throws(() => encodeFrameInto({ type: 'ack', seq: 1 }, target, 0), rejects('invalid-frame'));
  assert.throws(() => encodeFrameInto({ type: 'ack', seq: 1 }, Buffer.alloc(20), -1), rejects('invalid-frame'));
  assert.ok(target.every((byte) => byte === 0xaa));
});

test('frame: encodeDataHeader followed by the payload is the DATA frame', () => {
  fc.assert(
    fc.property(frameArbs.data, (frame) => {
      const header = encodeDataHeader(frame.seq, frame.payload.length);
      assert.equal(header.length, DATA_FRAME_OVERHEAD);
      assert.deepStrictEqual(Buffer.concat([header, frame.payload]), encodeFrame(frame));
    }),
  );
});

test('frame: a DATA payload over the receiver\'s maxFrameSize is frame-too-large, the largest that fits is fine', () => {
  const largest = maxDataPayload();
  assert.equal(largest, DEFAULT_MAX_FRAME_SIZE - 9);
  assert.equal(encodeFrame({ type: 'data', seq: 1, payload: new Uint8Array(largest) }).length, DEFAULT_MAX_FRAME_SIZE + 4);
  assert.throws(() => encodeFrame({ type: 'data', seq: 1, payload: new Uint8Array(largest + 1) }), rejects('frame-too-large'));
  assert.throws(() => encodeDataHeader(1, largest + 1), rejects('frame-too-large'));
  assert.throws(() => encodeFrame({ type: 'data', seq: 1, payload: new Uint8Array(2000) }, { maxFrameSize: 1024 }), {
    reason: 'frame-too-large',
    message: /exceeds the receiver's maxFrameSize 1024 \(at most 1015 payload bytes\)/,
  });
});

test('frame: a maxFrameSize option outside 1024 to 16 MiB is an invalid option, not a clamp', () => {
  for (const maxFrameSize of [0, 1023, 16 * 1024 * 1024 + 1, 1.5, Number.NaN]) {
    assert.throws(() => encodeFrame({ type: 'ack', seq: 1 }, { maxFrameSize }), { code: 'ERR_LIFELINE_INVALID_OPTION', message: /maxFrameSize/ });
  }
  assert.throws(() => maxDataPayload(100), { code: 'ERR_LIFELINE_INVALID_OPTION' });
});

test('frame: fields out of range are invalid-frame, naming the field', () => {
  const hello = { type: 'hello', version: 1, sessionId: '', heartbeatIntervalMs: 1000, maxFrameSize: 1 << 20, lastReceivedSeq: 0 } as const;
  const welcome = { ...hello, type: 'welcome', sessionId: 's1', heartbeatTimeoutMs: 3000 } as const;
  const cases: [unknown, RegExp][] = [
    [{ type: 'data', seq: 0, payload: new Uint8Array() }, /seq must be an integer from 1/],
    [{ type: 'data', seq: 2 ** 53, payload: new Uint8Array() }, /seq/],
    [{ type: 'data', seq: 1.5, payload: new Uint8Array() }, /seq/],
    [{ type: 'data', seq: 1, payload: 'text' }, /payload must be a Uint8Array/],
    [{ type: 'ack', seq: -1 }, /seq must be an integer from 0/],
    [{ type: 'ping', nonce: 1 }, /nonce must be a bigint/],
    [{ type: 'pong', nonce: 2n ** 64n }, /nonce/],
    [{ type: 'goaway', code: 65536, reason: '' }, /code must be an integer from 0 to 65535/],
    [{ type: 'goaway', code: 1, reason: '\ud800' }, /lone surrogates/],
    [{ type: 'goaway', code: 1, reason: 'x'.repeat(513) }, /513 bytes of UTF-8; at most 512/],
    [{ ...hello, sessionId: 'has space' }, /visible ASCII/],
    [{ ...hello, sessionId: 'é' }, /visible ASCII/],
    [{ ...hello, sessionId: 'x'.repeat(65) }, /sessionId must be a string of 0 to 64/],
    [{ ...hello, heartbeatIntervalMs: 2 ** 32 }, /heartbeatIntervalMs/],
    [{ ...hello, maxFrameSize: 512 }, /maxFrameSize must be an integer from 1024/],
    [{ ...hello, lastReceivedSeq: -1 }, /lastReceivedSeq/],
    [{ ...hello, version: 2 }, /version must be 1/],
    [{ type: 'hello', version: 1, rest: new Uint8Array() }, /version must be 0 to 255 and not 1/],
    [{ type: 'hello', version: 2, rest: new Uint8Array(1023) }, /at most 1024 bytes/],
    [{ ...welcome, sessionId: '' }, /sessionId must be a string of 1 to 64/],
    [{ ...welcome, heartbeatIntervalMs: 0 }, /heartbeatIntervalMs must be an integer from 1/],
    [{ ...welcome, heartbeatTimeoutMs: 1000 }, /heartbeatTimeoutMs must be an integer from 1001/],
    [{ type: 'nope' }, /unknown frame type "nope"/],
    [null, /a frame must be an object/],
  ];
  for (const [frame, message] of cases) {
    assert.throws(() => encodeFrame(frame as Frame), (error: unknown) => rejects('invalid-frame')(error) && message.test((error as Error).message), JSON.stringify(frame, (_, value: unknown) => (typeof value === 'bigint' ? `${value}n` : value)));
  }
});

test('frame: the encoding of a ping fixes the nonce big-endian, of a goaway the reason as UTF-8', () => {
  assert.equal(encodeFrame({ type: 'ping', nonce: 0x0102030405060708n }).toString('hex'), '00000009050102030405060708');
  assert.equal(encodeFrame({ type: 'goaway', code: 6, reason: 'déjà' }).toString('hex'), '0000000907000664c3a96ac3a0');
});

test('frame: isSupportedHello tells a hello this side speaks from one it can only refuse', () => {
  const [supported] = decodeFrames(encodeFrame({ type: 'hello', version: 1, sessionId: '', heartbeatIntervalMs: 0, maxFrameSize: 1024, lastReceivedSeq: 0 }));
  const [future] = decodeFrames(encodeFrame({ type: 'hello', version: 2, rest: new Uint8Array([1, 2, 3]) }));
  assert.ok(supported?.type === 'hello' && isSupportedHello(supported));
  assert.ok(future?.type === 'hello' && !isSupportedHello(future));
});

test('goaway: the code table is stable (the numbers are on the wire)', () => {
  assert.deepStrictEqual(
    Object.entries(GoAwayCodes).map(([name, code]) => `${code} ${goAwayCodeName(code)} ${name}`),
    [
      '0 normal NORMAL',
      '1 protocol_error PROTOCOL_ERROR',
      '2 unsupported_version UNSUPPORTED_VERSION',
      '3 handshake_timeout HANDSHAKE_TIMEOUT',
      '4 too_many_pings TOO_MANY_PINGS',
      '5 session_gone SESSION_GONE',
      '6 shutting_down SHUTTING_DOWN',
      '7 frame_too_large FRAME_TOO_LARGE',
      '8 heartbeat_timeout HEARTBEAT_TIMEOUT',
    ],
  );
  assert.equal(goAwayCodeName(9), undefined);
});

test('goaway: a decoding error maps to the code to answer it with', () => {
  const codeFor = (bytes: string) => {
    try {
      decodeFrames(Buffer.from(bytes, 'hex'), { maxFrameSize: 1024 });
    } catch (error) {
      return goAwayCodeFor(error as ProtocolError);
    }
    throw new Error('expected a ProtocolError');
  };
  assert.equal(codeFor('00000401'), GoAwayCodes.FRAME_TOO_LARGE);
  assert.equal(codeFor('000000160202' + '00'.repeat(20)), GoAwayCodes.UNSUPPORTED_VERSION);
  assert.equal(codeFor('0000000109'), GoAwayCodes.PROTOCOL_ERROR);
});

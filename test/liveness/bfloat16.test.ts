import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { fromBfloat16, toBfloat16 } from '../../src/liveness/bfloat16.js';

test('bfloat16: NaN, infinities, zero and small integers survive the round trip', () => {
  assert.ok(Number.isNaN(fromBfloat16(toBfloat16(NaN))));
  for (const value of [0, 1, 2, 50, 100, 255, 256, 1000, Infinity, -Infinity, 0.5, 0.25]) {
    assert.equal(fromBfloat16(toBfloat16(value)), value, String(value));
  }
  assert.ok(toBfloat16(NaN) <= 0xffff);
});

test('bfloat16: rounds to the nearest, ties to even (3000 is halfway between 2992 and 3008)', () => {
  assert.equal(fromBfloat16(toBfloat16(3000)), 3008);
  assert.equal(fromBfloat16(toBfloat16(2993)), 2992);
  assert.equal(fromBfloat16(toBfloat16(3001)), 3008);
  assert.equal(fromBfloat16(toBfloat16(2984)), 2976, 'halfway again: to the even neighbour');
});

test('bfloat16: any RTT from 1 us to a day is kept within 2^-8 and stored in 16 bits', () => {
  fc.assert(
    fc.property(fc.double({ min: 0.001, max: 86_400_000, noNaN: true }), (value) => {
      const stored = toBfloat16(value);
      assert.ok(Number.isInteger(stored) && stored >= 0 && stored <= 0xffff);
      assert.ok(Math.abs(fromBfloat16(stored) - value) <= value * 2 ** -8, `${value} -> ${fromBfloat16(stored)}`);
    }),
    { numRuns: 2000 },
  );
});

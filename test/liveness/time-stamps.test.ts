import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { MAX_HEARTBEAT_DURATION_MS } from '../../src/liveness/heartbeat-options.js';
import { ageOf, rangeMs, stampOf, unitsPerMsFor } from '../../src/liveness/time-stamps.js';

/** Stores a stamp the way the engine does: in a Uint32Array, which keeps it modulo 2^32. */
function stored(stamp: number): number {
  return new Uint32Array([stamp])[0]!;
}

test('time stamps: the range is at least four times maxSilence, in units of about 1 us up to 17 minutes', () => {
  for (const maxSilence of [20, 1_000, 15_000, 60_000, 1_048_576, 3_600_000, 86_400_000, MAX_HEARTBEAT_DURATION_MS]) {
    const unitsPerMs = unitsPerMsFor(maxSilence);
    assert.ok(rangeMs(unitsPerMs) >= 4 * maxSilence, `maxSilence ${maxSilence}: range ${rangeMs(unitsPerMs)}`);
    if (maxSilence <= 1_048_576) assert.equal(unitsPerMs, 1024, `maxSilence ${maxSilence}`);
  }
  assert.ok(1 / unitsPerMsFor(MAX_HEARTBEAT_DURATION_MS) <= 2, 'at the largest maxSilence a unit is at most 2 ms');
});

test('time stamps: an age reads back never longer than it is and at most one unit shorter, across wraps', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 20, max: MAX_HEARTBEAT_DURATION_MS }),
      // Epochs like performance.now() and like Date.now(); clocks that have run for years past the epoch.
      fc.oneof(fc.double({ min: 0, max: 1e7, noNaN: true }), fc.double({ min: 1.6e12, max: 1.8e12, noNaN: true })),
      fc.double({ min: 0, max: 3e10, noNaN: true }),
      fc.double({ min: 0, max: 0.5, noNaN: true }),
      (maxSilence, epoch, since, share) => {
        const unitsPerMs = unitsPerMsFor(maxSilence);
        const taken = epoch + since;
        const now = taken + share * rangeMs(unitsPerMs);
        const age = now - taken;
        const read = ageOf(stored(stampOf(taken, epoch, unitsPerMs)), now, epoch, unitsPerMs);
        const unit = 1 / unitsPerMs;
        // Float rounding of (now - epoch) x unitsPerMs: a few ulps, 3 % of a unit (about 30 ns) after a year.
        const slack = 8 * Number.EPSILON * (now - epoch + rangeMs(unitsPerMs));
        assert.ok(read <= age + slack, `read ${read} > age ${age}`);
        assert.ok(read >= age - unit - slack, `read ${read} < age ${age} - unit ${unit}`);
        assert.ok(read >= 0);
      },
    ),
    { numRuns: 3000 },
  );
});

test('time stamps: a stamp taken in the present unit, even one rounded up past a wrap, reads as no age at all', () => {
  const unitsPerMs = 1024;
  const wrap = 2 ** 32 / unitsPerMs;
  for (const now of [0, 0.0001, wrap - 0.0001, wrap, 3 * wrap + 0.0003]) {
    assert.equal(ageOf(stored(stampOf(now, 0, unitsPerMs)), now, 0, unitsPerMs), 0, String(now));
  }
  // A clock behind its epoch (a manual clock set back) still reads ages right.
  assert.equal(ageOf(stored(stampOf(-10, 0, unitsPerMs)), -4, 0, unitsPerMs), 6);
});

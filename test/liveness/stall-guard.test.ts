import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StallGuard } from '../../src/liveness/stall-guard.js';

test('stall-guard: lateness below the threshold is ordinary; at or above it, a stall whose end taints older evidence', () => {
  const guard = new StallGuard(500);
  assert.equal(guard.observeTimer(1000, 1499), null);
  assert.equal(guard.lastStallEndedAt, -Infinity);
  assert.equal(guard.taints(0), false);
  assert.deepEqual(guard.observeTimer(1000, 3000), { stalledMs: 2000, endedAt: 3000, source: 'timer' });
  assert.equal(guard.taints(2999), true, 'a ping sent before the stall ended');
  assert.equal(guard.taints(3000), false, 'a ping sent after it');
  assert.deepEqual(guard.observe(700, 5000, 'loop-delay'), { stalledMs: 700, endedAt: 5000, source: 'loop-delay' });
  assert.equal(guard.observe(NaN, 6000, 'loop-delay'), null);
  assert.equal(guard.stalls, 2);
  assert.equal(guard.longestStallMs, 2000);
  assert.equal(guard.lastStallEndedAt, 5000);
  assert.throws(() => new StallGuard(0), RangeError);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../src/index.js';

test('clock: a manual clock fires timers in deadline order, each at its own time', () => {
  const clock = new ManualClock(100);
  const fired: [string, number][] = [];
  clock.setTimeout(() => fired.push(['b', clock.now()]), 20);
  clock.setTimeout(() => {
    fired.push(['a', clock.now()]);
    clock.setTimeout(() => fired.push(['c', clock.now()]), 5);
  }, 10);
  const cancelled = clock.setTimeout(() => fired.push(['x', clock.now()]), 15);
  clock.clearTimeout(cancelled);
  clock.advance(30);
  assert.deepEqual(fired, [['a', 110], ['c', 115], ['b', 120]]);
  assert.equal(clock.now(), 130);
  assert.equal(clock.pending, 0);
});

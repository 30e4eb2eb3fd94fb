import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { ManualClock, type Clock } from '../../src/clock.js';
import { DeadlineHeap, type DeadlineHeapOptions } from '../../src/liveness/deadline-heap.js';
import { StallingClock } from '../helpers/stalling-clock.js';

type Expired = { entry: number; tag: number; at: number }[];

function heapOn(clock: Clock, options: Partial<DeadlineHeapOptions> = {}) {
  const expired: Expired = [];
  const heap = new DeadlineHeap({
    clock,
    sliceSize: 1024,
    onExpire: (entry, tag) => {
      expired.push({ entry, tag, at: clock.now() });
      return 1;
    },
    ...options,
  });
  return { heap, expired };
}

describe('DeadlineHeap', () => {
  test('deadline heap: each entry expires at its exact deadline, earliest first, with its tag', () => {
    const clock = new ManualClock(1000);
    const { heap, expired } = heapOn(clock);
    heap.push(1, 7, 1250.5);
    heap.push(2, 8, 1100);
    heap.push(3, 0xffff_ffff, 1100.25);
    assert.equal(heap.size, 3);
    assert.equal(heap.nextDeadline, 1100);
    assert.equal(clock.pending, 1, 'one clock timer for all of them');
    clock.advance(1000);
    assert.deepEqual(expired, [
      { entry: 2, tag: 8, at: 1100 },
      { entry: 3, tag: 0xffff_ffff, at: 1100.25 },
      { entry: 1, tag: 7, at: 1250.5 },
    ]);
    assert.equal(heap.size, 0);
    assert.equal(heap.armed, false);
    assert.equal(clock.pending, 0, 'no timer while nothing waits');
  });

  test('deadline heap: an earlier push re-arms the timer; a deadline already past expires at once', () => {
    const clock = new ManualClock();
    const { heap, expired } = heapOn(clock);
    heap.push(1, 0, 500);
    heap.push(2, 0, 200);
    assert.equal(clock.pending, 1);
    clock.advance(300);
    heap.push(3, 0, 10);
    clock.advance(0);
    clock.advance(1000);
    assert.deepEqual(expired.map(({ entry, at }) => [entry, at]), [[2, 200], [3, 300], [1, 500]]);
  });

  test('deadline heap: onExpire may push again, also for the same moment (the next run takes it)', () => {
    const clock = new ManualClock();
    const seen: number[] = [];
    const heap: DeadlineHeap = new DeadlineHeap({
      clock,
      sliceSize: 1024,
      onExpire: (entry) => {
        seen.push(clock.now());
        if (entry < 3) heap.push(entry + 1, 0, entry === 0 ? clock.now() : clock.now() + 10);
        return 1;
      },
    });
    heap.push(0, 0, 100);
    clock.advance(1000);
    assert.deepEqual(seen, [100, 100, 110, 120]);
  });

  test('deadline heap: a run takes at most sliceSize steps, and a run that did I/O yields after sliceMs', () => {
    const clock = new ManualClock();
    const runs: number[] = [];
    let thisRun = 0;
    const heap = new DeadlineHeap({
      clock,
      sliceSize: 64,
      onTimer: () => {
        if (thisRun) runs.push(thisRun);
        thisRun = 0;
      },
      onExpire: (entry) => {
        thisRun++;
        return entry % 2 === 0 ? 16 : 1;
      },
    });
    for (let entry = 0; entry < 200; entry++) heap.push(entry, 0, 100);
    clock.advance(1000);
    runs.push(thisRun);
    assert.equal(runs.reduce((a, b) => a + b, 0), 200);
    assert.ok(Math.max(...runs) <= 8, `expiries per run: ${runs.join(' ')}`);

    const stalling = new StallingClock();
    const slowRuns: number[] = [];
    const slow = new DeadlineHeap({
      clock: stalling,
      sliceSize: 1024,
      sliceMs: 5,
      onTimer: () => slowRuns.push(0),
      onExpire: (entry) => {
        slowRuns[slowRuns.length - 1]!++;
        if (entry < 10) return 1; // looked only: the clock is not read
        stalling.block(2);
        return 16;
      },
    });
    for (let entry = 0; entry < 20; entry++) slow.push(entry, 0, entry < 10 ? 100 : 100.5);
    stalling.advance(1000);
    assert.deepEqual(slowRuns, [10, 3, 3, 3, 1], 'ten that only looked; then runs of three that took 2 ms each');
  });

  test('deadline heap: the timer reports when it was meant to run and when it did', () => {
    const clock = new StallingClock();
    const timers: [number, number][] = [];
    const { heap } = heapOn(clock, { onTimer: (expectedAt, firedAt) => timers.push([expectedAt, firedAt]) });
    heap.push(1, 0, 100);
    clock.stall(300);
    assert.deepEqual(timers, [[100, 300]]);
  });

  test('deadline heap: a callback that throws loses nothing; clear() forgets all and releases the timer', () => {
    const clock = new ManualClock();
    let throwOnce = true;
    const seen: number[] = [];
    const heap = new DeadlineHeap({
      clock,
      sliceSize: 1024,
      onExpire: (entry) => {
        seen.push(entry);
        if (throwOnce) {
          throwOnce = false;
          throw new Error('listener');
        }
        return 1;
      },
    });
    heap.push(1, 0, 100);
    heap.push(2, 0, 100);
    assert.throws(() => clock.advance(100), /listener/);
    clock.advance(100);
    assert.deepEqual(seen, [1, 2]);
    for (let entry = 0; entry < 5000; entry++) heap.push(entry, 0, 1000 + entry);
    heap.clear();
    assert.equal(heap.size, 0);
    assert.equal(heap.armed, false);
    assert.equal(clock.pending, 0);
    clock.advance(10_000);
    assert.deepEqual(seen, [1, 2]);
  });

  test('deadline heap: rejects bad entries, deadlines and options', () => {
    const clock = new ManualClock();
    const { heap } = heapOn(clock);
    for (const entry of [-1, 1.5, NaN, 2 ** 31]) assert.throws(() => heap.push(entry, 0, 1), RangeError);
    assert.throws(() => heap.push(1, 0, NaN), RangeError);
    assert.throws(() => new DeadlineHeap({ clock, sliceSize: 0, onExpire: () => 1 }), { code: 'ERR_LIFELINE_INVALID_OPTION', message: /sliceSize/ });
    assert.throws(() => new DeadlineHeap({ clock, sliceSize: 1, sliceMs: 0, onExpire: () => 1 }), { code: 'ERR_LIFELINE_INVALID_OPTION', message: /sliceMs/ });
  });

  test('deadline heap: matches a sorted list under any pushes and advances', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({ push: fc.double({ min: -100, max: 10_000, noNaN: true }) }),
            fc.record({ advance: fc.double({ min: 0, max: 3_000, noNaN: true }) }),
          ),
          { maxLength: 200 },
        ),
        (steps) => {
          const clock = new ManualClock(500);
          const { heap, expired } = heapOn(clock);
          const deadlines: number[] = [];
          for (const step of steps) {
            if ('push' in step) {
              heap.push(deadlines.length, 0, step.push);
              deadlines.push(Math.max(step.push, clock.now()));
            } else clock.advance(step.advance);
          }
          clock.advance(20_000);
          assert.equal(expired.length, deadlines.length);
          let previous = -Infinity;
          for (const { entry, at } of expired) {
            assert.equal(at, deadlines[entry], `entry ${entry} expired at ${at}, deadline ${deadlines[entry]}`);
            assert.ok(at >= previous, 'in deadline order');
            previous = at;
          }
          assert.equal(clock.pending, 0);
        },
      ),
      { numRuns: 300 },
    );
  });
});

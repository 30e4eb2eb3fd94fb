import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { ManualClock, type Clock, type ClockTimer } from '../../src/clock.js';
import { TimingWheel, type TimingWheelOptions } from '../../src/liveness/wheel.js';
import { StallingClock } from '../helpers/stalling-clock.js';

type Fired = { entry: number; at: number }[];

function wheelOn(clock: Clock & { now(): number }, options: Partial<TimingWheelOptions> = {}) {
  const fired: Fired = [];
  const wheel = new TimingWheel({
    clock,
    tickMs: 100,
    buckets: 8,
    sliceSize: 1024,
    onExpire: (entry) => fired.push({ entry, at: clock.now() }),
    ...options,
  });
  return { wheel, fired };
}

/** A clock on `manual` that shows `onArm` the delay of every timer before arming it; `now` may run ahead of it. */
function watchedClock(manual: ManualClock, onArm: (ms: number) => void, now = () => manual.now()): Clock {
  return {
    now,
    setTimeout: (callback: () => void, ms: number): ClockTimer => {
      onArm(ms);
      return manual.setTimeout(callback, ms);
    },
    clearTimeout: (timer) => manual.clearTimeout(timer),
  };
}

/** Every entry fired exactly once, never before its deadline (start + its offset), and `inTime` by the test's bound. */
function assertEachFiredOnce(fired: Fired, deadlines: number[], start: number, inTime: (at: number, deadline: number) => boolean): void {
  assert.equal(fired.length, deadlines.length);
  assert.equal(new Set(fired.map(({ entry }) => entry)).size, deadlines.length, 'an entry fired twice');
  for (const { entry, at } of fired) {
    const deadline = start + deadlines[entry]!;
    assert.ok(at >= deadline, `entry ${entry} fired early: ${at} < ${deadline}`);
    assert.ok(inTime(at, deadline), `entry ${entry} fired late: ${at} for ${deadline}`);
  }
}

describe('TimingWheel', () => {
  test('wheel: expires each entry at the first tick end at or after its deadline, never early', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 500 }),
        fc.constantFrom(1, 2, 8, 64),
        fc.array(fc.integer({ min: 0, max: 20_000 }), { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 0, max: 1000 }),
        fc.oneof(fc.constant(0), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true })),
        (tickMs, buckets, deadlines, start, phase) => {
          const clock = new ManualClock(start);
          const { wheel, fired } = wheelOn(clock, { tickMs, buckets, phase });
          deadlines.forEach((deadline, entry) => wheel.schedule(entry, start + deadline));
          clock.advance(20_000 + 2 * tickMs);
          assertEachFiredOnce(fired, deadlines, start, (at, deadline) => at < deadline + tickMs || (deadline <= start && at <= start + tickMs));
          assert.equal(wheel.size, 0);
          assert.equal(clock.pending, 0);
        },
      ),
    );
  });

  test('wheel: fractional origins and ticks: never early, at most a tick late, and the timer always moves on', () => {
    // An origin of 5.6e-17 with 1 ms ticks once made (1 - origin) / 1 round below 1: the timer armed for a tick's end
    // found the tick not over and armed itself for the same moment again, for ever (a manual clock never moved on).
    fc.assert(
      fc.property(
        fc.oneof(fc.constant(5.551115123125784e-17), fc.double({ min: 0, max: 1e6, noNaN: true })),
        fc.oneof(fc.constant(1), fc.double({ min: 0.1, max: 500, noNaN: true })),
        fc.array(fc.double({ min: 0, max: 2_000, noNaN: true }), { minLength: 1, maxLength: 40 }),
        (start, tickMs, deadlines) => {
          const clock = new ManualClock(start);
          // The wheel runs its timer once per tick while entries wait, never twice for the same tick.
          const ticks = Math.ceil(2_000 / tickMs) + 2;
          let timers = 0;
          const counting = watchedClock(clock, () => {
            if (++timers > 2 * ticks + 2) throw new Error(`the wheel keeps arming its timer at ${clock.now()} without time moving on`);
          });
          const { wheel, fired } = wheelOn(counting, { tickMs, buckets: 64 });
          deadlines.forEach((deadline, entry) => wheel.schedule(entry, start + deadline));
          clock.advance(2_000 + 2 * tickMs);
          assertEachFiredOnce(fired, deadlines, start, (at, deadline) => at <= Math.max(deadline, start) + tickMs * (1 + 1e-9));
        },
      ),
      { numRuns: 300 },
    );
  });

  test('wheel: phase moves the tick grid: ticks end (k + 1 - phase) ticks after construction', () => {
    const clock = new ManualClock(1_000);
    const { wheel, fired } = wheelOn(clock, { tickMs: 100, phase: 0.25 });
    // Tick ends at 1075, 1175, 1275, ...: each entry expires at the first one at or after its deadline.
    const deadlines = [1_000, 1_050, 1_075, 1_076, 1_175, 1_300];
    deadlines.forEach((deadline, entry) => wheel.schedule(entry, deadline));
    assert.equal(wheel.expiryFor(1_076), 1_175);
    clock.advance(400);
    assert.deepEqual(fired, [1_075, 1_075, 1_075, 1_175, 1_175, 1_375].map((at, entry) => ({ entry, at })));
  });

  test('wheel: phase must lie in [0, 1)', () => {
    const clock = new ManualClock();
    for (const phase of [1, -0.1, Number.NaN, Infinity, '0.5']) {
      assert.throws(() => wheelOn(clock, { phase: phase as number }), (error: Error) => error.message.includes('invalid option phase'), String(phase));
    }
    assert.doesNotThrow(() => wheelOn(clock, { phase: 0.999 }));
  });

  test('wheel: one clock timer for the whole wheel, armed only while entries wait', () => {
    const clock = new ManualClock();
    const { wheel } = wheelOn(clock);
    assert.equal(clock.pending, 0);
    for (let entry = 0; entry < 100; entry++) wheel.schedule(entry, 50 + entry * 37);
    assert.equal(clock.pending, 1);
    assert.equal(wheel.armed, true);
    clock.advance(1000);
    assert.equal(clock.pending, 1);
    for (let entry = 0; entry < 100; entry++) wheel.cancel(entry);
    assert.equal(wheel.size, 0);
    assert.equal(clock.pending, 0, 'the last cancel releases the timer');
    assert.equal(wheel.armed, false);
    wheel.schedule(7, 10_000);
    assert.equal(clock.pending, 1);
    clock.advance(20_000);
    assert.equal(clock.pending, 0, 'the last expiry releases the timer');
  });

  test('wheel: moving and cancelling entries: moved ones fire at their new deadline, cancelled ones never', () => {
    const clock = new ManualClock();
    const { wheel, fired } = wheelOn(clock);
    wheel.schedule(1, 500);
    wheel.schedule(2, 500);
    wheel.schedule(3, 500);
    wheel.schedule(2, 1200);
    assert.equal(wheel.cancel(3), true);
    assert.equal(wheel.cancel(3), false);
    assert.equal(wheel.size, 2);
    assert.equal(wheel.expiresAt(2), 1200);
    assert.equal(wheel.expiresAt(3), undefined);
    clock.advance(2000);
    assert.deepEqual(fired, [{ entry: 1, at: 500 }, { entry: 2, at: 1200 }]);
  });

  test('wheel: a deadline several revolutions away waits for its round', () => {
    const clock = new ManualClock();
    const { wheel, fired } = wheelOn(clock, { buckets: 4, tickMs: 10 });
    wheel.schedule(0, 1005); // 4 buckets x 10 ms = 40 ms a revolution: 25 rounds
    wheel.schedule(1, 15);
    clock.advance(1000);
    assert.deepEqual(fired, [{ entry: 1, at: 20 }]);
    clock.advance(100);
    assert.deepEqual(fired[1], { entry: 0, at: 1010 });
  });

  test('wheel: an entry scheduled first expires before those appended to its tick, also when moved', () => {
    const clock = new ManualClock();
    const { wheel, fired } = wheelOn(clock);
    for (let entry = 0; entry < 4; entry++) wheel.schedule(entry, 100);
    wheel.schedule(4, 100, true);
    wheel.schedule(5, 150, true); // due at the end of tick 2 (200)
    wheel.schedule(2, 200, true); // moved to tick 2, first there: before 5 (the last put first leads)
    wheel.schedule(6, 200);
    clock.advance(200);
    assert.deepEqual(fired.map(({ entry }) => entry), [4, 0, 1, 3, 2, 5, 6]);
  });

  test('wheel: a deadline already past expires on the next tick', () => {
    const clock = new ManualClock(1000);
    const { wheel, fired } = wheelOn(clock);
    clock.advance(250);
    wheel.schedule(0, 0);
    clock.advance(1000);
    assert.deepEqual(fired, [{ entry: 0, at: 1300 }]);
  });

  test('wheel: expiryFor tells when an entry scheduled now would expire, as schedule files it', () => {
    const clock = new ManualClock(1000);
    const { wheel, fired } = wheelOn(clock);
    clock.advance(250);
    assert.equal(wheel.expiryFor(1480), 1500);
    assert.equal(wheel.expiryFor(1500), 1500);
    assert.equal(wheel.expiryFor(0), 1300, 'a deadline already past: the next tick');
    assert.throws(() => wheel.expiryFor(NaN), RangeError);
    for (const [entry, deadline] of [[0, 1480], [1, 1500], [2, 0], [3, 1501]] as const) wheel.schedule(entry, deadline);
    clock.advance(1000);
    assert.deepEqual(fired, [{ entry: 2, at: 1300 }, { entry: 0, at: 1500 }, { entry: 1, at: 1500 }, { entry: 3, at: 1600 }]);
  });

  test('wheel: a sweep examines at most sliceSize entries, then yields to the event loop', () => {
    const yields: number[] = [];
    const manual = new ManualClock();
    const clock = watchedClock(manual, (ms) => {
      if (ms === 0) yields.push(manual.now());
    });
    const expiredPerTurn: number[] = [];
    let current = 0;
    const wheel = new TimingWheel({
      clock, tickMs: 100, buckets: 8, sliceSize: 10,
      onExpire: () => current++,
      onTimer: () => {
        if (current) expiredPerTurn.push(current);
        current = 0;
      },
    });
    for (let entry = 0; entry < 95; entry++) wheel.schedule(entry, 100);
    manual.advance(100);
    expiredPerTurn.push(current);
    assert.deepEqual(expiredPerTurn, [10, 10, 10, 10, 10, 10, 10, 10, 10, 5]);
    assert.equal(yields.length, 9);
    assert.equal(wheel.size, 0);
  });

  test('wheel: an expiry that charges extra steps (I/O) shortens its slice', () => {
    const manual = new ManualClock();
    let yields = 0;
    const clock = watchedClock(manual, (ms) => {
      if (ms === 0) yields++;
    });
    const expiredPerTurn: number[] = [];
    let current = 0;
    const wheel: TimingWheel = new TimingWheel({
      clock, tickMs: 100, buckets: 8, sliceSize: 10,
      // Even entries "write" (1 + 4 steps), odd ones only look (1 step).
      onExpire: (entry) => {
        current++;
        if (entry % 2 === 0) wheel.charge(4);
      },
      onTimer: () => {
        if (current) expiredPerTurn.push(current);
        current = 0;
      },
    });
    for (let entry = 0; entry < 12; entry++) wheel.schedule(entry, 100);
    manual.advance(100);
    expiredPerTurn.push(current);
    // A turn stops once 10 steps are used (the last expiry's charge may overrun it): 5 + 1 + 5, then 1 + 5 + 1 + 5, ...
    // Without charges it would be 10 and 2.
    assert.deepEqual(expiredPerTurn, [3, 4, 4, 1]);
    assert.equal(yields, 3);
    assert.equal(wheel.size, 0);
  });

  test('wheel: sliceMs ends a slice once that much clock time has passed after an expiry that charged', () => {
    const manual = new ManualClock();
    // Time moves on only while entries expire: each one "writes" and takes 0.3 ms.
    let spent = 0;
    let yields = 0;
    const clock = watchedClock(
      manual,
      (ms) => {
        if (ms === 0) yields++;
      },
      () => manual.now() + spent,
    );
    let current = 0;
    const expiredPerTurn: number[] = [];
    const wheel: TimingWheel = new TimingWheel({
      clock, tickMs: 100, buckets: 8, sliceSize: 1000, sliceMs: 1,
      onExpire: () => {
        current++;
        spent += 0.3;
        wheel.charge(1);
      },
      onTimer: () => {
        if (current) expiredPerTurn.push(current);
        current = 0;
      },
    });
    for (let entry = 0; entry < 10; entry++) wheel.schedule(entry, 100);
    manual.advance(100);
    expiredPerTurn.push(current);
    // A slice ends after the expiry that reached 1 ms: the fourth (1.2 ms); sliceSize alone would allow all 10.
    assert.deepEqual(expiredPerTurn, [4, 4, 2]);
    assert.equal(yields, 2);
    assert.throws(() => new TimingWheel({ clock, tickMs: 100, buckets: 8, sliceSize: 10, sliceMs: 0, onExpire: () => {} }), /invalid option sliceMs: 0/);
  });

  test('wheel: onExpire may cancel or move any entry, including the next one in the bucket', () => {
    const clock = new ManualClock();
    const fired: number[] = [];
    const wheel: TimingWheel = new TimingWheel({
      clock, tickMs: 100, buckets: 8, sliceSize: 1024,
      onExpire: (entry) => {
        fired.push(entry);
        if (entry === 0 && fired.length === 1) {
          wheel.cancel(1);
          wheel.schedule(2, 700);
          wheel.schedule(0, 100); // already past: next tick
        }
      },
    });
    for (let entry = 0; entry < 5; entry++) wheel.schedule(entry, 100);
    clock.advance(100);
    assert.deepEqual(fired, [0, 3, 4]);
    clock.advance(100);
    assert.deepEqual(fired, [0, 3, 4, 0]);
    clock.advance(1000);
    assert.deepEqual(fired, [0, 3, 4, 0, 2]);
  });

  test('wheel: onExpire may schedule new entries that make the wheel grow mid-sweep', () => {
    const clock = new ManualClock();
    const fired: number[] = [];
    const wheel: TimingWheel = new TimingWheel({
      clock, tickMs: 100, buckets: 8, sliceSize: 1024, initialCapacity: 4,
      onExpire: (entry) => {
        fired.push(entry);
        if (entry === 0) for (let added = 100; added < 1100; added++) wheel.schedule(added, 150);
      },
    });
    for (let entry = 0; entry < 4; entry++) wheel.schedule(entry, 100);
    clock.advance(100);
    assert.deepEqual(fired, [0, 1, 2, 3]);
    assert.ok(wheel.capacity >= 1100);
    clock.advance(100);
    assert.equal(fired.length, 1004);
    assert.equal(wheel.size, 0);
  });

  test('wheel: a listener that throws does not lose the remaining entries', () => {
    const clock = new ManualClock();
    const fired: number[] = [];
    const wheel = new TimingWheel({
      clock, tickMs: 100, buckets: 8, sliceSize: 1024,
      onExpire: (entry) => {
        fired.push(entry);
        if (entry === 1) throw new Error('listener failed');
      },
    });
    for (let entry = 0; entry < 4; entry++) wheel.schedule(entry, 100);
    assert.throws(() => clock.advance(100), /listener failed/);
    clock.advance(0);
    assert.deepEqual(fired, [0, 1, 2, 3]);
    assert.equal(wheel.size, 0);
  });

  test('wheel: after a stall longer than a revolution, every overdue entry expires once and the timer reports its lateness', () => {
    const clock = new StallingClock();
    const late: number[] = [];
    const fired: Fired = [];
    const wheel = new TimingWheel({
      clock, tickMs: 100, buckets: 8, sliceSize: 1024,
      onExpire: (entry) => fired.push({ entry, at: clock.now() }),
      onTimer: (expectedAt, firedAt) => late.push(firedAt - expectedAt),
    });
    for (let entry = 0; entry < 20; entry++) wheel.schedule(entry, 100 + entry * 150); // up to 2950 ms
    wheel.schedule(20, 10_000);
    clock.stall(5000);
    assert.equal(fired.length, 20);
    assert.ok(fired.every(({ at }) => at === 5000));
    assert.equal(Math.max(...late), 4900);
    clock.advance(5000);
    assert.deepEqual(fired[20], { entry: 20, at: 10_000 });
  });

  test('wheel: tick numbers wrap past 2^32 without losing order', () => {
    const clock = new ManualClock();
    const { wheel, fired } = wheelOn(clock, { tickMs: 1, buckets: 16 });
    wheel.schedule(0, 10);
    clock.advance(20);
    // Empty: no timer runs while 2^32 ticks pass.
    clock.advance(2 ** 32 - 15);
    const start = clock.now();
    for (let entry = 1; entry <= 40; entry++) wheel.schedule(entry, start + entry);
    clock.advance(100);
    assert.deepEqual(fired.slice(1).map(({ entry, at }) => [entry, at - start]), Array.from({ length: 40 }, (_, index) => [index + 1, index + 1]));
  });

  test('wheel: due ticks first kept in the middle of a sweep: the rest of the bucket being swept still expires on its tick', () => {
    for (const sliceSize of [1, 1024]) {
      const clock = new ManualClock();
      const fired: Fired = [];
      const wheel: TimingWheel = new TimingWheel({
        clock, tickMs: 100, buckets: 8, sliceSize,
        onExpire: (entry) => {
          fired.push({ entry, at: clock.now() });
          // Ten revolutions ahead: from here on the wheel keeps due ticks.
          if (entry === 0) wheel.schedule(5, clock.now() + 8000);
        },
      });
      for (const entry of [0, 1, 2]) wheel.schedule(entry, 250);
      wheel.schedule(3, 450);
      assert.equal(wheel.keepsDueTicks, false);
      clock.advance(500);
      assert.ok(wheel.keepsDueTicks);
      assert.deepEqual(fired, [{ entry: 0, at: 300 }, { entry: 1, at: 300 }, { entry: 2, at: 300 }, { entry: 3, at: 500 }], `sliceSize ${sliceSize}`);
      assert.equal(wheel.expiresAt(5), 8300);
    }
  });

  test('wheel: reading due ticks from the buckets expires exactly as keeping them, also across stalls and mid-sweep', () => {
    const operation = fc.oneof(
      fc.record({ kind: fc.constant('schedule' as const), entry: fc.integer({ min: 0, max: 15 }), delay: fc.integer({ min: -50, max: 2000 }), first: fc.boolean() }),
      fc.record({ kind: fc.constant('cancel' as const), entry: fc.integer({ min: 0, max: 15 }) }),
      fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 400 }) }),
      fc.record({ kind: fc.constant('stall' as const), ms: fc.integer({ min: 0, max: 2000 }) }),
      fc.record({ kind: fc.constant('look' as const), entry: fc.integer({ min: 0, max: 15 }) }),
    );
    // What an expiry schedules (an entry and a delay), as the heartbeat engine files a connection's next check.
    const reaction = fc.option(fc.record({ entry: fc.integer({ min: 0, max: 15 }), delay: fc.integer({ min: -50, max: 2000 }) }));
    fc.assert(
      fc.property(
        fc.array(operation, { maxLength: 60 }),
        fc.array(reaction, { minLength: 16, maxLength: 16 }),
        fc.constantFrom(2, 4, 8, 32),
        fc.integer({ min: 1, max: 4 }),
        (operations, reactions, buckets, sliceSize) => {
          const tickMs = 50;
          const run = (keepFromStart: boolean) => {
            const clock = new StallingClock(1000);
            const fired: string[] = [];
            let reactionsLeft = 40;
            const wheel: TimingWheel = new TimingWheel({
              clock, tickMs, buckets, sliceSize,
              onExpire: (entry) => {
                fired.push(`${entry}@${clock.now()}`);
                const then = reactions[entry];
                if (then && reactionsLeft-- > 0) wheel.schedule(then.entry, clock.now() + then.delay);
              },
            });
            if (keepFromStart) {
              wheel.schedule(0, clock.now() + 100 * buckets * tickMs);
              wheel.cancel(0);
              assert.ok(wheel.keepsDueTicks);
            }
            const trace: string[] = [];
            for (const op of operations) {
              if (op.kind === 'schedule') wheel.schedule(op.entry, clock.now() + op.delay, op.first);
              else if (op.kind === 'cancel') trace.push(`cancel ${op.entry}: ${wheel.cancel(op.entry)}`);
              else if (op.kind === 'advance') clock.advance(op.ms);
              else if (op.kind === 'stall') clock.stall(op.ms);
              else trace.push(`look ${op.entry}: ${wheel.expiresAt(op.entry)}`);
              trace.push(`size ${wheel.size}`);
            }
            // Past every deadline, those the (at most 40) reactions file included.
            clock.advance(41 * 2100);
            return { fired, trace, wheel };
          };
          const kept = run(true);
          const read = run(false);
          assert.deepEqual(read.fired, kept.fired);
          assert.deepEqual(read.trace, kept.trace);
          assert.equal(read.wheel.size, 0);
          // Deadlines within a revolution, no stall and no look: the due ticks were never needed.
          const near = (delay: number) => delay <= (buckets - 3) * tickMs;
          const quiet = operations.every((op) => op.kind === 'advance' || op.kind === 'cancel' || (op.kind === 'schedule' && near(op.delay)));
          if (buckets >= 4 && quiet && reactions.every((then) => then === null || near(then.delay))) assert.equal(read.wheel.keepsDueTicks, false);
        },
      ),
      { numRuns: 300 },
    );
  });

  test('wheel: matches a simple model under any sequence of schedule, cancel and advance', () => {
    const operation = fc.oneof(
      fc.record({ kind: fc.constant('schedule' as const), entry: fc.integer({ min: 0, max: 15 }), delay: fc.integer({ min: -50, max: 3000 }) }),
      fc.record({ kind: fc.constant('cancel' as const), entry: fc.integer({ min: 0, max: 15 }) }),
      fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 700 }) }),
    );
    fc.assert(
      fc.property(fc.array(operation, { maxLength: 80 }), fc.constantFrom(1, 2, 4, 32), fc.integer({ min: 1, max: 4 }), (operations, buckets, sliceSize) => {
        const clock = new ManualClock();
        const tickMs = 50;
        const model = new Map<number, number>();
        const wheel = new TimingWheel({
          clock, tickMs, buckets, sliceSize,
          onExpire: (entry) => {
            const deadline = model.get(entry);
            assert.notEqual(deadline, undefined, `entry ${entry} fired but was not scheduled`);
            assert.ok(clock.now() >= deadline!, 'never early');
            assert.ok(clock.now() < Math.max(deadline!, 0) + tickMs, 'at most one tick late');
            model.delete(entry);
          },
        });
        for (const op of operations) {
          if (op.kind === 'schedule') {
            const deadline = clock.now() + op.delay;
            wheel.schedule(op.entry, deadline);
            // A deadline already past fires on the next tick: model it as due at that tick's start.
            model.set(op.entry, Math.max(deadline, Math.floor(clock.now() / tickMs) * tickMs + 1));
          } else if (op.kind === 'cancel') {
            assert.equal(wheel.cancel(op.entry), model.delete(op.entry));
          } else {
            clock.advance(op.ms);
          }
          assert.equal(wheel.size, model.size);
          assert.equal(clock.pending > 0, model.size > 0);
        }
        clock.advance(10_000);
        assert.equal(model.size, 0);
      }),
    );
  });
});

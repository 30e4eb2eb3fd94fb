import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Clock, ClockTimer } from '../../src/clock.js';
import { Alarm, READ_FIRST_WHEN_LATE_MS } from '../../src/liveness/alarm.js';

/** A clock whose timers run only when the test says, at whatever time the test has set. */
class HandClock implements Clock {
  time = 0;
  readonly timers: { callback: () => void; ms: number; cleared: boolean }[] = [];
  now(): number {
    return this.time;
  }
  setTimeout(callback: () => void, ms: number): ClockTimer {
    const timer = { callback, ms, cleared: false };
    this.timers.push(timer);
    return timer as ClockTimer;
  }
  clearTimeout(timer: ClockTimer): void {
    (timer as { cleared: boolean }).cleared = true;
  }
  /** Runs the newest timer at `at`. */
  runLast(at: number): void {
    this.time = at;
    const timer = this.timers.at(-1)!;
    assert.equal(timer.cleared, false, 'the timer run was cleared');
    timer.callback();
  }
}

test('alarm: a timer that ran on time calls its owner at once, with the time it was meant for', () => {
  const clock = new HandClock();
  const fired: number[] = [];
  const alarm = new Alarm(clock, (expectedAt) => fired.push(expectedAt), false);
  alarm.set(100, 100);
  assert.equal(alarm.armed, true);
  clock.runLast(100 + READ_FIRST_WHEN_LATE_MS - 0.01);
  assert.deepEqual(fired, [100]);
  assert.equal(alarm.armed, false);
  assert.equal(clock.timers.length, 1);
});

test('alarm: a timer that waited and ran late lets the event loop read first: its owner runs one zero-delay timer later', () => {
  const clock = new HandClock();
  const fired: { expectedAt: number; at: number }[] = [];
  const alarm = new Alarm(clock, (expectedAt) => fired.push({ expectedAt, at: clock.now() }), false);
  alarm.set(100, 100);
  clock.runLast(100 + READ_FIRST_WHEN_LATE_MS);
  assert.deepEqual(fired, [], 'not yet: I/O that arrived while the loop was stuck is read first');
  assert.equal(alarm.armed, true, 'still armed while it waits its turn');
  assert.equal(clock.timers.length, 2);
  assert.equal(clock.timers[1]!.ms, 0);
  clock.runLast(450);
  assert.deepEqual(fired, [{ expectedAt: 100, at: 450 }], 'the owner learns how late it really ran');
  assert.equal(alarm.armed, false);
});

test('alarm: the wait for I/O happens once, and never for a zero-delay timer (a slice resuming already follows a poll)', () => {
  const clock = new HandClock();
  const fired: number[] = [];
  const alarm = new Alarm(clock, (expectedAt) => fired.push(expectedAt), false);
  alarm.set(100, 100);
  clock.runLast(300);
  clock.runLast(900); // late again after the extra turn: no second wait
  assert.deepEqual(fired, [100]);
  alarm.set(900, 0);
  clock.runLast(950);
  assert.deepEqual(fired, [100, 900]);
  assert.equal(clock.timers.length, 3);
});

test('alarm: clear and set cancel a late run waiting its turn', () => {
  const clock = new HandClock();
  const fired: number[] = [];
  const alarm = new Alarm(clock, (expectedAt) => fired.push(expectedAt), false);
  alarm.set(100, 100);
  clock.runLast(200);
  alarm.clear();
  assert.equal(alarm.armed, false);
  assert.equal(clock.timers[1]!.cleared, true);
  alarm.set(100, 100);
  clock.runLast(200);
  alarm.set(500, 300);
  assert.equal(clock.timers[3]!.cleared, true, 'the waiting turn is replaced');
  clock.runLast(500);
  assert.deepEqual(fired, [500]);
});

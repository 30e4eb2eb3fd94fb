import { ManualClock } from '../src/clock.js';
import { TimingWheel } from '../src/liveness/wheel.js';
import { best, nsSince, round, settledBytes } from './measure.js';

/**
 * The timing structure alone: the wheel with ENTRIES entries (512 buckets of 100 ms, deadlines spread over
 * 10 minutes, so most take several rounds): bytes per entry (while every deadline is within a revolution, as in the
 * heartbeat engine, and once the wheel keeps due ticks, as here), ns per schedule, move, cancel, and per expiry when
 * the clock runs through them (an entry several rounds away is examined once a round, so the cost per visit is
 * given too), with the longest turn of the event loop. Best of three runs.
 */
export function wheelMillion(ENTRIES = 1_000_000) {
  const buckets = 512;
  const tickMs = 100;
  const horizon = 600_000;
  const deadlines = new Float64Array(ENTRIES);
  const moved = new Float64Array(ENTRIES);
  let seed = 12345;
  const random = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  for (let e = 0; e < ENTRIES; e++) {
    deadlines[e] = 1 + random() * horizon;
    moved[e] = 1 + random() * horizon;
  }
  const before = settledBytes();
  let clock = new ManualClock();
  let slices: number[] = [];
  let lastTimer = 0n;
  const make = (onTimer?: () => void) =>
    new TimingWheel({ clock, tickMs, buckets, sliceSize: 1024, initialCapacity: ENTRIES, onExpire: () => {}, ...(onTimer && { onTimer }) });
  let wheel = make();
  const bytesPerEntry = round((settledBytes() - before) / ENTRIES);
  // Deadlines several rounds away: the wheel starts keeping due ticks.
  for (let e = 0; e < ENTRIES; e++) wheel.schedule(e, deadlines[e]!);
  if (!wheel.keepsDueTicks) throw new Error('deadlines over several rounds, yet the wheel keeps no due ticks');
  const bytesPerEntryKeepingDueTicks = round((settledBytes() - before) / ENTRIES);
  for (let e = 0; e < ENTRIES; e++) wheel.cancel(e);
  const schedule = best(3, ENTRIES, () => {
    for (let e = 0; e < ENTRIES; e++) wheel.schedule(e, deadlines[e]!);
    for (let e = 0; e < ENTRIES; e++) wheel.cancel(e);
  });
  for (let e = 0; e < ENTRIES; e++) wheel.schedule(e, deadlines[e]!);
  const move = best(3, ENTRIES, () => {
    for (let e = 0; e < ENTRIES; e++) wheel.schedule(e, moved[e]!);
    for (let e = 0; e < ENTRIES; e++) wheel.schedule(e, deadlines[e]!);
  }) / 2;
  const cancelRuns: number[] = [];
  for (let run = 0; run < 3; run++) {
    for (let e = 0; e < ENTRIES; e++) wheel.schedule(e, deadlines[e]!);
    const start = process.hrtime.bigint();
    for (let e = 0; e < ENTRIES; e++) wheel.cancel(e);
    cancelRuns.push(nsSince(start) / ENTRIES);
  }
  // The schedule figure above includes a cancel per entry; subtract it.
  const cancel = round(Math.min(...cancelRuns));
  // An entry due on tick d (scheduled at tick 0) is examined on ticks d mod buckets, + buckets, ... up to d.
  let visits = 0;
  for (let e = 0; e < ENTRIES; e++) visits += Math.floor(Math.ceil(deadlines[e]! / tickMs) / buckets) + 1;
  const expireRuns: { nsPerExpiry: number; longestTurn: number }[] = [];
  for (let run = 0; run < 3; run++) {
    clock = new ManualClock();
    slices = [];
    wheel = make(() => {
      const now = process.hrtime.bigint();
      if (lastTimer) slices.push(Number(now - lastTimer) / 1000);
      lastTimer = now;
    });
    for (let e = 0; e < ENTRIES; e++) wheel.schedule(e, deadlines[e]!);
    lastTimer = 0n;
    const start = process.hrtime.bigint();
    clock.advance(horizon + tickMs);
    expireRuns.push({ nsPerExpiry: nsSince(start) / ENTRIES, longestTurn: Math.max(...slices) });
    if (wheel.size !== 0) throw new Error(`wheel still holds ${wheel.size} entries`);
  }
  const fastest = expireRuns.sort((a, b) => a.nsPerExpiry - b.nsPerExpiry)[0]!;
  return {
    entries: ENTRIES,
    buckets,
    tickMs,
    deadlinesSpreadOverMs: horizon,
    roundsPerDeadlineUpTo: Math.ceil(horizon / (buckets * tickMs)),
    bytesPerEntry,
    bytesPerEntryKeepingDueTicks,
    nsPerSchedule: round(schedule - cancel),
    nsPerMove: round(move),
    nsPerCancel: cancel,
    visitsPerEntry: round(visits / ENTRIES, 2),
    nsPerExpiry: round(fastest.nsPerExpiry),
    nsPerVisit: round((fastest.nsPerExpiry * ENTRIES) / visits),
    longestTurnMicroseconds: round(fastest.longestTurn),
  };
}

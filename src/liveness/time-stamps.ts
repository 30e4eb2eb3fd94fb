/**
 * Times kept in 4 bytes instead of 8: the heartbeat engine stores two times per connection (last activity, last
 * ping), and at 100 000 connections a Float64Array pair is 1.6 MB where a Uint32Array pair is 0.8 MB.
 *
 * A stamp is the clock time, counted in units of 1 / unitsPerMs ms from an epoch, rounded UP to a whole unit and
 * stored modulo 2^32 (a Uint32Array store does the modulo). Rounding up makes every age read back at most one unit
 * short, never long: a silence or a ping's wait is never overestimated, so no verdict can come early.
 *
 * Reading a stamp back needs the present time: age = (now in units - stamp) modulo 2^32. That is exact while the age
 * is below the range (2^32 units); older stamps alias. The unit is chosen per engine so that the range is at least
 * four times maxSilence (the longest age a decision looks at), and the engine clamps older stamps in a pass every
 * eighth of the range (see HeartbeatEngine), so no stamp it reads is ever older than three eighths of the range.
 * Units: 1/1024 ms (about 1 us, the resolution of performance.now()) up to a maxSilence of 17 minutes; coarser for
 * longer ones, 2 ms at the largest allowed maxSilence (24.8 days).
 */

const RANGE_UNITS = 2 ** 32;
/** About a microsecond: performance.now() resolves no finer. */
const FINEST_UNITS_PER_MS = 1024;

/** Units per millisecond for an engine whose decisions look at ages up to `maxSilenceMs`. */
export function unitsPerMsFor(maxSilenceMs: number): number {
  return Math.min(FINEST_UNITS_PER_MS, RANGE_UNITS / (4 * maxSilenceMs));
}

/** The stamp of time `now` (to be stored in a Uint32Array, which keeps it modulo 2^32). */
export function stampOf(now: number, epoch: number, unitsPerMs: number): number {
  return Math.ceil((now - epoch) * unitsPerMs);
}

/** How long ago a stamp read from a Uint32Array was taken, in ms (0 when it was taken within this unit). */
export function ageOf(stamp: number, now: number, epoch: number, unitsPerMs: number): number {
  const units = (now - epoch) * unitsPerMs;
  const whole = Math.floor(units);
  // Whole units modulo 2^32 (>>> 0 is exact on integers, and far cheaper than % on doubles), plus the fraction.
  const age = ((whole - stamp) >>> 0) + (units - whole);
  // Rounded up, a stamp taken within the present unit lies up to one unit ahead, which reads as a whole range ago.
  return age >= RANGE_UNITS - 1 ? 0 : age / unitsPerMs;
}

/** How many ms a stamp can be apart from the present before it aliases. */
export function rangeMs(unitsPerMs: number): number {
  return RANGE_UNITS / unitsPerMs;
}

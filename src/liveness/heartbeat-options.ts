import { checkObject, durationIn, integerIn, isClock, rejectUnknownKeys } from '../options.js';
import { systemClock, type Clock } from '../clock.js';
import type { Duration } from '../duration.js';
import { InvalidOptionError } from '../errors.js';
import type { HeartbeatHandle } from './heartbeat.js';

/** Sends a ping carrying `nonce` to connection `id`; the peer must answer with a pong carrying the same nonce. */
export type SendPingTo<Id> = (id: Id, nonce: number, handle: HeartbeatHandle) => void;

/** The phi accrual detector's settings (see phi.ts). Durations are milliseconds or strings like '3s'. */
export interface PhiOptions {
  /** Suspect a connection when phi reaches this: 8 means the silence had a 1 in 10^8 chance of being normal. Default 8 (Akka, Cassandra). */
  threshold?: number;
  /** Floor of the learned standard deviation, so that a very regular peer is not suspected after a few ms. Default 100 ms (Akka). */
  minStdDeviation?: Duration;
  /** Silence tolerated on top of the learned mean before phi rises (the peer's GC pauses, scheduling). Default 3 s (Akka's cluster default). */
  acceptablePause?: Duration;
  /** How many recent silences the running mean and variance follow (the span of an exponentially weighted average). Default 100. */
  windowSize?: number;
}

/** Heartbeat settings. Durations are milliseconds or strings like '30s'; `undefined` means the default. */
export interface HeartbeatOptions<Id = unknown> {
  /**
   * How long a connection must be silent (no inbound byte) before it is pinged: a connection that sent anything
   * within `interval` (other than the answer to our last ping) is never pinged. After data (or after add), the ping
   * falls due at interval + (the connection's share of jitter x interval) and goes out at the end of that tick:
   * between interval and interval + jitter x interval + tick of silence (10 s to 10.45 s with the defaults). A
   * connection that only answers our pings is pinged once per interval, on the tick grid (up to a tick less than
   * interval after its pong). Default 10 s.
   */
  interval?: Duration;
  /**
   * How long a ping waits for any inbound byte before the connection is dead, as part of the deadline
   * (maxSilence = interval + timeout): a ping that went out late in its tick, or later by its jitter, waits that
   * much less. Every ping waits at least timeout - tick - jitter x interval (4.55 s with the defaults; never less
   * than half the timeout, see `jitter`), and a ping sent after this process stalled waits the full timeout.
   * Default 5 s.
   */
  timeout?: Duration;
  /**
   * Spreads pings: the first ping after a silence that began with data (or with add) comes up to
   * `jitter x interval` after `interval`, by a fraction fixed per connection, so that thousands of connections that
   * went quiet together are not pinged on the same tick. A connection that then only answers pings keeps the place
   * its first ping gave it and is pinged once per interval (no jitter after its own pong), so the spreading costs
   * no extra pings in the steady state. (Sweeps are also sliced, 64 pings per turn of the event loop, so a herd
   * never blocks the loop.) The delay comes out of the ping's wait for its pong, which keeps at least half the
   * timeout: jitter x interval + tick may be at most timeout / 2. A fraction from 0 (no spreading) to below 1.
   * Default 0.02, or less where that would not fit (jitter x interval at most timeout / 2 - tick).
   */
  jitter?: number;
  /**
   * The hard deadline: a connection silent this long, with its last ping unanswered (see `timeout`), is dead,
   * whatever phi says. At least interval + timeout (the default); longer lets it re-ping every `interval` while
   * silent.
   */
  maxSilence?: Duration;
  /**
   * The timing wheel's tick: the resolution of the pings' schedule (a ping goes out at the end of the tick it falls
   * due in; verdicts are timed exactly, see HeartbeatEngine). At most half of `timeout` and of `interval`. Default
   * 250 ms, or that half when it is smaller. Each engine draws where its ticks end (a random phase, from `random`),
   * so engines started at the same moment, in the workers of one cluster or one process, do not all sweep and
   * ping at the same instants.
   */
  tick?: Duration;
  /** Also suspect connections by phi accrual (adaptive, from each peer's history). `true` uses DEFAULT_PHI_OPTIONS. Default off. */
  phi?: boolean | PhiOptions;
  /**
   * A timer running this late means this process stalled (GC, blocked loop): verdicts are then postponed until a
   * fresh ping has had a full timeout. `false` switches the guard off. Default 500 ms.
   */
  stallThreshold?: Duration | false;
  /** Most wheel entries examined per turn of the event loop, so that a large sweep never blocks it for long. Default 1024. */
  sliceSize?: number;
  /**
   * A sweep also yields once it has spent this long (looked at after each ping it writes): on a loaded machine a
   * socket write may lose the CPU to the peer it wakes, and a slice of many writes then holds the loop far longer
   * than its CPU time. Default 1 ms.
   */
  sliceTime?: Duration;
  /** Sends a ping for every connection added without its own `sendPing`: one function instead of a closure per connection. */
  sendPing?: SendPingTo<Id>;
  /** Time source; tests pass a ManualClock. Default: the system clock. */
  clock?: Clock;
  /**
   * Uniform random numbers in [0, 1), drawn twice when the engine is made: the seed of every connection's jitter, then
   * the phase of the tick grid (a draw outside [0, 1) means phase 0). Tests pass a seeded one. Default Math.random.
   */
  random?: () => number;
  /** Connections to make room for up front (the arrays double when full). Default 0. */
  initialCapacity?: number;
}

export interface ResolvedPhiOptions {
  threshold: number;
  minStdDeviation: number;
  acceptablePause: number;
  windowSize: number;
}

export interface ResolvedHeartbeatOptions<Id = unknown> {
  interval: number;
  timeout: number;
  jitter: number;
  maxSilence: number;
  tick: number;
  phi: ResolvedPhiOptions | false;
  stallThreshold: number | false;
  sliceSize: number;
  sliceTime: number;
  sendPing: SendPingTo<Id> | undefined;
  clock: Clock;
  random: () => number;
  initialCapacity: number;
}

/** The defaults, documented on HeartbeatOptions: a dead idle peer is found within 15 s of its last byte. */
export const DEFAULT_HEARTBEAT_OPTIONS = {
  interval: 10_000,
  timeout: 5_000,
  jitter: 0.02,
  tick: 250,
  stallThreshold: 500,
  sliceSize: 1024,
  sliceTime: 1,
  initialCapacity: 0,
} as const;

export const DEFAULT_PHI_OPTIONS: Readonly<ResolvedPhiOptions> = Object.freeze({
  threshold: 8,
  minStdDeviation: 100,
  acceptablePause: 3000,
  windowSize: 100,
});

/** Longest duration accepted (Node's timer limit, about 24.8 days). */
export const MAX_HEARTBEAT_DURATION_MS = 2 ** 31 - 1;
/** Most connections one engine holds (handles keep the slot in their low 24 bits). */
export const MAX_HEARTBEAT_CONNECTIONS = 2 ** 24;
/** windowSize is capped so the per-connection sample counter fits one byte (weight 1/n for n <= 255). */
const MAX_WINDOW_SIZE = 500;

const KNOWN_KEYS = [
  'interval', 'timeout', 'jitter', 'maxSilence', 'tick', 'phi', 'stallThreshold', 'sliceSize', 'sliceTime', 'sendPing', 'clock', 'random',
  'initialCapacity',
] as const;
const KNOWN_PHI_KEYS = ['threshold', 'minStdDeviation', 'acceptablePause', 'windowSize'] as const;

/**
 * A ping after data goes out up to jitter x interval + tick late, and that comes out of its wait for the pong (the
 * deadline stays interval + timeout): at most half the timeout may go that way. The default shrinks to fit.
 */
function resolveJitter(jitter: unknown, interval: number, timeout: number, tick: number): number {
  const most = Math.max(0, timeout / 2 - tick) / interval;
  if (jitter === undefined) return Math.min(DEFAULT_HEARTBEAT_OPTIONS.jitter, most);
  if (typeof jitter !== 'number' || !(jitter >= 0 && jitter < 1)) {
    throw new InvalidOptionError('jitter', jitter, 'a fraction of interval from 0 to below 1, e.g. 0.2');
  }
  if (jitter > most) {
    throw new InvalidOptionError('jitter', jitter, `a fraction of interval from 0 to ${Number(most.toPrecision(4))} here ` +
      `(jitter x interval + tick at most timeout / 2: the jitter delays pings, and the delay comes out of the pong's wait)`);
  }
  return jitter;
}

/**
 * Fills the defaults and checks every heartbeat option. Throws InvalidOptionError naming the option, the value
 * and the allowed range; unknown keys are rejected with a hint. Nothing is ever adjusted silently.
 */
export function resolveHeartbeatOptions<Id = unknown>(options: HeartbeatOptions<Id> = {}): ResolvedHeartbeatOptions<Id> {
  checkObject('options', options, '{ interval: 10000, timeout: 5000 }');
  rejectUnknownKeys('', options, KNOWN_KEYS);
  const defaults = DEFAULT_HEARTBEAT_OPTIONS;
  const interval = durationIn('interval', options.interval ?? defaults.interval, 10, MAX_HEARTBEAT_DURATION_MS);
  const timeout = durationIn('timeout', options.timeout ?? defaults.timeout, 10, MAX_HEARTBEAT_DURATION_MS);
  const maxSilence = durationIn('maxSilence', options.maxSilence ?? interval + timeout, interval + timeout, MAX_HEARTBEAT_DURATION_MS,
    `interval + timeout: a shorter deadline would convict before a ping could be answered`);
  // A ping goes out up to a tick after it falls due; half of the shorter of interval and timeout leaves every rule at
  // least one tick of room.
  const maxTick = Math.floor(Math.min(timeout, interval) / 2);
  const tick = durationIn('tick', options.tick ?? Math.min(defaults.tick, maxTick), 1, maxTick, `at most half of timeout and of interval`);
  const jitter = resolveJitter(options.jitter, interval, timeout, tick);
  const phi = resolvePhi(options.phi);
  const stallThreshold = options.stallThreshold === false ? false
    : durationIn('stallThreshold', options.stallThreshold ?? defaults.stallThreshold, 1, MAX_HEARTBEAT_DURATION_MS);
  const sliceSize = integerIn('sliceSize', options.sliceSize ?? defaults.sliceSize, 1, 2 ** 31 - 1);
  const sliceTime = resolveSliceTime(options.sliceTime ?? defaults.sliceTime);
  const initialCapacity = integerIn('initialCapacity', options.initialCapacity ?? defaults.initialCapacity, 0, MAX_HEARTBEAT_CONNECTIONS);
  if (options.sendPing !== undefined && typeof options.sendPing !== 'function') {
    throw new InvalidOptionError('sendPing', options.sendPing, 'a function (id, nonce, handle) => void');
  }
  const clock = options.clock ?? systemClock;
  if (!isClock(clock)) throw new InvalidOptionError('clock', clock, 'a Clock { now(), setTimeout(), clearTimeout() }');
  const random = options.random ?? Math.random;
  if (typeof random !== 'function') throw new InvalidOptionError('random', random, 'a function returning numbers in [0, 1)');
  return { interval, timeout, jitter, maxSilence, tick, phi, stallThreshold, sliceSize, sliceTime, sendPing: options.sendPing, clock, random, initialCapacity };
}

/** A duration like the others, but a number may be a fraction of a millisecond (a slice is short). */
function resolveSliceTime(value: Duration): number {
  if (typeof value !== 'number') return durationIn('sliceTime', value, 1, MAX_HEARTBEAT_DURATION_MS);
  if (!(value > 0 && value <= MAX_HEARTBEAT_DURATION_MS)) {
    throw new InvalidOptionError('sliceTime', value, `a positive number of milliseconds up to ${MAX_HEARTBEAT_DURATION_MS} (fractions allowed)`);
  }
  return value;
}

function resolvePhi(value: boolean | PhiOptions | undefined): ResolvedPhiOptions | false {
  if (value === undefined || value === false) return false;
  if (value === true) return { ...DEFAULT_PHI_OPTIONS };
  checkObject('phi', value, 'true, false or { threshold: 8, acceptablePause: 3000 }');
  rejectUnknownKeys('phi.', value, KNOWN_PHI_KEYS);
  const defaults = DEFAULT_PHI_OPTIONS;
  const threshold = value.threshold ?? defaults.threshold;
  if (typeof threshold !== 'number' || !(threshold > 0 && threshold <= 100)) {
    throw new InvalidOptionError('phi.threshold', threshold, 'a number above 0 and at most 100 (Akka and Cassandra use 8 to 12)');
  }
  return {
    threshold,
    minStdDeviation: durationIn('phi.minStdDeviation', value.minStdDeviation ?? defaults.minStdDeviation, 1, MAX_HEARTBEAT_DURATION_MS),
    acceptablePause: durationIn('phi.acceptablePause', value.acceptablePause ?? defaults.acceptablePause, 0, MAX_HEARTBEAT_DURATION_MS),
    windowSize: integerIn('phi.windowSize', value.windowSize ?? defaults.windowSize, 2, MAX_WINDOW_SIZE),
  };
}


import { formatDuration, formatShortDuration, type Duration } from '../duration.js';
import { InvalidOptionError } from '../errors.js';
import { DEFAULT_HEARTBEAT_OPTIONS, resolveHeartbeatOptions } from '../liveness/heartbeat-options.js';
import { checkObject, durationIn, nearest, rejectUnknownKeys } from '../options.js';
import { linuxSocketOptions } from '../platform/linux.js';
import { keepAliveBudget, type BudgetWarningCode } from '../socket/budget.js';
import { resolveKeepAliveOptions } from '../socket/options.js';
import { PRESETS, PresetNames, type ExpiryBehaviour, type PresetName } from './presets.js';

/**
 * From what a user knows about the path (a middlebox's idle limit, a goal for detection, a proxy, a streaming
 * connection) to keepalive, user timeout and heartbeat settings, each with its reason and the worst case it
 * promises. Pure: no sockets, no clock, no I/O.
 */

/** What the user knows. Durations are milliseconds or strings like '350s'; `undefined` means the default. */
export interface RecommendInput {
  /** A middlebox's idle limit: a flow silent this long is forgotten. Overrides the preset's figure. Default: none known. */
  idleLimit?: Duration;
  /** A known middlebox (see PRESETS): its idle limit, what it does at expiry, whether it is a proxy. */
  preset?: PresetName;
  /** The worst-case time wanted between a peer's death and the verdict. Default 2 min (lifeline's own defaults, 60s,10s,6). */
  detectWithin?: Duration;
  /** A proxy that terminates TCP sits between the peers: keepalive only reaches it, so only heartbeats see the peer. Default false. */
  throughProxy?: boolean;
  /** The connection streams data: it nearly always has unacknowledged data, so keepalive never runs. Default false. */
  busy?: boolean;
}

export const DEFAULT_DETECT_WITHIN_MS = 120_000;

export const RecommendWarningCodes = {
  /** The goal is shorter than keepalive can reach: its idle and interval are whole seconds, at least 1 s each. */
  GOAL_BELOW_KERNEL_MINIMUM: 'goal-below-kernel-minimum',
  /** The goal is shorter than a heartbeat can reach (100 ms interval, a timeout above it, one engine tick). */
  GOAL_BELOW_HEARTBEAT_MINIMUM: 'goal-below-heartbeat-minimum',
  /** The idle limit is so short that keepalive idle would have to be below 1 s: probes cannot keep the flow. */
  IDLE_LIMIT_TOO_SHORT: 'idle-limit-too-short',
  /** The idle limit leaves no room for idle + interval: one lost probe lets the flow expire. */
  NO_RETRY_BEFORE_EXPIRY: 'no-retry-before-expiry',
  /** The idle limit is shorter than the shortest heartbeat interval (100 ms). */
  IDLE_LIMIT_TOO_SHORT_FOR_HEARTBEAT: 'idle-limit-too-short-for-heartbeat',
  /** Through a proxy, keepalive and the user timeout only watch the hop to the proxy; only heartbeats see the peer. */
  KEEPALIVE_STOPS_AT_PROXY: 'keepalive-stops-at-proxy',
  /** The middlebox's idle timer ignores keepalive probes (no payload): only data, such as heartbeats, keeps the connection. */
  KEEPALIVE_DOES_NOT_REFRESH: 'keepalive-does-not-refresh',
} as const;

export type RecommendWarningCode = (typeof RecommendWarningCodes)[keyof typeof RecommendWarningCodes] | BudgetWarningCode;

export interface RecommendWarning {
  code: RecommendWarningCode;
  message: string;
}

export interface MiddleboxSummary {
  /** The preset's name, or null for an idle limit given alone. */
  preset: PresetName | null;
  title: string;
  idleLimitMs: number;
  /** What it does at expiry; null when unknown (an idle limit given alone). */
  atExpiry: ExpiryBehaviour | null;
  expiryNote: string | null;
  proxy: boolean;
  keepaliveRefreshes: boolean;
  source: string | null;
}

/** One way a dead peer is found, and how long it takes at worst (ms from the peer's last packet to the verdict). */
export interface Detection {
  case: 'idle-peer' | 'busy-peer' | 'any-peer';
  via: 'keepalive' | 'user-timeout' | 'heartbeat';
  /** null: never (through a proxy, this mechanism does not see the peer). */
  worstMs: number | null;
  reason: string;
}

export interface Recommendation {
  goal: { detectWithinMs: number; given: boolean };
  middlebox: MiddleboxSummary | null;
  /** Whether a TCP-terminating proxy sits between the peers (asked for, or implied by the preset). */
  throughProxy: boolean;
  busy: boolean;
  /** Whole seconds (ms) and a count, within the kernel's limits; pass to setKeepAlive with userTimeout. */
  keepalive: { idle: number; interval: number; count: number; reasons: { idle: string; interval: string; count: string } };
  userTimeout: { value: number; reason: string };
  /**
   * The lifeline protocol's heartbeat: ping after `interval` of silence, dead after `timeout` of silence (as
   * `--heartbeat INTERVAL,TIMEOUT` and LifelineServer take it). For a HeartbeatEngine, timeout - interval is its
   * own `timeout` (how long one ping waits); `tick` is the engine's resolution.
   */
  heartbeat: { interval: number; timeout: number; tick: number; reasons: { interval: string; timeout: string } };
  detection: Detection[];
  /** The worst case for the connection described: what these settings promise, and whether it meets the goal. */
  promise: { worstMs: number; via: string; meetsGoal: boolean };
  warnings: RecommendWarning[];
}

const SECOND = 1000;
const KERNEL_MAX_MS = 32_767_000;
/** Linux's default keepalive interval; a probe cadence slower than this buys nothing. */
const MAX_INTERVAL_MS = 75_000;
/** LifelineServer's smallest heartbeat.min and the Client's smallest heartbeatInterval. */
const HEARTBEAT_MIN_MS = 100;
/** LifelineServer's largest timeoutFactor. */
const HEARTBEAT_MAX_FACTOR = 10;
const MAX_DURATION_MS = 2 ** 31 - 1;
const KNOWN_KEYS = ['idleLimit', 'preset', 'detectWithin', 'throughProxy', 'busy'] as const;

const floorSeconds = (ms: number) => Math.floor(ms / SECOND) * SECOND;
const clamp = (value: number, min: number, max: number) => Math.min(max, Math.max(min, value));
const short = formatShortDuration;
const long = formatDuration;

/** Heartbeat values read well: whole seconds from 10 s, tenths from 1 s, 10 ms steps below (the engine's floor). */
function floorHeartbeat(ms: number): number {
  const step = ms >= 10_000 ? 1000 : ms >= 1000 ? 100 : 10;
  return Math.floor(ms / step) * step;
}

/**
 * The part of an idle limit that settings may use: 10% (at least 1 s, at most half) is left for timer slack,
 * round trips and the middlebox's own timer granularity.
 */
export function usableIdleMs(idleLimitMs: number): number {
  const margin = Math.min(Math.max(SECOND, Math.ceil(idleLimitMs * 0.1)), idleLimitMs / 2);
  return idleLimitMs - margin;
}

/** Checks the input like every resolveXOptions(): the option, the value and what is allowed, unknown keys with a hint. */
export function resolveRecommendInput(input: RecommendInput = {}): {
  idleLimitMs: number | null;
  preset: PresetName | null;
  detectWithinMs: number;
  goalGiven: boolean;
  throughProxy: boolean;
  busy: boolean;
} {
  checkObject('input', input, "{ preset: 'aws-nlb', detectWithin: '30s' }");
  rejectUnknownKeys('', input, KNOWN_KEYS);
  let preset: PresetName | null = null;
  if (input.preset !== undefined) {
    if (typeof input.preset !== 'string' || !(PresetNames as readonly string[]).includes(input.preset)) {
      const match = typeof input.preset === 'string' ? nearest(input.preset, PresetNames) : undefined;
      throw new InvalidOptionError('preset', input.preset, `one of ${PresetNames.join(', ')}`, match ? `did you mean ${match}?` : undefined);
    }
    preset = input.preset;
  }
  let idleLimitMs: number | null = null;
  if (input.idleLimit !== undefined) {
    const range = preset ? PRESETS[preset].configurableMs : null;
    if (preset && range) {
      idleLimitMs = durationIn('idleLimit', input.idleLimit, range.min, range.max, `what ${preset} can be configured to`);
    } else {
      idleLimitMs = durationIn('idleLimit', input.idleLimit, SECOND, MAX_DURATION_MS);
    }
  }
  const detectWithinMs = input.detectWithin === undefined ? DEFAULT_DETECT_WITHIN_MS : durationIn('detectWithin', input.detectWithin, 1, MAX_DURATION_MS);
  for (const key of ['throughProxy', 'busy'] as const) {
    if (input[key] !== undefined && typeof input[key] !== 'boolean') throw new InvalidOptionError(key, input[key], 'true or false');
  }
  return {
    idleLimitMs,
    preset,
    detectWithinMs,
    goalGiven: input.detectWithin !== undefined,
    throughProxy: input.throughProxy ?? false,
    busy: input.busy ?? false,
  };
}

function middleboxOf(preset: PresetName | null, idleLimitMs: number | null): MiddleboxSummary | null {
  if (preset) {
    const known = PRESETS[preset];
    return {
      preset,
      title: known.title,
      idleLimitMs: idleLimitMs ?? known.idleLimitMs,
      atExpiry: known.atExpiry,
      expiryNote: known.expiryNote,
      proxy: known.proxy,
      keepaliveRefreshes: known.keepaliveRefreshes,
      source: idleLimitMs === null ? known.source : `idle limit ${long(idleLimitMs)} as given (shipped: ${long(known.idleLimitMs)}); ${known.source}`,
    };
  }
  if (idleLimitMs === null) return null;
  return {
    preset: null,
    title: 'a middlebox',
    idleLimitMs,
    atExpiry: null,
    expiryNote: null,
    proxy: false,
    keepaliveRefreshes: true,
    source: null,
  };
}

/** The recommendation: settings with reasons, worst cases, and warnings for goals that cannot be met. */
export function recommend(input: RecommendInput = {}): Recommendation {
  const resolved = resolveRecommendInput(input);
  const goal = resolved.detectWithinMs;
  const middlebox = middleboxOf(resolved.preset, resolved.idleLimitMs);
  const throughProxy = resolved.throughProxy || (middlebox?.proxy ?? false);
  const warnings: RecommendWarning[] = [];
  const boxName = middlebox ? (middlebox.preset ?? 'the middlebox') : '';
  const limitText = middlebox ? `${boxName}'s ${long(middlebox.idleLimitMs)} idle limit` : '';
  const usable = middlebox ? usableIdleMs(middlebox.idleLimitMs) : Infinity;

  // Keepalive: half the goal for idle, half for probing; count from 3 to 9 probes of at most 75 s each.
  const probing = goal / 2;
  let count = clamp(Math.round(probing / 10_000), 3, 9);
  let interval = Math.min(floorSeconds(probing / count), MAX_INTERVAL_MS);
  if (interval < SECOND) {
    count = clamp(Math.floor(probing / SECOND), 1, 9);
    interval = SECOND;
  }
  const wanted = clamp(floorSeconds(goal - interval * count), SECOND, KERNEL_MAX_MS);
  let idle = wanted;
  let idleReason = wanted === KERNEL_MAX_MS
    ? `the kernel's largest idle (${short(KERNEL_MAX_MS)}); probing takes the rest of the goal`
    : `the goal (${long(goal)}) minus the probing window (${count} x ${short(interval)})`;
  let intervalReason = `${count} probes ${short(interval)} apart: about half the goal goes to probing`;
  const limitBinds = middlebox !== null && middlebox.keepaliveRefreshes;
  if (middlebox && !middlebox.keepaliveRefreshes) {
    idleReason += `; not bound by ${limitText}: its idle timer ignores probes (no payload), heartbeats keep that connection`;
  } else if (middlebox && limitBinds) {
    const usableSeconds = floorSeconds(usable);
    if (usableSeconds < SECOND) {
      idle = SECOND;
      idleReason = `the kernel's smallest idle; ${limitText} is shorter than probes can keep (see warnings)`;
      warnings.push({
        code: RecommendWarningCodes.IDLE_LIMIT_TOO_SHORT,
        message: `${limitText} would need a keepalive idle below 1 s (the kernel counts whole seconds from 1 s): probes cannot keep this flow; heartbeats every ${short(Math.max(HEARTBEAT_MIN_MS, floorHeartbeat(usable)))} can`,
      });
    } else {
      if (wanted + interval > usableSeconds) {
        interval = Math.min(interval, Math.max(SECOND, floorSeconds(usableSeconds / 3)));
        intervalReason = `${count} probes ${short(interval)} apart: short enough that a lost probe is retried before ${boxName} forgets the flow`;
      }
      idle = Math.min(wanted, usableSeconds - interval);
      if (idle < SECOND) {
        idle = SECOND;
        warnings.push({
          code: RecommendWarningCodes.NO_RETRY_BEFORE_EXPIRY,
          message: `${limitText} leaves no room for idle + interval (${short(idle + interval)}) below it with margin: a single lost probe or ACK lets the flow expire`,
        });
        idleReason = `the kernel's smallest idle, under ${limitText}`;
      } else if (idle < wanted) {
        idleReason = `below ${limitText} with margin: idle + interval = ${short(idle + interval)} <= ${short(usableSeconds)} (the limit less 10%), so a lost probe is retried before the flow expires`;
      } else {
        idleReason += `; well below ${limitText}, so probes keep the flow`;
      }
    }
  }
  const countReason = count >= 3
    ? `${count} unanswered probes before giving up: one or two lost ACKs do not kill a live connection`
    : `only ${count}: the goal leaves no room for more, so a lost ACK can kill a live connection`;

  const userTimeout = idle + interval * count;
  const userTimeoutReason = resolved.busy
    ? `a streaming connection always has data in flight, so keepalive never runs: the user timeout is what finds a dead peer, after ${long(userTimeout)} (= idle + interval x count, so Linux still sends exactly ${count} probes when idle)`
    : `= idle + interval x count: a write to a dead peer fails as fast as the idle check (without it, retransmissions go on about 15 min), and Linux still sends exactly ${count} probes`;

  // Self-check against the kernel's limits, as setKeepAlive would check them.
  resolveKeepAliveOptions({ idle, interval, count, userTimeout }, linuxSocketOptions.limits);
  const budget = keepAliveBudget({ idle, interval, count, userTimeout });
  for (const warning of budget.warnings) warnings.push({ code: warning.code, message: warning.message });

  // Heartbeat: dead after the goal (less one tick) of silence; ping after a third of it; below the limit (data refreshes any middlebox).
  const tickAllowance = DEFAULT_HEARTBEAT_OPTIONS.tick;
  let timeout = floorHeartbeat(goal - tickAllowance);
  let hbInterval = floorHeartbeat(timeout / 3);
  let hbIntervalReason = `a third of the timeout: a ping goes out after ${short(hbInterval)} of silence, and two can go unanswered before the verdict`;
  if (middlebox && hbInterval > usable) {
    hbInterval = floorHeartbeat(usable);
    hbIntervalReason = `below ${limitText} with margin: pings are data, so they keep ${boxName}'s flow${middlebox.keepaliveRefreshes ? '' : ' (probes do not)'}`;
  } else if (middlebox) {
    hbIntervalReason += `; below ${limitText}, so pings keep the flow`;
  }
  if (hbInterval < HEARTBEAT_MIN_MS) {
    if (middlebox && usable < HEARTBEAT_MIN_MS) {
      warnings.push({
        code: RecommendWarningCodes.IDLE_LIMIT_TOO_SHORT_FOR_HEARTBEAT,
        message: `${limitText} is shorter than the smallest heartbeat interval (${HEARTBEAT_MIN_MS} ms) with margin: nothing lifeline sends can keep this flow`,
      });
    }
    hbInterval = HEARTBEAT_MIN_MS;
    hbIntervalReason = `the protocol's smallest interval (${HEARTBEAT_MIN_MS} ms)`;
  }
  let timeoutReason = `dead after ${short(timeout)} of silence: the goal less one ${tickAllowance} ms engine tick; heartbeats are data, so they see through proxies and with data in flight`;
  if (timeout > hbInterval * HEARTBEAT_MAX_FACTOR) {
    timeout = hbInterval * HEARTBEAT_MAX_FACTOR;
    timeoutReason = `10 x the interval, the most LifelineServer allows (timeoutFactor <= 10): faster than the goal`;
  }
  if (timeout <= hbInterval) {
    timeout = 2 * hbInterval;
    timeoutReason = `twice the interval, the least that lets a ping be answered`;
  }
  const engine = resolveHeartbeatOptions({ interval: hbInterval, timeout: timeout - hbInterval });
  const heartbeatWorst = timeout + engine.tick;

  const detection: Detection[] = [
    throughProxy
      ? { case: 'idle-peer', via: 'keepalive', worstMs: null, reason: 'never: the proxy answers keepalive probes, the peer behind it is never asked' }
      : { case: 'idle-peer', via: 'keepalive', worstMs: budget.idleMs, reason: `idle ${short(idle)} + ${count} x interval ${short(interval)}` },
    throughProxy
      ? { case: 'busy-peer', via: 'user-timeout', worstMs: null, reason: 'never: the proxy acknowledges the data, not the peer' }
      : { case: 'busy-peer', via: 'user-timeout', worstMs: budget.busyMs, reason: 'the user timeout (keepalive does not run while data is unacknowledged)' },
    {
      case: 'any-peer',
      via: 'heartbeat',
      worstMs: heartbeatWorst,
      reason: `timeout ${short(timeout)} + one ${engine.tick} ms engine tick; both ends must speak the lifeline protocol`,
    },
  ];

  let promise: Recommendation['promise'];
  if (throughProxy) {
    promise = { worstMs: heartbeatWorst, via: 'heartbeat', meetsGoal: heartbeatWorst <= goal };
  } else if (resolved.busy) {
    promise = { worstMs: budget.busyMs, via: 'user timeout', meetsGoal: budget.busyMs <= goal };
  } else {
    const worst = Math.max(budget.idleMs ?? Infinity, budget.busyMs);
    promise = { worstMs: worst, via: 'keepalive and user timeout', meetsGoal: worst <= goal };
  }

  if (throughProxy) {
    const why = middlebox?.proxy && !resolved.throughProxy ? `${boxName} is a proxy (it terminates TCP)` : 'through a proxy';
    warnings.push({
      code: RecommendWarningCodes.KEEPALIVE_STOPS_AT_PROXY,
      message: `${why}: keepalive and the user timeout only watch the hop to the proxy; only heartbeats (the lifeline protocol on both ends) find a dead peer behind it`,
    });
  }
  if (middlebox && !middlebox.keepaliveRefreshes) {
    warnings.push({
      code: RecommendWarningCodes.KEEPALIVE_DOES_NOT_REFRESH,
      message: `${boxName}'s idle timer counts data only: keepalive probes (no payload) do not keep the connection; send heartbeats (or any data) more often than every ${long(middlebox.idleLimitMs)}`,
    });
  }
  if (!promise.meetsGoal) {
    if (throughProxy) {
      warnings.push({
        code: RecommendWarningCodes.GOAL_BELOW_HEARTBEAT_MINIMUM,
        message: `detection within ${long(goal)} is out of reach: the fastest heartbeat verdict here is ${long(heartbeatWorst)} (interval >= ${HEARTBEAT_MIN_MS} ms, a timeout above it, one engine tick)`,
      });
    } else {
      warnings.push({
        code: RecommendWarningCodes.GOAL_BELOW_KERNEL_MINIMUM,
        message: `detection within ${long(goal)} is out of reach for keepalive: idle and interval are whole seconds, at least 1 s each, so the fastest is ${long(promise.worstMs)}${heartbeatWorst <= goal ? `; heartbeats can (${long(heartbeatWorst)})` : ''}`,
      });
    }
  }

  return {
    goal: { detectWithinMs: goal, given: resolved.goalGiven },
    middlebox,
    throughProxy,
    busy: resolved.busy,
    keepalive: { idle, interval, count, reasons: { idle: idleReason, interval: intervalReason, count: countReason } },
    userTimeout: { value: userTimeout, reason: userTimeoutReason },
    heartbeat: { interval: hbInterval, timeout, tick: engine.tick, reasons: { interval: hbIntervalReason, timeout: timeoutReason } },
    detection,
    promise,
    warnings,
  };
}

import { InvalidOptionError } from '../errors.js';
import type { ArmValues } from '../lab/arms.js';
import { TOLERANCE_MS } from '../lab/judge.js';
import type { LabVerdict, RunResult } from '../lab/types.js';
import { resolveHeartbeatOptions } from '../liveness/heartbeat-options.js';
import { keepAliveBudget } from '../socket/budget.js';
import type { Recommendation } from './recommend.js';

/**
 * How `lifeline recommend --verify` checks a recommendation in the lab, and how it judges what the lab measured.
 * Production values (idle 60 s, limits of minutes or days) would make runs last hours, so every duration is
 * divided by a scale factor: the kernel still applies the same rules to the smaller values, and the promise is
 * recomputed from the scaled settings with the same formulas the table used. Pure: the lab runs elsewhere.
 */

export type VerifyScenario = 'cable-pull' | 'cable-pull-busy' | 'nat-expiry';
export type VerifyArm = 'tuned-uto' | 'heartbeat';

export interface VerifyCheck {
  arm: VerifyArm;
  /** What the table promises, in words. */
  what: string;
  /** The scaled worst case, ms from the peer's last packet to the verdict; null: the connection must survive. */
  promisedMs: number | null;
}

/** One lab run (one scenario, its arms side by side). */
export interface VerifyRun {
  scenario: VerifyScenario;
  /** Every duration divided by this. */
  scale: number;
  values: ArmValues;
  windowMs: number;
  /** nat-expiry: the router's conntrack timeout, the scaled idle limit (whole seconds, as conntrack counts). */
  natTimeoutMs: number | null;
  /** Values raised to the kernel's 1 s (or the heartbeat's 100 ms) minimum: their ratios are not kept. */
  clamped: string[];
  checks: VerifyCheck[];
}

export interface VerifyOutcome {
  scenario: VerifyScenario;
  arm: VerifyArm;
  scale: number;
  what: string;
  promisedMs: number | null;
  /** The lab's measurement: silence from the peer's last packet to the verdict; null when nothing was detected. */
  measuredMs: number | null;
  labVerdict: LabVerdict | 'skipped';
  pass: boolean | null;
  note: string;
}

/** Default scaled size of the longest promise or idle limit: three runs of about this plus setup stay under a minute. */
export const VERIFY_TARGET_MS = 8000;
/** No verification run may watch longer than this (a scale given by hand could ask for hours). */
export const VERIFY_MAX_WINDOW_MS = 300_000;
const HEARTBEAT_MIN_MS = 100;

export interface ScaledSettings {
  values: ArmValues;
  clamped: string[];
  keepaliveWorstMs: number;
  userTimeoutMs: number;
  heartbeatWorstMs: number;
}

/**
 * The recommendation divided by `scale`: keepalive rounded to whole seconds (at least 1 s), the user timeout
 * re-derived by the recommendation's own rule (idle + interval x count), the heartbeat in 10 ms steps with its
 * timeout/interval ratio kept; worst cases recomputed from these values.
 */
export function scaleSettings(rec: Recommendation, scale: number): ScaledSettings {
  const clamped: string[] = [];
  const seconds = (ms: number, name: string) => {
    const scaled = Math.round(ms / scale / 1000) * 1000;
    if (scaled >= 1000) return scaled;
    clamped.push(`${name} ${Math.round(ms / scale)} ms -> 1000 ms`);
    return 1000;
  };
  const idle = seconds(rec.keepalive.idle, 'idle');
  const interval = seconds(rec.keepalive.interval, 'interval');
  const count = rec.keepalive.count;
  const userTimeout = idle + interval * count;
  let heartbeatInterval = Math.round(rec.heartbeat.interval / scale / 10) * 10;
  if (heartbeatInterval < HEARTBEAT_MIN_MS) {
    clamped.push(`heartbeat interval ${Math.round(rec.heartbeat.interval / scale)} ms -> ${HEARTBEAT_MIN_MS} ms`);
    heartbeatInterval = HEARTBEAT_MIN_MS;
  }
  const heartbeatTimeout = Math.round((heartbeatInterval * rec.heartbeat.timeout) / rec.heartbeat.interval / 10) * 10;
  const budget = keepAliveBudget({ idle, interval, count, userTimeout });
  const { tick } = resolveHeartbeatOptions({ interval: heartbeatInterval, timeout: heartbeatTimeout - heartbeatInterval });
  return {
    values: { idle, interval, count, userTimeout, heartbeatInterval, heartbeatTimeout },
    clamped,
    keepaliveWorstMs: budget.idleMs ?? Infinity,
    userTimeoutMs: budget.busyMs,
    heartbeatWorstMs: heartbeatTimeout + tick,
  };
}

/**
 * The lab runs that check a recommendation: cable-pull (an idle peer: keepalive), cable-pull-busy (data in
 * flight: the user timeout), each with the heartbeat arm beside it, and nat-expiry (with a middlebox: the router
 * forgets flows after the scaled idle limit, and the settings must keep the flow). Through a proxy only the
 * heartbeat is checked: the lab has no proxy, so what keepalive would do there cannot be shown. `scale` applies
 * to every run when given; otherwise each run gets the smallest factor that brings its longest duration to
 * about VERIFY_TARGET_MS.
 */
export function planVerification(rec: Recommendation, options: { scale?: number } = {}): VerifyRun[] {
  if (options.scale !== undefined && !(Number.isFinite(options.scale) && options.scale >= 1)) {
    throw new InvalidOptionError('verifyScale', options.scale, 'a number of at least 1 (durations are divided by it)');
  }
  const autoScale = (longestMs: number) => options.scale ?? Math.max(1, Math.ceil(longestMs / VERIFY_TARGET_MS));
  const keepaliveChecked = !rec.throughProxy;
  const runs: VerifyRun[] = [];

  const unscaled = scaleSettings(rec, 1);
  const longest = Math.max(unscaled.heartbeatWorstMs, ...(keepaliveChecked ? [unscaled.keepaliveWorstMs, unscaled.userTimeoutMs] : []));
  const detectScale = autoScale(longest);
  const detect = scaleSettings(rec, detectScale);
  const detectLongest = Math.max(detect.heartbeatWorstMs, ...(keepaliveChecked ? [detect.keepaliveWorstMs, detect.userTimeoutMs] : []));
  const detectWindow = Math.max(5000, detectLongest + 2 * TOLERANCE_MS + 2000);
  const heartbeatCheck: VerifyCheck = { arm: 'heartbeat', what: 'any peer via heartbeat', promisedMs: detect.heartbeatWorstMs };
  runs.push({
    scenario: 'cable-pull',
    scale: detectScale,
    values: detect.values,
    windowMs: detectWindow,
    natTimeoutMs: null,
    clamped: detect.clamped,
    checks: [...(keepaliveChecked ? [{ arm: 'tuned-uto' as const, what: 'idle peer via keepalive', promisedMs: detect.keepaliveWorstMs }] : []), heartbeatCheck],
  });
  runs.push({
    scenario: 'cable-pull-busy',
    scale: detectScale,
    values: detect.values,
    windowMs: detectWindow,
    natTimeoutMs: null,
    clamped: detect.clamped,
    checks: [...(keepaliveChecked ? [{ arm: 'tuned-uto' as const, what: 'busy peer via user timeout', promisedMs: detect.userTimeoutMs }] : []), heartbeatCheck],
  });

  const box = rec.middlebox;
  if (box) {
    const natScale = autoScale(box.idleLimitMs);
    const nat = scaleSettings(rec, natScale);
    const natTimeoutMs = Math.max(1000, Math.round(box.idleLimitMs / natScale / 1000) * 1000);
    const keepsFlow = keepaliveChecked && box.keepaliveRefreshes && rec.keepalive.idle < box.idleLimitMs;
    const checks: VerifyCheck[] = [
      ...(keepsFlow ? [{ arm: 'tuned-uto' as const, what: 'keepalive keeps the flow past the idle limit', promisedMs: null }] : []),
      ...(rec.heartbeat.interval < box.idleLimitMs ? [{ arm: 'heartbeat' as const, what: 'heartbeats keep the flow past the idle limit', promisedMs: null }] : []),
    ];
    if (checks.length > 0) {
      runs.push({ scenario: 'nat-expiry', scale: natScale, values: nat.values, windowMs: natTimeoutMs + 6000, natTimeoutMs, clamped: nat.clamped, checks });
    }
  }
  const tooLong = runs.find((run) => run.windowMs > VERIFY_MAX_WINDOW_MS);
  if (tooLong) {
    throw new InvalidOptionError('verifyScale', options.scale, `a factor that keeps every lab run under ${VERIFY_MAX_WINDOW_MS / 1000} s (${tooLong.scenario} would watch ${Math.round(tooLong.windowMs / 1000)} s); leave it out for the default`);
  }
  return runs;
}

/** Whether the lab's measurement keeps the promise (within the lab's tolerance of 1 s). */
export function judgeCheck(
  run: VerifyRun,
  check: VerifyCheck,
  result: RunResult | undefined,
  options: { skipped?: string } = {},
): VerifyOutcome {
  const base = { scenario: run.scenario, arm: check.arm, scale: run.scale, what: check.what, promisedMs: check.promisedMs };
  if (!result) {
    return { ...base, measuredMs: null, labVerdict: 'skipped', pass: null, note: options.skipped ?? 'the lab did not run it' };
  }
  if (check.promisedMs === null) {
    const pass = result.verdict === 'survived';
    return { ...base, measuredMs: result.detectedMs, labVerdict: result.verdict, pass, note: result.note };
  }
  if (result.silentMs === null) {
    return { ...base, measuredMs: null, labVerdict: result.verdict, pass: false, note: `not detected within ${Math.round(result.windowMs / 1000)} s` };
  }
  const measuredMs = result.silentMs;
  const pass = measuredMs <= check.promisedMs + TOLERANCE_MS;
  const what = `${result.reason ?? 'detected'}${result.code ? ` (${result.code})` : ''}`;
  const note = !pass
    ? `${what}, ${measuredMs - check.promisedMs} ms later than promised (tolerance ${TOLERANCE_MS} ms)`
    : measuredMs < check.promisedMs - TOLERANCE_MS
      ? `${what}, earlier than promised by ${check.promisedMs - measuredMs} ms`
      : what;
  return { ...base, measuredMs, labVerdict: result.verdict, pass, note };
}

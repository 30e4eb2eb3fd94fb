import { ArmNames, configuredDetectionMs as tcpDetectionMs, type ArmName, type ArmSettings } from './arms.js';
import { leastSquares, median } from '../measure.js';
import type { SettledMemory, WindowMeasures } from './worker-measure.js';
import { configuredDetectionMs as wsDetectionMs, WsArmNames, type WsArmName } from './ws-arms.js';

/** Any arm of either transport: raw TCP (arms.ts) or ws (ws-arms.ts). */
export type AnyArm = ArmName | WsArmName;

function configuredDetectionMs(arm: AnyArm, settings: ArmSettings): number | null {
  return (Object.values(WsArmNames) as string[]).includes(arm) ? wsDetectionMs(arm as WsArmName, settings) : tcpDetectionMs(arm as ArmName, settings);
}

/**
 * What one raw TCP client worker saw of the pings on its connections that send data, by the silence before each ping
 * left the server (the PING carries its send time; the client knows its own last write): client-worker.ts.
 */
export interface PingCheck {
  /** Less than a period after the connection's last data: pings the issue's target forbids. */
  afterData: number;
  /** A period or more after it (the client fell behind its schedule): pings that were right. */
  afterQuiet: number;
  /** Not known (both remembered writes came after the ping left); counted against the arm. */
  unknown: number;
  /** The shortest silence before a ping counted in afterData, ms; null when there was none. */
  shortestQuietMs: number | null;
}

/**
 * What one server worker reports for one arm in one round: its window's measures (worker-measure.ts), pings and
 * verdicts, memory, and its client's pingCheck (null over ws).
 */
export interface WorkerWindow extends WindowMeasures {
  pings: number;
  pingsToBusy: number;
  lifetimePingsToBusy: number;
  deaths: Record<string, { at: number; reason: string }>;
  falsePositives: { remote: string; reason: string; at: number }[];
  /** Heap (heapUsed + arrayBuffers), RSS and compiled code after GC, before the arm and after its warm-up. */
  memoryBefore: SettledMemory;
  memoryAfter: SettledMemory;
  pingCheck: PingCheck | null;
}

export interface ArmRound {
  arm: AnyArm;
  connections: number;
  periods: number;
  cpuMsPer1000PerPeriod: number;
  /** CPU beyond io-floor's (which only pings the idle connections once a period): liveness bookkeeping and wasted pings. */
  bookkeepingMsPer1000PerPeriod: number | null;
  /** Null when the round has no `none` arm to measure from (side by side). */
  heapBytesPerConnection: number | null;
  /**
   * heapBytesPerConnection without the growth of compiled code (machine code and bytecode, over the none arm's): the
   * liveness state itself, which the issue's heap target is about. Code is per process, whatever its connections.
   */
  stateBytesPerConnection: number | null;
  /** The arm's compiled code over the none arm's, per process (mean), bytes. */
  codeBytesPerProcess: number | null;
  rssBytesPerConnection: number | null;
  loopDelayMs: { p50: number; p99: number; max: number };
  /** p99 minus the none arm's p99 in the same process and round (the worst process). */
  addedLoopDelayP99Ms: number | null;
  /**
   * Each server process's own CPU over the window and event-loop delay p99, in process order: whether an arm's
   * "added" figure is one process or all of them, and whether its CPU went with it.
   */
  byProcess: {
    cpuMs: number;
    userMs: number;
    systemMs: number;
    gcPauseMs: number;
    gcCount: number;
    mainThreadMs: number | null;
    otherThreadsMs: number | null;
    loopDelayP99Ms: number;
  }[];
  pings: number;
  pingsPerConnectionPerPeriod: number;
  /** Pings to connections flagged busy, in the window and since the install: the server's view, which cannot tell a client that fell silent. */
  pingsToBusy: number;
  lifetimePingsToBusy: number;
  /** The clients' view since the install, summed over processes; null over ws. The target counts afterData + unknown. */
  pingCheck: PingCheck | null;
  detection: Detection | null;
  falsePositives: number;
  /** Live connections declared dead, by reason. */
  falsePositiveReasons: Record<string, number>;
}

export interface Detection {
  configuredMs: number;
  victims: number;
  detected: number;
  reasons: string[];
  /** From the victim's last byte to the verdict. */
  latencyMs: Stats;
  /** latency - configured worst case: negative is early. */
  errorMs: Stats;
  early: number;
  errors: number[];
}

export interface Stats {
  p50: number;
  p99: number;
  max: number;
  min: number;
}

export function stats(values: number[]): Stats {
  if (values.length === 0) return { p50: NaN, p99: NaN, max: NaN, min: NaN };
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
  return { p50: round(at(50)), p99: round(at(99)), max: round(sorted.at(-1)!), min: round(sorted[0]!) };
}

export const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;
export { median };

/** Turns one round's raw worker reports (per arm, one per worker) into per-arm figures. */
export function summariseRound(
  windows: Map<AnyArm, WorkerWindow[]>,
  killed: Map<AnyArm, Record<string, number>>,
  settings: ArmSettings,
  connections: number,
): ArmRound[] {
  const cpuOf = (arm: AnyArm) => {
    const list = windows.get(arm);
    if (!list) return null;
    const periods = list[0]!.elapsedMs / settings.periodMs;
    return list.reduce((sum, w) => sum + w.cpuMs, 0) / (connections / 1000) / periods;
  };
  // Over ws there is no io-floor arm: bookkeeping is then left out; the baseline is ws-none.
  const floor = cpuOf(ArmNames.IO_FLOOR);
  const none = windows.get(ArmNames.NONE) ?? windows.get(WsArmNames.WS_NONE);
  const drift = (list: WorkerWindow[], pick: keyof SettledMemory) => list.reduce((sum, w) => sum + w.memoryAfter[pick] - w.memoryBefore[pick], 0);
  const stateDrift = (list: WorkerWindow[]) => drift(list, 'heap') - drift(list, 'code');
  const rows: ArmRound[] = [];
  for (const [arm, list] of windows) {
    const periods = list[0]!.elapsedMs / settings.periodMs;
    const cpu = cpuOf(arm)!;
    const pings = list.reduce((sum, w) => sum + w.pings, 0);
    rows.push({
      arm,
      connections,
      periods: round(periods),
      cpuMsPer1000PerPeriod: round(cpu, 3),
      bookkeepingMsPer1000PerPeriod: floor === null ? null : round(cpu - floor, 3),
      // The arm's growth over the warm-up minus what the same connections grew without liveness (Node's lazily
      // allocated socket state, buffers in flight).
      // Without it (side by side) there is no heap figure: raw growth would charge the arm for Node's own.
      heapBytesPerConnection: none ? round((drift(list, 'heap') - drift(none, 'heap')) / connections, 1) : null,
      stateBytesPerConnection: none ? round((stateDrift(list) - stateDrift(none)) / connections, 1) : null,
      codeBytesPerProcess: none ? Math.round((drift(list, 'code') - drift(none, 'code')) / list.length) : null,
      rssBytesPerConnection: none ? round((drift(list, 'rss') - drift(none, 'rss')) / connections, 1) : null,
      loopDelayMs: {
        p50: round(median(list.map((w) => w.loopDelay.p50))),
        p99: round(Math.max(...list.map((w) => w.loopDelay.p99))),
        max: round(Math.max(...list.map((w) => w.loopDelay.max))),
      },
      addedLoopDelayP99Ms: none ? round(Math.max(...list.map((w, i) => w.loopDelay.p99 - none[i]!.loopDelay.p99))) : null,
      byProcess: list.map((w) => ({
        cpuMs: round(w.cpuMs, 0),
        userMs: round(w.cpuSplit.userMs, 0),
        systemMs: round(w.cpuSplit.systemMs, 0),
        gcPauseMs: round(w.cpuSplit.gcPauseMs, 1),
        gcCount: w.cpuSplit.gcCount,
        mainThreadMs: w.cpuSplit.mainThreadMs === null ? null : round(w.cpuSplit.mainThreadMs, 0),
        otherThreadsMs: w.cpuSplit.otherThreadsMs === null ? null : round(w.cpuSplit.otherThreadsMs, 0),
        loopDelayP99Ms: round(w.loopDelay.p99),
      })),
      pings,
      pingsPerConnectionPerPeriod: round(pings / connections / periods, 3),
      pingsToBusy: list.reduce((sum, w) => sum + w.pingsToBusy, 0),
      lifetimePingsToBusy: list.reduce((sum, w) => sum + w.lifetimePingsToBusy, 0),
      pingCheck: sumPingChecks(list.map((w) => w.pingCheck)),
      detection: detection(arm, list, killed.get(arm) ?? {}, settings),
      falsePositives: list.reduce((sum, w) => sum + w.falsePositives.length, 0),
      falsePositiveReasons: countBy(list.flatMap((w) => w.falsePositives.map((f) => f.reason))),
    });
  }
  return rows;
}

/** The processes' ping checks added up (the shortest silence is the least of them); null if any is missing. */
export function sumPingChecks(checks: (PingCheck | null)[]): PingCheck | null {
  if (checks.length === 0 || checks.some((check) => check === null)) return null;
  const quiets = checks.map((check) => check!.shortestQuietMs).filter((ms): ms is number => ms !== null);
  return {
    afterData: checks.reduce((sum, check) => sum + check!.afterData, 0),
    afterQuiet: checks.reduce((sum, check) => sum + check!.afterQuiet, 0),
    unknown: checks.reduce((sum, check) => sum + check!.unknown, 0),
    shortestQuietMs: quiets.length ? Math.min(...quiets) : null,
  };
}

/** The pings the issue's first target counts: sent less than a period after the connection's data (or not known). */
export function pingsAfterData(row: Pick<ArmRound, 'pingCheck'>): number | null {
  return row.pingCheck && row.pingCheck.afterData + row.pingCheck.unknown;
}

function countBy(values: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}

function detection(arm: AnyArm, list: WorkerWindow[], killed: Record<string, number>, settings: ArmSettings): Detection | null {
  const configuredMs = configuredDetectionMs(arm, settings);
  if (configuredMs === null) return null;
  const deaths = Object.assign({}, ...list.map((w) => w.deaths)) as WorkerWindow['deaths'];
  const latencies: number[] = [];
  const errors: number[] = [];
  const reasons = new Set<string>();
  for (const [victim, killedAt] of Object.entries(killed)) {
    const death = deaths[victim];
    if (!death) continue;
    latencies.push(death.at - killedAt);
    errors.push(round(death.at - killedAt - configuredMs, 1));
    reasons.add(death.reason);
  }
  return {
    configuredMs,
    victims: Object.keys(killed).length,
    detected: latencies.length,
    reasons: [...reasons],
    latencyMs: stats(latencies),
    errorMs: stats(errors),
    early: errors.filter((e) => e < 0).length,
    errors,
  };
}

/**
 * Per arm, the median over rounds (with an even number of rounds, the mean of the middle two), detection errors
 * pooled; pings (after data, and to busy connections), false verdicts, victims and detections are totals over the rounds.
 */
export function summariseRounds(rounds: ArmRound[][]) {
  const arms = rounds[0]?.map((row) => row.arm) ?? [];
  return arms.map((arm) => {
    const rows = rounds.map((rs) => rs.find((row) => row.arm === arm)!);
    const med = (pick: (row: ArmRound) => number | null) => {
      const values = rows.map(pick).filter((v): v is number => v !== null);
      return values.length ? round(median(values), 3) : null;
    };
    const errors = rows.flatMap((row) => row.detection?.errors ?? []);
    const detection = rows[0]!.detection;
    return {
      arm,
      cpuMsPer1000PerPeriod: med((row) => row.cpuMsPer1000PerPeriod),
      bookkeepingMsPer1000PerPeriod: med((row) => row.bookkeepingMsPer1000PerPeriod),
      heapBytesPerConnection: med((row) => row.heapBytesPerConnection),
      stateBytesPerConnection: med((row) => row.stateBytesPerConnection),
      codeBytesPerProcess: med((row) => row.codeBytesPerProcess),
      rssBytesPerConnection: med((row) => row.rssBytesPerConnection),
      loopDelayP50Ms: med((row) => row.loopDelayMs.p50),
      loopDelayP99Ms: med((row) => row.loopDelayMs.p99),
      loopDelayMaxMs: Math.max(...rows.map((row) => row.loopDelayMs.max)),
      addedLoopDelayP99Ms: med((row) => row.addedLoopDelayP99Ms),
      pingsPerConnectionPerPeriod: med((row) => row.pingsPerConnectionPerPeriod),
      pingsToBusy: rows.reduce((sum, row) => sum + row.lifetimePingsToBusy, 0),
      pingsAfterData: pingsAfterData({ pingCheck: sumPingChecks(rows.map((row) => row.pingCheck)) }),
      falsePositives: rows.reduce((sum, row) => sum + row.falsePositives, 0),
      detection: detection && {
        configuredMs: detection.configuredMs,
        victims: rows.reduce((sum, row) => sum + (row.detection?.victims ?? 0), 0),
        detected: rows.reduce((sum, row) => sum + (row.detection?.detected ?? 0), 0),
        errorMs: stats(errors),
        early: errors.filter((e) => e < 0).length,
      },
    };
  });
}

export interface MarginalHeap {
  arm: AnyArm;
  /** The least-squares slope of the arm's heap growth over connections: what one more connection costs. */
  bytesPerConnection: number;
  /** The intercept: what the arm costs a process whatever its connections (V8's compiled code for it and its metadata, its timers). */
  constantBytes: number;
}

/**
 * Heap per connection as a slope over several scales, each in one process (the medians of heapBytesPerConnection
 * times the connections): the per-connection figure of one scale also holds the arm's per-process constant spread
 * over its connections, most of it at 1 000. For lifeline that constant is about 200 KiB: V8's compiled code for the
 * engine (machine code and bytecode, 136 KiB at 1 000: the rows' codeBytesPerProcess) and its metadata (feedback
 * vectors, scope infos, hidden classes), 11 B a connection at 19 000.
 * Null with fewer than two scales.
 */
export function marginalHeap(scales: { connections: number; summary: { arm: AnyArm; heapBytesPerConnection: number | null }[] }[]): MarginalHeap[] | null {
  if (scales.length < 2) return null;
  const connections = scales.map((scale) => scale.connections);
  return scales[0]!.summary.map(({ arm }) => {
    const bytes = scales.map((scale) => (scale.summary.find((row) => row.arm === arm)?.heapBytesPerConnection ?? NaN) * scale.connections);
    const { slope, intercept } = leastSquares(connections, bytes);
    return { arm, bytesPerConnection: round(slope, 1), constantBytes: Math.round(intercept) };
  });
}

/**
 * The heap target over the one-process scales: lifeline's slope (the per-process constant, most of it V8's code and
 * its metadata for the engine, apart) at most the target. `scales` names them, for the message.
 */
export function missedHeapSlope(slope: MarginalHeap[], scales: string): string[] {
  const lifeline = slope.find((row) => row.arm === ArmNames.LIFELINE);
  if (!lifeline) return [];
  if (lifeline.bytesPerConnection <= TARGETS.heapBytesPerConnection) return [];
  return [`${scales}: lifeline heap ${lifeline.bytesPerConnection} B per connection (the slope; ${round(lifeline.constantBytes / 1024, 0)} KiB per process apart) > ${TARGETS.heapBytesPerConnection} B`];
}

/** How far apart io-floor and io-floor-again (the same arm, run twice in one round) landed. */
export interface RoundResolution {
  /** io-floor-again's CPU minus io-floor's, ms per 1000 connections per period. */
  cpuMsPer1000PerPeriod: number;
  /** io-floor-again's added event-loop delay p99 minus io-floor's (null without the none arm). */
  addedLoopDelayP99Ms: number | null;
}

/**
 * A round's resolution: two identical arms differ by this much, so a difference between other arms of that size is
 * the machine, not the arms. Null when the round did not run both.
 */
export function roundResolution(rows: ArmRound[]): RoundResolution | null {
  const floor = rows.find((row) => row.arm === ArmNames.IO_FLOOR);
  const again = rows.find((row) => row.arm === ArmNames.IO_FLOOR_AGAIN);
  if (!floor || !again) return null;
  const added = floor.addedLoopDelayP99Ms !== null && again.addedLoopDelayP99Ms !== null
    ? round(again.addedLoopDelayP99Ms - floor.addedLoopDelayP99Ms) : null;
  return { cpuMsPer1000PerPeriod: round(again.cpuMsPer1000PerPeriod - floor.cpuMsPer1000PerPeriod, 3), addedLoopDelayP99Ms: added };
}

/** The issue's targets for the lifeline arm. */
export const TARGETS = {
  /** Pings to connections that carried data within the period (the clients' pingCheck: afterData + unknown). */
  pingsAfterData: 0,
  /**
   * Per connection: in one process at several scales, the slope (marginalHeap: what one more connection costs, the
   * per-process constant apart); in each round of a scale spread over processes, the whole growth per connection.
   */
  heapBytesPerConnection: 64,
  bookkeepingMsPer1000PerPeriod: 1,
  addedLoopDelayP99Ms: 2,
} as const;

/** The arms lifeline's bookkeeping must beat in every round. */
export const RIVALS: readonly ArmName[] = [ArmNames.WS_RECIPE, ArmNames.PER_SOCKET_TIMERS, ArmNames.SOCKET_TIMEOUT];

/**
 * Checks one scale's rounds against the targets; returns what was missed, in words. `loopDelay` adds the target that
 * the issue sets at 100 000 connections (event-loop delay); `heap: false` leaves out the heap target, for rounds
 * that cannot measure it (side by side: no `none` arm runs beside the others). A round that should measure the heap
 * but has no figure misses the target.
 */
export function missedTargets(label: string, rounds: ArmRound[][], settings: ArmSettings, options: { loopDelay: boolean; heap?: boolean }): string[] {
  const missed: string[] = [];
  rounds.forEach((rows, r) => {
    const at = `${label} round ${r + 1}`;
    const lifeline = rows.find((row) => row.arm === ArmNames.LIFELINE);
    if (!lifeline) return;
    const afterData = pingsAfterData(lifeline);
    if (afterData === null) {
      if (lifeline.lifetimePingsToBusy > TARGETS.pingsAfterData) missed.push(`${at}: lifeline pinged busy connections ${lifeline.lifetimePingsToBusy} times`);
    } else if (afterData > TARGETS.pingsAfterData) {
      missed.push(`${at}: lifeline sent ${afterData} pings less than a period after the connection's last data` +
        ` (shortest silence ${lifeline.pingCheck!.shortestQuietMs} ms, ${lifeline.pingCheck!.unknown} not known)`);
    }
    if (options.heap !== false) {
      if (lifeline.heapBytesPerConnection === null) missed.push(`${at}: no heap figure for lifeline (the round ran no none arm to measure from)`);
      else if (lifeline.heapBytesPerConnection > TARGETS.heapBytesPerConnection) {
        missed.push(`${at}: lifeline heap ${lifeline.heapBytesPerConnection} B per connection > ${TARGETS.heapBytesPerConnection} B` +
          ` (${lifeline.stateBytesPerConnection} B without its ${round((lifeline.codeBytesPerProcess ?? 0) / 1024, 0)} KiB of compiled code per process)`);
      }
    }
    const own = lifeline.bookkeepingMsPer1000PerPeriod;
    if (own !== null) {
      if (own > TARGETS.bookkeepingMsPer1000PerPeriod) {
        missed.push(`${at}: lifeline bookkeeping ${own} ms per 1000 connections per period > ${TARGETS.bookkeepingMsPer1000PerPeriod} ms`);
      }
      for (const rival of RIVALS) {
        const other = rows.find((row) => row.arm === rival)?.bookkeepingMsPer1000PerPeriod;
        if (other !== undefined && other !== null && own >= other) missed.push(`${at}: lifeline bookkeeping ${own} ms not below ${rival}'s ${other} ms`);
      }
    }
    if (options.loopDelay && lifeline.addedLoopDelayP99Ms !== null && lifeline.addedLoopDelayP99Ms > TARGETS.addedLoopDelayP99Ms) {
      missed.push(`${at}: lifeline added event-loop delay p99 ${lifeline.addedLoopDelayP99Ms} ms > ${TARGETS.addedLoopDelayP99Ms} ms`);
    }
    const d = lifeline.detection;
    if (d) {
      if (d.detected < d.victims) missed.push(`${at}: lifeline found ${d.detected} of ${d.victims} victims`);
      if (d.early > 0) missed.push(`${at}: lifeline declared ${d.early} victims dead early (min error ${d.errorMs.min} ms)`);
      if (d.errorMs.max > settings.tickMs) missed.push(`${at}: lifeline detection ${d.errorMs.max} ms late > one tick (${settings.tickMs} ms)`);
    }
    if (lifeline.falsePositives > 0) missed.push(`${at}: lifeline declared ${lifeline.falsePositives} live connections dead`);
  });
  return missed;
}

/** One scale's medians over rounds as a Markdown table (for docs/benchmarks.md). */
export function markdownTable(summary: {
  arm: string;
  cpuMsPer1000PerPeriod: number | null;
  bookkeepingMsPer1000PerPeriod: number | null;
  heapBytesPerConnection: number | null;
  stateBytesPerConnection: number | null;
  loopDelayP99Ms: number | null;
  addedLoopDelayP99Ms: number | null;
  pingsPerConnectionPerPeriod: number | null;
  pingsToBusy: number;
  pingsAfterData: number | null;
  falsePositives: number;
  detection: { victims: number; detected: number; errorMs: Stats; early: number; configuredMs: number } | null;
}[]): string {
  const f = (value: number | null, digits = 2) => (value === null ? '-' : value.toFixed(digits));
  const lines = [
    '| arm | CPU ms /1000 conn /period | bookkeeping ms | heap B/conn (without code) | loop p99 ms (added) | pings /conn /period | pings after data (to busy) | detected | error p50 / max ms (configured) | early | false dead |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const row of summary) {
    const d = row.detection;
    lines.push(`| ${row.arm} | ${f(row.cpuMsPer1000PerPeriod)} | ${f(row.bookkeepingMsPer1000PerPeriod)} | ${f(row.heapBytesPerConnection, 0)} (${f(row.stateBytesPerConnection, 0)}) | ` +
      `${f(row.loopDelayP99Ms)} (${f(row.addedLoopDelayP99Ms)}) | ${f(row.pingsPerConnectionPerPeriod, 3)} | ${row.pingsAfterData ?? '-'} (${row.pingsToBusy}) | ` +
      `${d ? `${d.detected}/${d.victims}` : '-'} | ${d ? `${d.errorMs.p50} / ${d.errorMs.max} (${d.configuredMs / 1000} s)` : '-'} | ${d ? d.early : '-'} | ${row.falsePositives} |`);
  }
  return lines.join('\n');
}

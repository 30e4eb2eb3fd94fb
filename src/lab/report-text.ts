import { formatDuration, formatShortDuration } from '../duration.js';
import { kernelWouldNotice } from './judge.js';
import type { ArmConfig, LabReport, RunResult } from './types.js';

export function describeConfig(config: ArmConfig): string {
  if (config.heartbeat) return `heartbeat ${formatShortDuration(config.heartbeat.interval)}/${formatShortDuration(config.heartbeat.timeout)}`;
  const uto = config.userTimeout > 0 ? ` + uto ${formatShortDuration(config.userTimeout)}` : '';
  if (!config.enabled) return `off${uto}`;
  return `${formatShortDuration(config.idle)},${formatShortDuration(config.interval)},${config.count}${uto}`;
}

export function describeDetection(run: RunResult): string {
  if (run.detectedMs !== null) return `${(run.detectedMs / 1000).toFixed(1)} s (silent ${((run.silentMs ?? 0) / 1000).toFixed(1)} s)`;
  const window = `${Math.round(run.windowMs / 1000)} s`;
  if (run.verdict === 'survived' || run.verdict === 'flow-lost') return `nothing in ${window}`;
  return `not detected in ${window}; ${kernelWouldNotice(run.budgetMs)}`;
}

function budgetText(run: RunResult): string {
  return run.budgetMs === null ? '-' : formatDuration(run.budgetMs);
}

/** The table printed at the end of a run, one row per (scenario, arm). */
export function resultTable(report: LabReport): string[] {
  const rows = [
    ['scenario', 'arm', 'keepalive', 'budget', 'detected after', 'code', 'reason', 'verdict'],
    ...report.runs.map((run) => [
      run.scenario,
      run.arm,
      describeConfig(run.config),
      budgetText(run),
      describeDetection(run),
      run.code ?? '-',
      run.reason ?? '-',
      run.verdict,
    ]),
  ];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  const lines = rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd());
  lines.splice(1, 0, widths.map((width) => '-'.repeat(width)).join('  '));
  for (const skipped of report.skipped) lines.push(`${skipped.scenario}: skipped, ${skipped.reason}`);
  return lines;
}

/** One line per run as it finishes. */
export function progressLine(run: RunResult): string {
  return `  ${run.arm.padEnd(9)} ${run.verdict.padEnd(14)} ${describeDetection(run)}${run.reason ? ` ${run.reason}${run.code ? ` (${run.code})` : ''}` : ''}`;
}

import type { KeepAliveState } from '../socket/keepalive.js';
import { formatShortDuration } from '../duration.js';

/** One JSON object per line: the format every --json output of lifeline uses. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

export function printLines(lines: readonly string[]): void {
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** `idle 7s, interval 3s, count 4, user timeout 20s` (or `off`). */
export function describeKeepAlive(state: Pick<KeepAliveState, 'enabled' | 'idle' | 'interval' | 'count' | 'userTimeout'>): string {
  const keepalive = state.enabled
    ? `idle ${formatShortDuration(state.idle)}, interval ${formatShortDuration(state.interval)}, count ${state.count}`
    : 'keepalive off';
  const uto = state.userTimeout > 0 ? `user timeout ${formatShortDuration(state.userTimeout)}` : 'no user timeout';
  return `${keepalive}, ${uto}`;
}

/** Pads columns so tables line up in a terminal. */
export function table(rows: readonly (readonly string[])[], indent = '  '): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, index) => (widths[index] = Math.max(widths[index] ?? 0, cell.length)));
  return rows.map((row) => indent + row.map((cell, index) => (index === row.length - 1 ? cell : cell.padEnd(widths[index] ?? 0))).join('  '));
}

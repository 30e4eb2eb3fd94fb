import { formatDuration, formatShortDuration } from '../duration.js';
import { runLab } from '../lab/lab.js';
import { judgeCheck, type VerifyOutcome, type VerifyRun } from '../recommend/verify-plan.js';
import { cleanupOwn } from './lab.js';

/**
 * `lifeline recommend --verify`: runs the planned lab scenarios one after another (the arms of each side by
 * side) and judges each measurement against the scaled promise. Needs root, or root in a user namespace
 * (the caller re-executes itself first, as `lifeline lab` does).
 */
export async function runVerification(plan: readonly VerifyRun[], say: (line: string) => void): Promise<VerifyOutcome[]> {
  const stop = (signal: NodeJS.Signals) => {
    cleanupOwn();
    process.stderr.write(`lifeline: recommend --verify stopped by ${signal}; its namespaces were removed\n`);
    process.exit(130);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const outcomes: VerifyOutcome[] = [];
  try {
    for (const [index, run] of plan.entries()) {
      say(`[${index + 1}/${plan.length}] ${run.scenario}, durations / ${run.scale}: ${describeValues(run)}; watching ${formatDuration(run.windowMs)}`);
      if (run.clamped.length > 0) say(`  raised to the minimum (ratio not kept): ${run.clamped.join(', ')}`);
      const report = await runLab({
        scenarios: [run.scenario],
        arms: run.checks.map((check) => check.arm),
        values: run.values,
        settings: { windowMs: run.windowMs, ...(run.natTimeoutMs !== null && { natTimeoutMs: run.natTimeoutMs }) },
        noCapture: true,
      });
      const skipped = report.skipped.find((entry) => entry.scenario === run.scenario)?.reason;
      for (const check of run.checks) {
        const result = report.runs.find((candidate) => candidate.scenario === run.scenario && candidate.arm === check.arm);
        const outcome = judgeCheck(run, check, result, { ...(skipped !== undefined && { skipped }) });
        outcomes.push(outcome);
        say(`  ${outcomeWord(outcome).padEnd(4)} ${check.arm.padEnd(9)} ${check.what}: promised ${promised(outcome)}, measured ${measured(outcome)}; ${outcome.note}`);
      }
    }
  } finally {
    cleanupOwn();
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
  return outcomes;
}

export function outcomeWord(outcome: VerifyOutcome): string {
  return outcome.pass === null ? 'SKIP' : outcome.pass ? 'PASS' : 'FAIL';
}

export function promised(outcome: VerifyOutcome): string {
  return outcome.promisedMs === null ? 'survives' : formatDuration(outcome.promisedMs);
}

export function measured(outcome: VerifyOutcome): string {
  if (outcome.labVerdict === 'skipped') return '-';
  if (outcome.promisedMs === null) return outcome.labVerdict;
  return outcome.measuredMs === null ? 'not detected' : formatDuration(outcome.measuredMs);
}

export function describeValues(run: VerifyRun): string {
  const { idle, interval, count, userTimeout, heartbeatInterval, heartbeatTimeout } = run.values;
  const short = formatShortDuration;
  const nat = run.natTimeoutMs === null ? '' : `, router forgets idle flows after ${short(run.natTimeoutMs)}`;
  return `keepalive ${short(idle)},${short(interval)},${count} + user timeout ${short(userTimeout)}, heartbeat ${short(heartbeatInterval)},${short(heartbeatTimeout)}${nat}`;
}

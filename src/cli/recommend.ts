import type { Command } from 'commander';
import { formatDuration, formatShortDuration } from '../duration.js';
import { InvalidOptionError } from '../errors.js';
import { PRESETS, PresetNames, type PresetName } from '../recommend/presets.js';
import { recommend, type Recommendation, type RecommendInput } from '../recommend/recommend.js';
import { planVerification, type VerifyOutcome, type VerifyRun } from '../recommend/verify-plan.js';
import { ensureAccess } from './lab.js';
import { printJson, printLines, table } from './output.js';
import { measured, outcomeWord, promised, runVerification } from './recommend-verify.js';
import { UsageError } from './usage-error.js';

interface RecommendFlags {
  idleLimit?: string;
  preset?: string;
  detectWithin?: string;
  throughProxy?: boolean;
  busy?: boolean;
  json?: boolean;
  verify?: boolean;
  verifyScale?: string;
  presets?: boolean;
}

/** The library's option names as the command line spells them, for error messages. */
const FLAG_NAMES: Record<string, string> = {
  idleLimit: '--idle-limit',
  preset: '--preset',
  detectWithin: '--detect-within',
  verifyScale: '--verify-scale',
};

export function registerRecommend(program: Command): void {
  program
    .command('recommend')
    .description('keepalive, user timeout and heartbeat settings from what you know about the path, each with its reason and worst case')
    .option('--idle-limit <duration>', "a middlebox's idle limit, e.g. 350s (a bare number is seconds); with --preset, the value it is configured to")
    .option('--preset <name>', `a known middlebox: ${PresetNames.join(', ')} (--presets lists them with sources)`)
    .option('--detect-within <duration>', 'the worst-case time wanted between a peer dying and the verdict (default 2m)')
    .option('--through-proxy', 'a proxy terminates TCP between the peers: keepalive stops there, only heartbeats see the peer')
    .option('--busy', 'the connection streams data: keepalive never runs while data is in flight')
    .option('--json', 'print one JSON object instead of the table')
    .option('--verify', 'run the matching lab scenarios with these settings, scaled down, and check the promise (needs root or user namespaces)')
    .option('--verify-scale <factor>', 'divide every duration by this for --verify (default: each lab run about 8 s, the whole check under a minute)')
    .option('--presets', 'list the presets: idle limit, what happens at expiry, and where each figure comes from')
    .action((flags: RecommendFlags) => runRecommend(flags));
}

async function runRecommend(flags: RecommendFlags): Promise<void> {
  if (flags.presets) {
    if (flags.json) printJson(Object.values(PRESETS));
    else printLines(presetLines());
    return;
  }
  const input: RecommendInput = {
    ...(flags.idleLimit !== undefined && { idleLimit: durationText(flags.idleLimit) }),
    ...(flags.preset !== undefined && { preset: flags.preset as PresetName }),
    ...(flags.detectWithin !== undefined && { detectWithin: durationText(flags.detectWithin) }),
    ...(flags.throughProxy && { throughProxy: true }),
    ...(flags.busy && { busy: true }),
  };
  if (flags.verifyScale !== undefined && !flags.verify) throw new UsageError('--verify-scale only applies with --verify');
  const rec = withFlagNames(() => recommend(input));
  let plan: VerifyRun[] | null = null;
  if (flags.verify) {
    const scale = flags.verifyScale === undefined ? undefined : scaleFactor(flags.verifyScale);
    plan = withFlagNames(() => planVerification(rec, scale === undefined ? {} : { scale }));
    // Without root the whole command runs again as root of a user namespace; this process only waits for it.
    if (ensureAccess() === 'reexec') return;
  }
  const say = (line: string) => (flags.json ? process.stderr : process.stdout).write(`${line}\n`);
  if (!flags.json) printLines(describe(rec));
  let outcomes: VerifyOutcome[] | null = null;
  if (plan) {
    say('');
    say(`verify: the lab's ${plan.map((run) => run.scenario).join(', ')} with these settings, scaled down (every duration divided by the factor shown; keepalive stays in whole seconds, so the promise is recomputed from the scaled values)`);
    outcomes = await runVerification(plan, say);
    say('');
    for (const line of verifyTable(outcomes)) say(line);
    const failed = outcomes.filter((outcome) => outcome.pass === false).length;
    const passed = outcomes.filter((outcome) => outcome.pass === true).length;
    const skipped = outcomes.length - failed - passed;
    say(failed > 0
      ? `verify: ${failed} measurement(s) broke the promise (${passed} kept it${skipped ? `, ${skipped} skipped` : ''})`
      : `verify: every measurement kept the promise (${passed} checked${skipped ? `, ${skipped} skipped` : ''})`);
    if (failed > 0) process.exitCode = 1;
  }
  if (flags.json) {
    printJson({ ...rec, ...(plan && outcomes && { verification: { runs: plan.map((run) => ({ ...run })), outcomes, passed: !outcomes.some((outcome) => outcome.pass === false) } }) });
  }
}

/** A bare number is seconds, as everywhere on lifeline's command line. */
function durationText(text: string): string {
  return /^\d+(\.\d+)?$/.test(text.trim()) ? `${text.trim()}s` : text;
}

function scaleFactor(text: string): number {
  if (!/^\d+(\.\d+)?$/.test(text) || Number(text) < 1) throw new UsageError(`invalid --verify-scale ${JSON.stringify(text)}: allowed a number of at least 1`);
  return Number(text);
}

/** Option errors from the library, with the flag names people typed. */
function withFlagNames<T>(compute: () => T): T {
  try {
    return compute();
  } catch (error) {
    if (error instanceof InvalidOptionError) {
      const flag = FLAG_NAMES[error.option];
      throw new UsageError(flag ? error.message.replace(`invalid option ${error.option}:`, `invalid ${flag}:`) : error.message);
    }
    throw error;
  }
}

const short = formatShortDuration;
const long = formatDuration;

export function describe(rec: Recommendation): string[] {
  const box = rec.middlebox;
  const path = box
    ? `behind ${box.preset ?? 'a middlebox'}${box.preset ? ` (${box.title})` : ''}: idle limit ${long(box.idleLimitMs)}${box.expiryNote ? `; at expiry ${box.expiryNote}` : ''}`
    : 'no middlebox idle limit known';
  const lines = [
    `lifeline recommend: ${path}`,
    `goal: a dead peer found within ${long(rec.goal.detectWithinMs)}${rec.goal.given ? '' : ' (the default)'}; ${rec.busy ? 'a streaming (busy) connection' : 'a connection that is often idle'}; ${rec.throughProxy ? 'through a proxy' : 'no proxy in between'}`,
    '',
  ];
  const { keepalive, userTimeout, heartbeat } = rec;
  lines.push(
    ...table([
      ['setting', 'value', 'reason'],
      ['keepalive idle', short(keepalive.idle), keepalive.reasons.idle],
      ['keepalive interval', short(keepalive.interval), keepalive.reasons.interval],
      ['keepalive count', String(keepalive.count), keepalive.reasons.count],
      ['user timeout', short(userTimeout.value), userTimeout.reason],
      ['heartbeat interval', short(heartbeat.interval), heartbeat.reasons.interval],
      ['heartbeat timeout', short(heartbeat.timeout), heartbeat.reasons.timeout],
    ]),
  );
  lines.push('', "worst case, from the peer's last packet to the verdict:");
  const caseName = { 'idle-peer': 'idle peer', 'busy-peer': 'busy peer', 'any-peer': 'any peer' } as const;
  const viaName = { keepalive: 'keepalive', 'user-timeout': 'user timeout', heartbeat: 'heartbeat' } as const;
  lines.push(...table(rec.detection.map((entry) => [caseName[entry.case], viaName[entry.via], entry.worstMs === null ? 'never' : long(entry.worstMs), entry.reason])));
  lines.push('', `promise: ${long(rec.promise.worstMs)} (${rec.promise.via}), ${rec.promise.meetsGoal ? 'within' : 'NOT within'} the goal of ${long(rec.goal.detectWithinMs)}`);
  if (rec.warnings.length > 0) {
    lines.push('', 'warnings:');
    for (const warning of rec.warnings) lines.push(`  ${warning.code}: ${warning.message}`);
  }
  lines.push(
    '',
    'apply:',
    `  setKeepAlive(socket, { idle: '${short(keepalive.idle)}', interval: '${short(keepalive.interval)}', count: ${keepalive.count}, userTimeout: '${short(userTimeout.value)}' })`,
    `  lifeline server --keepalive ${short(keepalive.idle)},${short(keepalive.interval)},${keepalive.count} --user-timeout ${short(userTimeout.value)}`,
    `  lifeline server --protocol lifeline --heartbeat ${short(heartbeat.interval)},${short(heartbeat.timeout)}`,
  );
  if (box?.source) lines.push('', `source: ${box.source}`);
  return lines;
}

function verifyTable(outcomes: readonly VerifyOutcome[]): string[] {
  return table(
    [
      ['scenario', 'arm', 'checks', 'scale', 'promised', 'measured', 'result'],
      ...outcomes.map((outcome) => [outcome.scenario, outcome.arm, outcome.what, `1/${outcome.scale}`, promised(outcome), measured(outcome), outcomeWord(outcome)]),
    ],
    '',
  );
}

function presetLines(): string[] {
  const lines = table(
    [
      ['preset', 'idle limit', 'configurable', 'at expiry', 'proxy', 'probes refresh'],
      ...Object.values(PRESETS).map((preset) => [
        preset.name,
        long(preset.idleLimitMs),
        preset.configurableMs ? `${long(preset.configurableMs.min)} to ${long(preset.configurableMs.max)}` : '-',
        preset.atExpiry,
        preset.proxy ? 'yes' : 'no',
        preset.keepaliveRefreshes ? 'yes' : 'no',
      ]),
    ],
    '',
  );
  lines.push('');
  for (const preset of Object.values(PRESETS)) lines.push(`${preset.name}: ${preset.title}. ${preset.source}`);
  return lines;
}


import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parseDuration } from '../duration.js';
import { InvalidOptionError } from '../errors.js';
import { parseArm, DEFAULT_ARM_VALUES } from '../lab/arms.js';
import { labTools, runLab } from '../lab/lab.js';
import { renderHtmlReport } from '../lab/report-html.js';
import { progressLine, resultTable } from '../lab/report-text.js';
import { cleanupLeftovers, labNamespaces } from '../lab/topology.js';
import { ScenarioNames, type LabReport, type ScenarioName } from '../lab/types.js';
import { strerror } from './events.js';
import { printLines } from './output.js';
import { UsageError } from './usage-error.js';

interface LabFlags {
  arm: string[];
  window?: string;
  json?: string;
  pcap?: string;
  report?: string;
  cleanup?: boolean;
  idle?: string;
  interval?: string;
  count?: string;
  userTimeout?: string;
  loss?: string;
  natTimeout?: string;
  story?: boolean;
}

const collect = (value: string, previous: string[]) => [...previous, value];

export function registerLab(program: Command): void {
  program
    .command('lab')
    .description('reproduce each way a connection dies, in network namespaces on real kernel TCP, and measure who notices')
    .argument('[scenario...]', `scenarios to run (default all): ${ScenarioNames.join(', ')}`)
    .option('--arm <arm>', 'an arm to compare, repeatable: off, system, node, tuned, tuned-uto (default all)', collect, [])
    .option('--window <duration>', 'how long each run watches after the fault (default 20s)')
    .option('--idle <duration>', `keepalive idle for node/tuned arms (default ${DEFAULT_ARM_VALUES.idle / 1000}s)`)
    .option('--interval <duration>', `keepalive interval for tuned arms (default ${DEFAULT_ARM_VALUES.interval / 1000}s)`)
    .option('--count <n>', `keepalive probes for tuned arms (default ${DEFAULT_ARM_VALUES.count})`)
    .option('--user-timeout <duration>', `user timeout of the tuned-uto arm (default ${DEFAULT_ARM_VALUES.userTimeout / 1000}s)`)
    .option('--loss <percent>', 'lossy-link: packets dropped each way (default 25)')
    .option('--nat-timeout <duration>', "nat-expiry: the router's conntrack timeout (default 10s)")
    .option('--json <file>', "write the results as JSON to FILE ('-' for stdout)")
    .option('--pcap <dir>', 'keep each run\'s tcpdump capture in DIR (for Wireshark)')
    .option('--report <file>', 'write a self-contained HTML page with the table and each run\'s timeline')
    .option('--story', "print the article's experiment in its own words after the table")
    .option('--cleanup', 'remove what runs that were killed left behind (namespaces, their veths and nft tables), then exit')
    .action((scenarios: string[], flags: LabFlags) => runLabCommand(scenarios, flags));
}

async function runLabCommand(scenarioArgs: string[], flags: LabFlags): Promise<void> {
  if (flags.cleanup) {
    const removed = cleanupLeftovers();
    printLines([removed.length ? `removed ${removed.length} namespaces: ${removed.join(', ')}` : 'nothing to clean up']);
    return;
  }
  const scenarios = scenarioArgs.map((name): ScenarioName => {
    if ((ScenarioNames as readonly string[]).includes(name)) return name as ScenarioName;
    throw new InvalidOptionError('scenario', name, `one of ${ScenarioNames.join(', ')}`);
  });
  const arms = flags.arm.map(parseArm);
  const settings = {
    ...(flags.window !== undefined && { windowMs: duration(flags.window, '--window', 5000) }),
    ...(flags.loss !== undefined && { lossPercent: integer(flags.loss, '--loss', 0, 100) }),
    ...(flags.natTimeout !== undefined && { natTimeoutMs: duration(flags.natTimeout, '--nat-timeout', 1000) }),
  };
  const values = {
    ...(flags.idle !== undefined && { idle: duration(flags.idle, '--idle', 1000) }),
    ...(flags.interval !== undefined && { interval: duration(flags.interval, '--interval', 1000) }),
    ...(flags.count !== undefined && { count: integer(flags.count, '--count', 1, 127) }),
    ...(flags.userTimeout !== undefined && { userTimeout: duration(flags.userTimeout, '--user-timeout', 1) }),
  };
  const access = ensureAccess();
  if (access === 'reexec') return;
  const jsonToStdout = flags.json === '-';
  const say = (line: string) => (jsonToStdout ? process.stderr : process.stdout).write(`${line}\n`);
  if (!labTools().tcpdump) say('tcpdump is not installed: timelines come from polling the kernel\'s counters (TCP_INFO) instead');

  // Whatever happens, this run's namespaces go: on error, SIGINT and SIGTERM.
  const stop = (signal: NodeJS.Signals) => {
    cleanupOwn();
    process.stderr.write(`lifeline: lab stopped by ${signal}; its namespaces were removed\n`);
    process.exit(130);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  let report: LabReport;
  try {
    report = await runLab({
      scenarios,
      arms,
      values,
      settings,
      pcapDir: flags.pcap ?? null,
      onProgress: (progress) => {
        if (progress.type === 'scenario') say(`[${progress.index + 1}/${progress.total}] ${progress.scenario}: ${progress.summary} (${progress.arms.join(', ')})`);
        else if (progress.type === 'skipped') say(`${progress.scenario}: skipped, ${progress.reason}`);
        else say(progressLine(progress.result));
      },
    });
  } finally {
    cleanupOwn();
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
  say('');
  for (const line of resultTable(report)) say(line);
  if (flags.story) for (const line of story(report)) say(line);
  if (flags.json !== undefined) {
    const text = `${JSON.stringify(report, null, jsonToStdout ? undefined : 2)}\n`;
    if (jsonToStdout) process.stdout.write(text);
    else writeFileSync(flags.json, text);
  }
  if (flags.report) {
    writeFileSync(flags.report, renderHtmlReport(report));
    say(`report written to ${flags.report}`);
  }
}

/** Namespaces this process made and has not removed (a run interrupted half-way). */
export function cleanupOwn(): void {
  for (const { name, pid } of labNamespaces()) if (pid === process.pid) spawnSync('ip', ['netns', 'del', name]);
}

/**
 * Root runs as it is. Without root, the lab re-runs itself inside `unshare --user --map-root-user --net --mount`
 * (root in a user namespace of its own, with a private /run for `ip netns`), where the kernel allows it.
 */
export function ensureAccess(): 'ready' | 'reexec' {
  if (process.getuid?.() === 0) return 'ready';
  const probe = spawnSync('unshare', ['--user', '--map-root-user', '--net', '--mount', 'true']);
  if (probe.status !== 0) {
    throw new UsageError('the lab needs root, or unprivileged user namespaces (unshare --user --map-root-user) to run as root in one');
  }
  const script = 'mount -t tmpfs tmpfs /run && mkdir -p /run/netns && exec "$@"';
  const result = spawnSync('unshare', ['--user', '--map-root-user', '--net', '--mount', 'sh', '-c', script, 'sh', process.execPath, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, LIFELINE_LAB_USERNS: '1' },
  });
  process.exitCode = result.status ?? 1;
  return 'reexec';
}

function duration(text: string, option: string, minMs: number): number {
  const ms = parseDuration(/^\d+(\.\d+)?$/.test(text) ? `${text}s` : text, option);
  if (ms < minMs) throw new InvalidOptionError(option, text, `at least ${minMs} ms`);
  return ms;
}

function integer(text: string, option: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) throw new InvalidOptionError(option, text, `an integer from ${min} to ${max}`);
  return value;
}

/** The first article's experiment, told as the article told it. */
function story(report: LabReport): string[] {
  const runs = report.runs.filter((run) => run.scenario === 'cable-pull');
  if (runs.length === 0) return [];
  const lines = ['', "The article's experiment: the client's cable pulled under a server blocked in read()."];
  for (const run of runs) {
    if (run.code) lines.push(`  ${run.arm.padEnd(9)} read() failed after ${((run.detectedMs ?? 0) / 1000).toFixed(1)} s: error:${strerror(run.code)}; the socket is closed`);
    else lines.push(`  ${run.arm.padEnd(9)} nothing after ${Math.round(run.windowMs / 1000)} s; ss in the server's namespace: ${run.establishedAtEnd ? 'ESTABLISHED, a connection that will not die' : 'no connection'}`);
  }
  return lines;
}

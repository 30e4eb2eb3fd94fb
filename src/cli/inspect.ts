import type { Command } from 'commander';
import { parseDuration } from '../duration.js';
import { InvalidOptionError } from '../errors.js';
import { inspectConnections, parseStates, type InspectedConnection, type InspectOptions, type InspectReport } from '../system/inspect.js';
import { printJson, table } from './output.js';
import { UsageError } from './usage-error.js';

interface InspectFlags {
  pid?: string;
  port?: string;
  netns?: string;
  state: string[];
  all?: boolean;
  json?: boolean;
  watch?: string | boolean;
  count?: string;
}

const DEFAULT_WATCH_MS = 1000;
const MIN_WATCH_MS = 100;
const MAX_WATCH_MS = 3_600_000;

export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .description('list TCP connections with their timers, unanswered probes, retransmissions and processes; flag the risky ones')
    .option('--pid <pid>', "only sockets this process holds (read from that process's network namespace)")
    .option('--port <port>', 'only connections whose local or remote port is this one')
    .option('--netns <name>', 'read the network namespace of this name (ip netns; needs root)')
    .option('--state <states>', 'only these states, e.g. established,close-wait (repeatable)', (value: string, list: string[]) => [...list, value], [])
    .option('--all', 'every state, listeners and TIME_WAIT included')
    .option('--json', 'print one JSON array (with --watch: one per line per refresh)')
    .option('--watch [interval]', `redraw every interval until Ctrl-C (default 1s; a bare number is seconds)`)
    .option('--count <n>', 'with --watch: stop after n refreshes')
    .action((flags: InspectFlags) => runInspect(flags));
}

async function runInspect(flags: InspectFlags): Promise<void> {
  const options = optionsFromFlags(flags);
  const watchMs = flags.watch === undefined ? null : watchInterval(flags.watch);
  if (flags.count !== undefined && watchMs === null) throw new UsageError('--count needs --watch');
  const count = flags.count === undefined ? null : positiveInteger('--count', flags.count);
  const read = () => withFlagNames(() => inspectConnections(options));
  if (watchMs === null) {
    const report = read();
    if (flags.json) printJson(report.connections);
    else write(render(report, options));
    warnSkipped(report);
    return;
  }
  await watch(watchMs, count, () => {
    const report = read();
    if (flags.json) printJson(report.connections);
    else if (process.stdout.isTTY) write(`\x1b[H\x1b[2J${header(watchMs)}\n${render(report, options)}`);
    else write(`--- ${new Date().toISOString()} ---\n${render(report, options)}`);
    warnSkipped(report);
  });
}

function optionsFromFlags(flags: InspectFlags): InspectOptions {
  if (flags.all && flags.state.length > 0) throw new UsageError('--all and --state exclude each other: --state picks the states to show');
  const options: InspectOptions = {};
  if (flags.pid !== undefined) options.pid = positiveInteger('--pid', flags.pid);
  if (flags.port !== undefined) {
    const port = /^\d{1,5}$/.test(flags.port) ? Number(flags.port) : NaN;
    if (!(port >= 1 && port <= 65_535)) throw new InvalidOptionError('--port', flags.port, 'a port from 1 to 65535');
    options.port = port;
  }
  if (flags.netns !== undefined) options.netns = flags.netns;
  if (flags.state.length > 0) options.states = withFlagNames(() => parseStates(flags.state.join(',')));
  if (flags.all) options.all = true;
  return options;
}

function positiveInteger(flag: string, text: string): number {
  if (!/^\d{1,9}$/.test(text) || Number(text) < 1) throw new InvalidOptionError(flag, text, 'a positive integer');
  return Number(text);
}

function watchInterval(value: string | boolean): number {
  if (value === true) return DEFAULT_WATCH_MS;
  const text = String(value).trim().toLowerCase();
  const ms = parseDuration(/^\d+(\.\d+)?$/.test(text) ? `${text}s` : text, '--watch');
  if (ms < MIN_WATCH_MS || ms > MAX_WATCH_MS) throw new InvalidOptionError('--watch', value, 'an interval from 100ms to 1h (a bare number is seconds)');
  return ms;
}

/** The library names options as in InspectOptions; the user typed flags. */
function withFlagNames<T>(run: () => T): T {
  try {
    return run();
  } catch (error) {
    if (!(error instanceof InvalidOptionError)) throw error;
    const flag = error.option === 'states' ? '--state' : `--${error.option}`;
    const rest = error.message.slice(error.message.lastIndexOf(error.allowed) + error.allowed.length);
    const hint = /^ \((.*)\)$/.exec(rest)?.[1];
    throw new InvalidOptionError(flag, error.value, error.allowed, hint);
  }
}

/** Runs `refresh` now and then every `intervalMs`, until SIGINT/SIGTERM or `count` refreshes. */
async function watch(intervalMs: number, count: number | null, refresh: () => void): Promise<void> {
  let stopped = false;
  let wake: (() => void) | undefined;
  const stop = () => {
    stopped = true;
    wake?.();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    for (let done = 0; !stopped && (count === null || done < count); done++) {
      if (done > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, intervalMs);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        if (stopped) break;
      }
      refresh();
    }
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

function write(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

function header(intervalMs: number): string {
  return `lifeline inspect, every ${formatTimer(intervalMs)}, ${new Date().toLocaleTimeString()} (Ctrl-C to stop)`;
}

function warnSkipped(report: InspectReport): void {
  if (report.skippedCount === 0) return;
  const first = report.skipped[0];
  process.stderr.write(`lifeline: ${report.skippedCount} line(s) of the kernel's TCP tables (${report.source}) not understood and skipped${first ? `; first, line ${first.line}: ${first.reason}` : ''}\n`);
}

/** The table people read: one row per connection, risky rows marked with `!` and their reason. */
export function render(report: InspectReport, options: InspectOptions = {}): string {
  const lines: string[] = [];
  if (report.connections.length === 0) {
    lines.push('no TCP connections match');
  } else {
    const rows = [['', 'STATE', 'LOCAL', 'REMOTE', 'PROCESS', 'TIMER', 'PROBES', 'RETRANS', 'SEND-Q', 'RECV-Q', 'RISK']];
    for (const connection of report.connections) rows.push(row(connection));
    lines.push(...table(rows, ''));
  }
  const risky = report.connections.filter((connection) => connection.risks.length > 0).length;
  const where = options.pid !== undefined ? ` in the network namespace of process ${options.pid}` : options.netns !== undefined ? ` in network namespace ${options.netns}` : '';
  let summary = `${plural(report.connections.length, 'connection')}${where}, ${risky} risky`;
  if (report.hidden > 0) summary += `; ${report.hidden} more in LISTEN, TIME_WAIT, SYN_RECV or CLOSE not shown (--all shows them)`;
  lines.push('', summary);
  if (report.unreadableProcesses > 0) {
    lines.push(`${plural(report.unreadableProcesses, 'process')} of other users could not be read (needs root): their sockets show no process`);
  }
  return lines.join('\n');
}

function row(connection: InspectedConnection): string[] {
  return [
    connection.risks.length > 0 ? '!' : '',
    connection.state,
    endpoint(connection.localAddress, connection.localPort, connection.family),
    endpoint(connection.remoteAddress, connection.remotePort, connection.family),
    processText(connection),
    timerText(connection),
    String(connection.probes),
    String(connection.retransmits),
    String(connection.txQueue),
    String(connection.rxQueue),
    connection.risks.length > 0 ? connection.risks.map((risk) => risk.reason).join('; ') : '-',
  ];
}

function endpoint(address: string, port: number, family: 4 | 6): string {
  const host = family === 6 ? `[${address}]` : address;
  return `${host}:${port === 0 ? '*' : port}`;
}

function processText(connection: InspectedConnection): string {
  if (connection.process === null) return '-';
  const more = connection.processes.length > 1 ? ` +${connection.processes.length - 1}` : '';
  return `${connection.process.command}/${connection.process.pid}${more}`;
}

/** `keepalive in 4.2s`, `retransmit in 1.6s`, `zero-window probe in 180ms`, `-`. */
export function timerText(connection: Pick<InspectedConnection, 'timer' | 'timerMs' | 'state' | 'kind'>): string {
  const name = {
    'none': '',
    'retransmit': 'retransmit',
    // An orphan in FIN_WAIT2 uses the keepalive timer for its FIN_WAIT2 timeout (tcp_keepalive_timer).
    'keepalive': connection.state === 'FIN_WAIT2' ? 'fin-wait2 timeout' : 'keepalive',
    'time-wait': 'time-wait',
    'zero-window-probe': 'zero-window probe',
  }[connection.timer];
  return name === '' ? '-' : `${name} in ${formatTimer(connection.timerMs)}`;
}

/** 180 -> `180ms`, 4200 -> `4.2s`, 150000 -> `2m30s`, 7140000 -> `1h59m`. */
export function formatTimer(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(Math.floor(ms / 100) / 10).toFixed(1)}s`;
  const seconds = Math.floor(ms / 1000);
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}m`;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : noun.endsWith('s') ? 'es' : 's'}`;
}

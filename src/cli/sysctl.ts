import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { formatDuration, parseDuration } from '../duration.js';
import { InvalidOptionError, PermissionError } from '../errors.js';
import {
  readSysctls,
  sysctlConfLines,
  systemBudget,
  TCP_SYSCTLS,
  writeSysctls,
  type TcpSysctlName,
  type TcpSysctls,
} from '../system/sysctl.js';
import { printJson, printLines, table } from './output.js';
import { UsageError } from './usage-error.js';

const DEFAULT_CONF = '/etc/sysctl.d/90-lifeline.conf';

interface SysctlFlags {
  json?: boolean;
  set?: string;
  persist?: string | boolean;
}

export function registerSysctl(program: Command): void {
  program
    .command('sysctl')
    .description("show (or set) this network namespace's TCP keepalive sysctls and the detection times they imply")
    .option('--set <assignments>', 'write values, e.g. time=60,intvl=10,probes=6 (also retries2); needs root')
    .option('--persist [file]', `with --set, also write the lines to a sysctl.d file (default ${DEFAULT_CONF})`)
    .option('--json', 'print one JSON object')
    .action((flags: SysctlFlags) => runSysctl(flags));
}

function runSysctl(flags: SysctlFlags): void {
  if (flags.persist !== undefined && flags.set === undefined) throw new UsageError('--persist needs --set');
  let values: TcpSysctls;
  let changed: Partial<TcpSysctls> | undefined;
  if (flags.set !== undefined) {
    changed = parseAssignments(flags.set);
    values = writeSysctls(changed);
    if (flags.persist !== undefined) persist(typeof flags.persist === 'string' ? flags.persist : DEFAULT_CONF, values);
  } else {
    values = readSysctls();
  }
  const budget = systemBudget(values);
  const conf = sysctlConfLines(values);
  if (flags.json) {
    printJson({
      ...values,
      idleBudgetMs: budget.idleMs,
      busyBudgetMs: budget.busyMs,
      changed: changed ?? null,
      sysctlConf: conf,
    });
    return;
  }
  const explain: Record<TcpSysctlName, string> = {
    time: `first probe after ${formatDuration(values.time * 1000)} of silence`,
    intvl: `then one probe every ${formatDuration(values.intvl * 1000)}`,
    probes: `give up after ${values.probes} unanswered probes`,
    retries2: `give up on unacknowledged data after ${values.retries2} retransmissions`,
  };
  const names = Object.keys(TCP_SYSCTLS) as TcpSysctlName[];
  printLines([
    changed ? 'TCP sysctls of this network namespace, now (runtime only, lost at reboot):' : 'TCP sysctls of this network namespace:',
    ...table(names.map((name) => [TCP_SYSCTLS[name].key, `= ${values[name]}`, explain[name]])),
    '',
    `A socket with only SO_KEEPALIVE finds a dead idle peer after ${formatDuration(budget.idleMs ?? Infinity)} (${values.time} + ${values.probes} x ${values.intvl} s).`,
    'A socket without SO_KEEPALIVE never finds a dead idle peer.',
    `With data in flight and no user timeout: at least ${formatDuration(budget.busyMs)} (tcp_retries2 = ${values.retries2}, RTO doubling from 200 ms).`,
    '',
    `To keep these values across reboots, put these lines in ${DEFAULT_CONF} and run \`sysctl --system\`:`,
    ...conf.map((line) => `  ${line}`),
  ]);
}

/** `time=60,intvl=10s,probes=6` -> { time: 60, intvl: 10, probes: 6 }; names may be written in full too. */
export function parseAssignments(text: string): Partial<TcpSysctls> {
  const result: Partial<Record<string, unknown>> = {};
  for (const part of text.split(',').map((item) => item.trim()).filter(Boolean)) {
    const [rawName, rawValue, ...rest] = part.split('=');
    if (rawName === undefined || rawValue === undefined || rest.length > 0) {
      throw new UsageError(`--set: expected NAME=VALUE, got ${JSON.stringify(part)}`);
    }
    const name = canonicalName(rawName.trim());
    if (!name) throw new UsageError(`--set: unknown sysctl ${JSON.stringify(rawName)}; use time, intvl, probes or retries2`);
    if (name in result) throw new UsageError(`--set: ${name} is given twice`);
    result[name] = parseValue(name, rawValue.trim());
  }
  if (Object.keys(result).length === 0) throw new UsageError('--set: nothing to set; e.g. --set time=60,intvl=10,probes=6');
  return result as Partial<TcpSysctls>;
}

function canonicalName(raw: string): TcpSysctlName | undefined {
  const name = raw.replace(/^net\.ipv4\./, '').replace(/^tcp_/, '').replace(/^keepalive_/, '');
  const aliases: Record<string, TcpSysctlName> = { time: 'time', intvl: 'intvl', interval: 'intvl', probes: 'probes', retries2: 'retries2' };
  return aliases[name];
}

function parseValue(name: TcpSysctlName, raw: string): number {
  if (/^\d+$/.test(raw)) return Number(raw);
  if (name === 'time' || name === 'intvl') {
    const ms = parseDuration(raw, name);
    if (ms % 1000 !== 0) throw new InvalidOptionError(name, raw, 'whole seconds', 'the kernel counts this sysctl in seconds');
    return ms / 1000;
  }
  throw new InvalidOptionError(name, raw, `an integer from ${TCP_SYSCTLS[name].min} to ${TCP_SYSCTLS[name].max}`);
}

function persist(file: string, values: TcpSysctls): void {
  const text = ['# Written by `lifeline sysctl --set --persist`.', ...sysctlConfLines(values), ''].join('\n');
  try {
    writeFileSync(file, text);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
      throw new PermissionError(`cannot write ${file} (${code}): needs root`, error);
    }
    throw error;
  }
}

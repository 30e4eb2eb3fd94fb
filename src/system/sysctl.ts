import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidOptionError, PermissionError, SysctlError } from '../errors.js';
import { keepAliveBudget, type KeepAliveBudget, type SystemTcpDefaults } from '../socket/budget.js';

/** The TCP sysctls that decide how long a dead peer goes unnoticed, in the kernel's own units (seconds, counts). */
export interface TcpSysctls {
  /** net.ipv4.tcp_keepalive_time, seconds. */
  time: number;
  /** net.ipv4.tcp_keepalive_intvl, seconds. */
  intvl: number;
  /** net.ipv4.tcp_keepalive_probes. */
  probes: number;
  /** net.ipv4.tcp_retries2. */
  retries2: number;
}

export type TcpSysctlName = keyof TcpSysctls;

/** Each value's sysctl key and the range lifeline lets you write (what the kernel accepts and sockets can use). */
export const TCP_SYSCTLS: Readonly<Record<TcpSysctlName, { key: string; min: number; max: number; unit: string }>> = {
  time: { key: 'net.ipv4.tcp_keepalive_time', min: 1, max: 32767, unit: 's' },
  intvl: { key: 'net.ipv4.tcp_keepalive_intvl', min: 1, max: 32767, unit: 's' },
  probes: { key: 'net.ipv4.tcp_keepalive_probes', min: 1, max: 127, unit: '' },
  retries2: { key: 'net.ipv4.tcp_retries2', min: 1, max: 255, unit: '' },
};

const NAMES = Object.keys(TCP_SYSCTLS) as TcpSysctlName[];

/** Where sysctls live; a test points this at a directory of its own. */
export const PROC_SYS = '/proc/sys';

function sysctlPath(name: TcpSysctlName, root: string): string {
  return join(root, ...TCP_SYSCTLS[name].key.split('.'));
}

/** Reads the values of the current network namespace (they are per namespace on Linux). */
export function readSysctls(root: string = PROC_SYS): TcpSysctls {
  const values = {} as TcpSysctls;
  for (const name of NAMES) {
    const path = sysctlPath(name, root);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      throw new SysctlError(`cannot read ${TCP_SYSCTLS[name].key} from ${path}: ${(error as Error).message}`, error);
    }
    const value = Number.parseInt(text.trim(), 10);
    if (!Number.isInteger(value)) throw new SysctlError(`${path} holds ${JSON.stringify(text.trim())}, not an integer`);
    values[name] = value;
  }
  return values;
}

/** Checks values before anything is written; throws InvalidOptionError naming the sysctl, the value and the range. */
export function validateSysctls(values: Partial<Record<string, unknown>>): Partial<TcpSysctls> {
  const checked: Partial<TcpSysctls> = {};
  for (const [name, value] of Object.entries(values)) {
    const spec = TCP_SYSCTLS[name as TcpSysctlName];
    if (!spec) throw new InvalidOptionError(name, value, `one of ${NAMES.join(', ')}`);
    if (typeof value !== 'number' || !Number.isInteger(value) || value < spec.min || value > spec.max) {
      throw new InvalidOptionError(name, value, `an integer from ${spec.min} to ${spec.max}${spec.unit ? ` (${spec.unit})` : ''}`);
    }
    checked[name as TcpSysctlName] = value;
  }
  return checked;
}

/**
 * Writes the given values into the current network namespace (runtime only: they are lost at reboot; see
 * sysctlConfLines for /etc/sysctl.d). All values are validated first; nothing is written if one is invalid.
 * Needs root (CAP_NET_ADMIN over the namespace); throws PermissionError otherwise.
 */
export function writeSysctls(values: Partial<TcpSysctls>, root: string = PROC_SYS): TcpSysctls {
  const checked = validateSysctls(values);
  for (const name of NAMES) {
    const value = checked[name];
    if (value === undefined) continue;
    const path = sysctlPath(name, root);
    try {
      writeFileSync(path, `${value}\n`);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
        throw new PermissionError(
          `cannot write ${TCP_SYSCTLS[name].key} (${path}: ${code}): writing sysctls needs root`,
          error,
        );
      }
      throw new SysctlError(`cannot write ${TCP_SYSCTLS[name].key} (${path}): ${(error as Error).message}`, error);
    }
  }
  return readSysctls(root);
}

/** The lines for a file in /etc/sysctl.d/ that makes these values survive a reboot. */
export function sysctlConfLines(values: Partial<TcpSysctls>): string[] {
  return NAMES.filter((name) => values[name] !== undefined).map((name) => `${TCP_SYSCTLS[name].key} = ${values[name]}`);
}

export function sysctlsToDefaults(values: TcpSysctls): SystemTcpDefaults {
  return { idle: values.time * 1000, interval: values.intvl * 1000, count: values.probes, retries2: values.retries2 };
}

/** What a socket that sets only SO_KEEPALIVE gets from these sysctls. */
export function systemBudget(values: TcpSysctls): KeepAliveBudget {
  return keepAliveBudget({}, sysctlsToDefaults(values));
}

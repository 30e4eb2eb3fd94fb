import { parseDuration } from '../duration.js';
import { InvalidOptionError } from '../errors.js';
import { UsageError } from './usage-error.js';

/** `--protocol raw|lifeline`: raw TCP bytes (the seed experiment) or the lifeline protocol with heartbeats. */
export function parseProtocol(value: string | undefined): 'raw' | 'lifeline' {
  if (value === undefined || value === 'raw') return 'raw';
  if (value === 'lifeline') return 'lifeline';
  throw new UsageError(`invalid --protocol ${JSON.stringify(value)}: allowed raw or lifeline`);
}

/** `--heartbeat INTERVAL[,TIMEOUT]`; a bare number is seconds. The timeout is total silence before the verdict. */
export function parseHeartbeat(value: string | undefined): { interval: number; timeout: number | null } | null {
  if (value === undefined) return null;
  const parts = value.split(',').map((part) => part.trim());
  if (parts.length > 2 || parts.some((part) => part === '')) throw new InvalidOptionError('--heartbeat', value, 'INTERVAL[,TIMEOUT] such as 5s or 5s,15s');
  const [interval, timeout] = parts.map((part) => parseDuration(/^\d+(\.\d+)?$/.test(part) ? `${part}s` : part, '--heartbeat'));
  if (interval === undefined || interval < 100) throw new InvalidOptionError('--heartbeat interval', value, 'at least 100 ms');
  if (timeout !== undefined && timeout <= interval) throw new InvalidOptionError('--heartbeat timeout', value, `more than the interval (${interval} ms)`);
  return { interval, timeout: timeout ?? null };
}

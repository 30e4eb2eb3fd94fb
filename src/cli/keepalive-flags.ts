import { InvalidOptionError } from '../errors.js';
import { formatShortDuration, parseDuration } from '../duration.js';
import { resolveKeepAliveOptions, type KeepAliveOptions } from '../socket/options.js';
import { platformBackend } from '../platform/index.js';

/**
 * `--keepalive off|on|IDLE[,INTERVAL[,COUNT]]` and `--user-timeout DURATION` as one KeepAliveOptions.
 * In the triple a bare number is seconds, as in the article's `2,1,3`; `500ms`, `2s`, `1m` also work.
 * Validation of ranges is the library's: the same messages, the same limits.
 */
export function keepAliveFromFlags(keepalive: string | undefined, userTimeout: string | undefined, fallback: KeepAliveOptions): KeepAliveOptions | false {
  let options: KeepAliveOptions;
  const text = keepalive?.trim().toLowerCase();
  if (text === undefined) options = { ...fallback };
  else if (text === 'off' || text === 'no') options = { enabled: false };
  else if (text === 'on' || text === 'yes') options = {};
  else {
    const parts = text.split(',').map((part) => part.trim());
    if (parts.length > 3 || parts.some((part) => part === '')) {
      throw new InvalidOptionError('--keepalive', keepalive, 'off, on, or IDLE[,INTERVAL[,COUNT]] such as 2,1,3 or 30s,10s,3');
    }
    const [idle, interval, count] = parts;
    options = { idle: seconds(idle as string, '--keepalive idle') };
    if (interval !== undefined) options.interval = seconds(interval, '--keepalive interval');
    if (count !== undefined) {
      if (!/^\d+$/.test(count)) throw new InvalidOptionError('--keepalive count', count, 'an integer from 1 to 127');
      options.count = Number(count);
    }
  }
  if (userTimeout !== undefined) {
    const text = userTimeout.trim().toLowerCase();
    options.userTimeout = text === 'off' || text === '0' ? false : parseDuration(/^\d+$/.test(text) ? `${text}s` : text, '--user-timeout');
  }
  if (options.enabled === false && options.userTimeout === undefined) return { enabled: false };
  checkAgainstKernel(options);
  return options;
}

/** The library's own range checks, reported under the flag the user typed (`--keepalive count: 999`). */
function checkAgainstKernel(options: KeepAliveOptions): void {
  try {
    resolveKeepAliveOptions(options, platformBackend().limits);
  } catch (error) {
    if (!(error instanceof InvalidOptionError)) throw error;
    const flag = error.option === 'userTimeout' ? '--user-timeout' : `--keepalive ${error.option}`;
    throw new InvalidOptionError(flag, error.value, error.allowed);
  }
}

function seconds(text: string, option: string): number {
  return parseDuration(/^\d+(\.\d+)?$/.test(text) ? `${text}s` : text, option);
}

/** `2s,1s,3` for a keepalive triple as the CLI prints it. */
export function describeFlags(options: KeepAliveOptions | false): string {
  if (options === false) return 'keepalive untouched';
  const part = (value: unknown) => (value === undefined ? 'default' : typeof value === 'number' ? formatShortDuration(value) : String(value));
  const uto = typeof options.userTimeout === 'number' && options.userTimeout > 0 ? `, user timeout ${part(options.userTimeout)}` : '';
  if (options.enabled === false) return `keepalive off${uto}`;
  if (options.idle === undefined && options.interval === undefined && options.count === undefined) return `keepalive on (system defaults)${uto}`;
  return `keepalive ${part(options.idle)},${part(options.interval)},${options.count ?? 'default'}${uto}`;
}

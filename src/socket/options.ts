import { parseDuration, type Duration } from '../duration.js';
import { InvalidOptionError, describeValue } from '../errors.js';
import { nearest } from '../options.js';
import type { DurationLimit, KernelKeepAlive, PlatformLimits } from '../platform/types.js';

/** Keepalive for one socket. Durations are milliseconds or strings like '30s'. */
export interface KeepAliveOptions {
  /** SO_KEEPALIVE. Default true; `false` switches keepalive probes off (a user timeout may still be set). */
  enabled?: boolean;
  /** TCP_KEEPIDLE: silence before the first probe. Default: leave the kernel's value (sysctl tcp_keepalive_time). */
  idle?: Duration;
  /** TCP_KEEPINTVL: time between unanswered probes. Default: leave the kernel's value (tcp_keepalive_intvl). */
  interval?: Duration;
  /** TCP_KEEPCNT: unanswered probes before the kernel gives up. Default: leave the kernel's value (tcp_keepalive_probes). */
  count?: number;
  /**
   * TCP_USER_TIMEOUT: how long sent data may stay unacknowledged before the kernel gives up. `0` or `false`
   * turns it off (the kernel then retries up to tcp_retries2). Default: leave the kernel's value (off).
   */
  userTimeout?: Duration | false;
}

/** The values to change, in milliseconds; a field that is absent is left as the kernel holds it. */
export type KeepAliveChange = Partial<KernelKeepAlive> & { enabled: boolean };

const KNOWN_KEYS = ['enabled', 'idle', 'interval', 'count', 'userTimeout'] as const;

/**
 * Checks every option against the platform's limits and returns the change to apply. Throws
 * InvalidOptionError naming the option, the value and the allowed range; unknown keys are rejected with a hint.
 */
export function resolveKeepAliveOptions(options: KeepAliveOptions | undefined, limits: PlatformLimits): KeepAliveChange {
  if (options === undefined) return { enabled: true };
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new InvalidOptionError('options', options, 'an object such as { idle: 7000, interval: 3000, count: 4 }');
  }
  for (const key of Object.keys(options)) {
    if (!(KNOWN_KEYS as readonly string[]).includes(key)) {
      throw new InvalidOptionError(key, (options as Record<string, unknown>)[key], `one of the keys ${KNOWN_KEYS.join(', ')}`, suggest(key));
    }
  }
  const change: KeepAliveChange = { enabled: true };
  if (options.enabled !== undefined) {
    if (typeof options.enabled !== 'boolean') throw new InvalidOptionError('enabled', options.enabled, 'true or false');
    change.enabled = options.enabled;
  }
  if (options.idle !== undefined) change.idle = checkDuration('idle', options.idle, limits.idle);
  if (options.interval !== undefined) change.interval = checkDuration('interval', options.interval, limits.interval);
  if (options.count !== undefined) {
    const { min, max } = limits.count;
    if (typeof options.count !== 'number' || !Number.isInteger(options.count) || options.count < min || options.count > max) {
      throw new InvalidOptionError('count', options.count, `an integer from ${min} to ${max}`);
    }
    change.count = options.count;
  }
  if (options.userTimeout !== undefined) {
    change.userTimeout = options.userTimeout === false ? 0 : checkDuration('userTimeout', options.userTimeout, limits.userTimeout);
  }
  return change;
}

function checkDuration(option: string, value: unknown, limit: DurationLimit): number {
  const ms = parseDuration(value, option);
  const allowed = describeLimit(limit);
  if (ms < limit.minMs || ms > limit.maxMs) throw new InvalidOptionError(option, value, allowed);
  if (ms % limit.stepMs !== 0) {
    throw new InvalidOptionError(option, value, allowed, 'the kernel counts this option in whole seconds');
  }
  return ms;
}

export function describeLimit(limit: DurationLimit): string {
  if (limit.stepMs === 1000) {
    return `whole seconds from ${limit.minMs / 1000} to ${limit.maxMs / 1000} s (${limit.minMs} to ${limit.maxMs} ms)`;
  }
  return `${limit.minMs} to ${limit.maxMs} ms`;
}

function suggest(key: string): string {
  const lower = key.toLowerCase();
  const aliases: Record<string, string> = {
    enable: 'enabled',
    keepidle: 'idle',
    initialdelay: 'idle',
    delay: 'idle',
    keepintvl: 'interval',
    intvl: 'interval',
    keepcnt: 'count',
    probes: 'count',
    user_timeout: 'userTimeout',
    usertimeout: 'userTimeout',
    timeout: 'userTimeout',
  };
  const match = aliases[lower] ?? nearest(key, KNOWN_KEYS);
  return match ? `did you mean ${match}?` : `unknown key ${describeValue(key)}`;
}


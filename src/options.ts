import type { Clock } from './clock.js';
import { parseDuration } from './duration.js';
import { InvalidOptionError, describeValue } from './errors.js';

/**
 * The checks every resolveXOptions() shares, so that every option in lifeline fails the same way: an
 * InvalidOptionError naming the option, the value and what is allowed.
 */

/** A duration from `min` to `max` ms; `why` explains a bound another option set, `also` adds a condition. */
export function durationIn(option: string, value: unknown, min: number, max: number, why?: string, also?: string): number {
  const ms = parseDuration(value, option);
  if (ms < min || ms > max) {
    const allowed = min > max ? `nothing: the other options leave no room (${why})` : `${min} to ${max} ms${why ? ` (${why})` : ''}${also ? `, ${also}` : ''}`;
    throw new InvalidOptionError(option, value, allowed);
  }
  return ms;
}

export function integerIn(option: string, value: unknown, min: number, max: number, also?: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidOptionError(option, value, `an integer from ${min} to ${max}${also ? `, ${also}` : ''}`);
  }
  return value;
}

export function checkObject(option: string, value: unknown, example: string): void {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidOptionError(option, value, `an object such as ${example}`);
  }
}

export function isClock(value: unknown): value is Clock {
  const clock = value as Partial<Clock> | null;
  return typeof clock === 'object' && clock !== null && typeof clock.now === 'function'
    && typeof clock.setTimeout === 'function' && typeof clock.clearTimeout === 'function';
}

/** Rejects the first key not in `known`, suggesting the nearest known one (`bse` -> did you mean base?). */
export function rejectUnknownKeys(prefix: string, options: object, known: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    const match = nearest(key, known);
    throw new InvalidOptionError(`${prefix}${key}`, (options as Record<string, unknown>)[key], `one of the keys ${known.join(', ')}`,
      match ? `did you mean ${prefix}${match}?` : `unknown key ${describeValue(key)}`);
  }
}

/** The known name within two edits of `key` (case ignored), for did-you-mean hints. */
export function nearest(key: string, known: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  return known.find((candidate) => candidate.toLowerCase() === lower || editDistance(candidate.toLowerCase(), lower) <= 2);
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

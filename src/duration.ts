import { InvalidOptionError } from './errors.js';

/** A duration: milliseconds as a number, or a string such as `1500`, `1500ms`, `30s`, `2m`, `1h`, `1m30s`. */
export type Duration = number | string;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
const WHOLE = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/;

/**
 * Parses a duration into whole milliseconds. One parser serves the CLI and every option,
 * so `--user-timeout 3s` and `{ userTimeout: '3s' }` mean the same thing.
 * @param option the option's name, used in the error message.
 */
export function parseDuration(value: unknown, option: string): number {
  const allowed = 'a non-negative number of milliseconds or a string like 1500ms, 30s, 2m, 1h, 1m30s';
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw new InvalidOptionError(option, value, allowed);
    if (!Number.isInteger(value)) throw new InvalidOptionError(option, value, allowed, 'whole milliseconds only');
    return value;
  }
  if (typeof value !== 'string') throw new InvalidOptionError(option, value, allowed);
  const text = value.trim().toLowerCase();
  if (/^\d+$/.test(text)) return Number(text);
  if (!WHOLE.test(text)) throw new InvalidOptionError(option, value, allowed);
  let total = 0;
  for (const match of text.matchAll(PART)) {
    total += Number(match[1]) * (UNIT_MS[match[2] ?? 'ms'] ?? 1);
  }
  const rounded = Math.round(total);
  if (Math.abs(total - rounded) > 1e-6 || !Number.isSafeInteger(rounded)) {
    throw new InvalidOptionError(option, value, allowed, 'whole milliseconds only');
  }
  return rounded;
}

/** `7875000` -> `2 h 11 min 15 s`; `5000` -> `5 s`; `1500` -> `1.5 s`; `250` -> `250 ms`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return 'never';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const parts: string[] = [];
  let rest = Math.round(ms);
  const hours = Math.floor(rest / 3_600_000);
  rest -= hours * 3_600_000;
  const minutes = Math.floor(rest / 60_000);
  rest -= minutes * 60_000;
  if (hours) parts.push(`${hours} h`);
  if (minutes) parts.push(`${minutes} min`);
  if (rest) {
    const seconds = rest / 1000;
    parts.push(`${Number.isInteger(seconds) ? seconds : seconds.toFixed(1)} s`);
  }
  return parts.join(' ');
}

/** Compact form for keepalive triples and flags: `7000` -> `7s`, `1500` -> `1500ms`, `120000` -> `2m`. */
export function formatShortDuration(ms: number): string {
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

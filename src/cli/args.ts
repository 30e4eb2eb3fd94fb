import { UsageError } from './usage-error.js';

export function parsePort(text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) > 65_535) throw new UsageError(`invalid port ${JSON.stringify(text)}: allowed 0 to 65535`);
  return Number(text);
}

/** Errors a listen or connect can give that mean the address itself is wrong: usage errors, exit 2. */
export function addressError(error: unknown, what: string): Error {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE' || code === 'EADDRNOTAVAIL' || code === 'EACCES' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EINVAL') {
    return new UsageError(`cannot ${what}: ${code} (${(error as Error).message})`);
  }
  return error as Error;
}

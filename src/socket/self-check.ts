import { loopbackPair } from './loopback.js';
import { getKeepAlive, setKeepAlive, type KeepAliveState } from './keepalive.js';
import type { KeepAliveOptions } from './options.js';

export interface RoundTripCheck {
  host: string;
  side: 'client' | 'accepted';
  ok: boolean;
  /** What the kernel held afterwards, read with getsockopt; absent when the check failed before that. */
  kernel?: KeepAliveState;
  error?: { code: string; message: string };
}

/** The values the doctor and the demo set: the ones issue #2 names. */
export const CHECK_OPTIONS = { idle: 7000, interval: 3000, count: 4, userTimeout: 20_000 } as const satisfies KeepAliveOptions;

/**
 * Sets keepalive on both ends of a loopback connection and reads it back: proof, on this machine and runtime,
 * that the values reach the kernel. A host that cannot be used (no IPv6) is reported, not thrown.
 */
export async function checkKeepAliveRoundTrip(host: string, options: KeepAliveOptions = CHECK_OPTIONS): Promise<RoundTripCheck[]> {
  let pair;
  try {
    pair = await loopbackPair(host);
  } catch (error) {
    const err = error as NodeJS.ErrnoException;
    return [{ host, side: 'client', ok: false, error: { code: err.code ?? 'ERROR', message: err.message } }];
  }
  const results: RoundTripCheck[] = [];
  try {
    for (const [side, socket] of [['client', pair.client], ['accepted', pair.accepted]] as const) {
      try {
        setKeepAlive(socket, options);
        const kernel = getKeepAlive(socket);
        const ok = (Object.keys(options) as (keyof KeepAliveState)[]).every((key) => kernel[key] === options[key as keyof KeepAliveOptions]);
        results.push({ host, side, ok, kernel });
      } catch (error) {
        const err = error as Error & { code?: string };
        results.push({ host, side, ok: false, error: { code: err.code ?? 'ERROR', message: err.message } });
      }
    }
  } finally {
    await pair.close();
  }
  return results;
}

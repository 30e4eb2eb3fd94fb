import { createRequire } from 'node:module';
import type { Socket } from 'node:net';

/**
 * An independent getsockopt, written here rather than imported from lifeline, so tests read the kernel's values
 * "from outside the library": a bug in lifeline's own read-back cannot hide a bug in what it set.
 */
type Fn = (...args: unknown[]) => number;
const koffi = createRequire(import.meta.url)('koffi') as { load(path: string): { func(sig: string): Fn } };
const libc = koffi.load('libc.so.6');
const getsockopt = libc.func('int getsockopt(int, int, int, _Out_ void *, _Inout_ uint32_t *)');

function fdOf(socket: Socket): number {
  const handle = (socket as unknown as { _handle?: { fd?: number; _parent?: { fd?: number } } })._handle;
  const fd = handle?.fd !== undefined && handle.fd >= 0 ? handle.fd : handle?._parent?.fd;
  if (fd === undefined || fd < 0) throw new Error('socket has no fd');
  return fd;
}

function getInt(fd: number, level: number, name: number): number {
  const out = Buffer.alloc(4);
  const length = [4];
  if (getsockopt(fd, level, name, out, length) !== 0) throw new Error(`getsockopt(${level}, ${name}) failed`);
  return out.readInt32LE(0);
}

/** Raw kernel values in the kernel's own units: seconds for idle and interval, ms for the user timeout. */
export function kernelKeepAlive(socket: Socket): { keepalive: number; idleS: number; intervalS: number; count: number; userTimeoutMs: number } {
  const fd = fdOf(socket);
  return {
    keepalive: getInt(fd, 1, 9),
    idleS: getInt(fd, 6, 4),
    intervalS: getInt(fd, 6, 5),
    count: getInt(fd, 6, 6),
    userTimeoutMs: getInt(fd, 6, 18),
  };
}

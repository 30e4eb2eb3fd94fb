import type { Socket } from 'node:net';
import { NoFileDescriptorError, NotAppliedError, UnsupportedError } from '../errors.js';
import { socketFd } from '../platform/fd.js';
import { platformBackend } from '../platform/index.js';
import { KEEPALIVE_FIELDS, type KeepAliveField, type KernelKeepAlive, type SetPath } from '../platform/types.js';
import { resolveKeepAliveOptions, type KeepAliveChange, type KeepAliveOptions } from './options.js';

/** Keepalive as the kernel holds it for one socket. All durations in milliseconds. */
export interface KeepAliveState {
  enabled: boolean;
  idle: number;
  interval: number;
  count: number;
  /** 0 when no user timeout is set. */
  userTimeout: number;
  /** `kernel`: read back with getsockopt. Anything else could not be read on this platform. */
  source: 'kernel';
}

/** What setKeepAlive did: the values it could read back (null where it could not) and how each was set. */
export interface KeepAliveResult {
  enabled: boolean | null;
  idle: number | null;
  interval: number | null;
  count: number | null;
  userTimeout: number | null;
  /** `kernel` when every value was read back with getsockopt; `unverified` where the platform cannot read back. */
  source: 'kernel' | 'unverified';
  /** How each changed option reached the kernel; absent for options that were left alone. */
  via: Partial<Record<KeepAliveField, SetPath>>;
}

/**
 * Sets SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT and TCP_USER_TIMEOUT on a TCP or TLS socket and
 * returns what the kernel holds afterwards.
 *
 * Everything is checked before anything is applied: an invalid or unsupported option throws and leaves the
 * socket untouched. If the kernel refuses a value, or holds a different one afterwards, the previous values are
 * restored and the error is thrown.
 *
 * On a socket that is not connected yet, the options are checked now and applied when it connects; the function
 * then returns undefined (use applyKeepAlive to wait for the result). If applying fails at connect, the socket is
 * destroyed with the error, so a failure is never silent.
 */
export function setKeepAlive(socket: Socket, options?: KeepAliveOptions): KeepAliveResult | undefined {
  const backend = platformBackend();
  const change = resolveKeepAliveOptions(options, backend.limits);
  assertSupported(change);
  const fd = socketFd(socket);
  if (fd >= 0) return applyNow(socket, fd, change);
  if (socket.destroyed) throw new NoFileDescriptorError('the socket is destroyed');
  socket.once('connect', () => {
    try {
      applyNow(socket, socketFd(socket), change);
    } catch (error) {
      socket.destroy(error as Error);
    }
  });
  return undefined;
}

/** Like setKeepAlive, but waits for the socket to connect when it has not yet, and resolves with the result. */
export function applyKeepAlive(socket: Socket, options?: KeepAliveOptions): Promise<KeepAliveResult> {
  const backend = platformBackend();
  const change = resolveKeepAliveOptions(options, backend.limits);
  assertSupported(change);
  const fd = socketFd(socket);
  if (fd >= 0) return Promise.resolve(applyNow(socket, fd, change));
  if (socket.destroyed) return Promise.reject(new NoFileDescriptorError('the socket is destroyed'));
  return new Promise((resolve, reject) => {
    const onConnect = () => {
      socket.off('close', onClose);
      try {
        resolve(applyNow(socket, socketFd(socket), change));
      } catch (error) {
        socket.destroy(error as Error);
        reject(error as Error);
      }
    };
    const onClose = () => {
      socket.off('connect', onConnect);
      reject(new NoFileDescriptorError('the socket closed before it connected'));
    };
    socket.once('connect', onConnect);
    socket.once('close', onClose);
  });
}

/**
 * Reads keepalive back from the kernel with getsockopt, never from memory.
 * Throws UnsupportedError where the platform cannot read it back (see capabilities()).
 */
export function getKeepAlive(socket: Socket): KeepAliveState {
  const fd = requireFd(socket);
  return { ...platformBackend().read(fd), source: 'kernel' };
}

function requireFd(socket: Socket): number {
  const fd = socketFd(socket);
  if (fd >= 0) return fd;
  throw new NoFileDescriptorError(socket.destroyed ? 'the socket is destroyed' : 'the socket is not connected yet');
}

function assertSupported(change: KeepAliveChange): void {
  const { options, ffi } = platformBackend().capabilities();
  for (const field of KEEPALIVE_FIELDS) {
    if (change[field] === undefined) continue;
    // Switching keepalive off needs no more than Node's own API, which every platform has.
    if (options[field].set === null) {
      throw new UnsupportedError(`setting ${field}`, ffi.error ?? `no way to set ${field} on ${process.platform}`);
    }
  }
}

function applyNow(socket: Socket, fd: number, change: KeepAliveChange): KeepAliveResult {
  const backend = platformBackend();
  const { options } = backend.capabilities();
  const canRead = KEEPALIVE_FIELDS.every((field) => options[field].read !== null);
  const before = canRead ? backend.read(fd) : undefined;
  const via: Partial<Record<KeepAliveField, SetPath>> = {};
  for (const field of KEEPALIVE_FIELDS) {
    const path = options[field].set;
    if (change[field] !== undefined && path) via[field] = path;
  }
  try {
    backend.write(socket, fd, change, before);
  } catch (error) {
    if (before) restore(socket, fd, before);
    throw error;
  }
  if (!before) {
    return { enabled: null, idle: null, interval: null, count: null, userTimeout: null, source: 'unverified', via };
  }
  const after = backend.read(fd);
  const mismatch = KEEPALIVE_FIELDS.find((field) => change[field] !== undefined && change[field] !== after[field]);
  if (mismatch) {
    restore(socket, fd, before);
    throw new NotAppliedError(mismatch, change[mismatch], after[mismatch]);
  }
  return { ...after, source: 'kernel', via };
}

function restore(socket: Socket, fd: number, before: KernelKeepAlive): void {
  try {
    platformBackend().write(socket, fd, before, before);
  } catch {
    // The original error is what the caller needs; a failed restore on a broken socket adds nothing.
  }
}

import type { Socket } from 'node:net';
import { UnsupportedError } from '../errors.js';
import { errnoName, loadSockoptFfi, type SockoptFfi } from './ffi.js';
import { nodeExtendedKeepAliveEnabled } from './node-runtime.js';
import {
  KEEPALIVE_FIELDS,
  type Capabilities,
  type KeepAliveField,
  type KernelKeepAlive,
  type OptionCapability,
  type PlatformBackend,
  type PlatformLimits,
} from './types.js';

/** The numbers a POSIX platform uses for the keepalive options, and the unit each one counts in. */
export interface PosixSocketOptions {
  readonly name: string;
  readonly tested: boolean;
  readonly library: string;
  readonly solSocket: number;
  readonly soKeepAlive: number;
  readonly soError: number;
  readonly ipprotoTcp: number;
  readonly idle: { readonly option: number; readonly label: string };
  readonly interval: { readonly option: number; readonly label: string };
  readonly count: { readonly option: number; readonly label: string };
  /** The user timeout option; `unitMs` 1 where the kernel counts milliseconds, 1000 where seconds. */
  readonly userTimeout: { readonly option: number; readonly label: string; readonly unitMs: number };
  readonly tcpInfo: { readonly option: number; readonly size: number } | null;
  readonly limits: PlatformLimits;
  /** What an unset socket inherits, used only when values cannot be read back. */
  systemDefaults(): KernelKeepAlive;
}

/**
 * One implementation for every POSIX platform: Linux and macOS differ only in option numbers, units and limits,
 * which their modules describe. Node's own setKeepAlive is preferred where the runtime can set all three
 * keepalive values with it; everything else goes through setsockopt.
 */
export function createPosixBackend(table: PosixSocketOptions): PlatformBackend {
  const ffi = (): SockoptFfi | null => loadSockoptFfi(table.library).ffi;

  const setPath = (field: KeepAliveField): 'node' | 'ffi' | null => {
    if (field !== 'userTimeout' && nodeExtendedKeepAliveEnabled()) return 'node';
    if (ffi()) return 'ffi';
    // Without the FFI, classic Node can still switch keepalive on and set its idle time.
    if (field === 'enabled' || field === 'idle') return 'node';
    return null;
  };

  const read = (fd: number): KernelKeepAlive => {
    const lib = ffi();
    if (!lib) throw new UnsupportedError('reading keepalive options back', loadSockoptFfi(table.library).error ?? '');
    const tcp = table.ipprotoTcp;
    return {
      enabled: lib.getInt(fd, table.solSocket, table.soKeepAlive, 'SO_KEEPALIVE') !== 0,
      idle: lib.getInt(fd, tcp, table.idle.option, table.idle.label) * 1000,
      interval: lib.getInt(fd, tcp, table.interval.option, table.interval.label) * 1000,
      count: lib.getInt(fd, tcp, table.count.option, table.count.label),
      userTimeout: lib.getInt(fd, tcp, table.userTimeout.option, table.userTimeout.label) * table.userTimeout.unitMs,
    };
  };

  const writeWithNode = (socket: Socket, change: Partial<KernelKeepAlive>, current: KernelKeepAlive | undefined) => {
    const target = { ...(current ?? table.systemDefaults()), ...change };
    if (!target.enabled) {
      socket.setKeepAlive(false);
    } else if (nodeExtendedKeepAliveEnabled()) {
      // Node >= 24.19/26.4 takes all three at once, so the ones not asked for are passed as the kernel held them.
      (socket.setKeepAlive as (enable: boolean, idle: number, interval: number, count: number) => Socket)(
        true,
        target.idle,
        target.interval,
        target.count,
      );
    } else {
      socket.setKeepAlive(true, target.idle);
    }
  };

  const writeWithFfi = (lib: SockoptFfi, fd: number, field: KeepAliveField, change: Partial<KernelKeepAlive>) => {
    const tcp = table.ipprotoTcp;
    switch (field) {
      case 'enabled':
        if (change.enabled !== undefined) lib.setInt(fd, table.solSocket, table.soKeepAlive, change.enabled ? 1 : 0, 'SO_KEEPALIVE');
        return;
      case 'idle':
        if (change.idle !== undefined) lib.setInt(fd, tcp, table.idle.option, change.idle / 1000, table.idle.label);
        return;
      case 'interval':
        if (change.interval !== undefined) lib.setInt(fd, tcp, table.interval.option, change.interval / 1000, table.interval.label);
        return;
      case 'count':
        if (change.count !== undefined) lib.setInt(fd, tcp, table.count.option, change.count, table.count.label);
        return;
      case 'userTimeout':
        if (change.userTimeout !== undefined) {
          const value = change.userTimeout / table.userTimeout.unitMs;
          lib.setInt(fd, tcp, table.userTimeout.option, value, table.userTimeout.label);
        }
        return;
    }
  };

  return {
    name: table.name,
    tested: table.tested,
    limits: table.limits,
    capabilities(): Capabilities {
      const load = loadSockoptFfi(table.library);
      const options = Object.fromEntries(
        KEEPALIVE_FIELDS.map((field): [KeepAliveField, OptionCapability] => [
          field,
          { set: setPath(field), read: load.ffi ? 'ffi' : null },
        ]),
      ) as Record<KeepAliveField, OptionCapability>;
      return {
        platform: process.platform,
        backend: table.name,
        tested: table.tested,
        node: process.versions.node,
        libuv: process.versions.uv ?? 'unknown',
        nodeKeepAliveIntervalCount: nodeExtendedKeepAliveEnabled(),
        ffi: { available: load.ffi !== null, library: load.ffi ? table.library : null, error: load.error },
        options,
        tcpInfo: load.ffi !== null && table.tcpInfo !== null,
      };
    },
    read,
    write(socket, fd, change, current) {
      const viaNode = KEEPALIVE_FIELDS.filter((field) => change[field] !== undefined && setPath(field) === 'node');
      if (viaNode.length > 0) writeWithNode(socket, change, current);
      const lib = ffi();
      for (const field of KEEPALIVE_FIELDS) {
        if (change[field] === undefined || setPath(field) !== 'ffi') continue;
        if (!lib) throw new UnsupportedError(`setting ${field}`, loadSockoptFfi(table.library).error ?? '');
        writeWithFfi(lib, fd, field, change);
      }
    },
    pendingError(fd) {
      const lib = ffi();
      if (!lib) return undefined;
      const errno = lib.getInt(fd, table.solSocket, table.soError, 'SO_ERROR');
      return errno === 0 ? null : errnoName(errno);
    },
    tcpInfo(fd) {
      const lib = ffi();
      if (!lib || !table.tcpInfo) return undefined;
      return lib.getBytes(fd, table.ipprotoTcp, table.tcpInfo.option, table.tcpInfo.size, 'TCP_INFO');
    },
  };
}

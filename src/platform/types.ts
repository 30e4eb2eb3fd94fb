import type { Socket } from 'node:net';

export type KeepAliveField = 'enabled' | 'idle' | 'interval' | 'count' | 'userTimeout';
export const KEEPALIVE_FIELDS: readonly KeepAliveField[] = ['enabled', 'idle', 'interval', 'count', 'userTimeout'];

/** How a value gets into the kernel: Node's own socket.setKeepAlive, or setsockopt through the FFI. */
export type SetPath = 'node' | 'ffi';
/** How a value is read back: getsockopt through the FFI. */
export type ReadPath = 'ffi';

/** Keepalive values as the kernel holds them, always in milliseconds (count is a number of probes). */
export interface KernelKeepAlive {
  enabled: boolean;
  idle: number;
  interval: number;
  count: number;
  userTimeout: number;
}

/** The range one option may take on this platform, in milliseconds; `stepMs` is the kernel's unit. */
export interface DurationLimit {
  readonly minMs: number;
  readonly maxMs: number;
  readonly stepMs: number;
}

export interface PlatformLimits {
  readonly idle: DurationLimit;
  readonly interval: DurationLimit;
  readonly count: { readonly min: number; readonly max: number };
  readonly userTimeout: DurationLimit;
}

export interface OptionCapability {
  /** How this option is set, or null when this runtime cannot set it. */
  readonly set: SetPath | null;
  /** How this option is read back from the kernel, or null when it cannot be. */
  readonly read: ReadPath | null;
}

export interface Capabilities {
  readonly platform: NodeJS.Platform;
  /** The platform module in use: linux, darwin, win32, or generic for anything else. */
  readonly backend: string;
  /** Whether this project's test suite runs on this platform; others are written from documentation. */
  readonly tested: boolean;
  readonly node: string;
  readonly libuv: string;
  /** Node's socket.setKeepAlive(enable, initialDelay, interval, count) (Node >= 24.19 and >= 26.4). */
  readonly nodeKeepAliveIntervalCount: boolean;
  readonly ffi: { readonly available: boolean; readonly library: string | null; readonly error: string | null };
  readonly options: Readonly<Record<KeepAliveField, OptionCapability>>;
  /** Whether TCP_INFO (kernel counters for a connection) can be read. */
  readonly tcpInfo: boolean;
}

/** The one interface the rest of lifeline uses to reach socket options. */
export interface PlatformBackend {
  readonly name: string;
  readonly tested: boolean;
  readonly limits: PlatformLimits;
  capabilities(): Capabilities;
  /** Reads every keepalive value from the kernel; throws UnsupportedError where the platform cannot. */
  read(fd: number): KernelKeepAlive;
  /**
   * Writes the given values. `current` is what the kernel held before (when it could be read), so a path that
   * must set several values at once (Node's setKeepAlive) keeps the ones that were not asked to change.
   */
  write(socket: Socket, fd: number, change: Partial<KernelKeepAlive>, current: KernelKeepAlive | undefined): void;
  /** Raw TCP_INFO bytes, or undefined where the platform has none. */
  tcpInfo(fd: number): Buffer | undefined;
  /** The socket's pending error (SO_ERROR, which reading clears) as a symbolic code, null for none; undefined where unreadable. */
  pendingError(fd: number): string | null | undefined;
}

import { readFileSync } from 'node:fs';
import type { PosixSocketOptions } from './posix.js';
import type { KernelKeepAlive } from './types.js';

/** Linux's defaults for a socket that sets only SO_KEEPALIVE (net.ipv4.tcp_keepalive_*). */
export const LINUX_KERNEL_DEFAULTS: KernelKeepAlive = {
  enabled: false,
  idle: 7_200_000,
  interval: 75_000,
  count: 9,
  userTimeout: 0,
};

function readProcSeconds(name: string, fallback: number, unitMs: number): number {
  try {
    return Number.parseInt(readFileSync(`/proc/sys/net/ipv4/${name}`, 'utf8'), 10) * unitMs;
  } catch {
    return fallback;
  }
}

/**
 * Option numbers from <netinet/tcp.h> and <asm-generic/socket.h>; limits from include/net/tcp.h:
 * MAX_TCP_KEEPIDLE and MAX_TCP_KEEPINTVL are 32767 s, MAX_TCP_KEEPCNT 127; anything else is EINVAL.
 */
export const linuxSocketOptions: PosixSocketOptions = {
  name: 'linux',
  tested: true,
  library: 'libc.so.6',
  solSocket: 1,
  soError: 4,
  soKeepAlive: 9,
  ipprotoTcp: 6,
  idle: { option: 4, label: 'TCP_KEEPIDLE' },
  interval: { option: 5, label: 'TCP_KEEPINTVL' },
  count: { option: 6, label: 'TCP_KEEPCNT' },
  userTimeout: { option: 18, label: 'TCP_USER_TIMEOUT', unitMs: 1 },
  tcpInfo: { option: 11, size: 512 },
  limits: {
    idle: { minMs: 1000, maxMs: 32_767_000, stepMs: 1000 },
    interval: { minMs: 1000, maxMs: 32_767_000, stepMs: 1000 },
    count: { min: 1, max: 127 },
    userTimeout: { minMs: 0, maxMs: 2 ** 31 - 1, stepMs: 1 },
  },
  systemDefaults: () => ({
    enabled: false,
    idle: readProcSeconds('tcp_keepalive_time', LINUX_KERNEL_DEFAULTS.idle, 1000),
    interval: readProcSeconds('tcp_keepalive_intvl', LINUX_KERNEL_DEFAULTS.interval, 1000),
    count: readProcSeconds('tcp_keepalive_probes', LINUX_KERNEL_DEFAULTS.count, 1),
    userTimeout: 0,
  }),
};

import type { PosixSocketOptions } from './posix.js';

/**
 * macOS, written from <netinet/tcp.h> and <sys/socket.h> and NOT tested by this project (no macOS machine in CI).
 * TCP_KEEPALIVE (0x10) is the idle time; TCP_RXT_CONNDROPTIME (0x80) drops a connection whose retransmissions
 * go unanswered for that many seconds, the closest thing macOS has to Linux's TCP_USER_TIMEOUT.
 * The system defaults are net.inet.tcp.keepidle 7200 s, keepintvl 75 s, keepcnt 8.
 */
export const darwinSocketOptions: PosixSocketOptions = {
  name: 'darwin',
  tested: false,
  library: 'libSystem.B.dylib',
  solSocket: 0xffff,
  soError: 0x1007,
  soKeepAlive: 0x0008,
  ipprotoTcp: 6,
  idle: { option: 0x10, label: 'TCP_KEEPALIVE' },
  interval: { option: 0x101, label: 'TCP_KEEPINTVL' },
  count: { option: 0x102, label: 'TCP_KEEPCNT' },
  userTimeout: { option: 0x80, label: 'TCP_RXT_CONNDROPTIME', unitMs: 1000 },
  tcpInfo: null,
  limits: {
    idle: { minMs: 1000, maxMs: 32_767_000, stepMs: 1000 },
    interval: { minMs: 1000, maxMs: 32_767_000, stepMs: 1000 },
    count: { min: 1, max: 127 },
    userTimeout: { minMs: 0, maxMs: 2_147_483_000, stepMs: 1000 },
  },
  systemDefaults: () => ({ enabled: false, idle: 7_200_000, interval: 75_000, count: 8, userTimeout: 0 }),
};

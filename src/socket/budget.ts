import { formatDuration } from '../duration.js';
import { LINUX_KERNEL_DEFAULTS, linuxSocketOptions } from '../platform/linux.js';
import { resolveKeepAliveOptions, type KeepAliveOptions } from './options.js';

/** The system-wide values a socket inherits for what it does not set (Linux: net.ipv4.tcp_keepalive_*, tcp_retries2). */
export interface SystemTcpDefaults {
  /** tcp_keepalive_time, ms. */
  idle: number;
  /** tcp_keepalive_intvl, ms. */
  interval: number;
  /** tcp_keepalive_probes. */
  count: number;
  /** tcp_retries2: retransmissions before the kernel gives up on unacknowledged data. */
  retries2: number;
}

/** Linux's compiled-in defaults: 7200 s, 75 s, 9 probes, 15 retries. */
export const LINUX_SYSTEM_DEFAULTS: SystemTcpDefaults = {
  idle: LINUX_KERNEL_DEFAULTS.idle,
  interval: LINUX_KERNEL_DEFAULTS.interval,
  count: LINUX_KERNEL_DEFAULTS.count,
  retries2: 15,
};

export const BudgetWarningCodes = {
  /** The user timeout runs out before the second probe: one probe is sent, then the connection is killed. */
  USER_TIMEOUT_CANCELS_PROBES: 'user-timeout-cancels-probes',
  /** With a user timeout set, Linux ignores TCP_KEEPCNT and probes until the user timeout has passed. */
  USER_TIMEOUT_OVERRIDES_COUNT: 'user-timeout-overrides-count',
  /** So few or so fast probes that one or two lost ACKs on a slow path kill a healthy connection. */
  AGGRESSIVE_KEEPALIVE: 'aggressive-keepalive',
  /** A user timeout this short kills healthy connections on a lossy or slow path, or a peer that reads slowly. */
  AGGRESSIVE_USER_TIMEOUT: 'aggressive-user-timeout',
  /** A user timeout without keepalive: an idle connection to a dead peer is never found. */
  USER_TIMEOUT_WITHOUT_KEEPALIVE: 'user-timeout-without-keepalive',
} as const;

export type BudgetWarningCode = (typeof BudgetWarningCodes)[keyof typeof BudgetWarningCodes];

export interface BudgetWarning {
  code: BudgetWarningCode;
  message: string;
}

export interface KeepAliveBudget {
  /** The values in force: what was given, the system defaults for the rest. */
  effective: { enabled: boolean; idle: number; interval: number; count: number; userTimeout: number };
  /**
   * Worst case, in ms, between the last packet from a dead peer and the kernel killing an idle connection
   * (no data in flight). null: never (keepalive is off).
   */
  idleMs: number | null;
  /** Probes sent before the kernel gives up on an idle connection; null when keepalive is off. */
  probes: number | null;
  /** Worst case, in ms, for a connection with unacknowledged data in flight (keepalive does not run then). */
  busyMs: number;
  /** What bounds busyMs: the user timeout, or tcp_retries2 retransmissions with exponential backoff. */
  busyBound: 'user-timeout' | 'tcp_retries2';
  warnings: BudgetWarning[];
}

/** Linux's TCP_RTO_MIN and TCP_RTO_MAX (include/net/tcp.h). */
const RTO_MIN_MS = 200;
const RTO_MAX_MS = 120_000;
/** Thresholds below which settings are flagged as able to kill healthy connections on a slow path. */
const AGGRESSIVE_PROBE_WINDOW_MS = 5000;
const AGGRESSIVE_USER_TIMEOUT_MS = 5000;

/**
 * How long retransmissions go on before the kernel gives up after `retries` of them, as Linux computes it
 * (tcp_model_timeout in net/ipv4/tcp_timer.c): the RTO doubles from 200 ms up to 120 s. With the default 15 this
 * is 924.6 s (15 min 24.6 s); a path with a larger RTT starts from a larger RTO and takes longer.
 */
export function retransmissionTimeoutMs(retries: number, rtoMinMs = RTO_MIN_MS): number {
  const linearBackoffThreshold = Math.floor(Math.log2(RTO_MAX_MS / rtoMinMs));
  if (retries <= linearBackoffThreshold) return ((2 << retries) - 1) * rtoMinMs;
  return ((2 << linearBackoffThreshold) - 1) * rtoMinMs + (retries - linearBackoffThreshold) * RTO_MAX_MS;
}

/**
 * The worst-case time the kernel needs to find a dead peer with these settings, and warnings for settings that
 * fight each other. Options not given take the system defaults (Linux's compiled-in ones unless `system` says
 * otherwise: pass readSysctl()'s result to use this machine's). Validates like setKeepAlive.
 */
export function keepAliveBudget(options?: KeepAliveOptions, system: SystemTcpDefaults = LINUX_SYSTEM_DEFAULTS): KeepAliveBudget {
  const change = resolveKeepAliveOptions(options, linuxSocketOptions.limits);
  const effective = {
    enabled: change.enabled,
    idle: change.idle ?? system.idle,
    interval: change.interval ?? system.interval,
    count: change.count ?? system.count,
    userTimeout: change.userTimeout ?? 0,
  };
  const { enabled, idle, interval, count, userTimeout } = effective;
  const warnings: BudgetWarning[] = [];

  let idleMs: number | null = null;
  let probes: number | null = null;
  if (enabled && userTimeout === 0) {
    probes = count;
    idleMs = idle + interval * count;
  } else if (enabled) {
    // Linux (tcp_keepalive_timer): with a user timeout, the connection is killed at the first timer run after
    // at least one unanswered probe at which the silence has reached the user timeout; TCP_KEEPCNT is ignored.
    probes = Math.max(1, Math.ceil((userTimeout - idle) / interval));
    idleMs = idle + interval * probes;
    if (probes === 1 && count > 1) {
      warnings.push({
        code: BudgetWarningCodes.USER_TIMEOUT_CANCELS_PROBES,
        message: `user timeout ${formatDuration(userTimeout)} is not longer than idle + interval (${formatDuration(idle + interval)}): only one probe is sent instead of ${count}, one lost ACK kills the connection`,
      });
    } else if (probes !== count) {
      warnings.push({
        code: BudgetWarningCodes.USER_TIMEOUT_OVERRIDES_COUNT,
        message: `with a user timeout set, Linux ignores count ${count}: it sends ${probes} probes and gives up after ${formatDuration(idleMs)} of silence (idle + ${probes} x interval)`,
      });
    }
  }
  if (enabled && (interval * (probes ?? count) < AGGRESSIVE_PROBE_WINDOW_MS || (probes ?? count) < 2)) {
    warnings.push({
      code: BudgetWarningCodes.AGGRESSIVE_KEEPALIVE,
      message: `${probes ?? count} probe(s) ${formatDuration(interval)} apart: a healthy connection on a slow or lossy path can be killed by a few lost ACKs`,
    });
  }
  if (userTimeout > 0 && userTimeout < AGGRESSIVE_USER_TIMEOUT_MS) {
    warnings.push({
      code: BudgetWarningCodes.AGGRESSIVE_USER_TIMEOUT,
      message: `user timeout ${formatDuration(userTimeout)}: a slow path, a burst of loss or a peer that reads slowly (zero window) gets killed`,
    });
  }
  if (!enabled && userTimeout > 0) {
    warnings.push({
      code: BudgetWarningCodes.USER_TIMEOUT_WITHOUT_KEEPALIVE,
      message: 'a user timeout alone only acts while data is in flight: an idle connection to a dead peer lives forever',
    });
  }

  const busyBound = userTimeout > 0 ? 'user-timeout' : 'tcp_retries2';
  const busyMs = userTimeout > 0 ? userTimeout : retransmissionTimeoutMs(system.retries2);
  return { effective, idleMs, probes, busyMs, busyBound, warnings };
}

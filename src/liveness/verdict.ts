import type { TcpInfo } from '../socket/tcp-info.js';

/** Why a connection ended. The names are part of lifeline's interface (events, JSON, the lab's tables). */
export const DeathReasons = {
  /** The peer closed in order (FIN). */
  EOF: 'eof',
  /** ECONNRESET / EPIPE: the peer rebooted, its process died, or something sent RST. */
  RESET: 'reset',
  /** ETIMEDOUT with nothing unacknowledged: keepalive probes went unanswered. */
  KEEPALIVE_TIMEOUT: 'keepalive-timeout',
  /** ETIMEDOUT with data waiting: the user timeout or tcp_retries2 ran out (also a peer stuck at zero window). */
  USER_TIMEOUT: 'user-timeout',
  /** EHOSTUNREACH / ENETUNREACH: an ICMP error came back. */
  UNREACHABLE: 'unreachable',
  /** The application's heartbeat went unanswered (the heartbeat engine's verdict). */
  HEARTBEAT_TIMEOUT: 'heartbeat-timeout',
  /** We closed it: shutdown, policy, idle limit. */
  LOCAL: 'local',
  /** Any other socket error (the code says which, e.g. ECONNREFUSED while connecting). */
  ERROR: 'error',
} as const;

export type DeathReason = (typeof DeathReasons)[keyof typeof DeathReasons];

/** What was seen when a connection ended: the inputs of the verdict. */
export interface DeathEvidence {
  /** The socket error's code (ETIMEDOUT, ECONNRESET, ...), or null when it closed without one. */
  errorCode: string | null;
  /** The peer's FIN arrived ('end'). */
  peerEnded: boolean;
  /** Our side closed it deliberately. */
  closedLocally: boolean;
  /** TCP_INFO read at the moment of death, while the descriptor was still open. */
  atDeath: TcpInfo | null;
  /** The last TCP_INFO sampled while the connection was alive. */
  lastSample: TcpInfo | null;
  /** Bytes the application had written that Node had not yet handed to the kernel. */
  pendingWriteBytes: number;
}

export interface Verdict {
  reason: DeathReason;
  code: string | null;
  /** The evidence that decided, in words: `3 probes unanswered`, `12 segments unacknowledged`. */
  because: string;
}

const RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);
const UNREACHABLE_CODES = new Set(['EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN']);

/**
 * Names one reason for the end of a connection from what the kernel said. ETIMEDOUT is split by the kernel's
 * own counters, not guessed: data waiting to be acknowledged (or sent into a zero window) means the
 * retransmission timer or the user timeout gave up; nothing waiting and probes out means keepalive did.
 */
export function classifyDeath(evidence: DeathEvidence): Verdict {
  const code = evidence.errorCode;
  if (code === null) {
    if (evidence.closedLocally) return { reason: DeathReasons.LOCAL, code, because: 'closed by this side' };
    if (evidence.peerEnded) return { reason: DeathReasons.EOF, code, because: 'the peer closed (FIN)' };
    return { reason: DeathReasons.LOCAL, code, because: 'closed by this process without an error' };
  }
  if (RESET_CODES.has(code)) return { reason: DeathReasons.RESET, code, because: 'the peer answered with RST' };
  if (UNREACHABLE_CODES.has(code)) return { reason: DeathReasons.UNREACHABLE, code, because: 'an ICMP error came back' };
  if (code !== 'ETIMEDOUT') return { reason: DeathReasons.ERROR, code, because: 'socket error' };
  return classifyTimeout(evidence);
}

/**
 * Measured on kernel 6.18 (see docs/death-evidence.md): when the kernel kills a socket it zeroes `unacked` and `backoff`,
 * but `retransmits`, `caState` (4 = loss recovery), `probes` and `notSentBytes` survive, so the snapshot taken at
 * the moment of death decides; the last periodic sample (where `unacked` still counts) is the fallback.
 * `probes` alone is not enough: zero-window and no-route probing count there too, hence the checks before it.
 */
function classifyTimeout(evidence: DeathEvidence): Verdict {
  const code = 'ETIMEDOUT';
  for (const info of [evidence.atDeath, evidence.lastSample]) {
    if (!info) continue;
    const waiting = dataWaiting(info);
    if (waiting) return { reason: DeathReasons.USER_TIMEOUT, code, because: waiting };
    if (info.probes > 0) {
      return { reason: DeathReasons.KEEPALIVE_TIMEOUT, code, because: `${info.probes} keepalive probe${info.probes === 1 ? '' : 's'} unanswered` };
    }
  }
  if (evidence.pendingWriteBytes > 0) {
    return { reason: DeathReasons.USER_TIMEOUT, code, because: `${evidence.pendingWriteBytes} bytes still queued to send` };
  }
  return { reason: DeathReasons.KEEPALIVE_TIMEOUT, code, because: 'nothing was waiting to be sent (no kernel counters to confirm)' };
}

const TCP_CA_LOSS = 4;

function dataWaiting(info: TcpInfo): string | null {
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  if (info.retransmits > 0 || info.caState === TCP_CA_LOSS) {
    return `${plural(info.retransmits, 'retransmission')} of unacknowledged data went unanswered`;
  }
  if (info.unacked > 0) return `${plural(info.unacked, 'segment')} unacknowledged`;
  if (info.notSentBytes > 0) return `${info.notSentBytes} bytes could not be sent (zero window or no route)`;
  return null;
}

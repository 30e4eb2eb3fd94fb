import type { Socket } from 'node:net';
import { socketFd } from '../platform/fd.js';
import { platformBackend } from '../platform/index.js';

/** TCP states as Linux numbers them (include/net/tcp_states.h). */
const TCP_STATES = [
  'UNKNOWN', 'ESTABLISHED', 'SYN_SENT', 'SYN_RECV', 'FIN_WAIT1', 'FIN_WAIT2', 'TIME_WAIT',
  'CLOSE', 'CLOSE_WAIT', 'LAST_ACK', 'LISTEN', 'CLOSING', 'NEW_SYN_RECV',
] as const;

/**
 * The kernel's counters for one connection (Linux struct tcp_info), the evidence behind a verdict.
 * Times are milliseconds; `lastDataRecvMs` and the like are "how long ago" when the snapshot was taken.
 */
export interface TcpInfo {
  state: string;
  /** Congestion-avoidance state; 4 (TCP_CA_Loss) means the retransmission timer fired. */
  caState: number;
  /** Retransmissions of the current unacknowledged segment (icsk_retransmits); reset when it is acked. */
  retransmits: number;
  /** Keepalive or zero-window probes sent without an answer (icsk_probes_out). */
  probes: number;
  /** Exponential backoff steps of the retransmission timer. */
  backoff: number;
  rtoMs: number;
  /** Segments sent and not yet acknowledged. */
  unacked: number;
  lastDataSentMs: number;
  lastDataRecvMs: number;
  lastAckRecvMs: number;
  /** Smoothed round-trip time and its variation, microseconds. */
  rttUs: number;
  rttVarUs: number;
  totalRetrans: number;
  bytesAcked: number;
  bytesReceived: number;
  /** Bytes written by the application and not yet sent (tcpi_notsent_bytes). */
  notSentBytes: number;
  /** The peer's advertised receive window (tcpi_snd_wnd, Linux >= 5.4); null on older kernels. */
  sendWindow: number | null;
  /** Retransmission timeouts over the connection's life (tcpi_total_rto, Linux >= 6.7); null on older kernels. */
  totalRto: number | null;
}

/**
 * Parses struct tcp_info as laid out in include/uapi/linux/tcp.h (offsets checked with offsetof against the
 * header and on kernel 6.18, which returns 280 bytes). Fields past what an older kernel wrote are null.
 */
export function parseTcpInfo(bytes: Buffer): TcpInfo {
  const u32 = (offset: number) => (bytes.length >= offset + 4 ? bytes.readUInt32LE(offset) : 0);
  const u64 = (offset: number) => (bytes.length >= offset + 8 ? Number(bytes.readBigUInt64LE(offset)) : 0);
  return {
    state: TCP_STATES[bytes.readUInt8(0)] ?? `STATE_${bytes.readUInt8(0)}`,
    caState: bytes.readUInt8(1),
    retransmits: bytes.readUInt8(2),
    probes: bytes.readUInt8(3),
    backoff: bytes.readUInt8(4),
    rtoMs: u32(8) / 1000,
    unacked: u32(24),
    lastDataSentMs: u32(44),
    lastDataRecvMs: u32(52),
    lastAckRecvMs: u32(56),
    rttUs: u32(68),
    rttVarUs: u32(72),
    totalRetrans: u32(100),
    bytesAcked: u64(120),
    bytesReceived: u64(128),
    notSentBytes: u32(144),
    sendWindow: bytes.length >= 232 ? u32(228) : null,
    totalRto: bytes.length >= 242 ? bytes.readUInt16LE(240) : null,
  };
}

/** The kernel's TCP_INFO for a socket, or undefined where the platform has none or the socket has no fd. */
export function readTcpInfo(socket: Socket): TcpInfo | undefined {
  const fd = socketFd(socket);
  if (fd < 0) return undefined;
  try {
    const bytes = platformBackend().tcpInfo(fd);
    return bytes ? parseTcpInfo(bytes) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The error the kernel holds for a socket that Node has not read yet (SO_ERROR; reading it clears it), such as
 * ETIMEDOUT on a connection the kernel killed while the application had stopped reading.
 */
export function readPendingError(socket: Socket): string | null {
  const fd = socketFd(socket);
  if (fd < 0) return null;
  try {
    return platformBackend().pendingError(fd) ?? null;
  } catch {
    return null;
  }
}

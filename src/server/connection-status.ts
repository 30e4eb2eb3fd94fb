import type { KeepAliveState } from '../socket/keepalive.js';

/**
 * One live connection as a server's `connections()` describes it: what the status page lists. Supervisor and
 * LifelineServer (and adapters) each return objects that have at least these fields.
 */
export interface ConnectionStatus {
  /** Unique among the server's live connections. */
  id: number | string;
  remote: string;
  /** `open`, `closing`, `handshake`, `suspect` (see LiveStates). */
  state: string;
  /** How long nothing has been heard from the peer, ms (the kernel's count, ACKs included, where it can be read). */
  silentMs: number;
  /** Round-trip time, ms: the kernel's smoothed RTT for raw TCP, the heartbeat's for the lifeline protocol; null when unknown. */
  rttMs: number | null;
  /** Keepalive as read back from the kernel at setup; null when none was applied or it could not be read back. */
  keepalive: KeepAliveState | null;
  /** The agreed heartbeat interval, ms (lifeline protocol). */
  heartbeatIntervalMs?: number;
  /** The lifeline protocol's session. */
  session?: string;
}

/** Anything the status page can list connections of. */
export interface ConnectionSource {
  connections(): readonly ConnectionStatus[];
}

/**
 * Round-trip time estimation as TCP does it (RFC 6298): a smoothed RTT (SRTT), its mean deviation (RTTVAR), and
 * from them the time after which an answer is overdue (RTO). The heartbeat engine measures ping-to-pong times
 * with these, and calls a connection suspect when its pong is overdue by this peer's own standard, long before
 * the hard timeout.
 */

/** Weight of a new sample in SRTT (RFC 6298 alpha). */
export const RTT_ALPHA = 1 / 8;
/** Weight of a new deviation in RTTVAR (RFC 6298 beta). */
export const RTT_BETA = 1 / 4;
/** RTO = SRTT + max(G, K x RTTVAR). */
export const RTO_K = 4;
/**
 * RTO before any sample, and its floor (RFC 6298 2.1 and 2.4: 1 s). Application pongs pass through the peer's
 * event loop and garbage collector, so they are noisier than TCP ACKs; a lower floor would make suspicion flap.
 */
export const MIN_RTO_MS = 1000;

/** SRTT after `sampleMs`; the first sample (srtt NaN) is taken as it is. */
export function nextSmoothedRtt(srttMs: number, sampleMs: number): number {
  return Number.isNaN(srttMs) ? sampleMs : (1 - RTT_ALPHA) * srttMs + RTT_ALPHA * sampleMs;
}

/** RTTVAR after `sampleMs`; `srttMs` is SRTT BEFORE this sample (RFC 6298 updates RTTVAR first). First sample: R/2. */
export function nextRttVariance(rttVarMs: number, srttMs: number, sampleMs: number): number {
  return Number.isNaN(srttMs) ? sampleMs / 2 : (1 - RTT_BETA) * rttVarMs + RTT_BETA * Math.abs(srttMs - sampleMs);
}

/**
 * How long after a ping its pong is overdue: SRTT + max(G, 4 x RTTVAR), at least MIN_RTO_MS; MIN_RTO_MS before
 * any sample. G is the clock granularity, here the wheel's tick.
 */
export function retransmissionTimeout(srttMs: number, rttVarMs: number, granularityMs: number): number {
  if (Number.isNaN(srttMs)) return MIN_RTO_MS;
  return Math.max(MIN_RTO_MS, srttMs + Math.max(granularityMs, RTO_K * rttVarMs));
}

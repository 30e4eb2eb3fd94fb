/**
 * The benchmark's wire format, the same for every arm so that only the liveness bookkeeping differs: every
 * message is 8 bytes, a type byte, three spare bytes and a 32-bit nonce or sequence number. A PING's spare bytes
 * carry when the server sent it (pingMessage), so that the client can tell whether it had sent data within the
 * period before that ping left: what the "pings to connections that carried traffic" counts.
 */
export const MESSAGE_BYTES = 8;

export const MessageTypes = {
  /** Client -> server, first message: flags say whether the connection is busy and whether it is a victim. */
  HELLO: 0x48,
  /** Client -> server: application data (busy connections send it every period / 4). */
  DATA: 0x44,
  /** Server -> client: a ping; the client answers with PONG carrying the same nonce. */
  PING: 0x50,
  /** Client -> server: the answer to a ping. */
  PONG: 0x51,
  /**
   * Server -> client, once before the baseline is measured; the client ignores it. Node allocates some state per
   * socket on its first write (about 40 B): that belongs to the bare socket, not to the arm that writes first.
   */
  WARM: 0x57,
} as const;

export const HelloFlags = { BUSY: 1, VICTIM: 2 } as const;

export function message(type: number, value: number): Buffer {
  const buffer = Buffer.allocUnsafe(MESSAGE_BYTES);
  buffer.writeUInt8(type, 0);
  buffer.writeUInt8(0, 1);
  buffer.writeUInt16BE(0, 2);
  buffer.writeUInt32BE(value >>> 0, 4);
  return buffer;
}

/** The monotonic clock shared by all processes of a run (CLOCK_MONOTONIC), in milliseconds. */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/**
 * monotonicMs() without a BigInt per call, for the paths that run once per ping or message: performance.now() reads
 * the same clock (libuv's hrtime) from this process's start, so one offset turns it into the shared one.
 */
const MONOTONIC_OFFSET_MS = monotonicMs() - performance.now();
export function fastMonotonicMs(): number {
  return MONOTONIC_OFFSET_MS + performance.now();
}

/** Send times travel as whole milliseconds modulo 2^24 (4.6 hours, longer than any run) in a PING's 3 spare bytes. */
const STAMP_MODULUS = 2 ** 24;

/** A PING carrying its nonce and, in its spare bytes, the (shared monotonic) millisecond it was sent. */
export function pingMessage(nonce: number, sentAtMs: number): Buffer {
  const buffer = message(MessageTypes.PING, nonce);
  buffer.writeUIntBE(Math.floor(sentAtMs) % STAMP_MODULUS, 1, 3);
  return buffer;
}

/**
 * How long before the PING at `offset` in `chunk` left the server the moment `earlierMs` was, in whole ms (within 1 ms);
 * negative when `earlierMs` came after the ping left (a write made while the ping was in flight).
 */
export function msBeforePing(chunk: Buffer, offset: number, earlierMs: number): number {
  const since = (chunk.readUIntBE(offset + 1, 3) - (Math.floor(earlierMs) % STAMP_MODULUS) + STAMP_MODULUS) % STAMP_MODULUS;
  return since < STAMP_MODULUS / 2 ? since : since - STAMP_MODULUS;
}

/**
 * The benchmark's wire format, the same for every arm so that only the liveness bookkeeping differs: every
 * message is 8 bytes, a type byte, three spare bytes and a 32-bit nonce or sequence number.
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

/**
 * bfloat16: the upper half of an IEEE float32 (sign, the full 8-bit exponent, 7 stored mantissa bits), kept in a
 * Uint16Array. The heartbeat engine stores its RTT estimates this way: 2 bytes instead of 4 per value, with the
 * float32 range (NaN for "no sample yet" included) and a relative error of at most 2^-8 (0.4 %) after rounding.
 * An RTT estimate needs no more: the RTO built from it is at least 1 s and moves in whole ticks, and the
 * samples themselves pass through two event loops. (Float16Array would do, but Node 20 lacks it, and half
 * precision tops out at 65 504.)
 */

const float = new Float32Array(1);
const bits = new Uint32Array(float.buffer);

/** The nearest bfloat16 (ties to even), as the 16 bits to store. */
export function toBfloat16(value: number): number {
  float[0] = value;
  const word = bits[0]!;
  // NaN keeps its quiet bit through the truncation (rounding could carry into the exponent and make it infinite).
  if (Number.isNaN(value)) return (word >>> 16) | 0x0040;
  return (word + 0x7fff + ((word >>> 16) & 1)) >>> 16;
}

/** The number a stored bfloat16 stands for. */
export function fromBfloat16(stored: number): number {
  bits[0] = stored << 16;
  return float[0]!;
}

/** Small measuring tools shared by the benchmarks (they need node --expose-gc). */

/** heapUsed + arrayBuffers after two forced GCs (typed arrays keep their backing stores outside the JS heap). */
export function settledBytes(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc');
  gc();
  gc();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

export const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;

export function nsSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start);
}

/** Best of `runs` (the least disturbed by GC and other processes), in ns per operation. */
export function best(runs: number, operations: number, run: () => void): number {
  let fastest = Infinity;
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    run();
    fastest = Math.min(fastest, nsSince(start) / operations);
  }
  return round(fastest);
}

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

/** The least-squares line through (xs, ys): e.g. bytes over connections, whose slope is the cost of one more. */
export function leastSquares(xs: number[], ys: number[]): { slope: number; intercept: number } {
  const meanX = xs.reduce((a, b) => a + b) / xs.length;
  const meanY = ys.reduce((a, b) => a + b) / ys.length;
  let covariance = 0;
  let variance = 0;
  xs.forEach((x, index) => {
    covariance += (x - meanX) * (ys[index]! - meanY);
    variance += (x - meanX) ** 2;
  });
  const slope = covariance / variance;
  return { slope, intercept: meanY - slope * meanX };
}

/** The median; with an even count, the mean of the middle two (a nearest-rank p50 would report the lower one). */
export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

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

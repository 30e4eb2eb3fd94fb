/**
 * The phi accrual failure detector (Hayashibara, Défago, Yared, Katayama 2004), in the form Akka and Cassandra
 * use: instead of a yes/no timeout, a suspicion level that grows with silence,
 *
 *   phi(t) = -log10(P(a silence lasts longer than t)),
 *
 * where the distribution of silences is learned from the peer's own history. phi = 1 means a 10 % chance that a
 * silence this long is normal, phi = 8 one in 10^8. The normal distribution's tail is approximated with the
 * logistic function Akka uses (error below 0.02 % of the CDF).
 *
 * lifeline learns the distribution of *silences* (gaps between inbound activity longer than the wheel's tick), and
 * keeps only a running mean and variance, exponentially weighted, in place of Akka's window of samples: two
 * floats per connection instead of a ring buffer, which keeps the heartbeat engine's state within 64 bytes per
 * connection. `windowSize` N sets the weight 2 / (N + 1) of each new sample (the span of an EWMA that follows
 * the last N samples about as closely as a moving average over N), and the first samples are averaged exactly
 * (weight 1/n) so that the estimate does not start from an arbitrary guess.
 */

/** phi of a silence of `silenceMs`, given the mean and standard deviation of the silences seen so far. */
export function phi(silenceMs: number, meanMs: number, stdDeviationMs: number): number {
  const y = (silenceMs - meanMs) / stdDeviationMs;
  return softplus(logisticExponent(y)) / Math.LN10;
}

/**
 * How many standard deviations past the mean a silence must be for phi to reach `threshold`: the root of
 * phi(mean + y * sd) = threshold. Independent of the peer, so it is computed once and the engine can schedule
 * the moment phi will cross the threshold instead of evaluating phi on every tick.
 */
export function deviationsAtPhi(threshold: number): number {
  // phi = log10(1 + e^z)  =>  z = ln(10^threshold - 1); then solve A y^3 + B y = z (one real root, A, B > 0).
  const z = Math.log(Math.expm1(threshold * Math.LN10));
  const p = LOGISTIC_B / LOGISTIC_A;
  const q = -z / LOGISTIC_A;
  const root = Math.sqrt((q * q) / 4 + (p * p * p) / 27);
  return Math.cbrt(-q / 2 + root) + Math.cbrt(-q / 2 - root);
}

/** The weight of a new sample: exact averaging for the first ones, then the EWMA weight of `windowSize`. */
export function sampleWeight(samples: number, windowSize: number): number {
  return Math.max(1 / samples, 2 / (windowSize + 1));
}

/** The running mean after one more sample of weight `weight`. */
export function nextMean(mean: number, sample: number, weight: number): number {
  return mean + weight * (sample - mean);
}

/**
 * The running variance after one more sample (West 1979's weighted incremental form; with weight 1/n it is the
 * exact population variance). `mean` is the mean BEFORE this sample.
 */
export function nextVariance(variance: number, mean: number, sample: number, weight: number): number {
  const delta = sample - mean;
  return (1 - weight) * (variance + weight * delta * delta);
}

// Akka's logistic approximation of the normal CDF: F(y) ~ 1 / (1 + e^-(y (B + A y^2))).
const LOGISTIC_A = 0.070566;
const LOGISTIC_B = 1.5976;

function logisticExponent(y: number): number {
  return y * (LOGISTIC_B + LOGISTIC_A * y * y);
}

/** ln(1 + e^z) without overflow for large z or loss of precision for very negative z. */
function softplus(z: number): number {
  return z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z));
}

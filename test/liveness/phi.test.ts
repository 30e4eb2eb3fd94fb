import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { deviationsAtPhi, nextMean, nextVariance, phi, sampleWeight } from '../../src/liveness/phi.js';

test('phi: a silence as long as the mean is a coin toss (phi = log10 2), and phi grows with silence', () => {
  assert.ok(Math.abs(phi(1000, 1000, 100) - Math.log10(2)) < 1e-12);
  let previous = -Infinity;
  for (let silence = 0; silence <= 5000; silence += 50) {
    const level = phi(silence, 1000, 100);
    assert.ok(level >= previous && Number.isFinite(level), `phi(${silence}) = ${level}`);
    previous = level;
  }
  assert.ok(phi(1100, 1000, 100) > 0.7 && phi(1100, 1000, 100) < 0.9, 'one deviation past the mean: P ~ 0.16');
  assert.ok(phi(1_000_000, 1000, 100) > 1e6, 'no overflow to Infinity far in the tail');
});

test('phi: deviationsAtPhi inverts phi for any threshold', () => {
  fc.assert(fc.property(fc.double({ min: 0.01, max: 100, noNaN: true }), fc.double({ min: 1, max: 1e6, noNaN: true }), fc.double({ min: 1, max: 1e5, noNaN: true }),
    (threshold, mean, deviation) => {
      const level = phi(mean + deviationsAtPhi(threshold) * deviation, mean, deviation);
      assert.ok(Math.abs(level - threshold) < 1e-6 * Math.max(1, threshold), `threshold ${threshold}: phi ${level}`);
    }));
  assert.ok(Math.abs(deviationsAtPhi(8) - 5.23) < 0.01);
});

test('phi: the first samples give the exact mean and population variance, later ones an EWMA of the window', () => {
  const samples = [900, 1100, 1000, 1300, 700];
  let mean = 0;
  let variance = 0;
  samples.forEach((sample, index) => {
    const weight = sampleWeight(index + 1, 100);
    variance = nextVariance(variance, mean, sample, weight);
    mean = nextMean(mean, sample, weight);
  });
  const exactMean = samples.reduce((a, b) => a + b) / samples.length;
  const exactVariance = samples.reduce((sum, sample) => sum + (sample - exactMean) ** 2, 0) / samples.length;
  assert.ok(Math.abs(mean - exactMean) < 1e-9);
  assert.ok(Math.abs(variance - exactVariance) < 1e-6);
  assert.equal(sampleWeight(1000, 99), 1 / 50);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { formatDuration, parseDuration } from '../src/index.js';
import { formatShortDuration } from '../src/duration.js';

test('duration: parses numbers, units and compounds into milliseconds', () => {
  const cases: [unknown, number][] = [
    [1500, 1500], ['1500', 1500], ['1500ms', 1500], ['30s', 30_000], ['2m', 120_000], ['1h', 3_600_000],
    ['1m30s', 90_000], ['1.5s', 1500], [' 3S ', 3000], [0, 0],
  ];
  for (const [input, ms] of cases) assert.equal(parseDuration(input, 'x'), ms, String(input));
});

test('duration: rejects what is not a duration, naming the option', () => {
  for (const input of [-1, 1.5, Number.NaN, Infinity, '', 's', '3 s', '1.0001ms', '-3s', '3d', null, {}, '1e3']) {
    assert.throws(() => parseDuration(input, 'idle'), { code: 'ERR_LIFELINE_INVALID_OPTION', message: /invalid option idle/ });
  }
});

test('duration: formatShortDuration round-trips through parseDuration', () => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 10_000_000_000 }), (ms) => parseDuration(formatShortDuration(ms), 'x') === ms));
});

test('duration: formats budgets for people', () => {
  assert.equal(formatDuration(7_875_000), '2 h 11 min 15 s');
  assert.equal(formatDuration(5000), '5 s');
  assert.equal(formatDuration(924_600), '15 min 24.6 s');
  assert.equal(formatDuration(250), '250 ms');
  assert.equal(formatDuration(Infinity), 'never');
});

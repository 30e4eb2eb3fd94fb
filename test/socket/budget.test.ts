import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { keepAliveBudget, retransmissionTimeoutMs } from '../../src/index.js';

const codes = (budget: { warnings: { code: string }[] }) => budget.warnings.map((warning) => warning.code);

describe('keepAliveBudget', () => {
  test('budget: only SO_KEEPALIVE with Linux defaults is 7200 + 9 x 75 s = 2 h 11 min 15 s', () => {
    const budget = keepAliveBudget({});
    assert.equal(budget.idleMs, 7_875_000);
    assert.equal(budget.probes, 9);
    assert.equal(budget.busyMs, 924_600);
    assert.equal(budget.busyBound, 'tcp_retries2');
    assert.deepEqual(budget.warnings, []);
  });

  test("budget: the seed experiment's 2/1/3 is 5 s and flagged as aggressive", () => {
    const budget = keepAliveBudget({ idle: 2000, interval: 1000, count: 3 });
    assert.equal(budget.idleMs, 5000);
    assert.deepEqual(codes(budget), ['aggressive-keepalive']);
  });

  test('budget: a user timeout longer than the probes overrides the count (7/3/4 + 20 s gives 5 probes, 22 s)', () => {
    const budget = keepAliveBudget({ idle: 7000, interval: 3000, count: 4, userTimeout: 20_000 });
    assert.equal(budget.probes, 5);
    assert.equal(budget.idleMs, 22_000);
    assert.equal(budget.busyMs, 20_000);
    assert.equal(budget.busyBound, 'user-timeout');
    assert.deepEqual(codes(budget), ['user-timeout-overrides-count']);
  });

  test('budget: a user timeout below count x interval cuts the probes short', () => {
    const budget = keepAliveBudget({ idle: 60_000, interval: 10_000, count: 9, userTimeout: 90_000 });
    assert.equal(budget.probes, 3);
    assert.equal(budget.idleMs, 90_000);
    assert.deepEqual(codes(budget), ['user-timeout-overrides-count']);
  });

  test('budget: a user timeout within idle + interval leaves one probe', () => {
    const budget = keepAliveBudget({ idle: 10_000, interval: 5000, count: 5, userTimeout: 12_000 });
    assert.equal(budget.probes, 1);
    assert.equal(budget.idleMs, 15_000);
    assert.deepEqual(codes(budget), ['user-timeout-cancels-probes', 'aggressive-keepalive']);
  });

  test('budget: a user timeout that matches idle + count x interval changes nothing', () => {
    const budget = keepAliveBudget({ idle: 60_000, interval: 10_000, count: 6, userTimeout: 120_000 });
    assert.equal(budget.probes, 6);
    assert.equal(budget.idleMs, 120_000);
    assert.deepEqual(budget.warnings, []);
  });

  test('budget: keepalive off never finds an idle dead peer; a user timeout alone is flagged', () => {
    assert.equal(keepAliveBudget({ enabled: false }).idleMs, null);
    const budget = keepAliveBudget({ enabled: false, userTimeout: 30_000 });
    assert.equal(budget.idleMs, null);
    assert.equal(budget.busyMs, 30_000);
    assert.deepEqual(codes(budget), ['user-timeout-without-keepalive']);
  });

  test('budget: a user timeout under 5 s is flagged', () => {
    const budget = keepAliveBudget({ idle: 10_000, interval: 5000, count: 3, userTimeout: 3000 });
    assert.ok(codes(budget).includes('aggressive-user-timeout'));
  });

  test('budget: system defaults fill what is not given', () => {
    const budget = keepAliveBudget({ count: 3 }, { idle: 60_000, interval: 10_000, count: 6, retries2: 8 });
    assert.equal(budget.idleMs, 90_000);
    assert.equal(budget.busyMs, 102_200);
    assert.deepEqual(budget.effective, { enabled: true, idle: 60_000, interval: 10_000, count: 3, userTimeout: 0 });
  });

  test('budget: validates like setKeepAlive', () => {
    assert.throws(() => keepAliveBudget({ count: 1000 }), { code: 'ERR_LIFELINE_INVALID_OPTION' });
  });

  test('budget: retransmission timeout follows tcp_model_timeout', () => {
    assert.equal(retransmissionTimeoutMs(3), 3000);
    assert.equal(retransmissionTimeoutMs(8), 102_200);
    assert.equal(retransmissionTimeoutMs(9), 204_600);
    assert.equal(retransmissionTimeoutMs(10), 324_600);
    assert.equal(retransmissionTimeoutMs(15), 924_600);
  });
});

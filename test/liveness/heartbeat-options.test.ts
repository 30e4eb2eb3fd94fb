import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../../src/clock.js';
import { DEFAULT_HEARTBEAT_OPTIONS, DEFAULT_PHI_OPTIONS, resolveHeartbeatOptions, type HeartbeatOptions } from '../../src/liveness/heartbeat-options.js';

test('heartbeat-options: defaults: interval 10 s, timeout 5 s, deadline 15 s, tick 250 ms, jitter 0.02, phi off', () => {
  const resolved = resolveHeartbeatOptions();
  assert.equal(resolved.interval, DEFAULT_HEARTBEAT_OPTIONS.interval);
  assert.equal(resolved.timeout, 5000);
  assert.equal(resolved.maxSilence, 15_000);
  assert.equal(resolved.tick, 250);
  assert.equal(resolved.jitter, 0.02);
  assert.equal(resolved.phi, false);
  assert.equal(resolved.stallThreshold, 500);
  assert.deepEqual(resolveHeartbeatOptions({ phi: true }).phi, DEFAULT_PHI_OPTIONS);
  assert.deepEqual(resolveHeartbeatOptions({ phi: { threshold: 10 } }).phi, { ...DEFAULT_PHI_OPTIONS, threshold: 10 });
});

test('heartbeat-options: durations take strings, and the default tick shrinks to fit short timeouts', () => {
  const resolved = resolveHeartbeatOptions({ interval: '30s', timeout: '2s', maxSilence: '1m', stallThreshold: false, phi: { acceptablePause: '1s' } });
  assert.deepEqual([resolved.interval, resolved.timeout, resolved.maxSilence, resolved.stallThreshold], [30_000, 2000, 60_000, false]);
  assert.equal((resolved.phi as { acceptablePause: number }).acceptablePause, 1000);
  assert.equal(resolveHeartbeatOptions({ interval: 400, timeout: 200 }).tick, 100);
});

test('heartbeat-options: the default jitter shrinks where 0.02 would not fit (jitter x interval + tick at most timeout / 2)', () => {
  assert.equal(resolveHeartbeatOptions({ interval: 10_000, timeout: 5_000 }).jitter, 0.02);
  // 60 s x 0.02 = 1.2 s, but a 2 s timeout leaves 1 s - 250 ms.
  assert.equal(resolveHeartbeatOptions({ interval: 60_000, timeout: 2_000 }).jitter, 750 / 60_000);
  // The tick is half the timeout: no room for jitter at all.
  assert.equal(resolveHeartbeatOptions({ interval: 400, timeout: 200 }).jitter, 0);
  assert.equal(resolveHeartbeatOptions({ interval: 10_000, timeout: 20_000, jitter: 0.5, tick: 100 }).jitter, 0.5);
});

test('heartbeat-options: every bad value names the option, the value and what is allowed', () => {
  const cases: [HeartbeatOptions, RegExp][] = [
    [{ interval: 0 }, /invalid option interval: 0; allowed: 10 to 2147483647 ms/],
    [{ timeout: '5 s' }, /invalid option timeout: "5 s"/],
    [{ jitter: 1 }, /invalid option jitter: 1; allowed: a fraction of interval from 0 to below 1/],
    [{ maxSilence: 12_000 }, /invalid option maxSilence: 12000; allowed: 15000 to .* \(interval \+ timeout: a shorter deadline would convict before a ping could be answered\)/],
    [{ tick: 3000 }, /invalid option tick: 3000; allowed: 1 to 2500 ms \(at most half of timeout and of interval\)/],
    [{ interval: 1000, timeout: 5000, tick: 3000 }, /invalid option tick: 3000; allowed: 1 to 500 ms/],
    // The jitter delays a ping after data, and the delay comes out of its wait: at most timeout / 2 with the tick.
    [{ jitter: 0.5 }, /invalid option jitter: 0\.5; allowed: a fraction of interval from 0 to 0\.225 here \(jitter x interval \+ tick at most timeout \/ 2/],
    [{ jitter: 0.1, tick: 2500 }, /invalid option jitter: 0\.1; allowed: a fraction of interval from 0 to 0 here/],
    [{ sliceSize: 0 }, /invalid option sliceSize: 0; allowed: an integer from 1/],
    [{ sliceTime: 0 }, /invalid option sliceTime: 0; allowed: a positive number of milliseconds/],
    [{ sliceTime: 'soon' }, /invalid option sliceTime: "?soon"?/],
    [{ phi: { threshold: 0 } }, /invalid option phi\.threshold: 0/],
    [{ phi: { windowSize: 1000 } }, /invalid option phi\.windowSize: 1000; allowed: an integer from 2 to 500/],
    [{ phi: 'on' as never }, /invalid option phi: "on"/],
    [{ sendPing: 'x' as never }, /invalid option sendPing/],
    [{ clock: {} as never }, /invalid option clock/],
  ];
  for (const [options, message] of cases) {
    assert.throws(() => resolveHeartbeatOptions(options), { code: 'ERR_LIFELINE_INVALID_OPTION', message }, JSON.stringify(options));
  }
});

test('heartbeat-options: unknown keys are rejected with a hint', () => {
  assert.throws(() => resolveHeartbeatOptions({ intervall: 1000 } as never), { option: 'intervall', message: /did you mean interval\?/ });
  assert.throws(() => resolveHeartbeatOptions({ phi: { treshold: 8 } } as never), { option: 'phi.treshold', message: /did you mean phi\.threshold\?/ });
  assert.throws(() => resolveHeartbeatOptions({ pingLane: true } as never), { option: 'pingLane', message: /unknown key "pingLane"/ });
  assert.doesNotThrow(() => resolveHeartbeatOptions({ clock: new ManualClock(), random: () => 0.5, initialCapacity: 100 }));
});

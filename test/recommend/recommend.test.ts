import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { InvalidOptionError } from '../../src/errors.js';
import { resolveHeartbeatOptions } from '../../src/liveness/heartbeat-options.js';
import { linuxSocketOptions } from '../../src/platform/linux.js';
import { PRESETS, PresetNames } from '../../src/recommend/presets.js';
import { DEFAULT_DETECT_WITHIN_MS, recommend, RecommendWarningCodes, type Recommendation, type RecommendInput } from '../../src/recommend/recommend.js';
import { keepAliveBudget } from '../../src/socket/budget.js';
import { resolveKeepAliveOptions } from '../../src/socket/options.js';

const codes = (rec: Recommendation) => rec.warnings.map((warning) => warning.code);
const detection = (rec: Recommendation, via: 'keepalive' | 'user-timeout' | 'heartbeat') => rec.detection.find((entry) => entry.via === via)?.worstMs;
/** The rule the docs state, computed here independently: 10% of the limit (at least 1 s) stays unused. */
const usableIdleMs = (limitMs: number) => limitMs - Math.max(1000, Math.ceil(limitMs * 0.1));
const GOAL_WARNINGS: string[] = [RecommendWarningCodes.GOAL_BELOW_KERNEL_MINIMUM, RecommendWarningCodes.GOAL_BELOW_HEARTBEAT_MINIMUM];

/** What every recommendation must satisfy, whatever the input. */
function assertValid(rec: Recommendation, label: string): void {
  const { idle, interval, count } = rec.keepalive;
  // The kernel takes it as it is: whole seconds within limits (throws otherwise).
  resolveKeepAliveOptions({ idle, interval, count, userTimeout: rec.userTimeout.value }, linuxSocketOptions.limits);
  // The heartbeat is valid for the engine and for LifelineServer (interval >= 100 ms, 1 < timeout/interval <= 10).
  resolveHeartbeatOptions({ interval: rec.heartbeat.interval, timeout: rec.heartbeat.timeout - rec.heartbeat.interval });
  assert.ok(rec.heartbeat.interval >= 100, `${label}: heartbeat interval ${rec.heartbeat.interval}`);
  const factor = rec.heartbeat.timeout / rec.heartbeat.interval;
  assert.ok(factor > 1 && factor <= 10, `${label}: timeout/interval ${factor}`);
  // Consistent with the budget the rest of lifeline computes, and the user timeout never fights the count.
  const budget = keepAliveBudget({ idle, interval, count, userTimeout: rec.userTimeout.value });
  if (!rec.throughProxy) {
    assert.equal(detection(rec, 'keepalive'), budget.idleMs, label);
    assert.equal(detection(rec, 'user-timeout'), budget.busyMs, label);
  }
  assert.ok(!codes(rec).includes('user-timeout-overrides-count') && !codes(rec).includes('user-timeout-cancels-probes'), label);
  assert.equal(detection(rec, 'heartbeat'), rec.heartbeat.timeout + rec.heartbeat.tick, label);
  for (const reason of [...Object.values(rec.keepalive.reasons), rec.userTimeout.reason, ...Object.values(rec.heartbeat.reasons)]) {
    assert.ok(reason.length > 10, `${label}: every value has a reason`);
  }
}

test('recommend: without input, lifeline\'s own defaults: 60s,10s,6, user timeout 2 min, found within 2 min', () => {
  const rec = recommend();
  assertValid(rec, 'defaults');
  assert.deepEqual([rec.keepalive.idle, rec.keepalive.interval, rec.keepalive.count], [60_000, 10_000, 6]);
  assert.equal(rec.userTimeout.value, 120_000);
  assert.deepEqual([rec.heartbeat.interval, rec.heartbeat.timeout, rec.heartbeat.tick], [39_000, 119_000, 250]);
  assert.deepEqual(rec.goal, { detectWithinMs: DEFAULT_DETECT_WITHIN_MS, given: false });
  assert.deepEqual(rec.promise, { worstMs: 120_000, via: 'keepalive and user timeout', meetsGoal: true });
  assert.equal(rec.middlebox, null);
  assert.deepEqual(rec.warnings, []);
});

test('recommend: every preset: below its idle limit where probes count, heartbeats below it always, the source cited', () => {
  for (const name of PresetNames) {
    const preset = PRESETS[name];
    const rec = recommend({ preset: name });
    assertValid(rec, name);
    assert.equal(rec.middlebox?.idleLimitMs, preset.idleLimitMs, name);
    assert.equal(rec.middlebox?.atExpiry, preset.atExpiry, name);
    assert.match(preset.source, /https:\/\/|net\/netfilter\//, `${name}: the source says where the figure comes from`);
    if (preset.keepaliveRefreshes) {
      assert.ok(rec.keepalive.idle + rec.keepalive.interval <= usableIdleMs(preset.idleLimitMs), `${name}: a lost probe is retried before expiry`);
    }
    assert.ok(rec.heartbeat.interval <= usableIdleMs(preset.idleLimitMs), `${name}: heartbeats keep the flow`);
    assert.equal(rec.throughProxy, preset.proxy, `${name}: a proxy preset means a proxy in the path`);
    assert.equal(codes(rec).includes(RecommendWarningCodes.KEEPALIVE_STOPS_AT_PROXY), preset.proxy, name);
    assert.equal(codes(rec).includes(RecommendWarningCodes.KEEPALIVE_DOES_NOT_REFRESH), !preset.keepaliveRefreshes, name);
    assert.ok(rec.promise.worstMs <= DEFAULT_DETECT_WITHIN_MS, `${name}: meets the default goal`);
  }
});

test('recommend: the figures the presets carry, as verified in the vendors\' documents', () => {
  assert.equal(PRESETS['aws-nlb'].idleLimitMs, 350_000);
  assert.deepEqual(PRESETS['aws-nlb'].configurableMs, { min: 60_000, max: 6_000_000 });
  assert.equal(PRESETS['aws-nlb'].atExpiry, 'rst');
  assert.equal(PRESETS['aws-alb'].idleLimitMs, 60_000);
  assert.equal(PRESETS['aws-elb'].idleLimitMs, 60_000);
  assert.equal(PRESETS['azure-lb'].idleLimitMs, 240_000);
  assert.deepEqual(PRESETS['azure-lb'].configurableMs, { min: 240_000, max: 6_000_000 });
  assert.equal(PRESETS['azure-lb'].atExpiry, 'silent-drop');
  assert.equal(PRESETS['gcp-nat'].idleLimitMs, 1_200_000);
  assert.equal(PRESETS['gcp-lb'].idleLimitMs, 600_000);
  assert.equal(PRESETS['k8s-conntrack'].idleLimitMs, 86_400_000);
  assert.equal(PRESETS['linux-conntrack'].idleLimitMs, 432_000_000);
});

test('recommend: a short idle limit pulls idle and interval under it (a lost probe is still retried in time)', () => {
  const rec = recommend({ idleLimit: '10s' });
  assertValid(rec, '10s');
  assert.deepEqual([rec.keepalive.idle, rec.keepalive.interval, rec.keepalive.count], [6000, 3000, 6]);
  assert.equal(rec.heartbeat.interval, 9000);
  assert.match(rec.keepalive.reasons.idle, /below the middlebox's 10 s idle limit with margin/);
  const alb = recommend({ preset: 'aws-alb' });
  assert.ok(alb.heartbeat.interval < 60_000);
  assert.match(alb.keepalive.reasons.idle, /not bound by aws-alb's 1 min idle limit: its idle timer ignores probes/);
});

test('recommend: an idle limit below what probes can keep is a warning, with heartbeats as the way out', () => {
  const oneSecond = recommend({ idleLimit: '1s' });
  assertValid(oneSecond, '1s');
  assert.ok(codes(oneSecond).includes(RecommendWarningCodes.IDLE_LIMIT_TOO_SHORT));
  assert.match(oneSecond.warnings.find((w) => w.code === RecommendWarningCodes.IDLE_LIMIT_TOO_SHORT)!.message, /keepalive idle below 1 s.*heartbeats every 500ms can/);
  assert.equal(oneSecond.heartbeat.interval, 500);
  const twoSeconds = recommend({ idleLimit: '2s' });
  assert.ok(codes(twoSeconds).includes(RecommendWarningCodes.NO_RETRY_BEFORE_EXPIRY));
  assert.equal(twoSeconds.keepalive.idle, 1000);
  assert.deepEqual(codes(recommend({ idleLimit: '3s' })).filter((code) => code.startsWith('idle-limit') || code === 'no-retry-before-expiry'), []);
});

test('recommend: a goal faster than the kernel allows is a warning that says how fast it can go', () => {
  const rec = recommend({ detectWithin: '1500ms' });
  assertValid(rec, '1500ms');
  assert.deepEqual([rec.keepalive.idle, rec.keepalive.interval, rec.keepalive.count], [1000, 1000, 1]);
  assert.equal(rec.promise.worstMs, 2000);
  assert.equal(rec.promise.meetsGoal, false);
  const warning = rec.warnings.find((w) => w.code === RecommendWarningCodes.GOAL_BELOW_KERNEL_MINIMUM);
  assert.ok(warning, codes(rec).join());
  assert.match(warning.message, /whole seconds, at least 1 s each, so the fastest is 2 s; heartbeats can \(1.4 s\)/);
  assert.ok(codes(rec).includes('aggressive-keepalive'), 'the budget\'s own warning is passed on');
  // Two seconds is reachable, if aggressive.
  const two = recommend({ detectWithin: '2s' });
  assert.equal(two.promise.meetsGoal, true);
  assert.ok(!codes(two).includes(RecommendWarningCodes.GOAL_BELOW_KERNEL_MINIMUM));
});

test('recommend: through a proxy only the heartbeat finds the peer; a goal it cannot reach is a warning', () => {
  const rec = recommend({ throughProxy: true, detectWithin: '30s' });
  assertValid(rec, 'proxy');
  assert.equal(detection(rec, 'keepalive'), null);
  assert.equal(detection(rec, 'user-timeout'), null);
  assert.equal(rec.promise.via, 'heartbeat');
  assert.equal(rec.promise.worstMs, rec.heartbeat.timeout + rec.heartbeat.tick);
  assert.ok(rec.promise.worstMs <= 30_000);
  assert.ok(codes(rec).includes(RecommendWarningCodes.KEEPALIVE_STOPS_AT_PROXY));
  const fast = recommend({ throughProxy: true, detectWithin: '100ms' });
  assertValid(fast, 'proxy 100ms');
  assert.deepEqual([fast.heartbeat.interval, fast.heartbeat.timeout], [100, 200]);
  assert.ok(codes(fast).includes(RecommendWarningCodes.GOAL_BELOW_HEARTBEAT_MINIMUM));
  assert.equal(fast.promise.meetsGoal, false);
});

test('recommend: a busy connection is promised the user timeout, and the reason says why', () => {
  const rec = recommend({ preset: 'azure-lb', detectWithin: '30s', busy: true });
  assertValid(rec, 'busy');
  assert.equal(rec.promise.via, 'user timeout');
  assert.equal(rec.promise.worstMs, rec.userTimeout.value);
  assert.ok(rec.userTimeout.value <= 30_000);
  assert.match(rec.userTimeout.reason, /streaming connection always has data in flight, so keepalive never runs/);
  assert.equal(rec.middlebox?.atExpiry, 'silent-drop');
});

test('recommend: a configured idle limit overrides the preset\'s, within what the vendor allows', () => {
  const rec = recommend({ preset: 'aws-nlb', idleLimit: '600s', detectWithin: '20m' });
  assertValid(rec, 'nlb 600s');
  assert.equal(rec.middlebox?.idleLimitMs, 600_000);
  assert.match(rec.middlebox?.source ?? '', /^idle limit 10 min as given \(shipped: 5 min 50 s\)/);
  assert.ok(rec.keepalive.idle + rec.keepalive.interval <= 540_000);
  assert.throws(() => recommend({ preset: 'aws-nlb', idleLimit: '30s' }), /invalid option idleLimit: "30s"; allowed: 60000 to 6000000 ms \(what aws-nlb can be configured to\)/);
});

test('recommend: bad input names the option, the value and what is allowed', () => {
  const cases: [unknown, RegExp][] = [
    [{ preset: 'aws-nbl' }, /invalid option preset: "aws-nbl"; allowed: one of aws-nlb, .* \(did you mean aws-nlb\?\)/],
    [{ preset: 'cloudflare' }, /invalid option preset: "cloudflare"; allowed: one of /],
    [{ idelLimit: '1m' }, /invalid option idelLimit: "1m"; allowed: one of the keys .* \(did you mean idleLimit\?\)/],
    [{ idleLimit: '500ms' }, /invalid option idleLimit: "500ms"; allowed: 1000 to/],
    [{ idleLimit: 'soon' }, /invalid option idleLimit: "soon"/],
    [{ detectWithin: 0 }, /invalid option detectWithin: 0; allowed: 1 to/],
    [{ throughProxy: 'yes' }, /invalid option throughProxy: "yes"; allowed: true or false/],
    [{ busy: 1 }, /invalid option busy: 1; allowed: true or false/],
    ['aws-nlb', /invalid option input: "aws-nlb"; allowed: an object/],
  ];
  for (const [input, message] of cases) {
    assert.throws(() => recommend(input as RecommendInput), (error: unknown) => error instanceof InvalidOptionError && message.test(error.message), String(message));
  }
});

test('recommend: property: for any idle limit from 10 s to 2 h and any goal, idle stays below the limit and the promise within the goal unless a warning says why', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 10_000, max: 7_200_000 }),
      fc.integer({ min: 100, max: 86_400_000 }),
      fc.boolean(),
      fc.boolean(),
      (idleLimit, detectWithin, throughProxy, busy) => {
        const rec = recommend({ idleLimit, detectWithin, throughProxy, busy });
        const label = JSON.stringify({ idleLimit, detectWithin, throughProxy, busy });
        assertValid(rec, label);
        assert.ok(rec.keepalive.idle < idleLimit, `${label}: idle ${rec.keepalive.idle}`);
        assert.ok(rec.keepalive.idle + rec.keepalive.interval <= usableIdleMs(idleLimit), `${label}: retry before expiry`);
        assert.ok(rec.heartbeat.interval < idleLimit, `${label}: heartbeat ${rec.heartbeat.interval}`);
        assert.equal(rec.promise.meetsGoal, rec.promise.worstMs <= detectWithin, label);
        if (!rec.promise.meetsGoal) assert.ok(codes(rec).some((code) => GOAL_WARNINGS.includes(code)), `${label}: no warning says why ${rec.promise.worstMs} > ${detectWithin}`);
        else assert.ok(!codes(rec).some((code) => GOAL_WARNINGS.includes(code)), `${label}: a goal warning for a goal that is met`);
      },
    ),
    { numRuns: 500 },
  );
});

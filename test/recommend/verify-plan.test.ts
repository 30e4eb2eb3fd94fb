import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidOptionError } from '../../src/errors.js';
import type { ArmConfig, LabVerdict, RunResult } from '../../src/lab/types.js';
import { recommend } from '../../src/recommend/recommend.js';
import { judgeCheck, planVerification, scaleSettings, VERIFY_MAX_WINDOW_MS, type VerifyRun } from '../../src/recommend/verify-plan.js';
import { keepAliveBudget } from '../../src/socket/budget.js';

const config: ArmConfig = { arm: 'tuned-uto', description: '', enabled: true, idle: 4000, interval: 1000, count: 6, userTimeout: 10_000, heartbeat: null };

function result(fields: { silentMs: number | null; verdict: LabVerdict; reason?: string; arm?: 'tuned-uto' | 'heartbeat' }): RunResult {
  return {
    scenario: 'cable-pull',
    arm: fields.arm ?? 'tuned-uto',
    config,
    budgetMs: 10_000,
    detectedMs: fields.silentMs === null ? null : fields.silentMs - 300,
    silentMs: fields.silentMs,
    code: null,
    reason: fields.reason ?? (fields.silentMs === null ? null : 'keepalive-timeout'),
    verdict: fields.verdict,
    establishedAtEnd: null,
    client: null,
    note: 'a note',
    timeline: [],
    timelineSource: 'tcp-info-polling',
    pcapFile: null,
    windowMs: 14_000,
  };
}

test('verify-plan: aws-nlb by default: three runs of about 8 s each, promises recomputed from the scaled values', () => {
  const rec = recommend({ preset: 'aws-nlb' });
  const plan = planVerification(rec);
  assert.deepEqual(plan.map((run) => run.scenario), ['cable-pull', 'cable-pull-busy', 'nat-expiry']);
  const [pull, busy, nat] = plan as [VerifyRun, VerifyRun, VerifyRun];
  assert.equal(pull.scale, 15, 'the 2 min promise brought to about 8 s');
  assert.deepEqual(pull.values, { idle: 4000, interval: 1000, count: 6, userTimeout: 10_000, heartbeatInterval: 2600, heartbeatTimeout: 7930 });
  // The user timeout follows the recommendation's own rule, so the kernel still sends exactly `count` probes.
  const budget = keepAliveBudget({ idle: 4000, interval: 1000, count: 6, userTimeout: 10_000 });
  assert.deepEqual(pull.checks.map((check) => [check.arm, check.promisedMs]), [['tuned-uto', budget.idleMs], ['heartbeat', 7930 + 250]]);
  assert.deepEqual(busy.checks.map((check) => [check.arm, check.promisedMs]), [['tuned-uto', budget.busyMs], ['heartbeat', 8180]]);
  assert.equal(nat.scale, 44, 'the 350 s limit brought to about 8 s');
  assert.equal(nat.natTimeoutMs, 8000);
  assert.deepEqual(nat.checks.map((check) => [check.arm, check.promisedMs]), [['tuned-uto', null], ['heartbeat', null]]);
  assert.deepEqual(nat.clamped, ['interval 227 ms -> 1000 ms']);
  // Under a minute: the windows plus a few seconds of setup per run.
  assert.ok(plan.reduce((sum, run) => sum + run.windowMs, 0) <= 45_000, plan.map((run) => run.windowMs).join());
  for (const run of plan) assert.ok(run.windowMs >= 5000);
});

test('verify-plan: through a proxy only the heartbeat is checked; without a middlebox there is no nat-expiry', () => {
  const proxy = planVerification(recommend({ preset: 'aws-alb', detectWithin: '30s' }));
  assert.deepEqual(proxy.map((run) => [run.scenario, run.checks.map((check) => check.arm)]), [
    ['cable-pull', ['heartbeat']],
    ['cable-pull-busy', ['heartbeat']],
    ['nat-expiry', ['heartbeat']],
  ]);
  const plain = planVerification(recommend({ detectWithin: '10s' }));
  assert.deepEqual(plain.map((run) => run.scenario), ['cable-pull', 'cable-pull-busy']);
  assert.equal(plain[0]?.scale, 2);
});

test('verify-plan: a scale given applies to every run; one that would watch too long is refused', () => {
  const plan = planVerification(recommend({ idleLimit: '20s', detectWithin: '12s' }), { scale: 2 });
  assert.deepEqual(plan.map((run) => run.scale), [2, 2, 2]);
  assert.equal(plan[2]?.natTimeoutMs, 10_000);
  assert.throws(() => planVerification(recommend({ preset: 'k8s-conntrack' }), { scale: 10 }), (error: unknown) =>
    error instanceof InvalidOptionError && /invalid option verifyScale: 10; allowed: a factor that keeps every lab run under 300 s \(nat-expiry would watch 8646 s\)/.test(error.message));
  assert.throws(() => planVerification(recommend(), { scale: 0.5 }), /invalid option verifyScale: 0.5; allowed: a number of at least 1/);
  // The default for a 24 h limit: the nat run still fits.
  const k8s = planVerification(recommend({ preset: 'k8s-conntrack' }));
  for (const run of k8s) assert.ok(run.windowMs <= VERIFY_MAX_WINDOW_MS);
});

test('verify-plan: scaling keeps the heartbeat ratio and reports values raised to the minimum', () => {
  const rec = recommend({ detectWithin: '2h' });
  const scaled = scaleSettings(rec, 1000);
  assert.deepEqual([scaled.values.idle, scaled.values.interval], [7000, 1000]);
  assert.ok(scaled.clamped.some((entry) => entry.startsWith('interval 75 ms')), scaled.clamped.join());
  const ratio = scaled.values.heartbeatTimeout / scaled.values.heartbeatInterval;
  assert.ok(Math.abs(ratio - rec.heartbeat.timeout / rec.heartbeat.interval) < 0.01, `ratio ${ratio}`);
});

test('verify-plan: judging: within 1 s of the promise passes, later or never fails, the heartbeat close lag is taken off', () => {
  const [run] = planVerification(recommend({ preset: 'aws-nlb' })) as [VerifyRun];
  const keepalive = run.checks[0]!;
  assert.equal(keepalive.promisedMs, 10_000);
  const onTime = judgeCheck(run, keepalive, result({ silentMs: 10_300, verdict: 'as-configured' }));
  assert.deepEqual([onTime.pass, onTime.measuredMs, onTime.note], [true, 10_300, 'keepalive-timeout']);
  const late = judgeCheck(run, keepalive, result({ silentMs: 11_200, verdict: 'late' }));
  assert.equal(late.pass, false);
  assert.match(late.note, /1200 ms later than promised \(tolerance 1000 ms\)/);
  const never = judgeCheck(run, keepalive, result({ silentMs: null, verdict: 'not-detected' }));
  assert.deepEqual([never.pass, never.measuredMs, never.note], [false, null, 'not detected within 14 s']);
  const early = judgeCheck(run, keepalive, result({ silentMs: 5000, verdict: 'early' }));
  assert.equal(early.pass, true, 'a worst case is kept by an early verdict');
  assert.match(early.note, /earlier than promised by 5000 ms/);

  const heartbeat = run.checks[1]!;
  const inTime = judgeCheck(run, heartbeat, result({ silentMs: 8180, verdict: 'as-configured', reason: 'heartbeat-timeout', arm: 'heartbeat' }));
  assert.deepEqual([inTime.pass, inTime.measuredMs], [true, 8180]);
  const tooLate = judgeCheck(run, heartbeat, result({ silentMs: 9500, verdict: 'late', reason: 'heartbeat-timeout', arm: 'heartbeat' }));
  assert.equal(tooLate.pass, false);
});

test('verify-plan: judging nat-expiry: the connection must survive; a skipped run is neither pass nor fail', () => {
  const plan = planVerification(recommend({ preset: 'aws-nlb' }));
  const nat = plan[2]!;
  const check = nat.checks[0]!;
  assert.equal(judgeCheck(nat, check, result({ silentMs: null, verdict: 'survived' })).pass, true);
  assert.equal(judgeCheck(nat, check, result({ silentMs: null, verdict: 'flow-lost' })).pass, false);
  assert.equal(judgeCheck(nat, check, result({ silentMs: 9000, verdict: 'false-positive' })).pass, false);
  const skipped = judgeCheck(nat, check, undefined, { skipped: 'needs nft' });
  assert.deepEqual([skipped.pass, skipped.labVerdict, skipped.note], [null, 'skipped', 'needs nft']);
});

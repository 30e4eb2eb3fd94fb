import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { describe, test } from 'node:test';
import { PresetNames } from '../../src/recommend/presets.js';
import type { Recommendation } from '../../src/recommend/recommend.js';
import type { VerifyOutcome } from '../../src/recommend/verify-plan.js';
import { keepAliveBudget } from '../../src/socket/budget.js';
import { labNamespacesOf } from '../helpers/netns.js';
import { CLI } from '../helpers/paths.js';
import { hasCommand, needsNetns } from '../helpers/privileges.js';

function lifeline(args: string[], timeout = 30_000): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [CLI, 'recommend', ...args], { encoding: 'utf8', timeout });
}

describe('cli recommend', () => {
  test('cli recommend: --json gives the settings, their reasons and the worst cases', () => {
    const run = lifeline(['--preset', 'aws-nlb', '--detect-within', '30', '--json']);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stderr, '');
    const rec = JSON.parse(run.stdout) as Recommendation;
    assert.equal(rec.goal.detectWithinMs, 30_000, 'a bare number is seconds');
    assert.equal(rec.middlebox?.preset, 'aws-nlb');
    assert.equal(rec.middlebox?.idleLimitMs, 350_000);
    const { idle, interval, count } = rec.keepalive;
    assert.deepEqual([idle, interval, count, rec.userTimeout.value], [15_000, 5000, 3, 30_000]);
    assert.equal(rec.detection.find((entry) => entry.via === 'keepalive')?.worstMs, keepAliveBudget({ idle, interval, count, userTimeout: rec.userTimeout.value }).idleMs);
    assert.deepEqual(rec.promise, { worstMs: 30_000, via: 'keepalive and user timeout', meetsGoal: true });
    assert.ok(rec.keepalive.reasons.idle.length > 0 && rec.heartbeat.reasons.timeout.length > 0);
  });

  test('cli recommend: the table has one row per setting with its reason, the worst cases, the warnings and how to apply them', () => {
    const run = lifeline(['--idle-limit', '4m', '--through-proxy', '--detect-within', '1m']);
    assert.equal(run.status, 0, run.stderr);
    for (const row of ['keepalive idle', 'keepalive interval', 'keepalive count', 'user timeout', 'heartbeat interval', 'heartbeat timeout']) {
      assert.match(run.stdout, new RegExp(`^  ${row} +\\S+ +\\S`, 'm'), row);
    }
    assert.match(run.stdout, /^ {2}idle peer +keepalive +never +never: the proxy answers keepalive probes/m);
    assert.match(run.stdout, /^promise: 59\.\d s \(heartbeat\), within the goal of 1 min$/m);
    assert.match(run.stdout, /^ {2}keepalive-stops-at-proxy: through a proxy: /m);
    assert.match(run.stdout, /^ {2}lifeline server --protocol lifeline --heartbeat 19s,59s$/m);
  });

  test('cli recommend: an impossible goal is said, with exit 0 (the recommendation is still the best there is)', () => {
    const run = lifeline(['--detect-within', '1500ms']);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^promise: 2 s \(keepalive and user timeout\), NOT within the goal of 1.5 s$/m);
    assert.match(run.stdout, /^ {2}goal-below-kernel-minimum: detection within 1.5 s is out of reach for keepalive/m);
  });

  test('cli recommend: --presets lists every preset with the source of its figure', () => {
    const run = lifeline(['--presets']);
    assert.equal(run.status, 0, run.stderr);
    for (const name of PresetNames) assert.match(run.stdout, new RegExp(`^${name}: .*(https://|net/netfilter/)`, 'm'), name);
    const json = JSON.parse(lifeline(['--presets', '--json']).stdout) as { name: string; idleLimitMs: number }[];
    assert.deepEqual(json.map((preset) => preset.name), [...PresetNames]);
  });

  test('cli recommend: bad arguments are one line on stderr and exit 2', () => {
    const cases: [string[], RegExp][] = [
      [['--preset', 'aws-nbl'], /^lifeline: invalid --preset: "aws-nbl"; allowed: one of aws-nlb, .* \(did you mean aws-nlb\?\)\n$/],
      [['--idle-limit', 'soon'], /^lifeline: invalid --idle-limit: "soon"; allowed: a non-negative number of milliseconds/],
      [['--preset', 'azure-lb', '--idle-limit', '1m'], /^lifeline: invalid --idle-limit: "1m"; allowed: 240000 to 6000000 ms \(what azure-lb can be configured to\)\n$/],
      [['--detect-within', '0'], /^lifeline: invalid --detect-within: "0s"; allowed: 1 to 2147483647 ms\n$/],
      [['--verify-scale', '4'], /^lifeline: --verify-scale only applies with --verify\n$/],
      [['--verify', '--verify-scale', 'big'], /^lifeline: invalid --verify-scale "big": allowed a number of at least 1\n$/],
      [['--preset', 'k8s-conntrack', '--verify', '--verify-scale', '10'], /^lifeline: invalid --verify-scale: 10; allowed: a factor that keeps every lab run under 300 s/],
      [['--idel-limit', '1m'], /^error: unknown option '--idel-limit'/],
    ];
    for (const [args, message] of cases) {
      const run = lifeline(args);
      assert.equal(run.status, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, message, args.join(' '));
      assert.equal(run.stderr.trimEnd().split('\n').length, 1, `${args.join(' ')}: one line`);
      assert.equal(run.stdout, '');
    }
  });

  const skip = needsNetns() || (!hasCommand('nft') && 'needs nft (Debian package nftables) for nat-expiry; CI installs it');
  test('cli recommend: --verify runs the lab scaled down and every measurement keeps the promise (about 45 s)', { skip }, () => {
    const run = lifeline(['--idle-limit', '20', '--detect-within', '12s', '--verify', '--json'], 150_000);
    assert.equal(run.status, 0, `${run.stderr}\n${run.stdout}`);
    const out = JSON.parse(run.stdout) as Recommendation & { verification: { outcomes: VerifyOutcome[]; passed: boolean } };
    const { outcomes, passed } = out.verification;
    const seen = outcomes.map((outcome) => `${outcome.scenario}/${outcome.arm} 1/${outcome.scale}: promised ${outcome.promisedMs}, measured ${outcome.measuredMs}, ${outcome.labVerdict}: ${outcome.note}`).join('\n');
    assert.equal(passed, true, seen);
    assert.deepEqual(outcomes.map((outcome) => [outcome.scenario, outcome.arm, outcome.pass]), [
      ['cable-pull', 'tuned-uto', true],
      ['cable-pull', 'heartbeat', true],
      ['cable-pull-busy', 'tuned-uto', true],
      ['cable-pull-busy', 'heartbeat', true],
      ['nat-expiry', 'tuned-uto', true],
      ['nat-expiry', 'heartbeat', true],
    ], seen);
    // The kernel's keepalive verdict lands within the lab's 1 s of the scaled promise, not just under it.
    const keepalive = outcomes[0]!;
    assert.ok(Math.abs((keepalive.measuredMs ?? Infinity) - (keepalive.promisedMs ?? 0)) <= 1000, seen);
    assert.match(run.stderr, /^verify: the lab's cable-pull, cable-pull-busy, nat-expiry with these settings, scaled down/m);
    assert.match(run.stderr, /^\[3\/3\] nat-expiry, durations \/ 3: .* router forgets idle flows after 7s/m);
    assert.match(run.stderr, /^verify: every measurement kept the promise \(6 checked\)$/m);
    // Only this run's namespaces (named by its pid): another lab on the machine may be running meanwhile (a CI run
    // once met an `npm start` of the same host's checkout, cable-pull with arms off and system, mid-run).
    assert.deepEqual(labNamespacesOf(run.pid!), [], 'verify left namespaces behind');
  });
});

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ArmNames, type ArmSettings } from '../../bench/liveness/arms.js';
import { marginalHeap, median, missedTargets, roundResolution, summariseRounds, type ArmRound } from '../../bench/liveness/results.js';
import { repoPath } from '../helpers/paths.js';
import { hasCommand, needsNetns } from '../helpers/privileges.js';

const SETTINGS: ArmSettings = { periodMs: 2000, timeoutMs: 1000, tickMs: 100, keepalive: { idle: 2000, interval: 1000, count: 3 } };

function row(arm: ArmRound['arm'], fields: Partial<ArmRound> = {}): ArmRound {
  return {
    arm, connections: 1000, periods: 2.5, cpuMsPer1000PerPeriod: 10, bookkeepingMsPer1000PerPeriod: 2, heapBytesPerConnection: 50,
    rssBytesPerConnection: 0, loopDelayMs: { p50: 1, p99: 2, max: 3 }, addedLoopDelayP99Ms: 0, pings: 0, pingsPerConnectionPerPeriod: 0.8,
    byProcess: [], pingsToBusy: 0, lifetimePingsToBusy: 0, detection: null, falsePositives: 0, falsePositiveReasons: {}, ...fields,
  };
}

const detection = (errors: number[]) => ({
  configuredMs: 3000, victims: errors.length, detected: errors.length, reasons: ['heartbeat-timeout'],
  latencyMs: { p50: 0, p99: 0, max: 0, min: 0 },
  errorMs: { p50: errors[0]!, p99: Math.max(...errors), max: Math.max(...errors), min: Math.min(...errors) },
  early: errors.filter((e) => e < 0).length, errors,
});

describe('liveness benchmark: targets', () => {
  test('liveness bench: a round that meets every target reports nothing', () => {
    const rows = [
      row(ArmNames.WS_RECIPE, { bookkeepingMsPer1000PerPeriod: 2 }),
      row(ArmNames.PER_SOCKET_TIMERS, { bookkeepingMsPer1000PerPeriod: 3 }),
      row(ArmNames.SOCKET_TIMEOUT, { bookkeepingMsPer1000PerPeriod: 1.5 }),
      row(ArmNames.LIFELINE, { bookkeepingMsPer1000PerPeriod: 0.5, heapBytesPerConnection: 60, addedLoopDelayP99Ms: 1, detection: detection([10, 60]) }),
    ];
    assert.deepEqual(missedTargets('x', [rows], SETTINGS, { loopDelay: true }), []);
  });

  test('liveness bench: each missed target is named', () => {
    const rows = [
      row(ArmNames.WS_RECIPE, { bookkeepingMsPer1000PerPeriod: 0.4 }),
      row(ArmNames.LIFELINE, {
        bookkeepingMsPer1000PerPeriod: 1.5, heapBytesPerConnection: 70, addedLoopDelayP99Ms: 3, lifetimePingsToBusy: 2,
        detection: detection([-5, 150]), falsePositives: 1,
      }),
    ];
    const missed = missedTargets('x', [rows], SETTINGS, { loopDelay: true }).join('\n');
    for (const expected of [/pinged busy connections 2 times/, /heap 70 B/, /bookkeeping 1.5 ms per 1000/, /not below ws-recipe's 0.4 ms/,
      /event-loop delay p99 3 ms/, /1 victims dead early/, /150 ms late/, /1 live connections dead/]) {
      assert.match(missed, expected);
    }
    assert.doesNotMatch(missedTargets('x', [rows], SETTINGS, { loopDelay: false }).join('\n'), /event-loop/);
  });
});

describe('liveness benchmark: summary over rounds', () => {
  test('liveness bench: the median of an even number of rounds is the mean of the middle two, not the lower', () => {
    assert.equal(median([6.094, -2.748]), 1.673);
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.ok(Number.isNaN(median([])));
  });

  test('liveness bench: per arm, medians of the rounds; pings to busy, false verdicts and detections are totals', () => {
    const rounds = [
      [row(ArmNames.LIFELINE, { bookkeepingMsPer1000PerPeriod: 6, cpuMsPer1000PerPeriod: 36, falsePositives: 1, detection: detection([10, 20]) })],
      [row(ArmNames.LIFELINE, { bookkeepingMsPer1000PerPeriod: -2, cpuMsPer1000PerPeriod: 30, lifetimePingsToBusy: 3, detection: detection([30]) })],
    ];
    const [summary] = summariseRounds(rounds);
    assert.equal(summary!.bookkeepingMsPer1000PerPeriod, 2);
    assert.equal(summary!.cpuMsPer1000PerPeriod, 33);
    assert.equal(summary!.pingsToBusy, 3);
    assert.equal(summary!.falsePositives, 1);
    assert.deepEqual({ victims: summary!.detection!.victims, detected: summary!.detection!.detected, max: summary!.detection!.errorMs.max }, { victims: 3, detected: 3, max: 30 });
  });
});

describe('liveness benchmark: heap as a slope over scales', () => {
  test('liveness bench: the slope separates the per-connection cost from the per-process constant', () => {
    // 50 B per connection plus 150 000 B per process: 200 B per connection at 1 000, 57.9 at 19 000.
    const scale = (connections: number, lifeline: number | null) => ({
      connections,
      summary: [
        { arm: ArmNames.LIFELINE, heapBytesPerConnection: lifeline },
        { arm: ArmNames.IO_FLOOR, heapBytesPerConnection: 16 },
      ],
    });
    const slope = marginalHeap([scale(1_000, 200), scale(5_000, 80), scale(19_000, 150_000 / 19_000 + 50)]);
    assert.deepEqual(slope, [
      { arm: ArmNames.LIFELINE, bytesPerConnection: 50, constantBytes: 150_000 },
      { arm: ArmNames.IO_FLOOR, bytesPerConnection: 16, constantBytes: 0 },
    ]);
    assert.equal(marginalHeap([scale(1_000, 200)]), null, 'one scale has no slope');
    assert.ok(Number.isNaN(marginalHeap([scale(1_000, 200), scale(5_000, null)])![0]!.bytesPerConnection), 'a missing figure is not a zero');
  });
});

describe('liveness benchmark: resolution', () => {
  test('liveness bench: a round resolves what io-floor and io-floor-again, the same arm twice, differ by', () => {
    const rows = [
      row(ArmNames.IO_FLOOR, { cpuMsPer1000PerPeriod: 28.5, addedLoopDelayP99Ms: 1.25 }),
      row(ArmNames.LIFELINE, { cpuMsPer1000PerPeriod: 31, addedLoopDelayP99Ms: 4 }),
      row(ArmNames.IO_FLOOR_AGAIN, { cpuMsPer1000PerPeriod: 25.25, addedLoopDelayP99Ms: 2 }),
    ];
    assert.deepEqual(roundResolution(rows), { cpuMsPer1000PerPeriod: -3.25, addedLoopDelayP99Ms: 0.75 });
    assert.deepEqual(roundResolution(rows.map((r) => ({ ...r, addedLoopDelayP99Ms: null }))), { cpuMsPer1000PerPeriod: -3.25, addedLoopDelayP99Ms: null });
    assert.equal(roundResolution(rows.slice(0, 2)), null, 'no second io-floor: nothing to say');
  });

  test('liveness bench: io-floor-again is no rival: a lifeline dearer than it misses nothing for that', () => {
    const rows = [
      row(ArmNames.WS_RECIPE, { bookkeepingMsPer1000PerPeriod: 2 }),
      row(ArmNames.LIFELINE, { bookkeepingMsPer1000PerPeriod: 0.5, heapBytesPerConnection: 60, detection: detection([10]) }),
      row(ArmNames.IO_FLOOR_AGAIN, { bookkeepingMsPer1000PerPeriod: -3 }),
    ];
    assert.deepEqual(missedTargets('x', [rows], SETTINGS, { loopDelay: true }), []);
  });
});

const skip = needsNetns() || (!hasCommand('nft') && 'needs nft (Debian package nftables); CI installs it');

describe('liveness benchmark: a small real run', { skip }, () => {
  test('liveness bench: 300 connections, one round: lifeline never pings a busy connection and finds every victim, never early', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lifeline-bench-'));
    try {
      const out = join(dir, 'liveness.json');
      // A small run cannot judge CPU (too few connections): its exit status is not the point, its figures are.
      try {
        execFileSync(process.execPath, ['--expose-gc', repoPath('dist/bench/liveness/main.js'), '--connections', '0', '--scale', '300',
          '--scale-rounds', '1', '--scale-period', '2s', '--arms', 'none,ws-recipe,lifeline', '--victims', '6', '--ws', '0', '--no-micro', '--out', out],
        { stdio: ['ignore', 'ignore', 'pipe'], timeout: 120_000 });
      } catch (error) {
        if ((error as { status?: number }).status !== 1) throw error;
      }
      const result = JSON.parse(readFileSync(out, 'utf8')) as { scales: { rounds: ArmRound[][] }[] };
      const rows = result.scales[0]!.rounds[0]!;
      const lifeline = rows.find((r) => r.arm === ArmNames.LIFELINE)!;
      const recipe = rows.find((r) => r.arm === ArmNames.WS_RECIPE)!;
      assert.equal(lifeline.lifetimePingsToBusy, 0);
      assert.ok(recipe.lifetimePingsToBusy > 0, 'the recipe pings everyone');
      assert.equal(lifeline.falsePositives, 0);
      assert.equal(lifeline.detection!.victims, 6);
      assert.equal(lifeline.detection!.detected, 6);
      assert.equal(lifeline.detection!.early, 0, `errors ${lifeline.detection!.errors.join(' ')}`);
      assert.ok(lifeline.detection!.errorMs.max < 1000, `late by ${lifeline.detection!.errorMs.max} ms`);
      assert.equal(recipe.detection!.detected, 6);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

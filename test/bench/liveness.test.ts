import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, mock, test } from 'node:test';
import { ArmNames, type ArmSettings } from '../../bench/liveness/arms.js';
import { paceTraffic } from '../../bench/liveness/client-plan.js';
import { marginalHeap, median, missedHeapSlope, missedTargets, pingsAfterData, roundResolution, sumPingChecks, summariseRounds, type ArmRound, type PingCheck } from '../../bench/liveness/results.js';
import { laneArms, sideBySideArms, SIDE_BY_SIDE_ARMS } from '../../bench/liveness/side-by-side.js';
import { msBeforePing, pingMessage } from '../../bench/liveness/wire.js';
import { repoPath } from '../helpers/paths.js';
import { hasCommand, needsNetns } from '../helpers/privileges.js';

const SETTINGS: ArmSettings = { periodMs: 2000, timeoutMs: 1000, tickMs: 100, keepalive: { idle: 2000, interval: 1000, count: 3 } };

function row(arm: ArmRound['arm'], fields: Partial<ArmRound> = {}): ArmRound {
  return {
    arm, connections: 1000, periods: 2.5, cpuMsPer1000PerPeriod: 10, bookkeepingMsPer1000PerPeriod: 2, heapBytesPerConnection: 50, stateBytesPerConnection: 40, codeBytesPerProcess: 0,
    rssBytesPerConnection: 0, loopDelayMs: { p50: 1, p99: 2, max: 3 }, addedLoopDelayP99Ms: 0, pings: 0, pingsPerConnectionPerPeriod: 0.8,
    byProcess: [], pingsToBusy: 0, lifetimePingsToBusy: 0, pingCheck: check(), detection: null, falsePositives: 0, falsePositiveReasons: {}, ...fields,
  };
}

function check(fields: Partial<PingCheck> = {}): PingCheck {
  return { afterData: 0, afterQuiet: 0, unknown: 0, shortestQuietMs: null, ...fields };
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
        bookkeepingMsPer1000PerPeriod: 1.5, heapBytesPerConnection: 270, stateBytesPerConnection: 70, codeBytesPerProcess: 204800, addedLoopDelayP99Ms: 3, lifetimePingsToBusy: 9,
        pingCheck: check({ afterData: 2, afterQuiet: 6, unknown: 1, shortestQuietMs: 5790 }),
        detection: detection([-5, 150]), falsePositives: 1,
      }),
    ];
    const missed = missedTargets('x', [rows], SETTINGS, { loopDelay: true }).join('\n');
    for (const expected of [/sent 3 pings less than a period after the connection's last data \(shortest silence 5790 ms, 1 not known\)/, /heap 270 B per connection > 64 B \(70 B without its 200 KiB of compiled code per process\)/, /bookkeeping 1.5 ms per 1000/, /not below ws-recipe's 0.4 ms/,
      /event-loop delay p99 3 ms/, /1 victims dead early/, /150 ms late/, /1 live connections dead/]) {
      assert.match(missed, expected);
    }
    assert.doesNotMatch(missedTargets('x', [rows], SETTINGS, { loopDelay: false }).join('\n'), /event-loop/);
  });

  test('liveness bench: a ping to a busy connection whose client had gone quiet for a period is no miss; one after data is', () => {
    const lifeline = (fields: Partial<ArmRound>) => [row(ArmNames.LIFELINE, { bookkeepingMsPer1000PerPeriod: 0.5, heapBytesPerConnection: 60, detection: detection([10]), ...fields })];
    const quiet = lifeline({ lifetimePingsToBusy: 3081, pingCheck: check({ afterQuiet: 3081 }) });
    assert.deepEqual(missedTargets('x', [quiet], SETTINGS, { loopDelay: true }), []);
    const unknown = lifeline({ lifetimePingsToBusy: 1, pingCheck: check({ unknown: 1 }) });
    assert.match(missedTargets('x', [unknown], SETTINGS, { loopDelay: true }).join('\n'), /sent 1 pings less than a period/);
    // Without the clients' view (over ws), every ping to a busy connection counts.
    const serverOnly = lifeline({ lifetimePingsToBusy: 2, pingCheck: null });
    assert.match(missedTargets('x', [serverOnly], SETTINGS, { loopDelay: true }).join('\n'), /pinged busy connections 2 times/);
  });

  test('liveness bench: in one process the heap target judges the slope, the per-process constant apart; a round names its code', () => {
    const slope = (bytesPerConnection: number) => [
      { arm: ArmNames.IO_FLOOR, bytesPerConnection: 12, constantBytes: 77_000 },
      { arm: ArmNames.LIFELINE, bytesPerConnection, constantBytes: 220_160 },
    ];
    assert.deepEqual(missedHeapSlope(slope(51.1), 'heap slope over 1000, 10000'), []);
    assert.deepEqual(missedHeapSlope(slope(64.5), 'heap slope over 1000, 10000'),
      ['heap slope over 1000, 10000: lifeline heap 64.5 B per connection (the slope; 215 KiB per process apart) > 64 B']);
    assert.deepEqual(missedHeapSlope([{ arm: ArmNames.IO_FLOOR, bytesPerConnection: 99, constantBytes: 0 }], 'x'), [], 'no lifeline, nothing to judge');
    const rows = [row(ArmNames.LIFELINE, { bookkeepingMsPer1000PerPeriod: 0.5, heapBytesPerConnection: 267, stateBytesPerConnection: 131, codeBytesPerProcess: 139_264, detection: detection([10]) })];
    assert.match(missedTargets('x', [rows], SETTINGS, { loopDelay: false }).join('\n'), /heap 267 B per connection > 64 B \(131 B without its 136 KiB of compiled code per process\)/);
    assert.deepEqual(missedTargets('x', [rows], SETTINGS, { loopDelay: false, heap: false }), [], 'judged by the slope instead');
  });
});

describe('liveness benchmark: side by side', () => {
  test('liveness bench: side by side rotates the arms over the lanes, each arm on every lane once in as many rounds', () => {
    const arms = sideBySideArms([...SIDE_BY_SIDE_ARMS, ArmNames.NONE, ArmNames.KERNEL]);
    assert.deepEqual(arms, SIDE_BY_SIDE_ARMS, 'none and kernel are not compared side by side');
    const rounds = arms.map((_, r) => laneArms(arms, 6, r + 1));
    assert.deepEqual(rounds[0], arms);
    for (const round of rounds) assert.equal(new Set(round).size, arms.length, 'all arms in every round');
    for (let lane = 0; lane < 6; lane++) assert.equal(new Set(rounds.map((round) => round[lane])).size, arms.length, `every arm on lane ${lane}`);
    // Twelve processes: two lanes per arm.
    const twelve = laneArms(arms, 12, 2);
    for (const arm of arms) assert.equal(twelve.filter((a) => a === arm).length, 2);
    assert.deepEqual(laneArms(sideBySideArms([ArmNames.LIFELINE, ArmNames.IO_FLOOR]), 2, 2), [ArmNames.LIFELINE, ArmNames.IO_FLOOR]);
  });

  test('liveness bench: side by side refuses a layout that would not give every arm the same lanes', () => {
    assert.throws(() => laneArms(SIDE_BY_SIDE_ARMS, 4, 1), /multiple of 6 server processes .*got 4/);
    assert.throws(() => laneArms([ArmNames.LIFELINE, ArmNames.WS_RECIPE], 2, 1), /needs io-floor/);
    assert.throws(() => laneArms([ArmNames.IO_FLOOR, ArmNames.LIFELINE], 2, 0), /round must be/);
  });

  test('liveness bench: rounds without a heap figure miss the heap target unless told they cannot measure it', () => {
    const rows = [row(ArmNames.LIFELINE, { bookkeepingMsPer1000PerPeriod: 0.5, heapBytesPerConnection: null, stateBytesPerConnection: null, codeBytesPerProcess: null, detection: detection([10]) })];
    assert.match(missedTargets('x', [rows], SETTINGS, { loopDelay: false }).join('\n'), /no heap figure for lifeline/);
    assert.deepEqual(missedTargets('x', [rows], SETTINGS, { loopDelay: false, heap: false }), []);
    // The other targets still count side by side.
    const dear = [row(ArmNames.LIFELINE, { bookkeepingMsPer1000PerPeriod: 4, heapBytesPerConnection: null, stateBytesPerConnection: null, codeBytesPerProcess: null, detection: detection([10]) })];
    assert.match(missedTargets('x', [dear], SETTINGS, { loopDelay: false, heap: false }).join('\n'), /bookkeeping 4 ms per 1000/);
  });
});

describe('liveness benchmark: what the clients saw of the pings', () => {
  test('liveness bench: a PING carries its send time; the client reads the silence before it, across the 2^24 ms wrap and within 1 ms', () => {
    const ping = pingMessage(0xdeadbeef, 1_000_000.7);
    assert.equal(ping.readUInt32BE(4), 0xdeadbeef, 'the nonce is where it was');
    assert.equal(ping[0], 0x50);
    assert.equal(msBeforePing(ping, 0, 994_000.2), 6000);
    assert.equal(msBeforePing(ping, 0, 1_000_050), -50, 'a write made while the ping was in flight');
    const wrapped = pingMessage(1, 2 ** 24 + 100);
    assert.equal(msBeforePing(wrapped, 0, 2 ** 24 - 5900), 6000);
    const inChunk = Buffer.concat([Buffer.alloc(8), ping]);
    assert.equal(msBeforePing(inChunk, 8, 999_000), 1000);
  });

  test('liveness bench: ping checks add up over processes; the shortest silence is the least; a missing one makes the sum unknown', () => {
    const sum = sumPingChecks([check({ afterData: 1, shortestQuietMs: 5800 }), check({ afterData: 2, afterQuiet: 4, unknown: 1, shortestQuietMs: 5790 }), check()]);
    assert.deepEqual(sum, { afterData: 3, afterQuiet: 4, unknown: 1, shortestQuietMs: 5790 });
    assert.equal(pingsAfterData({ pingCheck: sum }), 4);
    assert.equal(sumPingChecks([check(), null]), null);
    assert.equal(pingsAfterData({ pingCheck: null }), null);
  });

  test('liveness bench: busy connections keep their rate when the client timer runs late, and a late tick sends to each at most once', () => {
    mock.timers.enable({ apis: ['setInterval'] });
    try {
      let clock = 0;
      const sent = new Map<number, number>();
      const busy = Array.from({ length: 100 }, (_, i) => i);
      const timer = paceTraffic(busy, 1000, (c) => sent.set(c, (sent.get(c) ?? 0) + 1), () => clock);
      // The 10 ms timer runs every 40 ms of the clock: 2 s of it must still give every connection 2 messages.
      for (let i = 0; i < 50; i++) {
        clock += 40;
        mock.timers.tick(10);
      }
      assert.deepEqual([...new Set(sent.values())], [2]);
      assert.equal(sent.size, 100);
      // Starved for 5 s: one message each, not five.
      clock += 5000;
      mock.timers.tick(10);
      assert.deepEqual([...new Set(sent.values())], [3]);
      clearInterval(timer);
    } finally {
      mock.timers.reset();
    }
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
      assert.deepEqual(lifeline.pingCheck, { afterData: 0, afterQuiet: 0, unknown: 0, shortestQuietMs: null });
      assert.ok(recipe.lifetimePingsToBusy > 0, 'the recipe pings everyone');
      // The clients see the recipe's pings to their busy connections as pings after data (it pings every period).
      assert.ok(pingsAfterData(recipe)! > 0, JSON.stringify(recipe.pingCheck));
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

  test('liveness bench: side by side, 2 processes, 2 rounds: io-floor and lifeline at the same time, swapping lanes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lifeline-bench-'));
    try {
      const out = join(dir, 'liveness.json');
      try {
        execFileSync(process.execPath, ['--expose-gc', repoPath('dist/bench/liveness/main.js'), '--connections', '600', '--processes', '2', '--period', '2s',
          '--rounds', '0', '--side-by-side-rounds', '2', '--scale', '', '--arms', 'io-floor,lifeline', '--victims', '4', '--ws', '0', '--no-micro', '--out', out],
        { stdio: ['ignore', 'ignore', 'pipe'], timeout: 150_000 });
      } catch (error) {
        if ((error as { status?: number }).status !== 1) throw error;
      }
      const result = JSON.parse(readFileSync(out, 'utf8')) as {
        scales: { rounds: ArmRound[][]; sideBySide: { lanes: string[][]; connectionsPerArm: number; rounds: ArmRound[][]; resolution: unknown[] } }[];
      };
      const scale = result.scales[0]!;
      assert.equal(scale.rounds.length, 0, 'no rounds one after another');
      const side = scale.sideBySide;
      assert.deepEqual(side.lanes, [[ArmNames.IO_FLOOR, ArmNames.LIFELINE], [ArmNames.LIFELINE, ArmNames.IO_FLOOR]]);
      assert.equal(side.connectionsPerArm, 304);
      for (const rows of side.rounds) {
        assert.deepEqual(rows.map((r) => r.arm), [ArmNames.IO_FLOOR, ArmNames.LIFELINE]);
        const [floor, lifeline] = rows as [ArmRound, ArmRound];
        assert.equal(floor.bookkeepingMsPer1000PerPeriod, 0);
        // Both CPU figures are rounded to 3 digits, the difference of the unrounded ones too.
        assert.ok(Math.abs(lifeline.bookkeepingMsPer1000PerPeriod! - (lifeline.cpuMsPer1000PerPeriod - floor.cpuMsPer1000PerPeriod)) <= 0.002);
        assert.equal(lifeline.heapBytesPerConnection, null, 'no none arm beside them: no heap figure');
        assert.equal(lifeline.stateBytesPerConnection, null);
        assert.equal(lifeline.byProcess.length, 1);
        assert.ok(lifeline.byProcess[0]!.mainThreadMs! > 0, JSON.stringify(lifeline.byProcess));
        assert.ok(floor.pings > 0, 'the floor pinged its idle connections');
        assert.equal(pingsAfterData(lifeline), 0);
        assert.equal(lifeline.detection!.victims, 4);
        assert.equal(lifeline.detection!.detected, 4);
        assert.equal(lifeline.detection!.early, 0, `errors ${lifeline.detection!.errors.join(' ')}`);
        assert.equal(lifeline.falsePositives, 0);
      }
      assert.equal(side.resolution.length, 2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

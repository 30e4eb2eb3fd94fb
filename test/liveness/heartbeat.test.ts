import { seededRandom } from '../helpers/random.js';
import assert from 'node:assert/strict';
import type { EventEmitter } from 'node:events';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { ManualClock, type Clock } from '../../src/clock.js';
import { HeartbeatEngine, type HeartbeatEvents, type HeartbeatHandle } from '../../src/liveness/heartbeat.js';
import type { HeartbeatOptions } from '../../src/liveness/heartbeat-options.js';
import { StallingClock } from '../helpers/stalling-clock.js';


/** `actual` within a relative error of `relative` from `expected`. */
function assertNear(actual: number, expected: number, relative: number, message = ''): void {
  assert.ok(Math.abs(actual - expected) <= relative * Math.abs(expected), `${actual} is not within ${relative} of ${expected} ${message}`);
}

type Recorded = { [K in keyof HeartbeatEvents<string>]: { at: number; event: HeartbeatEvents<string>[K][0] }[] };

/**
 * `random` for an engine whose wheel gets `phase`: the engine draws its jitter seed first (from `random`) and its
 * wheel's phase second (here `phase`, whatever it is).
 */
function withPhase(phase: number, random: () => number): () => number {
  let draws = 0;
  return () => (++draws === 2 ? phase : random());
}

/** `random` for an engine whose ticks end on multiples of the tick from its start, which the times in these tests assume. */
const onGrid = (random: () => number) => withPhase(0, random);

/** An engine on a manual clock that records every ping it sends and every event it emits. */
function harness<C extends Clock = ManualClock>(options: HeartbeatOptions<string> = {}, clock?: C) {
  const time = (clock ?? new ManualClock()) as C;
  const pings: { id: string; nonce: number; handle: number; at: number }[] = [];
  const engine = new HeartbeatEngine<string>({
    clock: time,
    random: onGrid(seededRandom(42)),
    sendPing: (id, nonce, handle) => pings.push({ id, nonce, handle, at: time.now() }),
    ...options,
  });
  const events: Recorded = { suspect: [], alive: [], dead: [], stall: [], warning: [] };
  for (const name of Object.keys(events) as (keyof Recorded)[]) {
    (engine as EventEmitter).on(name, (event: unknown) => {
      (events[name] as { at: number; event: unknown }[]).push({ at: time.now(), event });
    });
  }
  return { engine, clock: time, pings, events };
}

const STRICT = { interval: 10_000, timeout: 5_000, jitter: 0, tick: 250 } as const;
/**
 * One stamp unit (1/1024 ms at these deadlines): a verdict comes that long after the deadline the engine computed,
 * so that a rounding error can never make it early (heartbeat.ts, #schedule).
 */
const UNIT = 1 / 1024;

describe('HeartbeatEngine', () => {
  test('heartbeat: each engine draws where its ticks end, so engines started together do not sweep together; verdicts stay exact', () => {
    // With STRICT (tick 250, no jitter), a silent peer's ping is due after interval = 10 000 ms of silence and goes out
    // at the end of the tick that falls in; the grid of tick ends is phase ticks earlier than the engine's start.
    const pingAt: number[] = [];
    for (const draw of [0, 0.3, 0.6, 0.96, 1, Number.NaN]) {
      const { engine, clock, pings, events } = harness({ ...STRICT, random: withPhase(draw, () => 0.5) });
      engine.add('peer');
      clock.advance(15_000 + UNIT);
      const phase = draw >= 0 && draw < 1 ? draw : 0;
      const expected = Math.ceil((10_000 + phase * 250) / 250) * 250 - phase * 250;
      assert.equal(pings.length, 1, `draw ${draw}`);
      assert.ok(Math.abs(pings[0]!.at - expected) < 1e-9, `draw ${draw}: ping at ${pings[0]!.at}, expected ${expected}`);
      assert.equal(events.dead.length, 1, `draw ${draw}`);
      assert.equal(events.dead[0]!.at, 15_000 + UNIT, `draw ${draw}: the verdict does not move with the grid`);
      pingAt.push(pings[0]!.at);
    }
    assert.equal(new Set(pingAt.slice(0, 4)).size, 4, 'four phases, four different instants');
    assert.equal(pingAt[4], pingAt[0], 'a draw of 1 (outside [0, 1)) means phase 0');
    assert.equal(pingAt[5], pingAt[0], 'so does NaN');
  });

  test('heartbeat: declares dead after timeout when no pong', () => {
    const { engine, clock, pings, events } = harness(STRICT);
    const handle = engine.add('peer');
    clock.advance(10_000);
    assert.equal(pings.length, 1);
    assert.equal(pings[0]!.at, 10_000, 'after interval of silence, at the end of that tick');
    clock.advance(5_000);
    assert.equal(events.dead.length, 0);
    clock.advance(UNIT);
    assert.equal(events.dead.length, 1);
    const { at, event } = events.dead[0]!;
    assert.equal(at, 15_000 + UNIT, 'at the deadline, not at the end of the tick it falls in');
    assert.equal(event.id, 'peer');
    assert.equal(event.handle, handle);
    assert.equal(event.reason, 'heartbeat-timeout');
    assert.equal(event.code, null);
    assert.equal(event.silentMs, 15_000 + UNIT);
    assert.equal(event.pingsOutstanding, 1);
    assert.ok(event.lastPingAgoMs >= 5_000);
    assert.equal(event.lastRttMs, null);
    assert.equal(event.postponedByStall, false);
    assert.deepEqual(event.configured, { interval: 10_000, timeout: 5_000, maxSilence: 15_000 });
    assert.match(event.because, /1 ping unanswered, the last for 5 s \(timeout 5 s\); nothing received for 15 s/);
    assert.equal(engine.has(handle), false, 'the engine forgets a dead connection');
    assert.equal(engine.remove(handle), false);
    assert.equal(engine.size, 0);
    assert.equal(engine.scheduledChecks, 0);
    assert.equal(clock.pending, 0, 'no timer left once no connection is followed');
  });

  test('heartbeat: no pings to busy connections', () => {
    const { engine, clock, pings, events } = harness({ interval: 10_000, timeout: 5_000, jitter: 0.2 });
    const handles = Array.from({ length: 1000 }, (_, index) => engine.add(`peer-${index}`));
    // Every connection carries traffic every 9.9 s (less than interval: the jitter only ever delays a ping), for 10 minutes.
    for (let elapsed = 0; elapsed < 600_000; elapsed += 9_900) {
      clock.advance(9_900);
      for (const handle of handles) engine.touch(handle);
    }
    assert.equal(pings.length, 0);
    assert.equal(events.suspect.length + events.dead.length, 0);
    assert.equal(engine.size, 1000);
  });

  test('heartbeat: touch keeps a connection alive without pings, and silence after it is measured from the last touch', () => {
    const { engine, clock, pings, events } = harness(STRICT);
    const handle = engine.add('peer');
    for (let i = 0; i < 100; i++) {
      clock.advance(9_000);
      assert.equal(engine.touch(handle), true);
    }
    assert.equal(pings.length, 0);
    assert.equal(engine.state(handle), 'alive');
    const lastTouch = clock.now();
    clock.advance(20_000);
    assert.equal(pings.length, 1);
    assert.equal(events.dead[0]?.at, lastTouch + 15_000 + UNIT);
  });

  test('heartbeat: an idle peer that answers gets one ping per interval and lives forever', () => {
    const { engine, clock, pings, events } = harness(STRICT);
    const handle = engine.add('peer');
    let answered = 0;
    for (let elapsed = 0; elapsed < 120_000; elapsed += 50) {
      clock.advance(50);
      const ping = pings.at(-1);
      if (ping && ping.at === clock.now() - 50) {
        assert.equal(engine.pong(handle, ping.nonce), true);
        answered++;
      }
    }
    assert.equal(events.dead.length, 0);
    assert.ok(pings.length >= 11 && pings.length <= 12, `${pings.length} pings in 2 minutes`);
    // The first after 10 s of silence from add, then every 10 s on the tick grid (the last, at 120 s, unanswered yet).
    assert.deepEqual(pings.map(({ at }) => at), Array.from({ length: 12 }, (_, i) => (i + 1) * 10_000));
    const stats = engine.stats(handle)!;
    assert.equal(stats.lastRttMs, 50);
    assert.equal(stats.smoothedRttMs, 50);
    // Stored as bfloat16: each of the pongs' updates rounds to within 0.4 %.
    assertNear(stats.rttVarianceMs!, 25 * 0.75 ** (answered - 1), answered * 2 ** -8);
  });

  test('heartbeat: times stay right for hours, across the wraps of their 32-bit stamps', () => {
    // maxSilence 15 min: stamps of 1/1024 ms wrap every 69.9 minutes, so 5 hours cross four wraps.
    const MINUTE = 60_000;
    const clock = new ManualClock();
    const rtt = 0.3;
    let answering = true;
    const handles = new Map<string, HeartbeatHandle>();
    const pings: { id: string; at: number }[] = [];
    const deaths: { id: string; at: number; silentMs: number }[] = [];
    const engine = new HeartbeatEngine<string>({
      interval: 10 * MINUTE, timeout: 5 * MINUTE, jitter: 0, tick: MINUTE, clock, random: onGrid(seededRandom(7)),
      sendPing: (id, nonce) => {
        pings.push({ id, at: clock.now() });
        if (answering) clock.setTimeout(() => engine.pong(handles.get(id)!, nonce), rtt);
      },
    });
    engine.on('dead', (peer) => deaths.push({ id: peer.id, at: clock.now(), silentMs: peer.silentMs }));
    handles.set('idle', engine.add('idle'));
    handles.set('busy', engine.add('busy'));
    const idle = handles.get('idle')!;
    const busy = handles.get('busy')!;
    // 'busy' is idle long enough for one ping (at 10 minutes: interval), then sends something every minute.
    clock.advance(10 * MINUTE + 1);
    assert.deepEqual(pings.map((ping) => ping.id).sort(), ['busy', 'idle']);
    clock.advance(2 * MINUTE - 1);
    assert.equal(engine.stats(busy)!.lastPingAt, 10 * MINUTE, 'a ping minutes ago reads back exactly');
    const hours5 = 300 * MINUTE;
    while (clock.now() < hours5) {
      engine.touch(busy);
      clock.advance(MINUTE);
    }
    clock.advance(1); // the pong to the ping at 5 hours
    assert.equal(deaths.length, 0);
    const idlePings = pings.filter((ping) => ping.id === 'idle');
    assert.equal(idlePings.length, 30, 'one ping every 10 minutes for 5 hours');
    assert.equal(pings.length, 31, 'the busy connection was pinged once, before it got busy');
    const lastPong = idlePings.at(-1)!.at + rtt;
    const stats = engine.stats(idle)!;
    assert.ok(Math.abs(stats.lastActivityAt - lastPong) <= 1 / 1024, `last activity ${stats.lastActivityAt}, pong at ${lastPong}`);
    assertNear(stats.lastRttMs!, rtt, 2 ** -8 + 1 / 1024 / rtt);
    assertNear(stats.smoothedRttMs!, rtt, 2 ** -7 + 1 / 1024 / rtt);
    // Its one ping was hours ago: beyond what the engine keeps (a quarter of the stamps' range, 17.5 minutes).
    assert.equal(engine.stats(busy)!.lastPingAt, null);
    assert.ok(engine.stats(busy)!.silentMs <= MINUTE + 1);
    // The idle peer stops answering: dead at its last pong + maxSilence, within one tick.
    answering = false;
    clock.advance(30 * MINUTE);
    assert.deepEqual(deaths.map((death) => death.id).sort(), ['busy', 'idle'], 'busy fell silent at 5 hours too');
    const death = deaths.find((each) => each.id === 'idle')!;
    const deadline = lastPong + 15 * MINUTE;
    assert.ok(death.at >= deadline && death.at <= deadline + MINUTE, `dead at ${death.at}, deadline ${deadline}`);
    assert.ok(Math.abs(death.silentMs - (death.at - lastPong)) <= 1 / 1024);
  });

  test('heartbeat: every ping of a connection has its own nonce (never 0); a pong for an older one is no RTT sample', () => {
    const { engine, clock, pings } = harness(STRICT);
    const handle = engine.add('peer');
    const other = engine.add('other');
    for (let round = 0; round < 3; round++) {
      clock.advance(10_000); // each gets a ping at interval - tick
      engine.touch(handle);
      engine.touch(other);
    }
    const mine = pings.filter((ping) => ping.handle === handle);
    assert.equal(mine.length, 3);
    const nonces = new Set(pings.map((ping) => ping.nonce));
    assert.equal(nonces.size, 6, 'no two pings share a nonce');
    assert.ok(!nonces.has(0));
    clock.advance(10_000);
    assert.equal(engine.pong(handle, mine[0]!.nonce), false, 'an older ping of this connection: traffic, no sample');
    assert.equal(engine.stats(handle)!.lastRttMs, null);
    const theirs = pings.filter((ping) => ping.handle === other).at(-1)!;
    assert.equal(engine.pong(handle, theirs.nonce), false, "another connection's nonce is no answer");
    clock.advance(10_000);
    const last = pings.at(-1)!.handle === handle ? pings.at(-1)! : pings.at(-2)!;
    assert.equal(last.handle, handle);
    clock.advance(7);
    assert.equal(engine.pong(handle, last.nonce), true);
    assertNear(engine.stats(handle)!.lastRttMs!, clock.now() - last.at, 2 ** -8);
  });

  test('heartbeat: a sweep slice writes at most sliceSize / 16 pings, then yields (pongs are read in between)', () => {
    const manual = new ManualClock();
    const turns: number[] = [];
    let pingsThisTurn = 0;
    const clock: Clock = {
      now: () => manual.now(),
      setTimeout: (callback, ms) => manual.setTimeout(() => {
        if (pingsThisTurn) turns.push(pingsThisTurn);
        pingsThisTurn = 0;
        callback();
      }, ms),
      clearTimeout: (timer) => manual.clearTimeout(timer),
    };
    const engine = new HeartbeatEngine<number>({ ...STRICT, clock, sliceSize: 64, sendPing: () => pingsThisTurn++ });
    for (let id = 0; id < 200; id++) engine.add(id);
    manual.advance(10_250); // due at 10 000, at the end of that tick (wherever this engine's grid lies)
    if (pingsThisTurn) turns.push(pingsThisTurn);
    assert.equal(turns.reduce((a, b) => a + b, 0), 200, 'every connection pinged');
    assert.ok(Math.max(...turns) <= 4, `pings per turn: ${turns.join(' ')}`);
    engine.clear();
  });

  test('heartbeat: a verdict comes at its deadline, not after the pings due in the same tick', () => {
    const { engine, clock, pings, events } = harness({ ...STRICT, sliceSize: 64 });
    clock.advance(100);
    engine.add('victim'); // pinged at 10 250, convicted at 15 100: inside the tick that ends at 15 250
    clock.advance(5_100);
    // 200 connections whose first ping falls due in that same tick (5 200 + 10 000 = 15 200 -> tick end 15 250): 50 slices.
    for (let index = 0; index < 200; index++) engine.add(`peer-${index}`);
    let pingsBeforeVerdict = -1;
    engine.on('dead', () => {
      pingsBeforeVerdict = pings.length - 1;
    });
    clock.advance(10_100);
    assert.equal(events.dead.length, 1);
    assert.equal(events.dead[0]!.at, 15_100 + UNIT);
    assert.equal(pingsBeforeVerdict, 0, 'none of the tick\'s pings went before the verdict');
    assert.equal(pings.filter(({ at }) => at === 15_250).length, 200, 'they went at the end of the tick');
    engine.clear();
  });

  test('heartbeat: a pong in the last tick before the verdict moves the connection back to the wheel', () => {
    const { engine, clock, pings, events } = harness(STRICT);
    const late = engine.add('late');
    const gone = engine.add('gone');
    clock.advance(10_000);
    assert.equal(pings.length, 2);
    // From 14 750 (the last tick end before the deadline, 15 000) both wait for their verdicts at exact deadlines.
    clock.advance(4_800);
    assert.equal(engine.scheduledChecks, 2);
    assert.equal(engine.pong(late, pings[0]!.nonce), true, 'a slow answer, 4.8 s after the ping');
    assert.equal(engine.remove(gone), true);
    clock.advance(1_000);
    assert.equal(events.dead.length, 0, 'no verdict for the one that answered, none for the one removed');
    assert.equal(engine.scheduledChecks, 1, 'the entries left waiting were dropped at their time');
    // The answer keeps its place: the next ping an interval after it (less the tick), at a tick end.
    clock.advance(10_000);
    assert.deepEqual(pings.slice(2).map(({ id, at }) => [id, at]), [['late', 24_750]]);
    engine.remove(late);
    assert.equal(engine.timerArmed, false);
    assert.equal(clock.pending, 0, 'no timer once nothing is followed, though an entry was waiting for its deadline');
  });

  test('heartbeat: removing the last connection while it waits for its verdict releases the timer at once', () => {
    const { engine, clock, events } = harness(STRICT);
    const handle = engine.add('peer');
    clock.advance(14_900);
    assert.equal(engine.timerArmed, true);
    engine.remove(handle);
    assert.equal(engine.scheduledChecks, 0);
    assert.equal(engine.timerArmed, false);
    assert.equal(clock.pending, 0);
    clock.advance(1_000);
    assert.equal(events.dead.length, 0);
  });

  test('heartbeat: on the system clock, a sweep resumed between slices finishes on a quiet process', async () => {
    // Every ping ends its slice (sliceTime 0.01 ms), so the sweep resumes again and again. (Resumed through an
    // unref'd setImmediate, it waited on a process with nothing else to do for the next timer: here the 5 s guard.)
    const started = performance.now();
    const deaths: number[] = [];
    const engine = new HeartbeatEngine<number>({ interval: 100, timeout: 50, tick: 10, jitter: 0, sliceTime: 0.01, sendPing: () => {} });
    const allDead = new Promise<void>((resolve) => {
      engine.on('dead', () => {
        deaths.push(performance.now() - started);
        if (deaths.length === 5) resolve();
      });
    });
    for (let id = 0; id < 5; id++) engine.add(id);
    let guard: NodeJS.Timeout | undefined;
    await Promise.race([allDead, new Promise((resolve) => (guard = setTimeout(resolve, 5_000)))]);
    clearTimeout(guard);
    engine.clear();
    assert.equal(deaths.length, 5, `${deaths.length} of 5 verdicts within 5 s`);
    assert.ok(Math.max(...deaths) < 1_500, `verdicts at ${deaths.map((ms) => ms.toFixed(0)).join(', ')} ms; due at about 150 ms`);
  });

  test('heartbeat: jitter spreads first pings over the interval', () => {
    // jitter x interval + tick at most timeout / 2: the jitter's delay comes out of the pong's wait.
    const { engine, clock, pings } = harness({ interval: 10_000, timeout: 20_000, jitter: 0.5, tick: 100 });
    for (let index = 0; index < 1000; index++) engine.add(`peer-${index}`);
    clock.advance(15_100);
    assert.equal(pings.length, 1000);
    const perTick = new Map<number, number>();
    for (const { at } of pings) perTick.set(at, (perTick.get(at) ?? 0) + 1);
    const times = [...perTick.keys()];
    // Drawn uniformly from [interval, interval + jitter x interval), fired at the next tick end: never before interval.
    assert.ok(Math.min(...times) >= 10_000 && Math.max(...times) <= 15_100, `pings between ${Math.min(...times)} and ${Math.max(...times)}`);
    assert.ok(perTick.size >= 48, `spread over ${perTick.size} ticks`);
    assert.ok(Math.max(...perTick.values()) <= 45, `at most ${Math.max(...perTick.values())} pings in one tick (20 expected)`);

    const unjittered = harness({ interval: 10_000, timeout: 5_000, jitter: 0, tick: 100 });
    for (let index = 0; index < 1000; index++) unjittered.engine.add(`peer-${index}`);
    unjittered.clock.advance(10_000);
    assert.equal(new Set(unjittered.pings.map(({ at }) => at)).size, 1, 'without jitter they all ping on the same tick');
  });

  test('heartbeat: an idle peer that answers is pinged once per interval; jitter comes back with other traffic', () => {
    const { engine, clock, pings } = harness({ interval: 10_000, timeout: 20_000, jitter: 0.5, tick: 100 });
    const handles = new Map<string, HeartbeatHandle>();
    for (let index = 0; index < 200; index++) handles.set(`peer-${index}`, engine.add(`peer-${index}`));
    let answered = 0;
    /** Runs the clock in 10 ms steps; every ping is answered in the step after it was sent. */
    const run = (ms: number) => {
      for (let elapsed = 0; elapsed < ms; elapsed += 10) {
        const due = pings.slice(answered);
        answered = pings.length;
        clock.advance(10);
        for (const ping of due) assert.equal(engine.pong(handles.get(ping.id)!, ping.nonce), true);
      }
    };
    run(20_000);
    const counted = pings.length;
    run(80_000);
    const perPeer = new Map<string, number[]>();
    for (const { id, at } of pings.slice(counted)) perPeer.set(id, [...(perPeer.get(id) ?? []), at]);
    assert.equal(perPeer.size, 200);
    for (const [id, times] of perPeer) {
      // The jitter chose each peer's phase once (after add); from then on a ping every interval, on the tick grid.
      const gaps = new Set(times.slice(1).map((at, i) => at - times[i]!));
      assert.deepEqual([...gaps], [10_000], `${id}: pings ${gaps.size === 1 ? 'every' : 'apart by'} ${[...gaps].join(', ')} ms`);
    }
    const phases = new Set(pings.slice(counted).map(({ at }) => at % 10_000));
    assert.ok(phases.size >= 30, `the first pings' spread is kept: ${phases.size} ticks of the interval in use`);

    // Data from every peer at once: the silence after it is not one our pings chose, so it is jittered again.
    for (const handle of handles.values()) engine.touch(handle);
    const touchedAt = clock.now();
    const before = pings.length;
    run(15_100);
    const after = pings.slice(before).filter(({ at }) => at - touchedAt <= 15_100 && at - touchedAt >= 10_000);
    assert.equal(pings.slice(before).filter(({ at }) => at - touchedAt < 10_000).length, 0, 'none within an interval of its data');
    assert.equal(after.length, 200, 'each peer pinged once, within interval + jitter x interval + tick of its data');
    assert.ok(new Set(after.map(({ at }) => at)).size >= 30, 'spread over the jitter span again');
  });

  test('heartbeat: suspect then alive on late pong', () => {
    const { engine, clock, pings, events } = harness(STRICT);
    const handle = engine.add('peer');
    // Three prompt pongs teach the engine this peer's RTT (20 ms).
    for (let round = 0; round < 3; round++) {
      clock.advance(10_000);
      clock.advance(20);
      assert.equal(engine.pong(handle, pings.at(-1)!.nonce), true);
    }
    const lastPong = clock.now();
    assert.equal(engine.stats(handle)!.rtoMs, 1000, 'SRTT 20 ms + 4 x RTTVAR is below the 1 s floor');
    const before = pings.length;
    clock.advance(10_000);
    assert.equal(pings.length, before + 1);
    const ping = pings.at(-1)!;
    clock.advance(1_250);
    assert.equal(events.suspect.length, 1);
    const suspect = events.suspect[0]!;
    assert.equal(suspect.at, ping.at + 1_000, 'overdue by the RTO, at the first tick after it');
    assert.equal(suspect.event.because, 'ping-overdue');
    assert.equal(suspect.event.pingsOutstanding, 1);
    assert.equal(suspect.event.pingWaitingMs, 1_000);
    assert.equal(suspect.event.rtoMs, 1_000);
    assert.equal('phi' in suspect.event, false, 'no phi without the phi detector');
    assert.equal(engine.state(handle), 'suspect');
    clock.advance(ping.at + 3_000 - clock.now());
    assert.equal(engine.pong(handle, ping.nonce), true);
    assert.equal(events.alive.length, 1);
    assert.deepEqual(events.alive[0]!.event, { id: 'peer', handle, via: 'pong', silentMs: clock.now() - lastPong, rttMs: 3_000 });
    assert.equal(engine.state(handle), 'alive');
    assertNear(engine.stats(handle)!.lastRttMs!, 3_000, 2 ** -8, 'stored as bfloat16');
    clock.advance(30_000);
    assert.equal(events.dead.length, 1, 'and dies later like any other once it stops answering');
  });

  test('heartbeat: any traffic ends suspicion, and a pong for an older ping is traffic but no RTT sample', () => {
    const { engine, clock, pings, events } = harness(STRICT);
    const handle = engine.add('peer');
    clock.advance(11_000);
    assert.equal(engine.state(handle), 'suspect');
    assert.equal(engine.pong(handle, pings[0]!.nonce + 1000), false);
    assert.equal(events.alive[0]!.event.via, 'pong');
    assert.equal(events.alive[0]!.event.rttMs, null);
    assert.equal(engine.stats(handle)!.lastRttMs, null);
    clock.advance(11_000);
    assert.equal(engine.state(handle), 'suspect');
    assert.equal(engine.touch(handle), true);
    assert.equal(events.alive[1]!.event.via, 'traffic');
    assert.equal(engine.state(handle), 'alive');
    assert.equal(events.dead.length, 0);
  });

  test('heartbeat: phi rises with silence and triggers suspect beside the hard deadline', () => {
    const { engine, clock, pings, events } = harness({ ...STRICT, phi: { threshold: 8, acceptablePause: 1_000, minStdDeviation: 100 } });
    const handle = engine.add('sensor');
    for (let i = 0; i < 30; i++) {
      clock.advance(1_000);
      engine.touch(handle);
    }
    const lastTouch = clock.now();
    const levels: number[] = [];
    while (events.suspect.length === 0 && clock.now() - lastTouch < 15_000) {
      levels.push(engine.phi(handle)!);
      clock.advance(250);
    }
    for (let i = 1; i < levels.length; i++) assert.ok(levels[i]! >= levels[i - 1]!, 'phi never falls while silence grows');
    assert.ok(levels[0]! < 1 && levels.at(-1)! < 8);
    const suspect = events.suspect[0]!;
    assert.equal(suspect.event.because, 'phi');
    assert.ok(suspect.event.phi! >= 8);
    // mean 1000 + pause 1000 + 5.2 x 100 ms: about 2.5 s of silence, long before the 15 s hard deadline.
    assert.ok(suspect.at - lastTouch >= 2_000 && suspect.at - lastTouch <= 2_750, `suspected after ${suspect.at - lastTouch} ms`);
    assert.equal(pings.at(-1)?.at, suspect.at, 'suspicion by phi probes at once');
    clock.advance(20_000);
    assert.equal(events.dead.length, 1);
    assert.equal(events.dead[0]!.at, lastTouch + 15_000 + UNIT, 'phi suspects; only the hard deadline convicts');
    assert.ok(events.dead[0]!.event.phi! > 8);
  });

  test('heartbeat: phi suspicion is answered by a pong, and an irregular peer is suspected later than a regular one', () => {
    const silenceBeforeSuspicion = (gaps: number[]) => {
      const { engine, clock, events } = harness({ ...STRICT, interval: 60_000, phi: { acceptablePause: 0 } });
      const handle = engine.add('peer');
      for (const gap of gaps) {
        clock.advance(gap);
        engine.touch(handle);
      }
      const last = clock.now();
      clock.advance(30_000);
      return events.suspect[0]!.at - last;
    };
    const regular = silenceBeforeSuspicion(Array.from({ length: 40 }, () => 1_000));
    const irregular = silenceBeforeSuspicion(Array.from({ length: 40 }, (_, index) => (index % 2 ? 400 : 1_600)));
    assert.ok(regular < irregular, `regular peer suspected after ${regular} ms, irregular after ${irregular} ms`);

    const { engine, clock, pings, events } = harness({ ...STRICT, phi: { acceptablePause: 0 } });
    const handle = engine.add('peer');
    for (let i = 0; i < 10; i++) {
      clock.advance(1_000);
      engine.touch(handle);
    }
    clock.advance(2_000);
    assert.equal(events.suspect.length, 1);
    assert.equal(engine.pong(handle, pings.at(-1)!.nonce), true);
    assert.equal(events.alive.length, 1);
    assert.equal(engine.state(handle), 'alive');
  });

  test('heartbeat: stall guard postpones verdicts after a long stall and still convicts later if the peer stays silent', () => {
    const { engine, clock, pings, events } = harness(STRICT, new StallingClock());
    const silent = engine.add('silent');
    const healthy = engine.add('healthy');
    clock.advance(10_000);
    assert.equal(pings.length, 2);
    const healthyPing = pings.find(({ id }) => id === 'healthy')!;
    // The loop blocks for 20 s: both deadlines (15 s) pass while nothing runs. The healthy peer's pong arrived
    // at 10.05 s and waits unread in our socket buffer; Node runs timers before it reads sockets.
    clock.stall(20_000);
    assert.equal(events.stall.length, 1);
    assert.equal(events.stall[0]!.event.source, 'timer');
    assert.ok(events.stall[0]!.event.stalledMs >= 19_750);
    assert.equal(events.dead.length, 0, 'no verdict from evidence gathered across the stall');
    assert.equal(pings.length, 4, 'a fresh ping to each, sent after the stall');
    assert.ok(pings.slice(2).every(({ at }) => at === 30_000));
    engine.pong(healthy, healthyPing.nonce); // the poll phase finally reads it
    clock.advance(5_000);
    assert.equal(events.dead.length, 0);
    clock.advance(UNIT);
    assert.equal(events.dead.length, 1);
    const { at, event } = events.dead[0]!;
    assert.equal(event.handle, silent);
    assert.equal(at, 35_000 + UNIT, 'one more full timeout after the stall');
    assert.equal(event.postponedByStall, true);
    assert.match(event.because, /stalled/);
    assert.equal(event.pingsOutstanding, 2);
    assert.equal(engine.state(healthy), 'alive');
  });

  test('heartbeat: a stall longer than the stamps\' range (3 hours at maxSilence 15 min) convicts no healthy peer, and a silent one after a fresh timeout', () => {
    const MINUTE = 60_000;
    const { engine, clock, pings, events } = harness(
      { interval: 10 * MINUTE, timeout: 5 * MINUTE, jitter: 0, tick: MINUTE },
      new StallingClock(),
    );
    const silent = engine.add('silent');
    const healthy = engine.add('healthy');
    clock.advance(10 * MINUTE + 1);
    assert.equal(pings.length, 2);
    const healthyPing = pings.find(({ id }) => id === 'healthy')!;
    // Frozen for 3 hours (a VM paused, SIGSTOP): the stamps' range is 69.9 minutes, so they wrap twice meanwhile.
    clock.stall(180 * MINUTE);
    const stallEnd = clock.now();
    assert.equal(events.stall.length, 1);
    assert.equal(events.dead.length, 0, 'no verdict from evidence gathered across the stall');
    assert.equal(pings.length, 4, 'a fresh ping to each, sent after the stall');
    engine.pong(healthy, healthyPing.nonce); // read at last: traffic, though no RTT sample (a newer ping is out)
    clock.advance(6 * MINUTE);
    assert.deepEqual(events.dead.map(({ event }) => event.handle), [silent]);
    const { at, event } = events.dead[0]!;
    assert.ok(at >= stallEnd + 5 * MINUTE && at <= stallEnd + 6 * MINUTE, `dead at ${at}, the stall ended at ${stallEnd}`);
    assert.equal(event.postponedByStall, true);
    assert.equal(engine.state(healthy), 'alive');
    assert.equal(engine.stats(healthy)!.silentMs, 6 * MINUTE, 'silent since the pong read after the stall');
  });

  test('heartbeat: without the stall guard, the same stall convicts a healthy peer (why the guard exists)', () => {
    const { engine, clock, pings, events } = harness({ ...STRICT, stallThreshold: false }, new StallingClock());
    const healthy = engine.add('healthy');
    clock.advance(10_000);
    clock.stall(20_000);
    assert.equal(events.dead.length, 1);
    assert.equal(engine.pong(healthy, pings[0]!.nonce), false, 'its pong is read too late');
  });

  test('heartbeat: a reported event loop delay postpones verdicts like a late tick', () => {
    const { engine, clock, pings, events } = harness(STRICT);
    engine.add('peer');
    clock.advance(14_000);
    assert.equal(engine.recordLoopDelay(100), false, 'below the threshold: ordinary lateness');
    assert.equal(engine.recordLoopDelay(2_000), true);
    assert.equal(events.stall[0]!.event.source, 'loop-delay');
    clock.advance(1_000);
    assert.equal(events.dead.length, 0);
    assert.equal(pings.length, 2);
    // The fresh ping went out at the check a tick before the deadline (14 750) and had its full timeout.
    assert.equal(pings[1]!.at, 14_750);
    clock.advance(5_000);
    assert.equal(events.dead[0]!.at, 19_750 + UNIT);
  });

  test('heartbeat: a sweep that runs long counts as a stall for the connections checked after it', () => {
    const { engine, clock, pings, events } = harness(STRICT, new StallingClock());
    for (const id of ['a', 'b', 'c']) engine.add(id);
    let first: string | undefined;
    engine.on('dead', ({ id }) => {
      // A listener that blocks the loop for 2 s: sockets go unread, so the verdicts after it are not trusted.
      if (first === undefined) {
        first = id;
        clock.block(2_000);
      }
    });
    clock.advance(15_000 + UNIT);
    assert.equal(events.dead.length, 1);
    const others = ['a', 'b', 'c'].filter((id) => id !== first);
    assert.equal(events.stall[0]?.event.source, 'sweep');
    assert.deepEqual(pings.slice(3).map(({ id, at }) => [id, at]).sort(), others.map((id) => [id, 17_000 + UNIT]));
    clock.advance(5_000 + UNIT);
    const verdicts = events.dead.map(({ event, at }) => [event.id, at, event.postponedByStall]);
    assert.deepEqual(verdicts[0], [first, 15_000 + UNIT, false]);
    assert.deepEqual(verdicts.slice(1).sort(), others.map((id) => [id, 22_000 + 2 * UNIT, true]));
  });

  test('heartbeat: detection is never early, and comes at the deadline (within two stamp units, 2/1024 ms); no ping before interval of silence', () => {
    fc.assert(
      fc.property(
        fc.record({
          interval: fc.integer({ min: 100, max: 30_000 }),
          timeout: fc.integer({ min: 20, max: 15_000 }),
          // A share of the most jitter these interval, timeout and tick allow (heartbeat-options.ts resolveJitter).
          jitterShare: fc.double({ min: 0, max: 1, noNaN: true }),
          tickShare: fc.double({ min: 0, max: 1, noNaN: true }),
          extraSilence: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 40_000 })),
          touches: fc.array(fc.integer({ min: 1, max: 20_000 }), { maxLength: 15 }),
          // Fractions of a ms too: times are stamped rounded up to 1/1024 ms (time-stamps.ts).
          rtt: fc.oneof(fc.integer({ min: 0, max: 3_000 }), fc.double({ min: 0, max: 3_000, noNaN: true })),
          answersUntil: fc.integer({ min: 0, max: 200_000 }),
          start: fc.oneof(fc.integer({ min: 0, max: 100_000 }), fc.double({ min: 0, max: 100_000, noNaN: true })),
          seed: fc.integer(),
        }),
        ({ interval, timeout, jitterShare, tickShare, extraSilence, touches, rtt, answersUntil, start, seed }) => {
          const maxTick = Math.floor(Math.min(timeout, interval) / 2);
          fc.pre(maxTick >= 1);
          const tick = Math.max(1, Math.round(tickShare * maxTick));
          const jitter = jitterShare * Math.min(0.99, Math.max(0, timeout / 2 - tick) / interval);
          const maxSilence = interval + timeout + extraSilence;
          const clock = new ManualClock(start);
          let handle = -1 as HeartbeatHandle;
          let lastActivity = start;
          /** The silence began with the answer to our last ping (then a ping may leave a tick before `interval`). */
          let silenceFromPong = false;
          const earlyPings: string[] = [];
          const deaths: number[] = [];
          const engine = new HeartbeatEngine<string>({
            interval, timeout, jitter, tick, maxSilence, clock, random: seededRandom(seed),
            sendPing: (_id, nonce) => {
              const silent = clock.now() - lastActivity;
              const least = silenceFromPong ? interval - tick : interval;
              if (silent < least - 1e-9) earlyPings.push(`at ${clock.now()} after ${silent} ms of silence (least ${least})`);
              if (clock.now() + rtt > start + answersUntil) return;
              clock.setTimeout(() => {
                if (engine.pong(handle, nonce)) {
                  lastActivity = clock.now();
                  silenceFromPong = true;
                } else if (engine.has(handle)) {
                  lastActivity = clock.now();
                  silenceFromPong = false;
                }
              }, rtt);
            },
          });
          engine.on('dead', () => deaths.push(clock.now()));
          handle = engine.add('peer');
          let at = start;
          for (const gap of touches) {
            at += gap;
            clock.setTimeout(() => {
              if (engine.touch(handle)) {
                lastActivity = clock.now();
                silenceFromPong = false;
              }
            }, at - start);
          }
          clock.advance(at - start + answersUntil + maxSilence + 3 * tick + rtt + timeout);
          for (let turns = 0; turns < 100 && deaths.length === 0 && clock.pending > 0; turns++) clock.advance(maxSilence);
          assert.equal(deaths.length, 1);
          assert.deepEqual(earlyPings, [], 'a ping went out before interval of silence (interval - tick after its own pong)');
          const due = lastActivity + maxSilence;
          assert.ok(deaths[0]! >= due, `early: dead at ${deaths[0]} but silent only since ${lastActivity} (deadline ${due})`);
          // Not at the end of the tick the deadline falls in: the last check before it hands the connection to the
          // heap of exact deadlines. The last activity is stamped up to a unit late, and the heap's check comes a unit
          // after the deadline it computed (plus a rounding error in ms).
          assert.ok(deaths[0]! <= due + 2 / 1024 + 1e-6, `late: dead at ${deaths[0]}, deadline ${due}, tick ${tick}`);
        },
      ),
      { numRuns: 300 },
    );
  });

  test('heartbeat: 10 000 connections add and remove without leaks (the wheel returns to 0)', () => {
    const { engine, clock, pings } = harness({ interval: 10_000, timeout: 5_000 });
    const first = Array.from({ length: 10_000 }, (_, index) => engine.add(`peer-${index}`));
    assert.equal(engine.scheduledChecks, 10_000);
    clock.advance(10_500);
    assert.equal(pings.length, 10_000);
    for (const handle of first) assert.equal(engine.remove(handle), true);
    assert.equal(engine.size, 0);
    assert.equal(engine.scheduledChecks, 0);
    assert.equal(clock.pending, 0);
    const capacity = engine.capacity;
    for (let round = 0; round < 5; round++) {
      const handles = Array.from({ length: 10_000 }, (_, index) => engine.add(`again-${index}`));
      clock.advance(3_000);
      handles.forEach((handle) => engine.remove(handle));
    }
    assert.equal(engine.capacity, capacity, 'freed slots are reused');
    assert.equal(engine.scheduledChecks, 0);
    assert.equal(first.some((handle) => engine.touch(handle) || engine.has(handle)), false, 'old handles stay invalid after their slots are reused');
    engine.add('x');
    engine.add('y');
    engine.clear();
    assert.equal(engine.size + engine.scheduledChecks + clock.pending, 0);
  });

  test('heartbeat: many connections due on one tick are checked in slices and still judged on time', () => {
    const { engine, clock, pings, events } = harness({ ...STRICT, sliceSize: 64 });
    for (let index = 0; index < 2000; index++) engine.add(`peer-${index}`);
    clock.advance(10_000);
    assert.equal(pings.length, 2000);
    clock.advance(5_000 + UNIT);
    assert.equal(events.dead.length, 2000);
    assert.ok(events.dead.every(({ at }) => at === 15_000 + UNIT));
  });

  test('heartbeat: with maxSilence beyond interval + timeout it pings again every interval while silent', () => {
    const { engine, clock, pings, events } = harness({ ...STRICT, maxSilence: 40_000 });
    engine.add('peer');
    clock.advance(50_000);
    assert.deepEqual(pings.map(({ at }) => at), [10_000, 20_000, 30_000]);
    assert.equal(events.suspect.length, 1);
    assert.equal(events.dead[0]!.at, 40_000 + UNIT);
    assert.equal(events.dead[0]!.event.pingsOutstanding, 3);
  });

  test('heartbeat: per-connection senders, a sender that throws, and listeners that remove connections', () => {
    const clock = new ManualClock();
    const engine = new HeartbeatEngine<number>({ ...STRICT, clock });
    assert.throws(() => engine.add(1), { code: 'ERR_LIFELINE_INVALID_OPTION', message: /sendPing/ });
    const sent: number[] = [];
    const ok = engine.add(1, { sendPing: (nonce) => sent.push(nonce) });
    const broken = engine.add(2, { sendPing: () => { throw new Error('EPIPE'); } });
    const warnings: unknown[] = [];
    engine.on('warning', ({ id, error }) => warnings.push([id, (error as Error).message]));
    engine.on('suspect', ({ handle }) => {
      if (handle === ok) engine.remove(handle);
    });
    const dead: number[] = [];
    engine.on('dead', ({ id }) => dead.push(id));
    clock.advance(20_000);
    assert.equal(sent.length, 1);
    assert.ok(sent[0]! > 0, 'nonces are never 0');
    assert.deepEqual(warnings, [[2, 'EPIPE']]);
    assert.equal(engine.has(ok), false);
    assert.deepEqual(dead, [2], 'a connection that cannot be written to dies by the deadline');
    assert.equal(engine.has(broken), false);
    assert.equal(engine.scheduledChecks, 0);
  });

  test('heartbeat: stale and forged handles are ignored', () => {
    const { engine } = harness(STRICT);
    const handle = engine.add('a');
    engine.remove(handle);
    const reused = engine.add('b');
    assert.notEqual(reused, handle);
    for (const bad of [handle, -1, 1.5, NaN, 2 ** 40, reused + 1]) {
      const forged = bad as HeartbeatHandle;
      assert.equal(engine.touch(forged), false);
      assert.equal(engine.pong(forged, 1), false);
      assert.equal(engine.stats(forged), undefined);
      assert.equal(engine.remove(forged), false);
    }
    assert.equal(engine.stats(reused)!.id, 'b');
  });
});

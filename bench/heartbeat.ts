/**
 * Heartbeat engine benchmark (a benchmark, not a test: it measures and reports; it fails only when a target of
 * issues #5/#6 is clearly missed).
 *
 *   node --expose-gc dist/bench/heartbeat.js [--connections 10000] [--entries 1000000] [--real-seconds 6] [--out FILE]
 *
 * What it measures, and how:
 *
 * 1. Heap per connection. heapUsed + arrayBuffers after two forced GCs, minus the same before the engine was made,
 *    divided by the connections added; and the marginal cost, the slope of bytes over N, 2N, 4N and 8N connections, which cancels the
 *    engine's fixed cost and the measurement's own noise floor. The 64 B target is judged on the marginal cost. arrayBuffers is counted because the engine's state lives in typed arrays
 *    whose backing stores V8 keeps outside the JS heap. Ids are small integers (no per-id object) and sendPing is
 *    the engine-wide one, so what is measured is the liveness state itself (plus the engine's fixed cost, a few
 *    KiB, spread over the connections). Variants: exact capacity (initialCapacity = N), default growth (arrays
 *    double, so up to half the slots are spare), with phi, with a closure per connection, and for comparison what
 *    one Node timer per connection costs (the design the wheel replaces).
 * 2. CPU per tick, simulated. 10 000 idle connections on a ManualClock with the defaults (interval 10 s, timeout
 *    5 s, jitter 0.2, tick 250 ms); every ping is answered one tick later. After 60 s of warm-up, each tick's
 *    clock.advance() (the wheel sweep, the checks, sendPing into a preallocated array) is timed for 5 minutes
 *    of simulated time; pongs are timed separately. The same with 10 000 busy connections (touched every tick).
 * 3. Real clock. The same 10 000 idle connections on the system clock (interval 2 s, timeout 1 s, tick 100 ms,
 *    pongs answered on the next turn), for --real-seconds: process CPU time per second (and net of the same process
 *    with no connection, per tick and per ping), event loop lag (perf_hooks), pings, and that nothing died or stalled.
 * 4. Micro-benchmarks, best of three runs: ns per touch (manual and system clock), per pong; the timing wheel with
 *    1 000 000 entries (512 buckets of 100 ms, deadlines spread over 10 minutes, so most take several rounds):
 *    ns per schedule, move, cancel, and per expiry when the clock runs through them (an entry several rounds away
 *    is examined once a round, so the cost per visit is given too), with the longest turn of the event loop.
 *
 * Writes bench/results/heartbeat.json (or --out) and prints a summary.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ManualClock, systemClock } from '../src/clock.js';
import { HeartbeatEngine, type HeartbeatHandle } from '../src/liveness/heartbeat.js';
import type { HeartbeatOptions } from '../src/liveness/heartbeat-options.js';
import { best, leastSquares, nsSince, round, settledBytes } from './measure.js';
import { wheelMillion } from './wheel-million.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Issue #6: the liveness state of one connection. */
const TARGET_BYTES_PER_CONNECTION = 64;

const { values: args } = parseArgs({
  options: {
    connections: { type: 'string', default: '10000' },
    entries: { type: 'string', default: '1000000' },
    'real-seconds': { type: 'string', default: '6' },
    out: { type: 'string', default: join(ROOT, 'bench', 'results', 'heartbeat.json') },
  },
});
const CONNECTIONS = Number(args.connections);
const ENTRIES = Number(args.entries);
const REAL_SECONDS = Number(args['real-seconds']);

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  console.error('run with --expose-gc: node --expose-gc dist/bench/heartbeat.js');
  process.exit(2);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? NaN;
}

function summary(microseconds: number[]) {
  const sorted = [...microseconds].sort((a, b) => a - b);
  const mean = sorted.reduce((sum, value) => sum + value, 0) / sorted.length;
  return { mean: round(mean), p50: round(percentile(sorted, 50)), p99: round(percentile(sorted, 99)), max: round(sorted.at(-1) ?? NaN) };
}

// ---------------------------------------------------------------------------------------------------------------
// 1. Heap per connection

/** The median of three measurements, after one unmeasured run: the first run also allocates V8's compiled code and feedback. */
function memoryOf(label: string, options: HeartbeatOptions<number>, perConnectionSender: boolean) {
  measureMemory(label, options, perConnectionSender);
  const runs = [0, 1, 2].map(() => measureMemory(label, options, perConnectionSender));
  return runs.sort((a, b) => a.bytesPerConnection - b.bytesPerConnection)[1]!;
}

function measureMemory(label: string, options: HeartbeatOptions<number>, perConnectionSender: boolean) {
  const bytesFor = (connections: number) => {
    const before = settledBytes();
    const engine = new HeartbeatEngine<number>({ clock: new ManualClock(), sendPing: () => {}, ...options,
      ...(options.initialCapacity !== undefined && { initialCapacity: connections }) });
    const handles = new Float64Array(connections);
    for (let id = 0; id < connections; id++) {
      handles[id] = perConnectionSender ? engine.add(id, { sendPing: (nonce) => void nonce }) : engine.add(id);
    }
    const bytes = settledBytes() - before - handles.byteLength;
    const capacity = engine.capacity;
    engine.clear();
    return { bytes, capacity };
  };
  const sizes = [1, 2, 4, 8].map((factor) => factor * CONNECTIONS);
  const measured = sizes.map(bytesFor);
  return {
    label,
    connections: CONNECTIONS,
    capacity: measured[0]!.capacity,
    /** Everything the engine holds, its fixed cost included, over the connections. */
    bytesPerConnection: round(measured[0]!.bytes / CONNECTIONS),
    /** What each further connection costs: the least-squares slope of bytes over N, 2N, 4N, 8N connections. */
    marginalBytesPerConnection: round(leastSquares(sizes, measured.map(({ bytes }) => bytes)).slope),
  };
}

function memoryOfNodeTimers() {
  measureNodeTimers();
  const runs = [0, 1, 2].map(() => measureNodeTimers());
  return runs.sort((a, b) => a.bytesPerConnection - b.bytesPerConnection)[1]!;
}

function measureNodeTimers() {
  const before = settledBytes();
  const callback = () => {};
  const timers = Array.from({ length: CONNECTIONS }, () => setTimeout(callback, 1_000_000).unref());
  const after = settledBytes();
  const result = { label: 'one Node timer per connection (for comparison)', connections: CONNECTIONS, bytesPerConnection: round((after - before) / CONNECTIONS) };
  for (const timer of timers) clearTimeout(timer);
  return result;
}

// ---------------------------------------------------------------------------------------------------------------
// 2. CPU per tick, simulated

function simulatedTicks(busy: boolean) {
  const clock = new ManualClock();
  const pingHandles = new Float64Array(CONNECTIONS * 4);
  const pingNonces = new Float64Array(CONNECTIONS * 4);
  let pending = 0;
  let pings = 0;
  let deaths = 0;
  const engine = new HeartbeatEngine<number>({
    clock,
    sendPing: (_id, nonce, handle) => {
      pingHandles[pending] = handle;
      pingNonces[pending++] = nonce;
      pings++;
    },
  });
  engine.on('dead', () => deaths++);
  const handles: HeartbeatHandle[] = Array.from({ length: CONNECTIONS }, (_, id) => engine.add(id));
  const tick = engine.options.tick;
  const warmupTicks = 60_000 / tick;
  const measuredTicks = 300_000 / tick;
  const tickMicros: number[] = [];
  let pongNs = 0;
  let pongs = 0;
  let touchNs = 0;
  let touches = 0;
  let measuredPings = 0;
  for (let i = 0; i < warmupTicks + measuredTicks; i++) {
    const measuring = i >= warmupTicks;
    if (busy) {
      const start = process.hrtime.bigint();
      for (const handle of handles) engine.touch(handle);
      if (measuring) {
        touchNs += nsSince(start);
        touches += handles.length;
      }
    }
    const pingsBefore = pings;
    const start = process.hrtime.bigint();
    clock.advance(tick);
    if (measuring) {
      tickMicros.push(nsSince(start) / 1000);
      measuredPings += pings - pingsBefore;
    }
    // The peers answer everything one tick later.
    const answer = process.hrtime.bigint();
    for (let p = 0; p < pending; p++) engine.pong(pingHandles[p] as HeartbeatHandle, pingNonces[p]!);
    if (measuring && pending > 0) {
      pongNs += nsSince(answer);
      pongs += pending;
    }
    pending = 0;
  }
  engine.clear();
  return {
    connections: CONNECTIONS,
    traffic: busy ? 'every connection touched every tick' : 'idle: only pings and pongs',
    options: { interval: engine.options.interval, timeout: engine.options.timeout, jitter: engine.options.jitter, tick },
    simulatedSeconds: (measuredTicks * tick) / 1000,
    ticks: measuredTicks,
    microsecondsPerTick: summary(tickMicros),
    pingsPerSecond: round(measuredPings / ((measuredTicks * tick) / 1000)),
    nsPerPong: pongs ? round(pongNs / pongs) : null,
    nsPerTouch: touches ? round(touchNs / touches) : null,
    deaths,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// 3. Real clock

async function realClock() {
  const interval = 2000;
  const timeout = 1000;
  const tick = 100;
  // Preallocated, so that the harness makes no garbage of its own.
  const answerHandles = new Float64Array(CONNECTIONS * 2);
  const answerNonces = new Float64Array(CONNECTIONS * 2);
  let waiting = 0;
  let pings = 0;
  let deaths = 0;
  let stalls = 0;
  const answerAll = () => {
    for (let i = 0; i < waiting; i++) engine.pong(answerHandles[i] as HeartbeatHandle, answerNonces[i]!);
    waiting = 0;
  };
  const engine: HeartbeatEngine<number> = new HeartbeatEngine<number>({
    interval, timeout, tick, clock: systemClock,
    sendPing: (_id, nonce, handle) => {
      pings++;
      if (waiting === 0) setImmediate(answerAll);
      answerHandles[waiting] = handle;
      answerNonces[waiting++] = nonce;
    },
  });
  engine.on('dead', () => deaths++);
  engine.on('stall', () => stalls++);
  for (let id = 0; id < CONNECTIONS; id++) engine.add(id);
  const keepAlive = setInterval(() => {}, 1000); // the wheel's timer is unref'd
  await sleep(interval); // first cycle: JIT warm-up
  const idleBefore = process.cpuUsage();
  const idleStart = performance.now();
  engine.clear();
  await sleep(1000); // what this process costs with the engine idle: the baseline to subtract
  const idleCpu = process.cpuUsage(idleBefore);
  const idleCpuMsPerSecond = (idleCpu.user + idleCpu.system) / 1000 / ((performance.now() - idleStart) / 1000);
  for (let id = 0; id < CONNECTIONS; id++) engine.add(id);
  await sleep(interval);
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const pingsBefore = pings;
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  await sleep(REAL_SECONDS * 1000);
  const cpu = process.cpuUsage(cpuBefore);
  const elapsed = performance.now() - start;
  delay.disable();
  clearInterval(keepAlive);
  engine.clear();
  const cpuMs = (cpu.user + cpu.system) / 1000;
  return {
    connections: CONNECTIONS,
    options: { interval, timeout, tick },
    seconds: round(elapsed / 1000, 2),
    cpuMsPerSecond: round(cpuMs / (elapsed / 1000)),
    /** The same process with no connection followed (timers, GC, the event loop itself). */
    idleProcessCpuMsPerSecond: round(idleCpuMsPerSecond),
    cpuMicrosecondsPerTick: round(((cpuMs / (elapsed / 1000) - idleCpuMsPerSecond) * 1000) / (1000 / tick)),
    cpuNanosecondsPerPing: round(((cpuMs / (elapsed / 1000) - idleCpuMsPerSecond) * 1e6) / ((pings - pingsBefore) / (elapsed / 1000))),
    pingsPerSecond: round((pings - pingsBefore) / (elapsed / 1000)),
    /** How late perf_hooks' 10 ms sampling timer ran (its reading minus the 10 ms resolution). */
    eventLoopLagMs: { p99: round(delay.percentile(99) / 1e6 - 10, 2), max: round(delay.max / 1e6 - 10, 2) },
    deaths,
    stalls,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// 4. Micro-benchmarks

function touchAndPong() {
  const manual = new HeartbeatEngine<number>({ clock: new ManualClock(), sendPing: () => {} });
  const real = new HeartbeatEngine<number>({ clock: systemClock, sendPing: () => {} });
  const manualHandles = Array.from({ length: CONNECTIONS }, (_, id) => manual.add(id));
  const realHandles = Array.from({ length: CONNECTIONS }, (_, id) => real.add(id));
  const rounds = 100;
  const touches = CONNECTIONS * rounds;
  const touchManual = best(3, touches, () => {
    for (let r = 0; r < rounds; r++) for (const handle of manualHandles) manual.touch(handle);
  });
  const touchSystem = best(3, touches, () => {
    for (let r = 0; r < rounds; r++) for (const handle of realHandles) real.touch(handle);
  });
  const nowCost = best(3, touches, () => {
    let sink = 0;
    for (let i = 0; i < touches; i++) sink += performance.now();
    if (sink === 42) console.log(sink);
  });
  const pongUnmatched = best(3, touches, () => {
    for (let r = 0; r < rounds; r++) for (const handle of manualHandles) manual.pong(handle, 0);
  });
  manual.clear();
  real.clear();
  return { nsPerTouchManualClock: touchManual, nsPerTouchSystemClock: touchSystem, nsPerPerformanceNow: nowCost, nsPerPongAsTraffic: pongUnmatched };
}

// ---------------------------------------------------------------------------------------------------------------

function machine() {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGiB: round(os.totalmem() / 1024 ** 3),
    node: process.version,
    v8: process.versions.v8,
    platform: process.platform,
    kernel: os.release(),
    date: new Date().toISOString(),
    /** The machine is shared: timings are only as quiet as this. */
    loadAverage1m: round(os.loadavg()[0] ?? NaN, 2),
  };
}

/** A fixed integer loop: on a quiet machine about 1 ns an iteration; much more means other processes took the CPU. */
function calibrationNsPerIteration(): number {
  return best(3, 10_000_000, () => {
    let x = 0;
    for (let i = 0; i < 10_000_000; i++) x = (x * 31 + i) | 0;
    if (x === 42) console.log(x);
  });
}

async function main() {
  const calibrationBefore = calibrationNsPerIteration();
  const layout = {
    bytesPerSlot: 4 + 4 + 2 + 1 + 2 * 3 + 12 + 8,
    bytesPerSlotWithPhi: 4 + 4 + 2 + 1 + 2 * 3 + 12 + 8 + 4 + 4 + 1,
    note: 'lastActivity, pingSentAt (32-bit stamps, Uint32); generation (Uint16); flags (Uint8); lastRtt, SRTT, RTTVAR (bfloat16 in Uint16); wheel next, prev, due (Int32/Uint32); id (array slot); phi: mean, variance (Float32), samples (Uint8). The nonce is not stored (a hash of the slot and the send stamp)',
  };
  const engineMemory = [
    memoryOf('exact capacity (initialCapacity = connections)', { initialCapacity: CONNECTIONS }, false),
    memoryOf('exact capacity, with phi', { initialCapacity: CONNECTIONS, phi: true }, false),
    memoryOf('default growth (arrays double)', {}, false),
    memoryOf('exact capacity, a sendPing closure per connection', { initialCapacity: CONNECTIONS }, true),
  ];
  const nodeTimers = memoryOfNodeTimers();
  const memory = [...engineMemory, nodeTimers];
  console.log('heap per connection (heapUsed + arrayBuffers after GC):');
  for (const row of engineMemory) {
    console.log(`  ${row.bytesPerConnection.toFixed(1).padStart(7)} B (${row.marginalBytesPerConnection.toFixed(1)} B marginal)  ${row.label}`);
  }
  console.log(`  ${nodeTimers.bytesPerConnection.toFixed(1).padStart(7)} B  ${nodeTimers.label}`);

  const micro = touchAndPong();
  console.log(`touch: ${micro.nsPerTouchManualClock} ns (manual clock), ${micro.nsPerTouchSystemClock} ns (system clock; performance.now() alone ${micro.nsPerPerformanceNow} ns); pong as traffic: ${micro.nsPerPongAsTraffic} ns`);

  const idle = simulatedTicks(false);
  const busy = simulatedTicks(true);
  for (const run of [idle, busy]) {
    const t = run.microsecondsPerTick;
    console.log(`${run.connections} ${run.traffic}: per tick mean ${t.mean} us, p99 ${t.p99} us, max ${t.max} us; ${run.pingsPerSecond} pings/s; deaths ${run.deaths}` +
      (run.nsPerPong ? `; ${run.nsPerPong} ns per pong` : '') + (run.nsPerTouch ? `; ${run.nsPerTouch} ns per touch` : ''));
  }

  const wheel = wheelMillion(ENTRIES);
  console.log(`wheel, ${wheel.entries} entries: ${wheel.bytesPerEntry} B/entry (${wheel.bytesPerEntryKeepingDueTicks} keeping due ticks); schedule ${wheel.nsPerSchedule} ns, move ${wheel.nsPerMove} ns, ` +
    `cancel ${wheel.nsPerCancel} ns, expiry ${wheel.nsPerExpiry} ns (${wheel.visitsPerEntry} visits each, ${wheel.nsPerVisit} ns a visit); ` +
    `longest turn ${wheel.longestTurnMicroseconds} us`);

  const real = REAL_SECONDS > 0 ? await realClock() : null;
  if (real) {
    console.log(`real clock, ${real.connections} idle (interval 2 s, tick 100 ms) for ${real.seconds} s: ${real.cpuMsPerSecond} ms CPU/s ` +
      `(idle process ${real.idleProcessCpuMsPerSecond}; net ${real.cpuMicrosecondsPerTick} us per tick, ${real.cpuNanosecondsPerPing} ns per ping and pong), ${real.pingsPerSecond} pings/s, loop lag p99 ${real.eventLoopLagMs.p99} ms max ${real.eventLoopLagMs.max} ms, ` +
      `deaths ${real.deaths}, stalls ${real.stalls}`);
  }

  const calibration = { nsPerIterationBefore: calibrationBefore, nsPerIterationAfter: calibrationNsPerIteration() };
  console.log(`calibration loop: ${calibration.nsPerIterationBefore} ns before, ${calibration.nsPerIterationAfter} ns after (about 1 ns when the CPU is not shared)`);

  const failures: string[] = [];
  for (const row of engineMemory.slice(0, 2)) {
    const marginal = row.marginalBytesPerConnection;
    if (marginal > TARGET_BYTES_PER_CONNECTION) failures.push(`${row.label}: ${marginal} B per connection exceeds the ${TARGET_BYTES_PER_CONNECTION} B target`);
  }
  if (idle.deaths || busy.deaths || real?.deaths) failures.push('healthy connections were declared dead');
  if (busy.pingsPerSecond !== 0) failures.push('busy connections were pinged');

  const result = {
    benchmark: 'heartbeat',
    command: 'node --expose-gc dist/bench/heartbeat.js',
    machine: machine(),
    calibration,
    parameters: { connections: CONNECTIONS, wheelEntries: ENTRIES, realSeconds: REAL_SECONDS },
    targetBytesPerConnection: TARGET_BYTES_PER_CONNECTION,
    layout,
    memory,
    touch: micro,
    simulatedIdle: idle,
    simulatedBusy: busy,
    realClock: real,
    wheel,
    failures,
  };
  mkdirSync(dirname(args.out), { recursive: true });
  writeFileSync(args.out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`wrote ${args.out}`);
  if (failures.length) {
    console.error(`FAILED: ${failures.join('; ')}`);
    process.exit(1);
  }
}

await main();

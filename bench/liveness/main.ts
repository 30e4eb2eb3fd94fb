/**
 * The liveness benchmark (issue #6): what it costs a server to know which of its peers are dead, lifeline's
 * heartbeat engine against what Node users do today, side by side in one run on the same machine.
 *
 *   npm run bench:liveness [-- --connections 100000 --processes 6 --period 6s --rounds 3
 *                              --scale 1000,5000,10000,19000 --scale-period 2s --scale-rounds 2
 *                              --side-by-side-rounds 6 --ws 10000 --ws-period 2s --ws-rounds 3 --client-nice 19 --out FILE]
 *
 * Arms (arms.ts), each on fresh connections of the same shape (a fifth busy, sending every period / 4; the rest
 * idle; all answer pings at once): none, kernel, io-floor, ws-recipe, per-socket-timers, socket-timeout, lifeline,
 * io-floor-again. The order is the same in every round; ratios are computed per round. Every arm runs in fresh worker
 * processes. io-floor-again repeats io-floor at the end of the round: how far the two land apart is the round's
 * resolution (printed, and `resolution` in the JSON).
 *
 * Per arm and round, in each server process: heap and RSS after GC before the arm and after its warm-up (per
 * connection: the arm's state over a bare socket; also without the growth of V8's compiled code, which does not grow
 * with connections; in one process at several scales the heap target is judged on the slope over them); over the measuring window: CPU (user + system), event-loop
 * delay p50/p99/max (monitorEventLoopDelay, 10 ms resolution: a finer one costs each process hundreds of wake-ups a second, noise in the CPU figures), pings and pings to busy connections (the server's view), and from the clients, pings sent less than a period after the connection's last data (each PING carries its send time; wire.ts). Bookkeeping
 * CPU = the arm's CPU minus io-floor's, whose only work beyond the traffic is one ping per idle connection per
 * period. Detection: each client kills its victims (each sends a last message, then falls silent, and nft drops
 * every packet from or to them); error = verdict - (last message + the arm's configured worst case).
 *
 * Phases of one arm: connections are added spread over one period (as on a server whose clients came at different
 * times), from then on pings flow at their steady rate; one more period (every arm has pinged, V8 has optimised its
 * code); memory is measured (heap and RSS per connection: the arm's growth over those two periods minus the none
 * arm's, the same connections with no liveness); the victims are killed, and the verdicts have the slowest arm's
 * worst case plus a second; the victims still open are destroyed (so every arm's window follows the same destroyed
 * sockets: server-worker.ts reapVictims); then the measuring window (CPU, loop delay, pings) of the same length, so that it holds
 * the steady state and none of the first verdicts' one-off JIT work.
 *
 * Side by side (side-by-side.ts): after its rounds, the multi-process scale runs the compared arms (io-floor, the
 * rivals, lifeline, io-floor-again) at the same time, one arm per server process, rotated over the processes from
 * round to round: run one after another, identical arms landed 10 to 20 ms per 1000 per period apart on a shared VM.
 *
 * Over ws (issue #8; ws-arms.ts, ws-*-worker.ts): the same measurements on real WebSocket connections (`ws` server
 * and clients) for ws-none (the baseline), ws-readme (the ws README recipe) and lifeline-ws (lifeline/ws), 10 000
 * connections in one process pair (--ws N, 0 to skip).
 *
 * Runs in a network namespace of its own (root, or an unprivileged user namespace) with nft. Writes
 * bench/results/liveness.json and exits 1 when lifeline misses a target (printed).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseDuration } from '../../src/duration.js';
import { machineInfo } from '../machine.js';
import { wheelMillion } from '../wheel-million.js';
import { ALL_ARMS, ArmNames, type ArmName, type ArmSettings } from './arms.js';
import { laneArms, sideBySideArms } from './side-by-side.js';
import { ALL_WS_ARMS, WsArmNames } from './ws-arms.js';
import { WorkerChannel } from './ipc.js';
import { enterOwnNetworkNamespace, VictimCut } from './netns.js';
import type { SettledMemory } from './worker-measure.js';
import { marginalHeap, markdownTable, missedHeapSlope, missedTargets, pingsAfterData, round, roundResolution, summariseRound, summariseRounds, type AnyArm, type ArmRound, type PingCheck, type WorkerWindow } from './results.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..', '..', '..');
const VICTIM_RANGE = '127.250.0.0/16';

const { values: args } = parseArgs({
  options: {
    connections: { type: 'string', default: '100000' },
    processes: { type: 'string', default: '6' },
    period: { type: 'string', default: '6s' },
    rounds: { type: 'string', default: '3' },
    scale: { type: 'string', default: '1000,5000,10000,19000' },
    'scale-period': { type: 'string', default: '2s' },
    'scale-rounds': { type: 'string', default: '2' },
    victims: { type: 'string', default: '20' },
    busy: { type: 'string', default: '0.2' },
    arms: { type: 'string', default: ALL_ARMS.join(',') },
    ws: { type: 'string', default: '10000' },
    'ws-period': { type: 'string', default: '2s' },
    'ws-rounds': { type: 'string', default: '3' },
    'no-micro': { type: 'boolean', default: false },
    'client-nice': { type: 'string', default: '19' },
    'side-by-side-rounds': { type: 'string', default: '6' },
    out: { type: 'string', default: join(ROOT, 'bench', 'results', 'liveness.json') },
  },
});
const clientNice = Number(args['client-nice']);
if (!Number.isInteger(clientNice) || clientNice < -20 || clientNice > 19) {
  throw new Error(`--client-nice ${args['client-nice']}: must be an integer from -20 to 19 (0 leaves the clients at the server's priority)`);
}

interface Scale {
  label: string;
  /** Raw TCP with the 8-byte wire format (arms.ts), or real WebSocket connections through `ws` (ws-arms.ts). */
  transport: 'tcp' | 'ws';
  arms: readonly AnyArm[];
  processes: number;
  perProcess: number;
  periodMs: number;
  rounds: number;
  loopDelayTarget: boolean;
  /** Rounds with the compared arms at the same time (side-by-side.ts), after the rounds one after another; 0: none. */
  sideBySideRounds: number;
}

function settingsFor(periodMs: number): ArmSettings {
  if (periodMs < 2000 || periodMs % 1000 !== 0) throw new Error(`--period must be whole seconds, at least 2 s (kernel keepalive takes whole seconds), got ${periodMs} ms`);
  return {
    periodMs,
    timeoutMs: periodMs / 2,
    tickMs: 100,
    // Three probes a second apart, as commonly recommended. A single probe is not enough here: the kernel sends the
    // probes of connections that fell silent together in one burst, and loopback drops what exceeds its backlog
    // (net.core.netdev_max_backlog, 1000): with count 1, 10 000 idle connections lost a quarter of them.
    keepalive: { idle: periodMs, interval: 1000, count: 3 },
  };
}

/** Long enough for the slowest arm's verdict (2 periods, or keepalive idle + 3 s) and a second more. */
function windowMs(settings: ArmSettings): number {
  const { keepalive } = settings;
  return Math.max(2 * settings.periodMs, keepalive.idle + keepalive.interval * keepalive.count) + 1000;
}

class Pair {
  constructor(readonly lane: number, readonly server: WorkerChannel, readonly client: WorkerChannel, readonly port: number) {}
}

async function startPairs(count: number, transport: Scale['transport']): Promise<Pair[]> {
  const pairs: Pair[] = [];
  const prefix = transport === 'ws' ? 'ws-' : '';
  for (let lane = 0; lane < count; lane++) {
    const server = new WorkerChannel(`server ${lane}`, spawnWorker(`${prefix}server-worker.js`, ['--expose-gc']));
    const clientProcess = spawnWorker(`${prefix}client-worker.js`, []);
    // The load generator must not take the CPU from the server it measures (on a real server the peers are other
    // machines): with 12 processes on 2 cores, equal priority let every ping a server wrote hand the CPU to the client
    // it woke, and a sweep of 64 writes lasted tens of milliseconds of wall time for one of CPU.
    if (clientNice !== 0) setPriority(clientProcess.pid!, clientNice);
    const client = new WorkerChannel(`client ${lane}`, clientProcess);
    pairs.push(new Pair(lane, server, client, await server.request<number>('listen')));
  }
  return pairs;
}

function spawnWorker(file: string, execArgv: string[]): ChildProcess {
  // LIFELINE_BENCH_SERVER_ARGS adds node flags to the server workers, e.g. --cpu-prof to see where an arm spends.
  const extra = file.includes('server') ? (process.env.LIFELINE_BENCH_SERVER_ARGS ?? '').split(' ').filter(Boolean) : [];
  return fork(join(HERE, file), [], { execArgv: [...execArgv, ...extra], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

let generation = 0;

/** Runs one arm on every pair, or (side by side) each pair's own arm at the same time: `armOf` says which. */
async function runArm(pairs: Pair[], scale: Scale, armOf: (pair: Pair) => AnyArm, settings: ArmSettings, cut: VictimCut, victims: number) {
  generation++;
  const count = scale.perProcess;
  const busyEveryMs = settings.periodMs / 4;
  const ready = pairs.map((pair) => pair.server.request('expect', { count: count + victims }));
  await Promise.all(pairs.map((pair) => pair.client.request('connect', {
    host: '127.0.0.1', port: pair.port, count, victims, busyFraction: Number(args.busy), busyEveryMs, periodMs: settings.periodMs, generation, lane: pair.lane,
  })));
  await Promise.all(ready);
  const before = await all(pairs, (pair) => pair.server.request<SettledMemory>('memory'));
  // Spread over one period, the installs leave pings flowing at their steady rate from the end of it on.
  await all(pairs, (pair) => pair.server.request('install', { arm: armOf(pair), settings, spreadMs: settings.periodMs }));
  // Then one more period before anything is measured: the arms that ping a period after a connection was added
  // (lifeline, the recipe, the timers) send their first pings only now, and V8 optimises their ping and pong paths as
  // they run. Measured at once, that warm-up (TurboFan compiling the engine and Node's write path, deopts and
  // reopts) fell inside the window for those arms but not for io-floor, which pings from the first tick.
  await sleep(settings.periodMs);
  const after = await all(pairs, (pair) => pair.server.request<SettledMemory>('memory'));
  // The victims die before the CPU window, not in it: their last messages and each arm's first verdicts run code
  // paths V8 has not seen (it deoptimises and recompiles them, and a destroyed socket deoptimises Node's write path),
  // a one-off cost (about 90 ms more compilation in lifeline's window than in io-floor's at 19 000) that a window of
  // a few periods would charge as per-period cost. Their verdicts are recorded whenever they come.
  const killed = await all(pairs, (pair) => pair.client.request<Record<string, number>>('kill'));
  cut.cut();
  await sleep(windowMs(settings));
  // Every arm's window then follows the same destroyed victims (server-worker.ts reapVictims: the deoptimisation that
  // follows). Over ws there is no floor to measure against, and both arms that ping convict.
  if (scale.transport === 'tcp') await all(pairs, (pair) => pair.server.request('reapVictims'));
  await all(pairs, (pair) => pair.server.request('windowStart'));
  await sleep(windowMs(settings));
  const windows = await all(pairs, (pair) => pair.server.request<Omit<WorkerWindow, 'memoryBefore' | 'memoryAfter' | 'pingCheck'>>('windowEnd'));
  // Only the raw TCP clients can tell (the server stamps its PINGs; lifeline/ws's pings carry the adapter's own payload).
  const pingChecks = scale.transport === 'tcp' ? await all(pairs, (pair) => pair.client.request<PingCheck>('pingCheck')) : null;
  cut.restore();
  await all(pairs, (pair) => pair.server.request('teardown'));
  await all(pairs, (pair) => pair.client.request('teardown'));
  await sleep(300);
  return {
    windows: windows.map((w, i) => ({ ...w, memoryBefore: before[i]!, memoryAfter: after[i]!, pingCheck: pingChecks?.[i] ?? null }) as WorkerWindow),
    killed,
  };
}

function all<T>(pairs: Pair[], call: (pair: Pair) => Promise<T>): Promise<T[]> {
  return Promise.all(pairs.map(call));
}

async function runScale(scale: Scale, victims: number, cut: VictimCut) {
  const settings = settingsFor(scale.periodMs);
  const connections = scale.processes * (scale.perProcess + victims);
  const rounds: ArmRound[][] = [];
  for (let r = 1; r <= scale.rounds; r++) {
    const windows = new Map<AnyArm, WorkerWindow[]>();
    const killed = new Map<AnyArm, Record<string, number>>();
    for (const arm of scale.arms) {
      const started = Date.now();
      // Fresh processes for every arm: an arm measured late in a round would otherwise inherit the heap, garbage
      // and JIT state of the arms before it (the first runs showed the later arms dearer whatever they were).
      const pairs = await startPairs(scale.processes, scale.transport);
      try {
        const result = await runArm(pairs, scale, () => arm, settings, cut, victims);
        windows.set(arm, result.windows);
        killed.set(arm, Object.assign({}, ...result.killed) as Record<string, number>);
      } finally {
        await stopPairs(pairs);
      }
      console.error(`  ${scale.label} round ${r} ${arm}: ${((Date.now() - started) / 1000).toFixed(0)} s`);
    }
    const rows = summariseRound(windows, killed, settings, connections);
    rounds.push(rows);
    printRound(scale.label, r, rows);
  }
  const lifeline = scale.transport === 'ws' ? WsArmNames.LIFELINE_WS : ArmNames.LIFELINE;
  return {
    ...scale, connections, victimsPerProcess: victims, settings, rounds, summary: summariseRounds(rounds), ratios: ratios(rounds, lifeline),
    resolution: rounds.map(roundResolution),
  };
}

/**
 * The rounds side by side (side-by-side.ts): the compared arms at the same time in their own lanes, rotated over the
 * lanes from round to round. Each arm's figures are per its own connections (its lanes'); there is no `none` arm
 * beside them, so no heap or added loop delay.
 */
async function runSideBySide(scale: Scale, victims: number, cut: VictimCut, rounds: number) {
  const arms = sideBySideArms(scale.arms as ArmName[]);
  const settings = settingsFor(scale.periodMs);
  const connections = (scale.processes / arms.length) * (scale.perProcess + victims);
  const results: ArmRound[][] = [];
  const lanes: ArmName[][] = [];
  for (let r = 1; r <= rounds; r++) {
    const started = Date.now();
    const byLane = laneArms(arms, scale.processes, r);
    const pairs = await startPairs(scale.processes, scale.transport);
    let result;
    try {
      result = await runArm(pairs, scale, (pair) => byLane[pair.lane]!, settings, cut, victims);
    } finally {
      await stopPairs(pairs);
    }
    const windows = new Map<AnyArm, WorkerWindow[]>(arms.map((arm) => [arm, []]));
    const killed = new Map<AnyArm, Record<string, number>>(arms.map((arm) => [arm, {}]));
    byLane.forEach((arm, lane) => {
      windows.get(arm)!.push(result.windows[lane]!);
      Object.assign(killed.get(arm)!, result.killed[lane]);
    });
    console.error(`  ${scale.label} side by side round ${r}: ${((Date.now() - started) / 1000).toFixed(0)} s`);
    const rows = summariseRound(windows, killed, settings, connections);
    results.push(rows);
    lanes.push(byLane);
    printSideBySide(scale.label, r, rows, byLane);
  }
  return {
    arms, connectionsPerArm: connections, lanes, rounds: results, summary: summariseRounds(results), resolution: results.map(roundResolution),
  };
}

function printSideBySide(label: string, r: number, rows: ArmRound[], lanes: readonly AnyArm[]) {
  console.log(`\n${label}, side by side, round ${r} (lanes: ${lanes.join(' ')})`);
  printRows(rows, false);
  console.log('per process: CPU ms in the window = user + system = main thread + other threads (main-thread GC pauses ms / count)');
  for (const row of rows) {
    console.log(`  ${row.arm.padEnd(18)} ${row.byProcess.map((p) => `${p.cpuMs} = ${p.userMs} + ${p.systemMs} = ${p.mainThreadMs} + ${p.otherThreadsMs} (${p.gcPauseMs}/${p.gcCount})`).join('  ')}`);
  }
}

/** Disconnecting lets a worker exit by itself (and write a --cpu-prof profile); kill what lingers. */
async function stopPairs(pairs: Pair[]): Promise<void> {
  await Promise.all(pairs.flatMap((pair) => [pair.server.child, pair.client.child]).map(async (child) => {
    if (child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.disconnect();
    if ((await Promise.race([exited, sleep(10_000, 'late')])) === 'late') child.kill('SIGKILL');
  }));
}

/** Per round: each arm's CPU and bookkeeping divided by lifeline's. */
function ratios(rounds: ArmRound[][], lifelineArm: AnyArm) {
  return rounds.map((rows) => {
    const lifeline = rows.find((row) => row.arm === lifelineArm);
    if (!lifeline) return {};
    return Object.fromEntries(rows.filter((row) => row.arm !== lifelineArm).map((row) => [row.arm, {
      cpu: round(row.cpuMsPer1000PerPeriod / lifeline.cpuMsPer1000PerPeriod),
      bookkeeping: row.bookkeepingMsPer1000PerPeriod !== null && lifeline.bookkeepingMsPer1000PerPeriod
        ? round(row.bookkeepingMsPer1000PerPeriod / lifeline.bookkeepingMsPer1000PerPeriod) : null,
    }]));
  });
}

/**
 * Issue #8 sets no cost targets for lifeline/ws; what must hold is correctness: no ping to a busy connection, every
 * victim found, none early, no live connection convicted.
 */
function missedWsChecks(label: string, rounds: ArmRound[][]): string[] {
  const missed: string[] = [];
  rounds.forEach((rows, r) => {
    const row = rows.find((candidate) => candidate.arm === WsArmNames.LIFELINE_WS);
    if (!row) return;
    const at = `${label} round ${r + 1}`;
    if (row.lifetimePingsToBusy > 0) missed.push(`${at}: lifeline-ws pinged busy connections ${row.lifetimePingsToBusy} times`);
    if (row.detection && row.detection.detected < row.detection.victims) missed.push(`${at}: lifeline-ws found ${row.detection.detected} of ${row.detection.victims} victims`);
    if (row.detection && row.detection.early > 0) missed.push(`${at}: lifeline-ws declared ${row.detection.early} victims dead early`);
    if (row.falsePositives > 0) missed.push(`${at}: lifeline-ws declared ${row.falsePositives} live connections dead`);
  });
  return missed;
}

/** One round's rows as a text table; `memory` adds heap, RSS and the added loop delay (not side by side: no baseline). */
function printRows(rows: ArmRound[], memory: boolean) {
  console.log(`arm                 cpu/1k/P  bookkeep${memory ? '  heap B/c  no code  rss B/c' : ''}  loop p99${memory ? '  +p99 ' : ''}   pings/c/P  after data/busy  detect err p50/max (ms)  early  false+`);
  for (const row of rows) {
    const d = row.detection;
    const memoryCells = memory
      ? [(row.heapBytesPerConnection?.toFixed(0) ?? '-').padStart(9), (row.stateBytesPerConnection?.toFixed(0) ?? '-').padStart(8), (row.rssBytesPerConnection?.toFixed(0) ?? '-').padStart(8)]
      : [];
    const addedCell = memory ? [(row.addedLoopDelayP99Ms?.toFixed(2) ?? '-').padStart(6)] : [];
    console.log([
      row.arm.padEnd(18),
      row.cpuMsPer1000PerPeriod.toFixed(2).padStart(9),
      (row.bookkeepingMsPer1000PerPeriod?.toFixed(2) ?? '-').padStart(9),
      ...memoryCells,
      row.loopDelayMs.p99.toFixed(2).padStart(9),
      ...addedCell,
      row.pingsPerConnectionPerPeriod.toFixed(3).padStart(10),
      `${pingsAfterData(row) ?? '-'}/${row.lifetimePingsToBusy}`.padStart(15),
      (d ? `${d.detected}/${d.victims} ${d.errorMs.p50}/${d.errorMs.max}` : '-').padStart(24),
      String(d?.early ?? '-').padStart(6),
      String(row.falsePositives).padStart(7),
    ].join(' '));
  }
}

function printRound(label: string, r: number, rows: ArmRound[]) {
  console.log(`\n${label}, round ${r}`);
  printRows(rows, true);
  if (rows[0] && rows[0].byProcess.length > 1) {
    console.log('per process: loop p99 ms (CPU ms in the window)');
    for (const row of rows) console.log(`  ${row.arm.padEnd(18)} ${row.byProcess.map((p) => `${p.loopDelayP99Ms.toFixed(2)} (${p.cpuMs})`).join('  ')}`);
  }
  const resolution = roundResolution(rows);
  if (resolution) {
    const added = resolution.addedLoopDelayP99Ms === null ? '' : `, added loop p99 ${resolution.addedLoopDelayP99Ms} ms`;
    console.log(`resolution of this round (io-floor-again minus io-floor, the same arm twice): CPU ${resolution.cpuMsPer1000PerPeriod} ms /1k /P${added}`);
  }
}

async function main() {
  enterOwnNetworkNamespace();
  const cut = new VictimCut(VICTIM_RANGE);
  const arms = args.arms.split(',').map((name) => {
    if (!ALL_ARMS.includes(name as ArmName)) throw new Error(`unknown arm ${name}; arms: ${ALL_ARMS.join(', ')}`);
    return name as ArmName;
  });
  const victims = Number(args.victims);
  const total = Number(args.connections);
  const processes = Number(args.processes);
  const scales: Scale[] = [];
  const sideBySideRounds = Number(args['side-by-side-rounds']);
  if (!Number.isInteger(sideBySideRounds) || sideBySideRounds < 0) {
    throw new Error(`--side-by-side-rounds ${args['side-by-side-rounds']}: must be a whole number (0 skips them)`);
  }
  const tcp = { transport: 'tcp' as const, arms, processes: 1, loopDelayTarget: false, sideBySideRounds: 0 };
  for (const n of args.scale.split(',').filter(Boolean).map(Number)) {
    scales.push({ ...tcp, label: `${n} in 1 process`, perProcess: n, periodMs: parseDuration(args['scale-period'], '--scale-period'), rounds: Number(args['scale-rounds']) });
  }
  if (total > 0) {
    // Checked now, not after the hour of rounds that come first.
    if (sideBySideRounds > 0) laneArms(sideBySideArms(arms), processes, 1);
    scales.push({
      ...tcp, label: `${total} in ${processes} processes`, processes, perProcess: Math.ceil(total / processes), periodMs: parseDuration(args.period, '--period'),
      rounds: Number(args.rounds), loopDelayTarget: true, sideBySideRounds,
    });
  }
  const overWs = Number(args.ws);
  if (overWs > 0) {
    scales.push({ label: `${overWs} over ws in 1 process`, transport: 'ws', arms: ALL_WS_ARMS, processes: 1, perProcess: overWs, periodMs: parseDuration(args['ws-period'], '--ws-period'), rounds: Number(args['ws-rounds']), loopDelayTarget: false, sideBySideRounds: 0 });
  }
  const machine = machineInfo(ROOT, 'src');
  const results = [];
  const missed: string[] = [];
  // With two or more scales in one process, the heap target is judged on lifeline's slope over them (below): each
  // one's figure per connection also holds the per-process constant spread over its connections (results.ts, marginalHeap).
  const onOneProcess = (scale: { transport: string; processes: number }) => scale.transport === 'tcp' && scale.processes === 1;
  const heapBySlope = scales.filter(onOneProcess).length >= 2;
  for (const scale of scales) {
    console.error(`${scale.label}: period ${scale.periodMs} ms, ${scale.rounds} rounds, arms ${scale.arms.join(' ')}`);
    const result = await runScale(scale, victims, cut);
    const sideBySide = scale.sideBySideRounds > 0 ? await runSideBySide(scale, victims, cut, scale.sideBySideRounds) : null;
    results.push({ ...result, sideBySide });
    if (sideBySide) missed.push(...missedTargets(`${scale.label} side by side`, sideBySide.rounds, result.settings, { loopDelay: false, heap: false }));
    missed.push(...(scale.transport === 'tcp'
      ? missedTargets(scale.label, result.rounds, result.settings, { loopDelay: scale.loopDelayTarget, heap: !(heapBySlope && onOneProcess(scale)) })
      : missedWsChecks(scale.label, result.rounds)));
  }
  const oneProcess = results.filter(onOneProcess);
  const heapSlope = marginalHeap(oneProcess);
  if (heapSlope) {
    const over = `${oneProcess.map((result) => result.perProcess).join(', ')} connections in one process`;
    console.log(`\nheap per connection as a slope over ${over} (the per-process constant apart):`);
    for (const row of heapSlope) console.log(`  ${row.arm.padEnd(18)} ${String(row.bytesPerConnection).padStart(7)} B per connection, ${(row.constantBytes / 1024).toFixed(0).padStart(5)} KiB per process`);
    if (heapBySlope) missed.push(...missedHeapSlope(heapSlope, `heap slope over ${over}`));
  }
  const micro = args['no-micro'] ? null : wheelMillion(1_000_000);
  if (micro) console.log(`\ntiming wheel alone, ${micro.entries} entries: ${micro.bytesPerEntry} B/entry (${micro.bytesPerEntryKeepingDueTicks} keeping due ticks), schedule ${micro.nsPerSchedule} ns, cancel ${micro.nsPerCancel} ns, expiry ${micro.nsPerExpiry} ns`);
  const out = {
    benchmark: 'liveness',
    // An empty argument (--scale '') is shown quoted, so that the command can be run again as printed.
    command: `npm run bench:liveness -- ${process.argv.slice(2).map((arg) => (arg === '' ? "''" : arg)).join(' ')}`.trim(),
    machine,
    workload: { busyFraction: Number(args.busy), busyMessageEvery: 'period / 4', victimsPerProcess: victims, messageBytes: 8, clientNice },
    scales: results,
    marginalHeap: heapSlope && { scales: oneProcess.map((result) => result.label), arms: heapSlope },
    timingWheel: micro,
    missedTargets: missed,
  };
  for (const result of results) {
    const period = `period ${result.settings.periodMs / 1000} s`;
    if (result.rounds.length) console.log(`\n${result.label} (${period}, median of ${result.rounds.length} rounds)\n\n${markdownTable(result.summary)}`);
    const side = result.sideBySide;
    if (side) console.log(`\n${result.label}, side by side (${period}, ${side.connectionsPerArm} connections per arm, median of ${side.rounds.length} rounds)\n\n${markdownTable(side.summary)}`);
  }
  mkdirSync(dirname(args.out), { recursive: true });
  writeFileSync(args.out, `${JSON.stringify(out, null, 2)}\n`);
  console.log(`\nwrote ${args.out}`);
  if (missed.length) {
    console.error(`\nMISSED TARGETS:\n  ${missed.join('\n  ')}`);
    process.exit(1);
  }
  console.log('all lifeline targets met');
}

await main();

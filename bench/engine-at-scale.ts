/**
 * The heartbeat engine's cost per operation at scale, with the CPU caches cold, in the order connections come and in
 * a random one (issue #6: where lifeline's bookkeeping goes on a loaded server).
 *
 *   npm run bench:engine-at-scale [-- --connections 10000,100000,1000000 --runs 5 --out FILE]
 *
 * Side by side at 100 000 (docs/benchmarks.md), lifeline's engine cost several times what bench:heartbeat measures per
 * operation: there the same few thousand connections are touched in order, on a warm cache. On a server, between two
 * visits to one connection the sockets' own memory has evicted the engine's, and pongs arrive in whatever order the
 * peers answer. Each operation then pays a cache miss for every array it reads (the engine keeps one typed array per
 * field, and the wheel its links in two more), which this measures, so that a change of layout can be judged here
 * rather than in the hour-long, noisy bench:liveness.
 *
 * For each size N: an engine on a ManualClock (interval 6 s, timeout 3 s, tick 100 ms, as bench:liveness at 100 000)
 * holds N connections. Each run advances the clock a little over an interval (the sweep examines and pings every connection;
 * sendPing only stores the nonce), then answers every ping (pong), then touches every connection, in index order or
 * in a fixed random permutation, timing each pass separately. Before each timed pass a 64 MiB buffer is read through,
 * evicting the caches, as a server's other work does. Reported: ns per ping (the sweep), per pong and per touch, the
 * best and the median of --runs runs. A random pong order also leaves the wheel's buckets in random order, so the next
 * sweep visits memory at random too.
 *
 * Writes bench/results/engine-at-scale.json (or --out). It measures; it has no target of its own.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ManualClock } from '../src/clock.js';
import { HeartbeatEngine, type HeartbeatHandle } from '../src/liveness/heartbeat.js';
import { machineInfo } from './machine.js';
import { median, nsSince, round } from './measure.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const INTERVAL_MS = 6000;
const TICK_MS = 100;

const { values: args } = parseArgs({
  options: {
    connections: { type: 'string', default: '10000,100000,1000000' },
    runs: { type: 'string', default: '5' },
    out: { type: 'string', default: join(ROOT, 'bench', 'results', 'engine-at-scale.json') },
  },
});
const sizes = args.connections.split(',').map(Number);
const runs = Number(args.runs);
for (const n of sizes) if (!Number.isInteger(n) || n < 1) throw new Error(`--connections: whole numbers of at least 1, got ${args.connections}`);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a whole number of at least 1, got ${args.runs}`);

/** Larger than any last-level cache here: reading it through leaves none of the engine's lines cached. */
const evictor = new Float64Array((64 * 1024 * 1024) / 8);
let sink = 0;
function evictCaches(): void {
  for (let i = 0; i < evictor.length; i += 8) sink += evictor[i]!;
}

/** A fixed permutation (xorshift32 from a constant seed), so that every run and every commit sees the same order. */
function permutation(n: number): Uint32Array {
  const order = Uint32Array.from({ length: n }, (_, i) => i);
  let state = 0x9e3779b9;
  for (let i = n - 1; i > 0; i--) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    const j = (state >>> 0) % (i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

function timedNs(pass: () => void): number {
  evictCaches();
  const start = process.hrtime.bigint();
  pass();
  return nsSince(start);
}

function measure(n: number, order: 'in order' | 'random') {
  const clock = new ManualClock(0);
  const nonces = new Uint32Array(n);
  let pings = 0;
  const engine = new HeartbeatEngine<number>({
    interval: INTERVAL_MS,
    timeout: INTERVAL_MS / 2,
    tick: TICK_MS,
    clock,
    initialCapacity: n,
    sendPing: (id, nonce) => {
      nonces[id] = nonce;
      pings++;
    },
  });
  // A sweep pass runs the clock past every connection's ping: due an interval after its last touch plus its share of
  // the jitter, sent at the end of that tick.
  const sweepMs = INTERVAL_MS + engine.options.jitter * INTERVAL_MS + 2 * TICK_MS;
  const handles = new Float64Array(n);
  for (let i = 0; i < n; i++) handles[i] = engine.add(i);
  const visit = order === 'random' ? permutation(n) : Uint32Array.from({ length: n }, (_, i) => i);
  const perPing: number[] = [];
  const perPong: number[] = [];
  const perTouch: number[] = [];
  // One run unmeasured first: V8 compiles the paths, and the wheel takes the visiting order from the pongs.
  for (let run = 0; run <= runs; run++) {
    const pingsBefore = pings;
    const sweepNs = timedNs(() => clock.advance(sweepMs));
    const pinged = pings - pingsBefore;
    if (pinged !== n) throw new Error(`${n} connections, ${order}: the sweep pinged ${pinged}`);
    let answered = 0;
    const pongNs = timedNs(() => {
      for (let k = 0; k < n; k++) {
        const i = visit[k]!;
        if (engine.pong(handles[i] as HeartbeatHandle, nonces[i]!)) answered++;
      }
    });
    if (answered !== n) throw new Error(`${n} connections, ${order}: ${answered} pongs matched their ping`);
    clock.advance(50);
    const touchNs = timedNs(() => {
      for (let k = 0; k < n; k++) engine.touch(handles[visit[k]!] as HeartbeatHandle);
    });
    if (run === 0) continue;
    perPing.push(sweepNs / n);
    perPong.push(pongNs / n);
    perTouch.push(touchNs / n);
  }
  if (engine.size !== n) throw new Error(`${n} connections, ${order}: ${engine.size} left alive`);
  engine.clear();
  const figures = (values: number[]) => ({ best: round(Math.min(...values)), median: round(median(values)) });
  return { connections: n, order, nsPerPing: figures(perPing), nsPerPong: figures(perPong), nsPerTouch: figures(perTouch) };
}

const results = [];
for (const n of sizes) {
  for (const order of ['in order', 'random'] as const) {
    const row = measure(n, order);
    results.push(row);
    console.log(`${String(n).padStart(8)} ${order.padEnd(8)}  ping ${row.nsPerPing.best} ns (median ${row.nsPerPing.median}), ` +
      `pong ${row.nsPerPong.best} (${row.nsPerPong.median}), touch ${row.nsPerTouch.best} (${row.nsPerTouch.median})`);
  }
}
const out = {
  benchmark: 'engine-at-scale',
  command: `npm run bench:engine-at-scale -- ${process.argv.slice(2).join(' ')}`.trim(),
  machine: machineInfo(ROOT, 'src'),
  parameters: { intervalMs: INTERVAL_MS, timeoutMs: INTERVAL_MS / 2, tickMs: 100, runs, evictBytes: evictor.byteLength },
  results,
};
// Reading what the evictions summed keeps V8 from dropping them as dead code.
if (Number.isNaN(sink)) throw new Error('the eviction buffer held NaN');
mkdirSync(dirname(args.out), { recursive: true });
writeFileSync(args.out, `${JSON.stringify(out, null, 2)}\n`);
console.log(`wrote ${args.out}`);

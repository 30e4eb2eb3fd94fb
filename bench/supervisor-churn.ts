/**
 * Supervisor churn benchmark.
 *
 * Claim under test: "The server holds 5000 concurrent connections on loopback and reaps all of them when their
 * peers vanish, with no growth in memory after 20 rounds of connect/kill."
 *
 * The parent runs a Supervisor (keepalive idle 60 s, interval 10 s, count 6; default sampling: every second,
 * TCP_INFO of every quiet connection) on 127.0.0.1. Each round:
 *   1. connect: it forks this same file as a child (`--child`), which opens N connections in batches; after each
 *      batch it waits for the parent's `go`, sent once supervisor.size has caught up (paced, so the listen
 *      backlog never overflows; --burst turns pacing off). The round is connected when the child has seen all
 *      N connect and supervisor.size === N.
 *   2. hold: heap and RSS after GC with all N open, then --hold ms (default 2 s, two sampling ticks) during which
 *      none may die; the longest event loop delay in this phase is the cost of one sampling tick.
 *   3. kill: SIGKILL to the child; its kernel closes every socket (FIN, or RST with unread data), and the parent
 *      waits for supervisor.size === 0, counting `dead` reasons.
 *   4. measure: heapUsed and RSS after two forced GCs, open descriptors.
 *
 *   node --expose-gc dist/bench/supervisor-churn.js [--rounds 20] [--connections 5000] [--batch 200] [--hold 2000]
 *        [--burst] [--connect-timeout 60000] [--reap-timeout 30000] [--deadline 170000] [--out FILE]
 *
 * Prints a row per round and a summary, writes bench/results/supervisor-churn.json (or --out; a quick run with
 * other parameters overwrites it unless given --out), and exits 1 naming every check that failed.
 */
import { machineInfo } from './machine.js';
import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { dirname, join, relative, resolve } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setImmediate as nextImmediate, setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Supervisor, type SupervisorEvents } from '../src/server/supervisor.js';
import type { ConnectionSnapshot, DeadPeer } from '../src/socket/watched-connection.js';

const SCRIPT = fileURLToPath(import.meta.url);
/** dist/bench/supervisor-churn.js -> the repository root. */
const ROOT = resolve(dirname(SCRIPT), '..', '..');
const KEEPALIVE = { idle: 60_000, interval: 10_000, count: 6 } as const;
const MiB = 1024 * 1024;

/*
 * Checks and thresholds, and why.
 *
 * Per round (the run stops at the first round that fails to connect, hold or reap: the state is unknown then):
 * - all N accepted (supervisor.size === N within --connect-timeout), and the kernel confirmed keepalive on each
 *   (read back with getsockopt), with no `warning` event;
 * - none dies during the hold;
 * - all reaped (supervisor.size === 0 within --reap-timeout), one `dead` event per connection, every reason
 *   `eof` or `reset` (what a killed process's kernel sends);
 * - open descriptors back to round 1's count (within FD_GROWTH_LIMIT).
 *
 * HEAP_GROWTH_LIMIT: heapUsed after full GC at the last round may exceed the baseline round (round 2; round 1
 * warms up the JIT, inline caches and lazily created internals) by at most 1 MiB. Holding a connection costs
 * about 2 KB of heap (measured: heap with N held minus heap after the reap), so a reaped connection that stays
 * reachable (a map entry, a listener, a closure over the socket) leaks KBs. With 5000 connections a round over
 * the 18 rounds from 2 to 20, 1 MiB is 12 bytes per reaped connection: a leak of even 200 bytes per connection
 * would show as ~17 MiB. What is not a leak stays below it: on the reference machine heapUsed moved by +74 KiB
 * from round 2 to 20; a 60-round run of 100 connections drifted ~10 KiB a round early on (code and feedback
 * being optimized) and flattened after ~45 rounds, the same drift at 100 as at 5000 connections, and `--control`
 * (no lifeline at all) drifts as much. The limit is sized for about 20 rounds: a 120-round run of 500 connections
 * ended +854 KiB up on that drift alone, so give much longer runs more room (or judge the slope).
 *
 * FD_GROWTH_LIMIT: a leaked socket keeps its descriptor, so a leak would be counted in thousands; 8 leaves room
 * for descriptors Node opens lazily (none were seen in practice).
 *
 * Reap timeout (default 30 s): SIGKILL makes the peer's kernel send FIN (or RST) at once, so on loopback all
 * connections are reaped in well under a second. Keepalive would need idle 60 s + 6 x 10 s = 2 min to find a
 * silent peer, so a reap inside 30 s can only come from the FIN/RST path the claim is about.
 *
 * Connect timeout (default 60 s): 5000 paced loopback handshakes take about a second; 60 s only guards against a
 * hang (SYN drops, a stuck accept loop). The whole run is bounded by --deadline (default 170 s; it takes ~65 s).
 *
 * RSS is reported, not judged: glibc and V8 keep freed pages, so RSS moves by MiBs with no leak. A native leak
 * big enough to matter (e.g. a TCP_INFO buffer per sample) would show as a steady climb in the table.
 */
const HEAP_GROWTH_LIMIT = 1 * MiB;
const FD_GROWTH_LIMIT = 8;
const ALLOWED_REASONS = new Set(['eof', 'reset']);

interface Options {
  rounds: number;
  connections: number;
  batch: number;
  /** The child waits for the supervisor to accept each batch before sending the next (no --burst). */
  paced: boolean;
  /** Run the same rounds against PlainServer instead of a Supervisor: what the harness and Node cost alone. */
  control: boolean;
  /** How long all N are held open before the kill. */
  holdMs: number;
  connectTimeoutMs: number;
  reapTimeoutMs: number;
  deadlineMs: number;
  out: string;
}

type ChildMessage =
  | { type: 'batch'; connected: number }
  | { type: 'ready'; count: number; connectMs: number }
  | { type: 'error'; message: string; code: string | null };

interface RoundResult {
  round: number;
  /** Fork to supervisor.size === N. */
  connectMs: number | null;
  /** The child's own time from its first connect() to its last 'connect'. */
  childConnectMs: number | null;
  accepted: number;
  /** Accepted connections on which the kernel holds the requested keepalive (read back with getsockopt). */
  keepaliveConfirmed: number;
  warnings: number;
  peak: number;
  /** SIGKILL to supervisor.size === 0. */
  reapMs: number | null;
  /** SIGKILL to the first `dead` event. */
  firstDeadMs: number | null;
  dead: Record<string, number>;
  /** Size left after the reap wait (0 when all were reaped). */
  left: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  rss: number;
  fds: number;
  /** Handshakes the kernel dropped at the listener during the round (see listenDrops). */
  listenOverflows: number | null;
  /** heapUsed and RSS after GC while all N were held (the cost of holding them: minus heapUsed after the reap). */
  heapHeld: number | null;
  rssHeld: number | null;
  /** Event loop delay in the parent while connecting (accepting N, with sampling ticks) and while reaping, ms. */
  connectLagP99Ms: number;
  connectLagMaxMs: number;
  reapLagMaxMs: number;
  /** Longest event loop delay while the N connections were held: one sampling tick over all of them. */
  holdLagMaxMs: number | null;
  failure: string | null;
}

function parseOptions(): (Options & { child: false }) | { child: true; port: number; connections: number; batch: number; paced: boolean } {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '20' },
      connections: { type: 'string', default: '5000' },
      batch: { type: 'string', default: '200' },
      hold: { type: 'string', default: '2000' },
      'connect-timeout': { type: 'string', default: '60000' },
      'reap-timeout': { type: 'string', default: '30000' },
      deadline: { type: 'string', default: '170000' },
      out: { type: 'string', default: join(ROOT, 'bench', 'results', 'supervisor-churn.json') },
      child: { type: 'boolean', default: false },
      port: { type: 'string', default: '0' },
      burst: { type: 'boolean', default: false },
      control: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log('usage: node --expose-gc dist/bench/supervisor-churn.js [--rounds 20] [--connections 5000] [--batch 200]\n' +
      '         [--hold 2000] [--burst] [--control] [--connect-timeout MS] [--reap-timeout MS] [--deadline MS] [--out FILE]');
    process.exit(0);
  }
  const int = (name: string, text: string, min: number) => {
    const value = Number(text);
    if (!Number.isInteger(value) || value < min) {
      console.error(`--${name} must be an integer >= ${min}, got ${text}`);
      process.exit(2);
    }
    return value;
  };
  const connections = int('connections', values.connections, 1);
  const batch = int('batch', values.batch, 1);
  const paced = !values.burst;
  if (values.child) return { child: true, port: int('port', values.port, 1), connections, batch, paced };
  return {
    child: false,
    rounds: int('rounds', values.rounds, 1),
    connections,
    batch,
    paced,
    control: values.control,
    holdMs: int('hold', values.hold, 0),
    connectTimeoutMs: int('connect-timeout', values['connect-timeout'], 1),
    reapTimeoutMs: int('reap-timeout', values['reap-timeout'], 1),
    deadlineMs: int('deadline', values.deadline, 1),
    out: resolve(values.out),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Child: open N connections, report, and wait to be killed.

async function runChild(port: number, connections: number, batch: number, paced: boolean): Promise<void> {
  const send = (message: ChildMessage) => process.send?.(message);
  // If the parent dies, the IPC channel closes: leave instead of holding N sockets forever.
  process.on('disconnect', () => process.exit(3));
  // Paced: after each batch, wait for the parent's `go` (sent once the supervisor has accepted the batch).
  let go: () => void = () => {};
  process.on('message', (message: { type: string }) => {
    if (message.type === 'go') go();
  });
  const sockets: Socket[] = [];
  const started = performance.now();
  try {
    for (let first = 0; first < connections; first += batch) {
      const group: Promise<void>[] = [];
      for (let i = first; i < Math.min(connections, first + batch); i++) {
        group.push(new Promise<void>((resolveConnect, reject) => {
          // No localAddress: connect() picks a port unique for this 4-tuple (fast, and with tcp_tw_reuse=2, the
          // default, it reuses loopback ports in TIME_WAIT). bind() before connect was tried and is slow here: it
          // took 1 to 2 ms per socket once earlier rounds had left thousands of TIME_WAIT sockets. With
          // tcp_tw_reuse=0, 20 rounds of 5000 inside the 60 s of TIME_WAIT would need more ports than the ~28 000
          // ephemeral ones: the child would then report EADDRNOTAVAIL and the round fail.
          const socket = connect({ port, host: '127.0.0.1' });
          sockets.push(socket);
          socket.once('connect', () => resolveConnect());
          socket.once('error', reject);
        }));
      }
      await Promise.all(group);
      if (paced) {
        const accepted = new Promise<void>((resolveGo) => {
          go = resolveGo;
        });
        send({ type: 'batch', connected: sockets.length });
        await accepted;
      }
    }
  } catch (error) {
    const err = error as NodeJS.ErrnoException;
    send({ type: 'error', message: err.message, code: err.code ?? null });
    process.exit(2);
  }
  const connectMs = performance.now() - started;
  // Once connected, any error means the server dropped us: tell the parent.
  for (const socket of sockets) {
    socket.on('error', (error: NodeJS.ErrnoException) => send({ type: 'error', message: error.message, code: error.code ?? null }));
  }
  send({ type: 'ready', count: sockets.length, connectMs });
  // The sockets keep the process alive until the parent's SIGKILL.
}

// ---------------------------------------------------------------------------------------------------------------
// Parent.

function openFds(): number {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return -1;
  }
}

/**
 * The kernel's TcpExt counters of this network namespace that count handshakes the listener dropped: a full
 * accept queue (ListenOverflows) makes the client retransmit its SYN after 1 s, which shows as whole seconds in
 * the connect time.
 */
function listenDrops(): { overflows: number; drops: number } | null {
  const lines = readProc('/proc/net/netstat')?.split('\n').filter((line) => line.startsWith('TcpExt:'));
  if (!lines || lines.length < 2) return null;
  const names = lines[0]?.split(/\s+/) ?? [];
  const values = lines[1]?.split(/\s+/) ?? [];
  const value = (name: string) => Number(values[names.indexOf(name)] ?? NaN);
  return { overflows: value('ListenOverflows'), drops: value('ListenDrops') };
}

function readProc(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
}

function machine() {
  return {
    ...machineInfo(ROOT, 'src'),
    fdLimit: readProc('/proc/self/limits')?.match(/Max open files\s+(\d+)/)?.[1] ?? null,
    sysctls: {
      somaxconn: readProc('/proc/sys/net/core/somaxconn'),
      tcp_max_syn_backlog: readProc('/proc/sys/net/ipv4/tcp_max_syn_backlog'),
      ip_local_port_range: readProc('/proc/sys/net/ipv4/ip_local_port_range')?.replace(/\s+/, '-') ?? null,
      tcp_tw_reuse: readProc('/proc/sys/net/ipv4/tcp_tw_reuse'),
    },
  };
}

/** `promise`'s value, or 'timeout' after `ms`. Never leaves a timer behind. */
function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolveTimeout) => {
    timer = setTimeout(() => resolveTimeout('timeout'), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Memory after GC, the lowest of three samples 100 ms apart: a sampling tick or a socket teardown still under
 * way holds garbage for a moment (seen once: +7.5 MiB in one round only), a leak stays in all three.
 */
async function collectGarbage(): Promise<NodeJS.MemoryUsage> {
  const gc = globalThis.gc;
  if (!gc) throw new Error('run with node --expose-gc');
  let lowest: NodeJS.MemoryUsage | undefined;
  for (let sample = 0; sample < 3; sample++) {
    if (sample > 0) await new Promise((resolve) => setTimeout(resolve, 100));
    gc();
    await nextImmediate();
    gc();
    const usage = process.memoryUsage();
    if (!lowest || usage.heapUsed < lowest.heapUsed) lowest = usage;
  }
  return lowest as NodeJS.MemoryUsage;
}

const fmtMs = (ms: number | null) => (ms === null ? '-' : ms.toFixed(0));
const fmtMiB = (bytes: number) => (bytes / MiB).toFixed(2);
const fmtBytes = (bytes: number | null) => (bytes === null ? '-' : `${Math.round(bytes)} B`);
const fmtReasons = (dead: Record<string, number>) => Object.entries(dead).map(([reason, n]) => `${reason}:${n}`).join(' ') || '-';

const COLUMNS: [string, number][] = [
  ['round', 5], ['connect ms', 10], ['child ms', 8], ['reap ms', 7], ['1st dead', 8], ['ka ok', 5],
  ['held MiB', 8], ['heap MiB', 8], ['rss MiB', 7], ['fds', 4], ['lag ms', 6], ['tick ms', 7], ['overflows', 9], ['dead reasons', 0],
];

function row(cells: string[]): string {
  return cells.map((cell, i) => {
    const width = COLUMNS[i]?.[1] ?? 0;
    return width === 0 ? cell : cell.padStart(width);
  }).join('  ');
}

async function runParent(options: Options): Promise<number> {
  if (!globalThis.gc) {
    console.error('supervisor-churn: run with node --expose-gc dist/bench/supervisor-churn.js');
    return 2;
  }
  const startedAt = performance.now();
  const failures: string[] = [];
  const rounds: RoundResult[] = [];
  let child: ChildProcess | undefined;
  const killChild = () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  process.on('exit', killChild);
  process.on('SIGINT', () => {
    killChild();
    process.exit(130);
  });
  const deadline = setTimeout(() => {
    killChild();
    console.error(`supervisor-churn: FAIL: the run exceeded its deadline of ${options.deadlineMs} ms`);
    process.exit(1);
  }, options.deadlineMs);

  const supervisor = options.control ? (new PlainServer() as unknown as Supervisor) : new Supervisor({ keepalive: KEEPALIVE });
  const server = await supervisor.listen(0, '127.0.0.1');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the server has no TCP address');
  const port = address.port;

  // Per-round tallies, written by the event handlers.
  let current: RoundResult | undefined;
  let killedAt = 0;
  const odd: { reason: string; code: string | null; because: string }[] = [];
  supervisor.on('accepted', (snapshot) => {
    if (!current) return;
    current.accepted++;
    const kernel = snapshot.keepalive;
    if (kernel?.enabled && kernel.idle === KEEPALIVE.idle && kernel.interval === KEEPALIVE.interval && kernel.count === KEEPALIVE.count) {
      current.keepaliveConfirmed++;
    }
    if (supervisor.size > current.peak) current.peak = supervisor.size;
  });
  supervisor.on('dead', (dead) => {
    if (!current) return;
    current.dead[dead.reason] = (current.dead[dead.reason] ?? 0) + 1;
    if (current.firstDeadMs === null && killedAt > 0) current.firstDeadMs = performance.now() - killedAt;
    if (!ALLOWED_REASONS.has(dead.reason) && odd.length < 5) odd.push({ reason: dead.reason, code: dead.code, because: dead.because });
  });
  supervisor.on('warning', ({ error }) => {
    if (current) current.warnings++;
    if (odd.length < 5) odd.push({ reason: 'warning', code: (error as NodeJS.ErrnoException).code ?? null, because: error.message });
  });

  /** Resolves with the time supervisor.size satisfied `test` (checked on each `event`). */
  const sizeReaches = (test: (size: number) => boolean, event: 'accepted' | 'dead') => new Promise<number>((resolveSize) => {
    if (test(supervisor.size)) return resolveSize(performance.now());
    const check = () => {
      if (!test(supervisor.size)) return;
      supervisor.off(event, check);
      resolveSize(performance.now());
    };
    supervisor.on(event, check);
  });

  const n = options.connections;
  // One histogram per phase, each reset and enabled once a round: re-enabling a disabled one counts the gap.
  // They record the time between 1 ms timer ticks, so a stall of X ms shows as about X + 1 ms: lag() takes 1 off.
  const connectDelay = monitorEventLoopDelay({ resolution: 1 });
  const holdDelay = monitorEventLoopDelay({ resolution: 1 });
  const reapDelay = monitorEventLoopDelay({ resolution: 1 });
  const lag = (nanoseconds: number) => Math.max(0, nanoseconds / 1e6 - 1);
  console.log(`supervisor-churn${options.control ? ' (CONTROL: plain net.Server, no lifeline)' : ''}: ${options.rounds} rounds x ${n} connections on 127.0.0.1:${port}, ${options.paced ? 'paced ' : ''}batches of ${options.batch}, ` +
    `${options.control ? 'no keepalive, no sampling' : `keepalive ${KEEPALIVE.idle / 1000}s/${KEEPALIVE.interval / 1000}s/${KEEPALIVE.count}`}, node ${process.version}`);
  console.log(row(COLUMNS.map(([name]) => name)));

  for (let index = 1; index <= options.rounds; index++) {
    const round: RoundResult = {
      round: index, connectMs: null, childConnectMs: null, accepted: 0, keepaliveConfirmed: 0,
      warnings: 0, peak: 0, reapMs: null, firstDeadMs: null, dead: {}, left: 0, heapUsed: 0, heapTotal: 0, external: 0,
      arrayBuffers: 0, rss: 0, fds: 0, listenOverflows: null, heapHeld: null, rssHeld: null,
      connectLagP99Ms: 0, connectLagMaxMs: 0, reapLagMaxMs: 0, holdLagMaxMs: null, failure: null,
    };
    current = round;
    killedAt = 0;
    connectDelay.reset();
    connectDelay.enable();
    const dropsBefore = listenDrops();

    // Connect: the child reports ready, and the supervisor must see all N.
    const allAccepted = sizeReaches((size) => size === n, 'accepted');
    const spawnedAt = performance.now();
    const proc = fork(SCRIPT, ['--child', '--port', String(port), '--connections', String(n), '--batch', String(options.batch),
      ...(options.paced ? [] : ['--burst'])], {
      execArgv: [],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    child = proc;
    const exited = once(proc, 'exit');
    const closed = once(proc, 'close');
    let childReady: () => void = () => {};
    const ready = new Promise<void>((resolveReady) => {
      childReady = resolveReady;
    });
    const childFailed = new Promise<string>((resolveFailure) => {
      proc.on('message', (message: ChildMessage) => {
        if (message.type === 'batch') {
          void sizeReaches((size) => size >= message.connected, 'accepted').then(() => proc.connected && proc.send({ type: 'go' }));
        } else if (message.type === 'ready') {
          round.childConnectMs = message.connectMs;
          childReady();
        } else {
          resolveFailure(`child: ${message.code ?? ''} ${message.message}`.trim());
        }
      });
      proc.once('exit', (code, signal) => {
        if (killedAt === 0) resolveFailure(`child exited early (code ${code}, signal ${signal})`);
      });
    });
    // Both: all N accepted here, and the child saw all N connect (so no connect is still in flight at the kill).
    const bothSides = Promise.all([allAccepted, ready]).then(() => performance.now());
    const connected = await withTimeout(Promise.race([bothSides, childFailed]), options.connectTimeoutMs);
    if (typeof connected === 'number') round.connectMs = connected - spawnedAt;
    else round.failure = connected === 'timeout' ? `only ${supervisor.size} of ${n} connections after ${options.connectTimeoutMs} ms` : connected;

    // Hold: all N stay open for --hold ms while the supervisor samples them (TCP_INFO of each quiet connection
    // every second). None may die, and the loop delay in this phase is the cost of one sampling tick.
    connectDelay.disable();
    if (round.failure === null) {
      const held = await collectGarbage();
      round.heapHeld = held.heapUsed;
      round.rssHeld = held.rss;
      holdDelay.reset();
      holdDelay.enable();
      await sleep(options.holdMs);
      holdDelay.disable();
      round.holdLagMaxMs = lag(holdDelay.max);
      if (supervisor.size !== n) round.failure = `${n - supervisor.size} of ${n} connections died while held (${fmtReasons(round.dead)})`;
    }

    // Kill: the peer's kernel closes every socket; the supervisor must reap them all.
    reapDelay.reset();
    reapDelay.enable();
    killedAt = performance.now();
    const allReaped = sizeReaches((size) => size === 0, 'dead');
    proc.kill('SIGKILL');
    const reaped = await withTimeout(allReaped, options.reapTimeoutMs);
    if (typeof reaped === 'number') round.reapMs = reaped - killedAt;
    else round.failure ??= `${supervisor.size} of ${round.accepted} connections still open ${options.reapTimeoutMs} ms after SIGKILL`;
    round.left = supervisor.size;
    const dropsAfter = listenDrops();
    round.listenOverflows = dropsBefore && dropsAfter ? dropsAfter.overflows - dropsBefore.overflows : null;
    if ((await withTimeout(Promise.all([exited, closed]), 5000)) === 'timeout') round.failure ??= 'the child did not exit within 5 s of SIGKILL';
    child = undefined;
    reapDelay.disable();
    round.connectLagP99Ms = lag(connectDelay.percentile(99));
    round.connectLagMaxMs = lag(connectDelay.max);
    round.reapLagMaxMs = lag(reapDelay.max);
    current = undefined;

    const memory = await collectGarbage();
    Object.assign(round, {
      heapUsed: memory.heapUsed, heapTotal: memory.heapTotal, external: memory.external, arrayBuffers: memory.arrayBuffers,
      rss: memory.rss, fds: openFds(),
    });
    rounds.push(round);
    console.log(row([
      String(index), fmtMs(round.connectMs), fmtMs(round.childConnectMs), fmtMs(round.reapMs), fmtMs(round.firstDeadMs),
      String(round.keepaliveConfirmed), round.heapHeld === null ? '-' : fmtMiB(round.heapHeld), fmtMiB(round.heapUsed), fmtMiB(round.rss),
      String(round.fds), round.connectLagMaxMs.toFixed(1), round.holdLagMaxMs === null ? '-' : round.holdLagMaxMs.toFixed(1),
      String(round.listenOverflows ?? '-'), fmtReasons(round.dead),
    ]));

    // Per-round checks. A round that did not connect or reap leaves the state unknown: stop there.
    if (round.failure) {
      failures.push(`round ${index}: ${round.failure}`);
      break;
    }
    if (round.accepted !== n || round.peak !== n) failures.push(`round ${index}: ${round.accepted} accepted, peak ${round.peak}, expected ${n}`);
    const deadTotal = Object.values(round.dead).reduce((a, b) => a + b, 0);
    if (deadTotal !== round.accepted) failures.push(`round ${index}: ${deadTotal} dead events for ${round.accepted} connections`);
    const unexpected = Object.keys(round.dead).filter((reason) => !ALLOWED_REASONS.has(reason));
    if (unexpected.length > 0) failures.push(`round ${index}: dead reasons other than eof/reset: ${fmtReasons(round.dead)}`);
    if (round.warnings > 0) failures.push(`round ${index}: ${round.warnings} supervisor warnings`);
    if (!options.control && round.keepaliveConfirmed !== round.accepted) {
      failures.push(`round ${index}: keepalive confirmed by the kernel on ${round.keepaliveConfirmed} of ${round.accepted} connections`);
    }
    const firstFds = rounds[0]?.fds ?? round.fds;
    if (round.fds >= 0 && round.fds > firstFds + FD_GROWTH_LIMIT) {
      failures.push(`round ${index}: ${round.fds} open descriptors after the reap, ${firstFds} after round 1`);
    }
  }

  await supervisor.close();
  clearTimeout(deadline);
  const afterClose = { fds: openFds(), serverListening: server.listening, size: supervisor.size };

  // Summary: round 2 is the baseline (round 1 warms up the JIT); with a single round, round 1.
  const complete = rounds.filter((r) => r.failure === null);
  const baseline = complete[Math.min(1, complete.length - 1)];
  const last = complete[complete.length - 1];
  const reapTimes = complete.map((r) => r.reapMs ?? 0).sort((a, b) => a - b);
  const connectTimes = complete.map((r) => r.connectMs ?? 0).sort((a, b) => a - b);
  const median = (sorted: number[]) => sorted[Math.floor(sorted.length / 2)] ?? null;
  const measured = baseline && last ? complete.filter((r) => r.round >= baseline.round) : [];
  const slope = heapSlope(measured);
  const reasons: Record<string, number> = {};
  for (const r of complete) for (const [reason, count] of Object.entries(r.dead)) reasons[reason] = (reasons[reason] ?? 0) + count;
  const heapGrowth = baseline && last ? last.heapUsed - baseline.heapUsed : null;
  const connectionsSinceBaseline = baseline && last ? n * (last.round - baseline.round) : 0;
  const summary = {
    roundsCompleted: complete.length,
    connectionsServed: complete.reduce((sum, r) => sum + r.accepted, 0),
    baselineRound: baseline?.round ?? null,
    lastRound: last?.round ?? null,
    heapUsedBaseline: baseline?.heapUsed ?? null,
    heapUsedLast: last?.heapUsed ?? null,
    heapGrowthBytes: heapGrowth,
    heapGrowthPerConnectionBytes: heapGrowth !== null && connectionsSinceBaseline > 0 ? heapGrowth / connectionsSinceBaseline : null,
    heapSlopeBytesPerRound: slope,
    heapMinMax: measured.length ? [Math.min(...measured.map((r) => r.heapUsed)), Math.max(...measured.map((r) => r.heapUsed))] : null,
    rssBaseline: baseline?.rss ?? null,
    rssLast: last?.rss ?? null,
    rssGrowthBytes: baseline && last ? last.rss - baseline.rss : null,
    rssMax: complete.length ? Math.max(...complete.map((r) => r.rss)) : null,
    maxReapMs: reapTimes[reapTimes.length - 1] ?? null,
    medianReapMs: median(reapTimes),
    maxConnectMs: connectTimes[connectTimes.length - 1] ?? null,
    medianConnectMs: median(connectTimes),
    maxConnectLagMs: complete.length ? Math.max(...complete.map((r) => r.connectLagMaxMs)) : null,
    maxReapLagMs: complete.length ? Math.max(...complete.map((r) => r.reapLagMaxMs)) : null,
    medianTickMs: median(complete.map((r) => r.holdLagMaxMs ?? 0).sort((a, b) => a - b)),
    maxTickMs: complete.length ? Math.max(...complete.map((r) => r.holdLagMaxMs ?? 0)) : null,
    /** What holding one connection costs: heapUsed with N held minus after the reap, per connection (median). */
    heapPerHeldConnectionBytes: median(complete.map((r) => ((r.heapHeld ?? r.heapUsed) - r.heapUsed) / n).sort((a, b) => a - b)),
    rssPerHeldConnectionBytes: median(complete.map((r) => ((r.rssHeld ?? r.rss) - r.rss) / n).sort((a, b) => a - b)),
    deadReasons: reasons,
    unexpectedEvents: odd,
    fdsFirstRound: rounds[0]?.fds ?? null,
    fdsLastRound: last?.fds ?? null,
    afterClose,
    durationMs: performance.now() - startedAt,
    thresholds: { heapGrowthLimitBytes: HEAP_GROWTH_LIMIT, fdGrowthLimit: FD_GROWTH_LIMIT, allowedReasons: [...ALLOWED_REASONS] },
  };
  if (complete.length < options.rounds && failures.length === 0) failures.push(`only ${complete.length} of ${options.rounds} rounds completed`);
  if (heapGrowth !== null && heapGrowth > HEAP_GROWTH_LIMIT) {
    failures.push(`heapUsed after GC grew ${fmtMiB(heapGrowth)} MiB from round ${baseline?.round} to round ${last?.round} (limit ${fmtMiB(HEAP_GROWTH_LIMIT)} MiB)`);
  }
  if (afterClose.size !== 0 || afterClose.serverListening) failures.push(`after close: size ${afterClose.size}, listening ${afterClose.serverListening}`);

  const result = {
    benchmark: options.control ? 'supervisor-churn (control: plain net.Server, no lifeline)' : 'supervisor-churn',
    claim: `The server holds ${n} concurrent connections on loopback and reaps all of them when their peers vanish, ` +
      `with no growth in memory after ${options.rounds} rounds of connect/kill.`,
    command: `node --expose-gc dist/bench/supervisor-churn.js${process.argv.slice(2).length ? ' ' + process.argv.slice(2).join(' ') : ''}`,
    machine: machine(),
    parameters: {
      rounds: options.rounds, connections: n, batch: options.batch, paced: options.paced, control: options.control, holdMs: options.holdMs,
      ...(options.control ? { keepalive: null, sampleInterval: null, sampleTcpInfo: null } : { keepalive: KEEPALIVE, sampleInterval: 1000, sampleTcpInfo: true }),
      connectTimeoutMs: options.connectTimeoutMs, reapTimeoutMs: options.reapTimeoutMs, deadlineMs: options.deadlineMs,
    },
    rounds,
    summary,
    pass: failures.length === 0,
    failures,
  };
  mkdirSync(dirname(options.out), { recursive: true });
  // Times to 0.1 ms and derived figures to 0.1 byte: more digits are noise.
  const tidy = (_key: string, value: unknown) => (typeof value === 'number' && !Number.isInteger(value) ? Math.round(value * 10) / 10 : value);
  writeFileSync(options.out, JSON.stringify(result, tidy, 2) + '\n');

  console.log('');
  console.log(`rounds completed      ${complete.length} of ${options.rounds} (${summary.connectionsServed} connections)`);
  if (heapGrowth !== null) {
    console.log(`heap after GC         round ${baseline?.round} ${fmtMiB(baseline?.heapUsed ?? 0)} MiB -> round ${last?.round} ${fmtMiB(last?.heapUsed ?? 0)} MiB ` +
      `(${heapGrowth >= 0 ? '+' : ''}${(heapGrowth / 1024).toFixed(1)} KiB; slope ${slope === null ? '-' : (slope / 1024).toFixed(1)} KiB/round; limit ${fmtMiB(HEAP_GROWTH_LIMIT)} MiB)`);
    console.log(`rss after GC          round ${baseline?.round} ${fmtMiB(baseline?.rss ?? 0)} MiB -> round ${last?.round} ${fmtMiB(last?.rss ?? 0)} MiB ` +
      `(${fmtMiB(summary.rssGrowthBytes ?? 0)} MiB)`);
  }
  console.log(`reap time             median ${fmtMs(summary.medianReapMs)} ms, max ${fmtMs(summary.maxReapMs)} ms`);
  console.log(`connect time          median ${fmtMs(summary.medianConnectMs)} ms, max ${fmtMs(summary.maxConnectMs)} ms`);
  console.log(`${`holding ${n}`.padEnd(22)}heap ${fmtBytes(summary.heapPerHeldConnectionBytes)}, rss ${fmtBytes(summary.rssPerHeldConnectionBytes)} per connection; ` +
    `sampling tick median ${fmtMs(summary.medianTickMs)} ms, max ${fmtMs(summary.maxTickMs)} ms`);
  console.log(`dead reasons          ${fmtReasons(reasons)}`);
  console.log(`descriptors           round 1 ${summary.fdsFirstRound ?? '-'}, last ${summary.fdsLastRound ?? '-'}, after close ${afterClose.fds}`);
  console.log(`results               ${relative(process.cwd(), options.out) || options.out}  (${(summary.durationMs / 1000).toFixed(1)} s)`);
  for (const event of odd) console.log(`unexpected            ${event.reason} ${event.code ?? ''} ${event.because}`);
  if (failures.length > 0) {
    for (const failure of failures) console.error(`FAIL: ${failure}`);
    return 1;
  }
  console.log('PASS');
  return 0;
}

/**
 * The control: a bare net.Server that keeps its sockets in a Map and emits the Supervisor's events in the
 * Supervisor's order (size updated first), with no keepalive, sampling or verdicts. Whatever heap drift it shows
 * comes from Node and this harness, not from lifeline.
 */
class PlainServer extends EventEmitter<SupervisorEvents> {
  readonly #sockets = new Map<number, Socket>();
  #nextId = 1;
  #server: Server | undefined;

  get size(): number {
    return this.#sockets.size;
  }

  async listen(port: number, host: string): Promise<Server> {
    const server = createServer((socket) => {
      const id = this.#nextId++;
      this.#sockets.set(id, socket);
      let ended = false;
      let code: string | null = null;
      socket.on('end', () => {
        ended = true;
      });
      socket.on('error', (error: NodeJS.ErrnoException) => {
        code ??= error.code ?? 'error';
      });
      socket.once('close', () => {
        this.#sockets.delete(id);
        const reason = code !== null ? 'reset' : ended ? 'eof' : 'local';
        this.emit('dead', { id, reason, code, because: 'control' } as unknown as DeadPeer);
      });
      this.emit('accepted', { id, keepalive: null } as unknown as ConnectionSnapshot);
    });
    this.#server = server;
    server.listen(port, host);
    await once(server, 'listening');
    return server;
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets.values()) socket.destroy();
    if (this.#server?.listening) {
      this.#server.close();
      await once(this.#server, 'close');
    }
  }
}

/** Least-squares slope of heapUsed over the round number, bytes per round (null with fewer than 3 rounds). */
function heapSlope(rounds: RoundResult[]): number | null {
  if (rounds.length < 3) return null;
  const xs = rounds.map((r) => r.round);
  const ys = rounds.map((r) => r.heapUsed);
  const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
  const mx = mean(xs);
  const my = mean(ys);
  let num = 0;
  let den = 0;
  for (let i = 0; i < xs.length; i++) {
    num += ((xs[i] ?? 0) - mx) * ((ys[i] ?? 0) - my);
    den += ((xs[i] ?? 0) - mx) ** 2;
  }
  return den === 0 ? null : num / den;
}

const options = parseOptions();
if (options.child) {
  await runChild(options.port, options.connections, options.batch, options.paced);
} else {
  const code = await runParent(options);
  process.exit(code);
}

import { readdirSync, readFileSync } from 'node:fs';
import { monitorEventLoopDelay, PerformanceObserver, type IntervalHistogram } from 'node:perf_hooks';
import { getHeapCodeStatistics } from 'node:v8';
import { monotonicMs } from './wire.js';

/**
 * What every server worker (raw TCP or ws) measures the same way: settled memory, and a window's CPU and event-loop
 * delay. Kept in one place so that both transports are measured alike.
 */

const gc = (globalThis as { gc?: () => void }).gc;

/** A server worker's memory after GC, in bytes. */
export interface SettledMemory {
  /** heapUsed + arrayBuffers (typed arrays live outside the JS heap). */
  heap: number;
  rss: number;
  /**
   * The part of `heap` that is compiled code: V8's machine code and bytecode with their metadata. It grows with the
   * functions a process has run and optimised, not with its connections.
   */
  code: number;
}

/** Heap, RSS and compiled code after GC, the median of three of each. */
export async function settledMemory(): Promise<SettledMemory> {
  if (!gc) throw new Error('the server worker needs node --expose-gc');
  const heaps: number[] = [];
  const rss: number[] = [];
  const code: number[] = [];
  for (let i = 0; i < 3; i++) {
    if (i > 0) await new Promise((resolve) => setTimeout(resolve, 50));
    gc();
    gc();
    const usage = process.memoryUsage();
    const compiled = getHeapCodeStatistics();
    heaps.push(usage.heapUsed + usage.arrayBuffers);
    rss.push(usage.rss);
    code.push(compiled.code_and_metadata_size + compiled.bytecode_and_metadata_size);
  }
  const median = (values: number[]) => values.sort((a, b) => a - b)[1]!;
  return { heap: median(heaps), rss: median(rss), code: median(code) };
}

/**
 * On-CPU time of this process's main thread and of all its other threads (V8's compiler and GC helpers, libuv), in ms,
 * from the scheduler's per-thread accounting (/proc/self/task/<tid>/schedstat, nanoseconds); null where not Linux.
 */
function threadCpuMs(): { mainMs: number; otherMs: number } | null {
  try {
    let mainMs = 0;
    let otherMs = 0;
    for (const tid of readdirSync('/proc/self/task')) {
      let ns: number;
      try {
        ns = Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        continue; // the thread ended meanwhile
      }
      if (Number(tid) === process.pid) mainMs += ns / 1e6;
      else otherMs += ns / 1e6;
    }
    return { mainMs, otherMs };
  } catch {
    return null;
  }
}

/** A window's CPU, where it went (user, system, and the main thread's GC pauses), and the event-loop delay. */
export interface WindowMeasures {
  elapsedMs: number;
  cpuMs: number;
  cpuSplit: { userMs: number; systemMs: number; gcPauseMs: number; gcCount: number; mainThreadMs: number | null; otherThreadsMs: number | null };
  loopDelay: { p50: number; p99: number; max: number };
}

/**
 * CPU (user + system) and event-loop delay over a window. The delay is what monitorEventLoopDelay records at a
 * 10 ms resolution (a finer one costs each process hundreds of wake-ups a second, noise in the CPU figures): the
 * interval between its timer's runs, so 10 ms means no delay at all.
 */
export class MeasuringWindow {
  #histogram: IntervalHistogram | null = null;
  #start: { cpu: NodeJS.CpuUsage; at: number; threads: { mainMs: number; otherMs: number } | null } | null = null;
  #gc = { ms: 0, count: 0 };
  #gcObserver: PerformanceObserver | null = null;

  start(): number {
    this.#histogram = monitorEventLoopDelay({ resolution: 10 });
    this.#histogram.enable();
    this.#gc = { ms: 0, count: 0 };
    this.#gcObserver = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        this.#gc.ms += entry.duration;
        this.#gc.count++;
      }
    });
    this.#gcObserver.observe({ entryTypes: ['gc'] });
    this.#start = { cpu: process.cpuUsage(), at: monotonicMs(), threads: threadCpuMs() };
    return this.#start.at;
  }

  end(): WindowMeasures {
    if (!this.#start || !this.#histogram) throw new Error('the window was not started');
    const cpu = process.cpuUsage(this.#start.cpu);
    const threads = threadCpuMs();
    const before = this.#start.threads;
    this.#gcObserver?.disconnect();
    const elapsedMs = monotonicMs() - this.#start.at;
    const h = this.#histogram;
    h.disable();
    const ms = (ns: number) => (h.count ? ns / 1e6 : 0);
    return {
      elapsedMs,
      cpuMs: (cpu.user + cpu.system) / 1000,
      cpuSplit: {
        userMs: cpu.user / 1000,
        systemMs: cpu.system / 1000,
        gcPauseMs: this.#gc.ms,
        gcCount: this.#gc.count,
        mainThreadMs: threads && before ? threads.mainMs - before.mainMs : null,
        // Threads that ended within the window are missing here (V8's and libuv's pools live as long as the process).
        otherThreadsMs: threads && before ? threads.otherMs - before.otherMs : null,
      },
      loopDelay: { p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max) },
    };
  }
}

/** Calls `each(index)` for 0..count-1 spread evenly over spreadMs, in steps of 10 ms; returns how many it called. */
export async function spreadOver(count: number, spreadMs: number, each: (index: number) => void): Promise<number> {
  const steps = Math.max(1, Math.floor(spreadMs / 10));
  let next = 0;
  for (let step = 1; step <= steps; step++) {
    const until = Math.round((count * step) / steps);
    for (; next < until; next++) each(next);
    if (step < steps) await new Promise((resolve) => setTimeout(resolve, spreadMs / steps));
  }
  return next;
}

/** A victim's verdict: when, why, and (where the arm knows it) the silence it judged on. */
export interface VictimDeath {
  at: number;
  reason: string;
  silentMs?: number;
}

/**
 * The pings and verdicts of one arm in one server worker, counted the same way on both transports: pings (and those
 * to connections that were busy) in the window and since the install, each victim's first verdict, and verdicts on
 * connections that were alive (false positives), plus the window's CPU and loop delay.
 */
export class ArmRecord {
  pings = 0;
  pingsToBusy = 0;
  lifetimePingsToBusy = 0;
  #recording = false;
  readonly #deaths = new Map<string, VictimDeath>();
  #falsePositives: { remote: string; reason: string; at: number }[] = [];
  readonly #measuring = new MeasuringWindow();

  /** A new arm starts: forget the last one's verdicts and record from now on. */
  startArm(): void {
    this.lifetimePingsToBusy = 0;
    this.#deaths.clear();
    this.#falsePositives = [];
    this.#recording = true;
  }

  /** The arm is being torn down: the closes that follow are not verdicts. */
  stopArm(): void {
    this.#recording = false;
  }

  countPing(toBusy: boolean): void {
    this.pings++;
    if (toBusy) {
      this.pingsToBusy++;
      this.lifetimePingsToBusy++;
    }
  }

  /** A verdict: on a victim (its key), or on a live connection (`remote` names it). */
  recordDeath(victimKey: string | undefined, remote: () => string, reason: string, silentMs?: number): void {
    if (!this.#recording) return;
    if (victimKey !== undefined) {
      if (!this.#deaths.has(victimKey)) this.#deaths.set(victimKey, { at: monotonicMs(), reason, ...(silentMs !== undefined && { silentMs }) });
    } else {
      this.#falsePositives.push({ remote: remote(), reason, at: monotonicMs() });
    }
  }

  windowStart(): number {
    this.pings = 0;
    this.pingsToBusy = 0;
    return this.#measuring.start();
  }

  windowEnd() {
    return {
      ...this.#measuring.end(),
      pings: this.pings,
      pingsToBusy: this.pingsToBusy,
      lifetimePingsToBusy: this.lifetimePingsToBusy,
      deaths: Object.fromEntries(this.#deaths),
      falsePositives: this.#falsePositives,
    };
  }
}

/**
 * Notices when this process could not run (a long GC pause, a blocked event loop, a suspended VM) so that
 * silence measured across that time is not held against peers.
 *
 * Why it matters: while our loop is blocked, the peers' pongs wait unread in the kernel's socket buffers. When the
 * loop runs again, Node runs due timers BEFORE it polls for I/O, so a deadline that fell inside the stall would
 * convict a peer whose answer is sitting in our own buffer. Cassandra's failure detector refuses to convict after
 * a local pause for the same reason. A verdict therefore needs evidence gathered entirely after the last stall:
 * the heartbeat engine sends a fresh ping and gives it one more full timeout.
 *
 * Pure bookkeeping: it is told how late timers ran (the heartbeat engine's own wheel timer measures this on
 * every tick) or what perf_hooks.monitorEventLoopDelay saw, and remembers when the last stall ended.
 */
export const StallSources = {
  /** A timer ran late by at least the threshold (measured by the wheel's own tick). */
  TIMER: 'timer',
  /** Checking connections in one sweep took at least the threshold (slow listeners or sendPing callbacks). */
  SWEEP: 'sweep',
  /** The caller reported an event loop delay (e.g. the max of perf_hooks.monitorEventLoopDelay). */
  LOOP_DELAY: 'loop-delay',
} as const;

export type StallSource = (typeof StallSources)[keyof typeof StallSources];

export interface StallReport {
  /** How long the process could not run timers or read sockets, in ms. */
  stalledMs: number;
  /** Clock time at which the stall was noticed (taken as its end: evidence from before it is not trusted). */
  endedAt: number;
  source: StallSource;
}

export class StallGuard {
  /** Stalls shorter than this are ordinary timer lateness and are ignored. */
  readonly thresholdMs: number;
  #lastStallEndedAt = -Infinity;
  #stalls = 0;
  #longestMs = 0;

  constructor(thresholdMs: number) {
    if (!(thresholdMs > 0) || !Number.isFinite(thresholdMs)) throw new RangeError(`stall threshold must be a positive number of ms, got ${thresholdMs}`);
    this.thresholdMs = thresholdMs;
  }

  /** A timer meant to run at `expectedAt` ran at `firedAt`. Returns the stall when the lateness reached the threshold. */
  observeTimer(expectedAt: number, firedAt: number): StallReport | null {
    return this.observe(firedAt - expectedAt, firedAt, StallSources.TIMER);
  }

  /**
   * Records that the process could not run for `stalledMs` up to `now`; returns the stall when it reached the
   * threshold. For a delay measured over a period (monitorEventLoopDelay), `now` is the end of that period: the
   * stall may have happened anywhere in it, and taking the latest moment is the safe side.
   */
  observe(stalledMs: number, now: number, source: StallSource): StallReport | null {
    if (!(stalledMs >= this.thresholdMs)) return null;
    if (now > this.#lastStallEndedAt) this.#lastStallEndedAt = now;
    this.#stalls++;
    if (stalledMs > this.#longestMs) this.#longestMs = stalledMs;
    return { stalledMs, endedAt: now, source };
  }

  /** When the last stall ended; -Infinity when there was none. */
  get lastStallEndedAt(): number {
    return this.#lastStallEndedAt;
  }

  /** Whether evidence gathered at time `at` may be incomplete: a stall ended after it. */
  taints(at: number): boolean {
    return at < this.#lastStallEndedAt;
  }

  /** Stalls seen so far. */
  get stalls(): number {
    return this.#stalls;
  }

  get longestStallMs(): number {
    return this.#longestMs;
  }
}

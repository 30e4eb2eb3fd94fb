import type { Clock, ClockTimer } from '../clock.js';

/**
 * How late (ms) a timer after a real wait may run before its owner is held back one zero-delay turn. Node runs due
 * timers before it polls for I/O, so a timer made late by work in I/O callbacks (or by the process being off the CPU)
 * runs while data that arrived meanwhile still waits in the kernel: a sweep would then ping, and a verdict convict,
 * connections whose bytes are already here. Idle, Node's timers run well under 1 ms late on this clock.
 */
export const READ_FIRST_WHEN_LATE_MS = 1;

/**
 * One clock timer at a time, for an owner that re-arms it often (the timing wheel, the deadline heap). It remembers
 * when the timer was meant to run, so that the owner learns how late it ran (the stall guard's evidence), and is
 * unref'd unless the owner keeps the process alive with it.
 *
 * A timer that waited and then ran READ_FIRST_WHEN_LATE_MS or more late calls its owner one zero-delay timer later:
 * the event loop polls for I/O in between, so the owner acts on what has arrived, not on what had arrived by the
 * time the loop got stuck. A zero-delay timer (a sweep resuming after a slice) already follows a poll and runs at once.
 */
export class Alarm {
  readonly #clock: Clock;
  readonly #onFire: (expectedAt: number) => void;
  readonly #unref: boolean;
  #timer: ClockTimer | undefined;
  #expectedAt = Infinity;
  /** Whether a late run should first let the event loop read (cleared once it has). */
  #readFirst = false;

  constructor(clock: Clock, onFire: (expectedAt: number) => void, unref: boolean) {
    this.#clock = clock;
    this.#onFire = onFire;
    this.#unref = unref;
  }

  /** Whether a timer is pending (also while a late run waits its one turn for I/O). */
  get armed(): boolean {
    return this.#timer !== undefined;
  }

  /** Runs the callback after `delay` ms, replacing any timer armed before; `expectedAt` is what the callback gets. */
  set(expectedAt: number, delay: number): void {
    this.clear();
    this.#expectedAt = expectedAt;
    this.#readFirst = delay > 0;
    this.#start(delay);
  }

  clear(): void {
    if (this.#timer === undefined) return;
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #start(delay: number): void {
    const timer = this.#clock.setTimeout(this.#fire, delay);
    if (this.#unref) timer.unref?.();
    this.#timer = timer;
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    if (this.#readFirst && this.#clock.now() - this.#expectedAt >= READ_FIRST_WHEN_LATE_MS) {
      this.#readFirst = false;
      this.#start(0);
      return;
    }
    this.#onFire(this.#expectedAt);
  };
}

import type { Clock, ClockTimer } from '../clock.js';

/**
 * One clock timer at a time, for an owner that re-arms it often (the timing wheel, the deadline heap). It remembers
 * when the timer was meant to run, so that the owner learns how late it ran (the stall guard's evidence), and is
 * unref'd unless the owner keeps the process alive with it.
 */
export class Alarm {
  readonly #clock: Clock;
  readonly #onFire: (expectedAt: number) => void;
  readonly #unref: boolean;
  #timer: ClockTimer | undefined;
  #expectedAt = Infinity;

  constructor(clock: Clock, onFire: (expectedAt: number) => void, unref: boolean) {
    this.#clock = clock;
    this.#onFire = onFire;
    this.#unref = unref;
  }

  get armed(): boolean {
    return this.#timer !== undefined;
  }

  /** Runs the callback after `delay` ms, replacing any timer armed before; `expectedAt` is what the callback gets. */
  set(expectedAt: number, delay: number): void {
    this.clear();
    this.#expectedAt = expectedAt;
    const timer = this.#clock.setTimeout(this.#fire, delay);
    if (this.#unref) timer.unref?.();
    this.#timer = timer;
  }

  clear(): void {
    if (this.#timer === undefined) return;
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    this.#onFire(this.#expectedAt);
  };
}

import { ManualClock, type Clock, type ClockTimer } from '../../src/clock.js';

/**
 * A ManualClock whose event loop can stall. `advance` works as ManualClock's (each timer runs at its own time);
 * `stall(ms)` is a blocked loop or a GC pause: time moves on by `ms` while no timer can run, then every timer that
 * fell due runs late, all seeing the time at the end of the stall. `block(ms)`, called from inside a callback, is
 * synchronous work: the time moves on at once and every timer armed before it runs late.
 */
export class StallingClock implements Clock {
  readonly #inner: ManualClock;
  #frozenAt: number | undefined;
  #blockedMs = 0;

  constructor(start = 0) {
    this.#inner = new ManualClock(start);
  }

  now(): number {
    return this.#frozenAt ?? this.#inner.now() + this.#blockedMs;
  }

  setTimeout(callback: () => void, ms: number): ClockTimer {
    return this.#inner.setTimeout(callback, ms);
  }

  clearTimeout(timer: ClockTimer): void {
    this.#inner.clearTimeout(timer);
  }

  advance(ms: number): void {
    this.#inner.advance(ms);
  }

  stall(ms: number): void {
    this.#frozenAt = this.now() + ms;
    try {
      this.#inner.advance(ms);
    } finally {
      this.#frozenAt = undefined;
    }
  }

  block(ms: number): void {
    this.#blockedMs += ms;
  }

  get pending(): number {
    return this.#inner.pending;
  }
}

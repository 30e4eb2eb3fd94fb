import type { Clock } from '../clock.js';
import { InvalidOptionError } from '../errors.js';
import { Alarm } from './alarm.js';

/**
 * Exact deadlines on one clock timer, for the few entries that need them: a binary min-heap in typed arrays.
 *
 * The timing wheel (wheel.ts) expires an entry at the end of its tick, up to a tick after its deadline. That suits
 * the many checks whose moment the heartbeat engine chooses itself (pings go out a tick early on purpose), not a
 * verdict, which should come at its deadline. The engine therefore hands a connection over to this heap only when
 * its verdict is less than a tick away: the heap holds the dying connections alone, normally a handful, and all of
 * them when a path dies under many connections at once (then each costs O(log n), and expiries are sliced like the
 * wheel's sweeps, so the event loop stays responsive).
 *
 * Entries are not cancelled: each carries a tag (the engine uses the slot's generation), and the owner ignores an
 * expiry whose tag is stale. Such an entry is gone by its deadline, within a tick.
 */
export interface DeadlineHeapOptions {
  clock: Clock;
  /** Called for each entry whose deadline has come, earliest first; it may push again. Returns the steps it cost. */
  onExpire(entry: number, tag: number): number;
  /** Called every time the heap's timer runs, before anything expires: when it was meant to run and when it did. */
  onTimer?(expectedAt: number, firedAt: number): void;
  /** Most steps (see onExpire) one run of the timer takes before it yields to the event loop. */
  sliceSize: number;
  /**
   * A run also yields once this much clock time has passed since it began (looked at only after an expiry that
   * cost more than one step, i.e. did I/O). Default: no time limit.
   */
  sliceMs?: number;
  /** Let the process exit while entries wait (the timer does not keep it alive). Default true. */
  unref?: boolean;
}

const INITIAL_CAPACITY = 16;
/** An emptied heap larger than this gives its memory back (a mass death is over). */
const KEEP_CAPACITY = 1024;

export class DeadlineHeap {
  readonly sliceSize: number;
  readonly sliceMs: number;
  readonly #clock: Clock;
  readonly #onExpire: (entry: number, tag: number) => number;
  readonly #onTimer: ((expectedAt: number, firedAt: number) => void) | undefined;
  #at = new Float64Array(INITIAL_CAPACITY);
  #entry = new Int32Array(INITIAL_CAPACITY);
  #tag = new Uint32Array(INITIAL_CAPACITY);
  #size = 0;
  readonly #alarm: Alarm;
  /** The deadline the alarm is set for (Infinity when it is not). */
  #alarmFor = Infinity;
  /** Expiring: pushes from onExpire leave the timer to the end of the run. */
  #running = false;

  constructor(options: DeadlineHeapOptions) {
    const { sliceSize } = options;
    if (!Number.isInteger(sliceSize) || sliceSize < 1) throw new InvalidOptionError('sliceSize', sliceSize, 'an integer of at least 1');
    const sliceMs = options.sliceMs ?? Infinity;
    if (typeof sliceMs !== 'number' || !(sliceMs > 0)) throw new InvalidOptionError('sliceMs', sliceMs, 'a positive number of milliseconds');
    this.sliceSize = sliceSize;
    this.sliceMs = sliceMs;
    this.#clock = options.clock;
    this.#onExpire = options.onExpire;
    this.#onTimer = options.onTimer;
    this.#alarm = new Alarm(this.#clock, this.#fire, options.unref ?? true);
  }

  /** Entries waiting, stale ones included. */
  get size(): number {
    return this.#size;
  }

  /** Whether the heap's clock timer is armed (it is while entries wait, and never when none do). */
  get armed(): boolean {
    return this.#alarm.armed;
  }

  /** The earliest deadline waiting; Infinity when none. */
  get nextDeadline(): number {
    return this.#size > 0 ? this.#at[0]! : Infinity;
  }

  /** `entry` (a non-negative integer) with `tag` expires at `deadline` (clock ms), or at once if that has passed. */
  push(entry: number, tag: number, deadline: number): void {
    if (!Number.isInteger(entry) || entry < 0 || entry > 0x7fff_ffff) throw new RangeError(`heap entry must be a non-negative 32-bit integer, got ${entry}`);
    if (Number.isNaN(deadline)) throw new RangeError('heap deadline must be a number, got NaN');
    if (this.#size === this.#at.length) this.#resize(this.#size * 2);
    this.#siftUp(this.#size++, deadline, entry, tag >>> 0);
    if (!this.#running) this.#arm();
  }

  /** Forgets every entry and releases the timer. */
  clear(): void {
    this.#size = 0;
    if (this.#at.length > KEEP_CAPACITY) this.#resize(INITIAL_CAPACITY);
    this.#alarm.clear();
    this.#alarmFor = Infinity;
  }

  readonly #fire = (expectedAt: number): void => {
    this.#alarmFor = Infinity;
    const now = this.#clock.now();
    this.#running = true;
    try {
      this.#onTimer?.(expectedAt, now);
      this.#expire(now);
    } finally {
      // Also when onTimer or onExpire threw: the entries still waiting must keep their timer.
      this.#running = false;
      if (this.#size === 0 && this.#at.length > KEEP_CAPACITY) this.#resize(INITIAL_CAPACITY);
      this.#arm();
    }
  };

  #expire(now: number): void {
    let budget = this.sliceSize;
    const sliceEnds = now + this.sliceMs;
    while (this.#size > 0 && this.#at[0]! <= now && budget > 0) {
      const entry = this.#entry[0]!;
      const tag = this.#tag[0]!;
      this.#pop();
      const steps = this.#onExpire(entry, tag);
      budget -= steps;
      // Like the wheel's sweep: the clock is read only after an expiry that did I/O.
      if (steps > 1 && this.sliceMs !== Infinity && this.#clock.now() >= sliceEnds) return;
    }
  }

  #arm(): void {
    if (this.#size === 0) {
      this.#alarm.clear();
      this.#alarmFor = Infinity;
      return;
    }
    const at = this.#at[0]!;
    if (this.#alarm.armed && this.#alarmFor === at) return;
    const now = this.#clock.now();
    this.#alarmFor = at;
    // A deadline already past (a run out of budget) is resumed on the next turn, and counts as late from now:
    // the wait between slices is not a stall.
    this.#alarm.set(Math.max(at, now), Math.max(0, at - now));
  }

  /** Removes the root: the last entry sinks from the top. */
  #pop(): void {
    const last = --this.#size;
    if (last === 0) return;
    const at = this.#at[last]!;
    const entry = this.#entry[last]!;
    const tag = this.#tag[last]!;
    let index = 0;
    for (;;) {
      let child = 2 * index + 1;
      if (child >= last) break;
      if (child + 1 < last && this.#at[child + 1]! < this.#at[child]!) child++;
      if (!(this.#at[child]! < at)) break;
      this.#place(index, child);
      index = child;
    }
    this.#set(index, at, entry, tag);
  }

  #siftUp(index: number, at: number, entry: number, tag: number): void {
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (!(at < this.#at[parent]!)) break;
      this.#place(index, parent);
      index = parent;
    }
    this.#set(index, at, entry, tag);
  }

  /** Copies the entry at `from` to `to`. */
  #place(to: number, from: number): void {
    this.#set(to, this.#at[from]!, this.#entry[from]!, this.#tag[from]!);
  }

  #set(index: number, at: number, entry: number, tag: number): void {
    this.#at[index] = at;
    this.#entry[index] = entry;
    this.#tag[index] = tag;
  }

  #resize(capacity: number): void {
    const at = new Float64Array(capacity);
    const entry = new Int32Array(capacity);
    const tag = new Uint32Array(capacity);
    at.set(this.#at.subarray(0, this.#size));
    entry.set(this.#entry.subarray(0, this.#size));
    tag.set(this.#tag.subarray(0, this.#size));
    this.#at = at;
    this.#entry = entry;
    this.#tag = tag;
  }
}

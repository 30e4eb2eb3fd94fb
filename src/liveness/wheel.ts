import type { Clock } from '../clock.js';
import { InvalidOptionError } from '../errors.js';
import { Alarm } from './alarm.js';

/**
 * A hashed timing wheel (Varghese & Lauck 1987; the shape of Netty's HashedWheelTimer) for many deadlines that
 * move often: schedule, move and cancel are O(1), and the whole wheel runs on ONE clock timer, armed only while
 * entries are waiting.
 *
 * Memory layout. The wheel holds no objects per entry. Entries are small integers chosen by the owner (0 to
 * capacity - 1; the heartbeat engine uses its connection slots) and live in three typed arrays indexed by node:
 *
 *   node 0 .. buckets-1      the bucket heads: sentinels of circular doubly linked lists
 *   node buckets             the sweep cursor (see #sweep)
 *   node buckets+1+entry     the entry
 *
 *   next: Int32Array, prev: Int32Array   the links (-1 when the entry is not scheduled)
 *   due:  Uint32Array                    the tick the entry falls due on, modulo 2^32 (only once needed, below)
 *
 * 8 bytes per entry while every deadline falls within one revolution (buckets x tickMs), 12 once one does not,
 * whatever the number of entries. Sentinel heads make unlinking branch-free, so cancel needs no "which bucket am I
 * in" field. Ticks are compared like TCP sequence numbers or Linux jiffies (`(a - b) | 0 <= 0`), which stays correct
 * across the 2^32 wrap as long as no deadline is 2^31 ticks away.
 *
 * The due ticks are kept only once they are needed. While every entry is due within the next buckets - 1 ticks
 * (counted from the first tick not yet swept), the bucket says which tick it is due on: an entry met by a sweep is
 * always due. The heartbeat engine sizes its wheel so that this holds (one revolution covers maxSilence), which
 * saves a third of the wheel's memory. The first deadline further away, or the first expiresAt (which must name an
 * entry's tick without walking its bucket), writes every entry's due tick from its bucket, once, and keeps them
 * from then on.
 *
 * Time. Tick k ends at `origin + k * tickMs` (that floating-point sum, #endOf, the same everywhere), where origin is
 * the construction time minus `phase` ticks: where the grid lies. An entry with
 * deadline d falls due on the first tick that ends at or after d and expires when that tick's bucket is swept, at
 * or after its end: never early, and at most one tick late while the event loop keeps up. A deadline more than one
 * revolution away stays in its bucket for further rounds: a sweep skips entries whose due tick has not come (Netty keeps a remainingRounds counter for
 * this; comparing the stored due tick costs no extra field).
 *
 * Slicing. A sweep takes at most `sliceSize` steps (an entry examined or expired, or an empty bucket, is one step;
 * onExpire may charge() more for an expiry that did I/O), or until sliceMs have passed, and then yields to the event
 * loop with a zero-delay clock timer, so that a wheel holding a million due entries never blocks the loop for long.
 * (Not setImmediate: resuming at once made the loop turn once per ping on a loaded machine, each turn a system call,
 * and an unref'd immediate does not stop the loop from blocking in poll on a quiet process. The timer's >= 1 ms
 * pause lets the answers to the pings just written arrive and be read together.)
 */
export interface TimingWheelOptions {
  clock: Clock;
  /** Length of a tick in milliseconds: the resolution of every deadline. */
  tickMs: number;
  /** Buckets in the wheel, a power of two. A deadline within buckets x tickMs expires on the first pass. */
  buckets: number;
  /** Most entries (and empty buckets) a sweep examines before it yields to the event loop. */
  sliceSize: number;
  /**
   * A slice also ends once this much clock time has passed since it began (looked at only after an expiry that
   * charged steps, i.e. did I/O). Default: no time limit.
   */
  sliceMs?: number;
  /** Entries to make room for up front; the wheel grows (doubling) when `schedule` meets a larger entry. */
  initialCapacity?: number;
  /**
   * Where the tick grid lies, as a fraction of a tick in [0, 1): the first tick ends (1 - phase) x tickMs after
   * construction. Default 0. Wheels built at the same moment in several processes (cluster workers, a deployment
   * started at once) tick together forever, because each tick is pinned to the grid rather than to when the last one
   * ran; given different phases, they do not all wake the same cores at the same instant.
   */
  phase?: number;
  /** Called for each entry that falls due, after it was removed from the wheel; it may schedule it again. */
  onExpire(entry: number): void;
  /**
   * Called every time the wheel's timer runs, before anything expires: when the timer was meant to run and
   * when it did. The difference is how long this process could not run timers (a GC pause, a blocked loop).
   */
  onTimer?(expectedAt: number, firedAt: number): void;
  /** Let the process exit while entries are waiting (the wheel's timer does not keep it alive). Default true. */
  unref?: boolean;
}

const UNLINKED = -1;
/** Ticks are stored modulo 2^32 and compared as signed differences; a deadline must be closer than this. */
const MAX_TICKS_AHEAD = 0x7fff_ffff;

export class TimingWheel {
  readonly tickMs: number;
  readonly buckets: number;
  readonly sliceSize: number;
  readonly sliceMs: number;
  readonly #clock: Clock;
  readonly #mask: number;
  readonly #cursor: number;
  readonly #firstEntry: number;
  readonly #onExpire: (entry: number) => void;
  /** Extra steps charged by the expiry being handled (see charge()). */
  #charged = 0;
  readonly #onTimer: ((expectedAt: number, firedAt: number) => void) | undefined;
  /** Time at which tick 0 ended. */
  readonly #origin: number;
  #next: Int32Array;
  #prev: Int32Array;
  /** Null until a deadline beyond one revolution (or expiresAt) needs it; see the header. */
  #due: Uint32Array | null = null;
  #capacity = 0;
  #size = 0;
  /** Every tick up to this one has been swept. */
  #sweptTick = 0;
  /** A sweep is under way (possibly paused between slices); its cursor sits in the bucket of #sweepTick. */
  #sweeping = false;
  #sweepTick = 0;
  /** The last tick the current sweep will visit (the tick that had ended when it started). */
  #sweepTarget = 0;
  readonly #alarm: Alarm;
  #stopped = false;

  constructor(options: TimingWheelOptions) {
    const { tickMs, buckets, sliceSize } = options;
    if (typeof tickMs !== 'number' || !Number.isFinite(tickMs) || tickMs <= 0) {
      throw new InvalidOptionError('tickMs', tickMs, 'a positive number of milliseconds');
    }
    if (!Number.isInteger(buckets) || buckets < 1 || buckets > 1 << 24 || (buckets & (buckets - 1)) !== 0) {
      throw new InvalidOptionError('buckets', buckets, 'a power of two from 1 to 16777216');
    }
    if (!Number.isInteger(sliceSize) || sliceSize < 1) throw new InvalidOptionError('sliceSize', sliceSize, 'an integer of at least 1');
    this.tickMs = tickMs;
    this.buckets = buckets;
    this.sliceSize = sliceSize;
    const sliceMs = options.sliceMs ?? Infinity;
    if (typeof sliceMs !== 'number' || !(sliceMs > 0)) throw new InvalidOptionError('sliceMs', sliceMs, 'a positive number of milliseconds');
    this.sliceMs = sliceMs;
    const phase = options.phase ?? 0;
    if (typeof phase !== 'number' || !(phase >= 0 && phase < 1)) throw new InvalidOptionError('phase', phase, 'a number from 0 up to (not including) 1');
    this.#clock = options.clock;
    this.#mask = buckets - 1;
    this.#cursor = buckets;
    this.#firstEntry = buckets + 1;
    this.#onExpire = options.onExpire;
    this.#onTimer = options.onTimer;
    this.#alarm = new Alarm(this.#clock, this.#fire, options.unref ?? true);
    this.#origin = this.#clock.now() - phase * tickMs;
    this.#next = new Int32Array(this.#firstEntry);
    this.#prev = new Int32Array(this.#firstEntry);
    for (let head = 0; head < buckets; head++) {
      this.#next[head] = head;
      this.#prev[head] = head;
    }
    this.#next[this.#cursor] = UNLINKED;
    this.#prev[this.#cursor] = UNLINKED;
    this.grow(options.initialCapacity ?? 0);
  }

  /** Entries waiting. */
  get size(): number {
    return this.#size;
  }

  /** Entries the arrays have room for (entry numbers 0 to capacity - 1). */
  get capacity(): number {
    return this.#capacity;
  }

  /** Whether the wheel's clock timer is armed (it is while entries wait, and never when none do). */
  get armed(): boolean {
    return this.#alarm.armed;
  }

  /** Makes room for entries 0 to `capacity` - 1, doubling so that growing one by one stays amortised O(1). */
  grow(capacity: number): void {
    if (capacity <= this.#capacity) return;
    const size = Math.max(capacity, this.#capacity * 2);
    const nodes = this.#firstEntry + size;
    const next = new Int32Array(nodes).fill(UNLINKED);
    const prev = new Int32Array(nodes).fill(UNLINKED);
    next.set(this.#next);
    prev.set(this.#prev);
    this.#next = next;
    this.#prev = prev;
    if (this.#due !== null) {
      const due = new Uint32Array(nodes);
      due.set(this.#due);
      this.#due = due;
    }
    this.#capacity = size;
  }

  /**
   * Schedules `entry` to expire at the first tick end at or after `deadline` (clock milliseconds), moving it if
   * it was already scheduled. A deadline already past expires on the next tick. `first`: put it at the front of its
   * tick's bucket, so that it expires before the entries appended there, e.g. a cheap verdict before the pings that
   * will take several slices (otherwise it waits behind them).
   */
  schedule(entry: number, deadline: number, first = false): void {
    if (this.#stopped) throw new RangeError('the timing wheel was stopped');
    if (!Number.isInteger(entry) || entry < 0) throw new RangeError(`wheel entry must be a non-negative integer, got ${entry}`);
    if (Number.isNaN(deadline)) throw new RangeError('wheel deadline must be a number, got NaN');
    if (entry >= this.#capacity) this.grow(entry + 1);
    const node = this.#firstEntry + entry;
    const wasScheduled = this.#next[node] !== UNLINKED;
    const dueTick = this.#dueTickFor(deadline);
    // Before the links change: the due ticks are read back from the buckets as they stand.
    if (this.#due === null && dueTick - this.#firstUnsweptTick() > this.buckets - 2) this.#keepDueTicks();
    if (wasScheduled) this.#unlink(node);
    else this.#size++;
    if (this.#due !== null) this.#due[node] = dueTick >>> 0;
    // The bucket of the tick being swept never receives an entry due now (earliest is the next tick); one due a
    // revolution later lands there, before the cursor when put first, and waits for its round either way.
    if (first) this.#insertAfter(dueTick & this.#mask, node);
    else this.#append(dueTick & this.#mask, node);
    this.#arm();
  }

  /** When an entry scheduled now for `deadline` would expire (the end of its due tick), while the event loop keeps up. */
  expiryFor(deadline: number): number {
    if (Number.isNaN(deadline)) throw new RangeError('wheel deadline must be a number, got NaN');
    return this.#endOf(this.#dueTickFor(deadline));
  }

  /** Removes `entry` from the wheel; false when it was not scheduled. */
  cancel(entry: number): boolean {
    if (!(entry >= 0 && entry < this.#capacity)) return false;
    const node = this.#firstEntry + entry;
    if (this.#next[node] === UNLINKED) return false;
    this.#unlink(node);
    this.#size--;
    if (this.#size === 0 && !this.#sweeping) this.#alarm.clear();
    return true;
  }

  /**
   * Called from onExpire: the expiry being handled did more than look (e.g. wrote to a socket), count `steps`
   * more of this slice's budget, so that a slice's I/O stays bounded too, not only its entries.
   */
  charge(steps: number): void {
    this.#charged += steps;
  }

  isScheduled(entry: number): boolean {
    return entry >= 0 && entry < this.#capacity && this.#next[this.#firstEntry + entry] !== UNLINKED;
  }

  /** When `entry` will expire (the end of its due tick), or undefined when it is not scheduled. */
  expiresAt(entry: number): number | undefined {
    if (!this.isScheduled(entry)) return undefined;
    const due = this.#due ?? this.#keepDueTicks();
    const reference = this.#sweeping ? this.#sweepTick : this.#sweptTick;
    const dueTick = reference + ((due[this.#firstEntry + entry]! - (reference >>> 0)) | 0);
    return this.#endOf(dueTick);
  }

  /** Whether the wheel keeps each entry's due tick (12 bytes per entry) or reads it from its bucket (8); see the header. */
  get keepsDueTicks(): boolean {
    return this.#due !== null;
  }

  /** Unschedules everything and releases the clock timer; the wheel cannot be used afterwards. */
  stop(): void {
    this.#stopped = true;
    this.#alarm.clear();
    this.#next.fill(UNLINKED, this.#cursor);
    this.#prev.fill(UNLINKED, this.#cursor);
    for (let head = 0; head < this.buckets; head++) {
      this.#next[head] = head;
      this.#prev[head] = head;
    }
    this.#size = 0;
    this.#sweeping = false;
  }

  /** The tick an entry scheduled now for `deadline` falls due on. */
  #dueTickFor(deadline: number): number {
    if (this.#size === 0 && !this.#sweeping) this.#skipIdleTicks();
    // Ticks before this one are swept already (or being swept): an entry put there would wait a full turn.
    const earliest = this.#firstUnsweptTick();
    const dueTick = Math.max(this.#firstTickEndingBy(deadline), earliest);
    if (dueTick - earliest > MAX_TICKS_AHEAD) throw new RangeError(`wheel deadline ${deadline} is more than 2^31 ticks away`);
    return dueTick;
  }

  /** The first tick whose bucket no sweep has begun (the one after the tick being swept, if a sweep is under way). */
  #firstUnsweptTick(): number {
    return (this.#sweeping ? this.#sweepTick : this.#sweptTick) + 1;
  }

  /**
   * From now on, keep every entry's due tick; those scheduled so far get theirs from their bucket. Until now every
   * entry was due within the buckets - 1 ticks from the first unswept tick (see schedule), and the bucket being swept
   * holds only entries due on the tick being swept (the ones behind the cursor have expired, and none due later can
   * land there). So the `buckets` ticks from the one being swept (or, between sweeps, the first unswept one) stand
   * for one bucket each.
   */
  #keepDueTicks(): Uint32Array {
    const due = new Uint32Array(this.#firstEntry + this.#capacity);
    const first = this.#sweeping ? this.#sweepTick : this.#firstUnsweptTick();
    for (let tick = first; tick < first + this.buckets; tick++) {
      const head = tick & this.#mask;
      for (let node = this.#next[head]!; node !== head; node = this.#next[node]!) due[node] = tick >>> 0;
    }
    this.#due = due;
    return due;
  }

  /** The wheel was empty: nothing is due in the ticks that passed, so the sweep can start from now. */
  #skipIdleTicks(): void {
    const current = this.#lastTickEndedBy(this.#clock.now());
    if (current > this.#sweptTick) this.#sweptTick = current;
  }

  /**
   * The last tick that has ended at `now`: the largest k with origin + k x tickMs <= now, the very sum #arm waits
   * for. Dividing instead can round across a tick's end (origin 5.6e-17, tick 1: (1 - origin) / 1 < 1), and a timer
   * armed for that end would find its tick not over and arm itself again for the same moment, for ever.
   */
  #lastTickEndedBy(now: number): number {
    let tick = Math.floor((now - this.#origin) / this.tickMs);
    if (this.#endOf(tick + 1) <= now) tick++;
    else if (this.#endOf(tick) > now) tick--;
    return tick;
  }

  /** The first tick that ends at or after `deadline`, by the same sum: never one that ends a rounding error before it. */
  #firstTickEndingBy(deadline: number): number {
    let tick = Math.ceil((deadline - this.#origin) / this.tickMs);
    if (this.#endOf(tick) < deadline) tick++;
    else if (this.#endOf(tick - 1) >= deadline) tick--;
    return tick;
  }

  /** When tick k ends: the one place that computes it, so that arming, sweeping and scheduling agree to the bit. */
  #endOf(tick: number): number {
    return this.#origin + tick * this.tickMs;
  }

  #arm(): void {
    if (this.#alarm.armed || this.#stopped || this.#size === 0 || this.#sweeping) return;
    const at = this.#endOf(this.#sweptTick + 1);
    this.#alarm.set(at, Math.max(0, at - this.#clock.now()));
  }

  readonly #fire = (expectedAt: number): void => {
    const now = this.#clock.now();
    try {
      this.#onTimer?.(expectedAt, now);
    } finally {
      // Even if the hook threw: the sweep must run (and re-arm) or every deadline would be lost.
      if (!this.#stopped) this.#sweep(now);
    }
  };

  /**
   * Sweeps the buckets of every tick that has ended, at most sliceSize steps per turn of the event loop.
   *
   * The cursor is a node linked into the bucket being swept, just before the next entry to examine. Entries that
   * are not due are skipped by following links; before an entry expires the cursor is moved past it, so that
   * onExpire may cancel or move any entry (including the next one) without invalidating the iteration. Between
   * slices the cursor marks where to resume.
   */
  #sweep(now: number): void {
    const target = this.#lastTickEndedBy(now);
    if (!this.#sweeping) {
      if (target <= this.#sweptTick || this.#size === 0) {
        // Woken early (timers may run a fraction of a millisecond before performance.now() says so), or empty.
        if (this.#size === 0) this.#sweptTick = Math.max(this.#sweptTick, target);
        this.#arm();
        return;
      }
      // After a long stall, visit each bucket once: an entry due on a skipped tick sits in a bucket still ahead.
      if (target - this.#sweptTick > this.buckets) this.#sweptTick = target - this.buckets;
      this.#sweeping = true;
      this.#sweepTick = this.#sweptTick + 1;
      this.#sweepTarget = target;
      this.#insertAfter(this.#sweepTick & this.#mask, this.#cursor);
    }
    // Local copies for speed; refreshed after every onExpire, which may grow (reallocate) the arrays.
    let next = this.#next;
    let due = this.#due;
    const cursor = this.#cursor;
    let head = this.#sweepTick & this.#mask;
    let tick = this.#sweepTick >>> 0;
    let node = next[cursor]!;
    let budget = this.sliceSize;
    const sliceEnds = this.sliceMs === Infinity ? Infinity : now + this.sliceMs;
    try {
      while (budget-- > 0) {
        if (node === head) {
          this.#unlink(cursor);
          this.#sweptTick = this.#sweepTick;
          if (this.#sweepTick >= this.#sweepTarget || this.#size === 0) {
            this.#sweptTick = this.#sweepTarget;
            this.#sweeping = false;
            return;
          }
          this.#sweepTick++;
          head = this.#sweepTick & this.#mask;
          tick = this.#sweepTick >>> 0;
          this.#insertAfter(head, cursor);
          node = next[cursor]!;
          continue;
        }
        if (due !== null && ((due[node]! - tick) | 0) > 0) {
          node = next[node]!; // a later round: leave it
          continue;
        }
        this.#unlink(cursor);
        this.#insertAfter(node, cursor);
        this.#unlink(node);
        this.#size--;
        this.#charged = 0;
        this.#onExpire(node - this.#firstEntry);
        if (this.#charged > 0) {
          budget -= this.#charged;
          if (sliceEnds !== Infinity && this.#clock.now() >= sliceEnds) budget = 0;
        }
        if (this.#stopped) return;
        next = this.#next;
        due = this.#due;
        node = next[cursor]!;
      }
      // Out of budget: park the cursor before the next entry to examine.
      this.#unlink(cursor);
      this.#insertAfter(this.#prev[node]!, cursor);
    } finally {
      // Also reached when onExpire throws: the cursor then sits after the entry that expired, and the sweep
      // resumes from there on the next turn.
      if (!this.#stopped) {
        if (this.#sweeping) this.#alarm.set(this.#clock.now(), 0);
        else this.#arm();
      }
    }
  }

  #append(head: number, node: number): void {
    const tail = this.#prev[head]!;
    this.#next[tail] = node;
    this.#prev[node] = tail;
    this.#next[node] = head;
    this.#prev[head] = node;
  }

  #insertAfter(anchor: number, node: number): void {
    const after = this.#next[anchor]!;
    this.#next[anchor] = node;
    this.#prev[node] = anchor;
    this.#next[node] = after;
    this.#prev[after] = node;
  }

  #unlink(node: number): void {
    const before = this.#prev[node]!;
    const after = this.#next[node]!;
    this.#next[before] = after;
    this.#prev[after] = before;
    this.#next[node] = UNLINKED;
    this.#prev[node] = UNLINKED;
  }
}

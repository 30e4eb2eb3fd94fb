import { EventEmitter } from 'node:events';
import type { Clock } from '../clock.js';
import { formatDuration } from '../duration.js';
import { InvalidOptionError } from '../errors.js';
import {
  MAX_HEARTBEAT_CONNECTIONS,
  resolveHeartbeatOptions,
  type HeartbeatOptions,
  type ResolvedHeartbeatOptions,
  type ResolvedPhiOptions,
} from './heartbeat-options.js';
import { fromBfloat16, toBfloat16 } from './bfloat16.js';
import { DeadlineHeap } from './deadline-heap.js';
import { deviationsAtPhi, nextMean, nextVariance, phi as phiOf, sampleWeight } from './phi.js';
import { nextRttVariance, nextSmoothedRtt, retransmissionTimeout } from './rtt.js';
import { StallGuard, StallSources, type StallReport } from './stall-guard.js';
import { ageOf, rangeMs, stampOf, unitsPerMsFor } from './time-stamps.js';
import { DeathReasons } from './verdict.js';
import { TimingWheel } from './wheel.js';

/**
 * The heartbeat engine: finds dead peers among many connections by pinging only those that fell silent.
 *
 * Pure: no sockets, no global timers. Time comes from the injected Clock, pings leave through a callback, and the
 * transport reports what arrives (`touch` for every inbound chunk, `pong` for a pong). What a transport must do:
 *
 * - call `touch(handle)` for every chunk it reads (any byte is proof of life; it is a single time stamp);
 * - send each ping AHEAD of data already queued (a ping lane): a ping stuck behind a 10 MB frame measures our
 *   send queue, not the peer, and a pong stuck behind the peer's frames is answered late. Frame the protocol so a
 *   small control frame can be interleaved between the chunks of a large one;
 * - answer the peer's pings at once, echoing the nonce, and report pongs with `pong(handle, nonce)`.
 *
 * Per connection, states move alive -> suspect -> dead, each step an event with its evidence:
 * - ping: when a connection has been silent for `interval` (plus its share of the jitter, so that pings spread), it
 *   gets a ping, at the end of the tick that falls in. A connection that sent anything within `interval` (other
 *   than the answer to our last ping) never does. One that only answers pings is pinged once per interval: the
 *   silence after its pong takes no jitter (its phase was spread by the first ping), and its ping falls due a tick
 *   early, so that it leaves by `interval` on the tick grid.
 * - suspect: the pong is overdue by this peer's own RTO (RFC 6298, from its measured RTTs), or phi accrual (if
 *   enabled) finds the silence improbable. An early warning; it resends nothing and convicts nothing. Without a
 *   'suspect' listener (and without phi) the engine spends no check on it: pings scheduled before a listener is
 *   added are not watched for it.
 * - alive: a suspect connection sent something (a pong or any byte).
 * - dead (reason `heartbeat-timeout`): silent for `maxSilence` (default interval + timeout) AND the last ping
 *   was unanswered for its wait: timeout - tick - jitter x interval (the most a ping after data can go out after
 *   `interval`: the deadline does not move for it), or the full timeout for a ping sent because this process
 *   stalled. The engine then forgets the connection (its handle becomes invalid).
 * Without stalls, the verdict comes at lastActivity + maxSilence (or when the last ping's wait ends, if later),
 * as late as the process runs its timers: never early, and not rounded to the wheel's tick (the check a tick before
 * hands the connection to an exact timer, see #schedule); plus at most two stamp units (about 2 us: a stamp rounds
 * the last activity up, and the exact check comes a unit after the deadline so that rounding never makes it early).
 *
 * Stall guard: if this process stalled (the wheel's timer ran late, a sweep ran long, or the caller reported event
 * loop delay), pongs may be waiting unread in our own socket buffers. No verdict is then based on a ping sent
 * before the stall ended: the engine sends a fresh one and gives it a full timeout (see stall-guard.ts).
 * Shorter delays are met one step earlier: a timer that ran late (1 ms or more) first lets the event loop read its
 * sockets, one zero-delay turn, so that a sweep or a verdict acts on the bytes that arrived meanwhile (alarm.ts).
 *
 * Cost: `touch` stamps a time (plus, only when phi is on, one running-average update for silences longer than a
 * tick, which may move the check earlier); no timer is re-armed per message. Every connection has ONE entry in a shared hashed timing wheel, which
 * runs on one clock timer (and, in the last tick before their verdicts, the dying wait on a second one, a heap of exact
 * deadlines). An entry is moved only when it falls due or when a pong answers the last ping: a busy
 * connection costs one check per `interval` (like Netty's IdleStateHandler), an idle one that answers one check
 * and one move per ping.
 *
 * Memory layout: struct-of-arrays, indexed by slot, with a free list threaded through the ping times:
 *   lastActivity, pingSentAt          Uint32Array     8 B  (stamps: about 1 us, see time-stamps.ts)
 *   generation (stale-handle check)   Uint16Array     2 B
 *   flags: state, postponed, pings    Uint8Array      1 B
 *   lastRtt, smoothedRtt, rttVariance Uint16Array     6 B  (bfloat16: within 0.4 %, see bfloat16.ts)
 *   wheel entry: next, prev           Int32Array      8 B  (+4 B, a due tick, see below)
 *   id                                Array slot      8 B
 *   with phi: mean, variance (Float32), samples (Uint8)  9 B
 * = 33 B per connection, 46 B with phi; no object per connection unless a per-connection sendPing is given. The wheel
 * keeps a due tick per entry (4 B more) only with phi (which asks when a check is due), with a maxSilence beyond 4096
 * ticks, or from the first time its timer ran later than a quarter of maxSilence (see wheelBuckets).
 * A ping's nonce is not stored: it is a hash of the slot and the ping's send time (see #nonceOf).
 * Times are stamps (time-stamps.ts): rounded up to a unit of about 1 us (coarser only for a maxSilence beyond 17
 * minutes), so a silence reads at most one unit short and never long.
 */

declare const handleBrand: unique symbol;
/** Names one connection in one engine. A stale handle (removed, dead) is recognised and ignored. */
export type HeartbeatHandle = number & { readonly [handleBrand]: true };

export const HeartbeatStates = {
  ALIVE: 'alive',
  SUSPECT: 'suspect',
} as const;
export type HeartbeatState = (typeof HeartbeatStates)[keyof typeof HeartbeatStates];

export const SuspicionCauses = {
  /** The last ping's pong is later than this peer's RTO (RFC 6298) allows. */
  PING_OVERDUE: 'ping-overdue',
  /** The phi accrual detector's level reached its threshold. */
  PHI: 'phi',
} as const;
export type SuspicionCause = (typeof SuspicionCauses)[keyof typeof SuspicionCauses];

export interface SuspectPeer<Id> {
  id: Id;
  handle: HeartbeatHandle;
  because: SuspicionCause;
  /** Time since the last inbound byte. */
  silentMs: number;
  pingsOutstanding: number;
  /** How long the last ping has waited for its pong; null when none is out. */
  pingWaitingMs: number | null;
  /** The time after which this peer's pong counts as overdue (SRTT + 4 x RTTVAR, at least 1 s). */
  rtoMs: number;
  /** The phi accrual level now (only when phi is enabled). */
  phi?: number;
}

export interface RecoveredPeer<Id> {
  id: Id;
  handle: HeartbeatHandle;
  /** What ended the suspicion: the pong, or any other inbound traffic. */
  via: 'pong' | 'traffic';
  /** The silence that just ended. */
  silentMs: number;
  /** The RTT measured by this pong; null when the traffic was not the answer to the last ping. */
  rttMs: number | null;
}

export interface HeartbeatDeadPeer<Id> {
  id: Id;
  handle: HeartbeatHandle;
  reason: typeof DeathReasons.HEARTBEAT_TIMEOUT;
  /** No socket error is involved in a heartbeat verdict. */
  code: null;
  /** The deciding evidence in words. */
  because: string;
  /** Time since the last inbound byte. */
  silentMs: number;
  pingsOutstanding: number;
  /** Time since the last ping was sent. */
  lastPingAgoMs: number;
  lastRttMs: number | null;
  smoothedRttMs: number | null;
  /** The verdict was held back once because this process stalled (and a fresh ping went unanswered too). */
  postponedByStall: boolean;
  /** The phi accrual level at the verdict (only when phi is enabled). */
  phi?: number;
  configured: { interval: number; timeout: number; maxSilence: number };
}

export interface HeartbeatStats<Id> {
  id: Id;
  state: HeartbeatState;
  silentMs: number;
  lastActivityAt: number;
  pingsOutstanding: number;
  /**
   * When the last ping was sent; null when none was, or when that was longer ago than the engine keeps ping times
   * (a quarter of its stamps' range, at least maxSilence: 17.5 minutes for any maxSilence up to 17 minutes).
   */
  lastPingAt: number | null;
  /** The last ping's RTT. This and the estimates below are stored as bfloat16: within 0.4 % (the `alive` event's rttMs is exact). */
  lastRttMs: number | null;
  /** SRTT (RFC 6298). */
  smoothedRttMs: number | null;
  /** RTTVAR (RFC 6298): the mean deviation of the RTT. */
  rttVarianceMs: number | null;
  /** After how long a pong is overdue for this peer. */
  rtoMs: number;
  phi?: number;
}

export interface HeartbeatWarning<Id> {
  id: Id;
  handle: HeartbeatHandle;
  /** What sendPing threw. The ping counts as sent: a connection that cannot be written to dies by the deadline. */
  error: unknown;
}

export interface HeartbeatEvents<Id> {
  suspect: [SuspectPeer<Id>];
  alive: [RecoveredPeer<Id>];
  dead: [HeartbeatDeadPeer<Id>];
  /** This process stalled; verdicts that relied on the time before it are postponed. */
  stall: [StallReport];
  warning: [HeartbeatWarning<Id>];
}

export interface HeartbeatConnectionOptions {
  /** Sends a ping for this connection (instead of the engine's sendPing): costs a closure per connection. */
  sendPing?: (nonce: number) => void;
}

// flags: bits 0-1 state, bit 2 postponed, bit 3 answered, bits 4-7 pings sent since the last inbound activity
// (saturating at 15).
const STATE_MASK = 0b11;
const FREE = 0;
const ALIVE = 1;
const SUSPECT = 2;
const DEAD = 3;
/**
 * The last ping was sent because this process stalled (no verdict may rest on a ping sent before a stall ended): it
 * waits the full timeout, and the verdict says it was held back.
 */
const POSTPONED = 0b100;
/**
 * The last inbound activity was the pong to our own last ping, nothing since: the silence began at a moment the
 * engine's pings chose (already spread), so the next ping takes no jitter. See #jitterSpan.
 */
const ANSWERED = 0b1000;
const PINGS_SHIFT = 4;
const PINGS_MAX = 15;
/** The ping stamp of a connection that has none (never pinged, or too long ago to keep). */
const NO_PING = 0;
const SLOT_LIMIT = MAX_HEARTBEAT_CONNECTIONS;
const MAX_SAMPLES = 255;
const MAX_BUCKETS = 4096;
/**
 * A check that wrote a ping counts this many of a sweep slice's steps (sliceSize, default 1024): a ping is a
 * socket write, two orders of magnitude dearer than a look at the arrays, so a slice writes at most 64 pings (and
 * stops sooner once it has run for sliceTime) and the pongs of one slice are read before the next is written: the
 * event loop stays responsive.
 */
const PING_STEPS = 16;

export class HeartbeatEngine<Id = unknown> extends EventEmitter<HeartbeatEvents<Id>> {
  readonly options: Readonly<ResolvedHeartbeatOptions<Id>>;
  readonly #clock: Clock;
  readonly #wheel: TimingWheel;
  /** Checks in the last tick before a verdict, at their exact time (the wheel would be up to a tick late). */
  readonly #verdicts: DeadlineHeap;
  /** The slot being checked now, or -1: its entry is in neither the wheel nor the heap, and the check reschedules it. */
  #checking = -1;
  readonly #guard: StallGuard | null;
  readonly #phi: ResolvedPhiOptions | false;
  /** How many standard deviations past the mean phi reaches its threshold (the same for every peer). */
  readonly #phiDeviations: number;
  /**
   * Pings fall due at lastActivity + interval + u x jitterSpan, where u in [0, 1) is fixed per slot (a hash of the
   * slot and a seed drawn from `random` once per engine): connections that went quiet together are spread, and
   * every check agrees on when a connection's ping is due, so a check that runs early or late never pings early
   * (a fresh draw per check did: the benchmark saw idle connections pinged 11 % more often than once an interval).
   * The wheel sweeps a tick at its end, so the ping leaves between interval and interval + jitterSpan + tick, never
   * sooner: a connection that sent data within `interval` is not pinged (issue #6 counts such pings as waste).
   * The deadline does not move for that delay: the ping's wait for its pong is shortened instead (#pongWait).
   *
   * The jitter is left out when the silence began with the pong to our own last ping (the ANSWERED flag): that
   * moment was set by the previous ping, which was already spread, so the connection keeps its place on the tick
   * grid and is pinged once per interval. Jittering every silence pulled most idle connections a whole tick earlier
   * each period (their pong lands a few ms into a tick, and any jitter larger than that crosses the tick's start):
   * 4.8 % more pings than one per interval at 2 s with 100 ms ticks, 1.9 % at 6 s, with the default jitter.
   */
  readonly #jitterSpan: number;
  /** The least silence that can have made a ping due: interval - tick (after the answer to our own ping). */
  readonly #pingMinIdle: number;
  /**
   * How long a ping waits for its pong before the verdict may come: timeout, less the most a ping can leave after
   * `interval` (a tick and the jitter), so that the verdict still comes at lastActivity + maxSilence. At least half
   * the timeout (heartbeat-options.ts resolveJitter). A ping sent because this process stalled waits the full
   * timeout (the POSTPONED flag), as the stall guard promises.
   */
  readonly #pongWait: number;
  /** Mixed with the slot to give each connection its own jitter. */
  readonly #jitterSeed: number;

  #capacity = 0;
  #count = 0;
  /** Slots below this have been used; slots from it up are fresh. */
  #highWater = 0;
  /** First free slot, or -1. A free slot's pingSentAt holds the next free slot + 1 (0 ends the list). */
  #freeHead = -1;
  /** Pings sent so far (a check that sent one counts PING_STEPS of its sweep's slice). */
  #pingsSent = 0;
  /** When the wheel's timer last ran: a sweep that runs long is a stall too. */
  #timerRanAt = Infinity;

  /** Stamps (time-stamps.ts); a ping stamp of NO_PING: none sent, or its stamp was cleared as too old. */
  #lastActivity = new Uint32Array(0);
  #pingSentAt = new Uint32Array(0);
  readonly #epoch: number;
  readonly #unitsPerMs: number;
  /** One stamp unit in ms: the resolution of every time the engine keeps (time-stamps.ts). */
  readonly #stampUnitMs: number;
  /** Stamps older than this are clamped (last activity) or cleared (pings), every #stampPassEveryMs. */
  readonly #stampMaxAgeMs: number;
  readonly #stampPassEveryMs: number;
  #nextStampPassAt: number;
  #generation = new Uint16Array(0);
  #flags = new Uint8Array(0);
  /** RTT estimates as bfloat16 (NaN before the first sample). */
  #lastRtt = new Uint16Array(0);
  #smoothedRtt = new Uint16Array(0);
  #rttVariance = new Uint16Array(0);
  #silenceMean: Float32Array | null = null;
  #silenceVariance: Float32Array | null = null;
  #silenceSamples: Uint8Array | null = null;
  #ids: (Id | undefined)[] = [];
  /** Per-connection senders, created only when a connection brings its own. */
  #senders: (((nonce: number) => void) | undefined)[] | null = null;

  constructor(options: HeartbeatOptions<Id> = {}) {
    super();
    const resolved = resolveHeartbeatOptions(options);
    this.options = Object.freeze(resolved);
    this.#clock = resolved.clock;
    this.#phi = resolved.phi;
    this.#phiDeviations = resolved.phi ? deviationsAtPhi(resolved.phi.threshold) : Infinity;
    this.#jitterSpan = resolved.jitter * resolved.interval;
    this.#pingMinIdle = resolved.interval - resolved.tick;
    this.#pongWait = resolved.timeout - resolved.tick - this.#jitterSpan;
    this.#jitterSeed = Math.floor(resolved.random() * 2 ** 32) >>> 0;
    this.#guard = resolved.stallThreshold === false ? null : new StallGuard(resolved.stallThreshold);
    this.#epoch = resolved.clock.now();
    this.#unitsPerMs = unitsPerMsFor(resolved.maxSilence);
    this.#stampUnitMs = 1 / this.#unitsPerMs;
    this.#stampMaxAgeMs = rangeMs(this.#unitsPerMs) / 4;
    this.#stampPassEveryMs = rangeMs(this.#unitsPerMs) / 8;
    this.#nextStampPassAt = this.#epoch + this.#stampPassEveryMs;
    this.#wheel = new TimingWheel({
      clock: resolved.clock,
      tickMs: resolved.tick,
      buckets: wheelBuckets(resolved.maxSilence, resolved.tick),
      sliceSize: resolved.sliceSize,
      sliceMs: resolved.sliceTime,
      onExpire: this.#check,
      onTimer: this.#onTimer,
      // Drawn after the jitter seed, so a seeded engine's jitter stays what it was. Engines created together in
      // several processes (or several engines in one) would otherwise sweep at the same instants: measured at 100 000
      // connections in 6 server processes on 2 cores (bench:liveness), that raised each process's event-loop delay
      // p99 by about 2.5 ms over the same work unaligned.
      phase: wheelPhase(resolved.random()),
    });
    this.#verdicts = new DeadlineHeap({
      clock: resolved.clock,
      sliceSize: resolved.sliceSize,
      sliceMs: resolved.sliceTime,
      onExpire: this.#checkVerdict,
      onTimer: this.#onTimer,
    });
    if (resolved.initialCapacity > 0) this.#grow(resolved.initialCapacity);
  }

  /** Connections followed. */
  get size(): number {
    return this.#count;
  }

  /**
   * Checks waiting: one per connection, in the timing wheel or (within a tick of its verdict) at its exact deadline;
   * the latter may include connections removed meanwhile, until that deadline. 0 when none is followed.
   */
  get scheduledChecks(): number {
    return this.#wheel.size + this.#verdicts.size;
  }

  /** Whether the engine holds a clock timer (only while connections are followed). */
  get timerArmed(): boolean {
    return this.#wheel.armed || this.#verdicts.armed;
  }

  /** Connections the arrays have room for before they grow. */
  get capacity(): number {
    return this.#capacity;
  }

  /**
   * Starts following a connection; its silence counts from now. `id` is what events carry (your connection
   * object, a number, a string). Pings go through `connection.sendPing`, or the engine's `sendPing(id, nonce)`.
   */
  add(id: Id, connection: HeartbeatConnectionOptions = {}): HeartbeatHandle {
    const sendPing = connection.sendPing;
    if (sendPing !== undefined && typeof sendPing !== 'function') {
      throw new InvalidOptionError('sendPing', sendPing, 'a function (nonce) => void');
    }
    if (sendPing === undefined && this.options.sendPing === undefined) {
      throw new InvalidOptionError('sendPing', undefined, 'a function: pass add(id, { sendPing }) or new HeartbeatEngine({ sendPing })');
    }
    const slot = this.#allocate();
    const now = this.#clock.now();
    this.#lastActivity[slot] = this.#stamp(now);
    this.#pingSentAt[slot] = NO_PING;
    this.#flags[slot] = ALIVE;
    this.#lastRtt[slot] = NO_RTT;
    this.#smoothedRtt[slot] = NO_RTT;
    this.#rttVariance[slot] = NO_RTT;
    if (this.#silenceSamples) {
      this.#silenceMean![slot] = 0;
      this.#silenceVariance![slot] = 0;
      this.#silenceSamples[slot] = 0;
    }
    this.#ids[slot] = id;
    if (sendPing !== undefined) (this.#senders ??= [])[slot] = sendPing;
    this.#count++;
    this.#wheel.schedule(slot, this.#nextCheckAt(slot, now));
    return this.#handleOf(slot);
  }

  /**
   * Inbound bytes arrived on this connection: call it for every chunk. O(1): it stamps the time. (A suspect
   * connection becomes alive at once; with phi on, a silence longer than a tick is also learned.)
   * Returns false for a stale handle.
   */
  touch(handle: HeartbeatHandle): boolean {
    const slot = this.#slotOf(handle);
    if (slot < 0) return false;
    const now = this.#clock.now();
    const previous = this.#lastActivity[slot]!;
    this.#lastActivity[slot] = this.#stamp(now);
    const flags = this.#flags[slot]!;
    // Unconditional: a branch taken only now and then would deoptimise the hot path the first time it is taken.
    this.#flags[slot] = flags & ~ANSWERED;
    if (this.#silenceSamples === null && (flags & STATE_MASK) !== SUSPECT) return true;
    const silent = this.#ago(previous, now);
    const learned = this.#silenceSamples !== null && silent >= this.options.tick;
    if (learned) this.#learnSilence(slot, silent);
    if ((flags & STATE_MASK) === SUSPECT) this.#recover(slot, 'traffic', silent, null);
    if (learned) this.#bringPhiCheckForward(slot, handle, now);
    return true;
  }

  /**
   * A pong carrying `nonce` arrived (it counts as traffic: no separate touch needed). When it answers the last
   * ping, its RTT updates the connection's estimates and true is returned; an older or unknown nonce is only
   * traffic (RTT samples must be unambiguous, as in Karn's algorithm).
   */
  pong(handle: HeartbeatHandle, nonce: number): boolean {
    const slot = this.#slotOf(handle);
    if (slot < 0) return false;
    const now = this.#clock.now();
    const flags = this.#flags[slot]!;
    let rtt: number | null = null;
    if (flags >> PINGS_SHIFT > 0 && nonce === this.#nonceOf(slot)) {
      rtt = this.#ago(this.#pingSentAt[slot]!, now);
      const srtt = fromBfloat16(this.#smoothedRtt[slot]!);
      this.#rttVariance[slot] = toBfloat16(nextRttVariance(fromBfloat16(this.#rttVariance[slot]!), srtt, rtt));
      this.#smoothedRtt[slot] = toBfloat16(nextSmoothedRtt(srtt, rtt));
      this.#lastRtt[slot] = toBfloat16(rtt);
    }
    const previous = this.#lastActivity[slot]!;
    this.#lastActivity[slot] = this.#stamp(now);
    this.#flags[slot] = (flags & STATE_MASK) | (rtt === null ? 0 : ANSWERED);
    const suspect = (flags & STATE_MASK) === SUSPECT;
    if (this.#silenceSamples === null) {
      // Without phi, the silence that just ended matters only to a suspect's `alive` event.
      if (suspect) this.#recover(slot, 'pong', this.#ago(previous, now), rtt);
      if (rtt !== null) this.#rescheduleAnswered(slot, handle, now, suspect);
      return rtt !== null;
    }
    const silent = this.#ago(previous, now);
    const learned = silent >= this.options.tick;
    if (learned) this.#learnSilence(slot, silent);
    if (suspect) this.#recover(slot, 'pong', silent, rtt);
    if (learned) this.#bringPhiCheckForward(slot, handle, now);
    else if (rtt !== null) this.#rescheduleAnswered(slot, handle, now, suspect);
    return rtt !== null;
  }

  /** Stops following a connection; false when the handle is stale (removed already, or declared dead). */
  remove(handle: HeartbeatHandle): boolean {
    const slot = this.#slotOf(handle);
    if (slot < 0) return false;
    this.#free(slot);
    return true;
  }

  /** Stops following every connection and releases the clock timer. The engine may be used again. */
  clear(): void {
    for (let slot = 0; slot < this.#highWater; slot++) {
      const state = this.#flags[slot]! & STATE_MASK;
      if (state === ALIVE || state === SUSPECT) this.#free(slot);
    }
  }

  has(handle: HeartbeatHandle): boolean {
    return this.#slotOf(handle) >= 0;
  }

  /** 'alive' or 'suspect'; undefined for a stale handle (after `dead` the engine has forgotten it). */
  state(handle: HeartbeatHandle): HeartbeatState | undefined {
    const slot = this.#slotOf(handle);
    if (slot < 0) return undefined;
    return (this.#flags[slot]! & STATE_MASK) === SUSPECT ? HeartbeatStates.SUSPECT : HeartbeatStates.ALIVE;
  }

  /** What the engine knows of a connection now: silence, pings, RTT estimates, phi. */
  stats(handle: HeartbeatHandle): HeartbeatStats<Id> | undefined {
    const slot = this.#slotOf(handle);
    if (slot < 0) return undefined;
    const now = this.#clock.now();
    const pingAt = this.#pingTime(slot, now);
    const silentMs = this.#ago(this.#lastActivity[slot]!, now);
    const stats: HeartbeatStats<Id> = {
      id: this.#ids[slot] as Id,
      state: (this.#flags[slot]! & STATE_MASK) === SUSPECT ? HeartbeatStates.SUSPECT : HeartbeatStates.ALIVE,
      silentMs,
      lastActivityAt: now - silentMs,
      pingsOutstanding: this.#pingsOutstanding(slot),
      lastPingAt: pingAt === -Infinity ? null : pingAt,
      lastRttMs: rttOrNull(this.#lastRtt[slot]!),
      smoothedRttMs: rttOrNull(this.#smoothedRtt[slot]!),
      rttVarianceMs: rttOrNull(this.#rttVariance[slot]!),
      rtoMs: this.#rto(slot),
    };
    if (this.#phi) stats.phi = this.#phiAt(slot, now);
    return stats;
  }

  /** The phi accrual level of a connection now; undefined when phi is off or the handle is stale. */
  phi(handle: HeartbeatHandle): number | undefined {
    const slot = this.#slotOf(handle);
    if (slot < 0 || !this.#phi) return undefined;
    return this.#phiAt(slot, this.#clock.now());
  }

  /**
   * Reports event loop delay measured elsewhere, e.g. the max of perf_hooks.monitorEventLoopDelay() sampled
   * every second (in ms: `histogram.max / 1e6`, then `histogram.reset()`). A delay at or above stallThreshold
   * postpones verdicts as a late tick would. Returns whether it counted as a stall.
   */
  recordLoopDelay(delayMs: number): boolean {
    if (this.#guard === null) return false;
    return this.#reportStall(this.#guard.observe(delayMs, this.#clock.now(), StallSources.LOOP_DELAY));
  }

  /** The wheel's timer or the verdicts' ran (late by the difference, which the stall guard judges). */
  readonly #onTimer = (expectedAt: number, firedAt: number): void => {
    this.#timerRanAt = firedAt;
    if (firedAt >= this.#nextStampPassAt) this.#clampOldStamps(firedAt);
    if (this.#guard !== null) this.#reportStall(this.#guard.observeTimer(expectedAt, firedAt));
  };

  #reportStall(report: StallReport | null): boolean {
    if (report === null) return false;
    this.emit('stall', report);
    return true;
  }

  /** A connection's check fell due in the wheel. */
  readonly #check = (slot: number): void => {
    if (this.#examine(slot)) this.#wheel.charge(PING_STEPS - 1);
  };

  /** A check reached its exact deadline; returns the steps it cost the heap's slice. */
  readonly #checkVerdict = (slot: number, generation: number): number => {
    // Stale: the connection was removed (or convicted and its slot reused), or a pong moved it back to the wheel.
    if (this.#generation[slot] !== generation || !this.#isFollowed(slot) || this.#wheel.isScheduled(slot)) return 1;
    return this.#examine(slot) ? PING_STEPS : 1;
  };

  /** Decides what the evidence says, then schedules the next check. Returns whether it wrote a ping. */
  #examine(slot: number): boolean {
    const generation = this.#generation[slot]!;
    const pingsBefore = this.#pingsSent;
    const now = this.#clock.now();
    if (this.#guard !== null && now - this.#timerRanAt >= this.#guard.thresholdMs) {
      // This sweep has run long (slow listeners or sendPing): sockets went unread meanwhile.
      const report = this.#guard.observe(now - this.#timerRanAt, now, StallSources.SWEEP);
      this.#timerRanAt = now;
      this.#reportStall(report);
    }
    this.#checking = slot;
    try {
      this.#decide(slot, now);
    } finally {
      this.#checking = -1;
    }
    const pinged = this.#pingsSent !== pingsBefore;
    // A listener or sendPing may have removed the connection (or it was convicted).
    if (this.#generation[slot] !== generation || !this.#isFollowed(slot)) return pinged;
    this.#schedule(slot, now);
    return pinged;
  }

  /**
   * Files the next check. With a ping out, the checks in the last tick before the verdict (the verdict's, and any
   * other rule's that falls there: an overdue pong, a look for a ping after a touch) go to the heap of exact
   * deadlines, handed over by a check at the start of that tick: the verdict then comes when it is due, not at the
   * end of the tick it falls in. Only the dying get that far (a pong moves a connection to its next ping), so the heap
   * stays small and costs the live connections nothing. Every other check goes to the wheel: with a ping out, first
   * in its tick, so that it does not wait behind the tick's pings (a sweep of a few hundred pings takes several
   * slices on a busy machine).
   */
  #schedule(slot: number, now: number): void {
    const at = this.#nextCheckAt(slot, now);
    if (this.#pingsOutstanding(slot) === 0) {
      this.#wheel.schedule(slot, at);
      return;
    }
    const verdict = this.#verdictAt(slot, now);
    const inWheel = Math.min(at, verdict - this.options.tick);
    // The wheel only while its check comes clearly before the verdict: a tick end that only rounding puts before it
    // would convict a hair early, or hand over after it.
    if (this.#wheel.expiryFor(inWheel) < verdict - this.#stampUnitMs) {
      this.#wheel.schedule(slot, inWheel, true);
      return;
    }
    // A stamp unit late: the rules compare silences read back from stamps, and `at`, a sum of such readings, can
    // round a hair before the true deadline (a verdict 1e-11 ms early) or a silence read at `at` a hair short (the
    // check would find nothing and be filed for the same moment again, for ever). A unit later neither happens.
    this.#verdicts.push(slot, this.#generation[slot]!, Math.max(at, now) + this.#stampUnitMs);
  }

  #decide(slot: number, now: number): void {
    const { maxSilence, timeout } = this.options;
    const generation = this.#generation[slot]!;
    const stallEnd = this.#stallEndedAt();
    let last = this.#activityTime(slot, now);
    let pings = this.#pingsOutstanding(slot);
    let pingAt = this.#pingTime(slot, now);
    const fresh = pings > 0 && pingAt >= stallEnd;

    if (now - last >= maxSilence) {
      if (fresh && now - pingAt >= this.#pingWait(slot)) {
        this.#convict(slot, now);
        return;
      }
      if (!fresh) {
        // No ping sent since the last stall ended: whatever we did not hear may be unread in our own buffers.
        if (stallEnd > (pings > 0 ? pingAt : last)) this.#flags[slot]! |= POSTPONED;
        this.#sendPing(slot, now);
      }
      return;
    }

    if ((this.#flags[slot]! & STATE_MASK) === ALIVE) {
      let cause: SuspicionCause | null = null;
      if (fresh && now - pingAt >= this.#rto(slot)) cause = SuspicionCauses.PING_OVERDUE;
      else if (this.#phi && now >= this.#phiCrossesAt(slot, now)) cause = SuspicionCauses.PHI;
      if (cause !== null) {
        this.#flags[slot] = (this.#flags[slot]! & ~STATE_MASK) | SUSPECT;
        this.emit('suspect', this.#suspectEvidence(slot, now, cause));
        if (this.#generation[slot] !== generation || !this.#isFollowed(slot)) return;
        // Suspicion from phi: probe now rather than wait for the interval; the answer settles it.
        if (cause === SuspicionCauses.PHI && this.#pingsOutstanding(slot) === 0) {
          this.#sendPing(slot, now);
          return;
        }
        // Read again: the listener may have touched the connection.
        pings = this.#pingsOutstanding(slot);
        pingAt = this.#pingTime(slot, now);
        last = this.#activityTime(slot, now);
      }
    }

    if (pings === 0) {
      if (now >= this.#pingDueAt(slot, last)) this.#sendPing(slot, now);
    } else if (pingAt < stallEnd) {
      this.#flags[slot]! |= POSTPONED;
      this.#sendPing(slot, now);
    } else if (now - pingAt >= this.options.interval && now + timeout <= last + maxSilence) {
      // With maxSilence beyond interval + timeout: ping again every interval while silent, as long as the
      // new ping still gets a full timeout before the deadline.
      this.#sendPing(slot, now);
    }
  }

  /**
   * The earliest time at which any rule could decide something for this connection. Touches only move these
   * times later, so a check that comes early just reschedules, with one exception: a touch clears an outstanding
   * ping and makes the next ping due from the touch; while a ping is out, the engine looks again every
   * pingMinIdle so that the next ping is never late.
   */
  #nextCheckAt(slot: number, now: number): number {
    const { interval, timeout, maxSilence } = this.options;
    const last = this.#activityTime(slot, now);
    const pings = this.#pingsOutstanding(slot);
    const pingAt = this.#pingTime(slot, now);
    const alive = (this.#flags[slot]! & STATE_MASK) === ALIVE;
    let at = pings === 0 ? last + maxSilence : this.#verdictAt(slot, now);
    if (pings === 0) {
      at = earlier(at, this.#pingDueAt(slot, last), now);
    } else {
      at = earlier(at, now + this.#pingMinIdle, now);
      // Only a 'suspect' listener (or phi) needs a look when the pong is overdue: otherwise that check, one per ping,
      // would be a third of all the work for idle connections (the liveness benchmark).
      if (alive && (this.#phi !== false || this.listenerCount('suspect') > 0)) at = earlier(at, pingAt + this.#rto(slot), now);
      if (pingAt + interval + timeout <= last + maxSilence) at = earlier(at, pingAt + interval, now);
    }
    if (this.#phi && alive) at = earlier(at, this.#phiCrossesAt(slot, now), now);
    return at;
  }

  /** When a connection with a ping out is convicted if nothing arrives: silent for maxSilence, the last ping for its wait. */
  #verdictAt(slot: number, now: number): number {
    return Math.max(this.#activityTime(slot, now) + this.options.maxSilence, this.#pingTime(slot, now) + this.#pingWait(slot));
  }

  /** How long the last ping waits for its pong: the full timeout after a stall, #pongWait otherwise. */
  #pingWait(slot: number): number {
    return (this.#flags[slot]! & POSTPONED) !== 0 ? this.options.timeout : this.#pongWait;
  }

  /**
   * When a connection silent since `last` gets its ping: after interval plus its own share of the jitter span, or,
   * when the silence began with the answer to our last ping, at interval - tick, so that it leaves by `interval`
   * on the tick grid (see #jitterSpan).
   */
  #pingDueAt(slot: number, last: number): number {
    const { interval, tick } = this.options;
    if ((this.#flags[slot]! & ANSWERED) !== 0) return last + interval - tick;
    // Neighbouring slots get unrelated fractions.
    const h = mix32(slot ^ this.#jitterSeed);
    return last + interval + (h / 2 ** 32) * this.#jitterSpan;
  }

  #convict(slot: number, now: number): void {
    const { interval, timeout, maxSilence } = this.options;
    const flags = this.#flags[slot]!;
    this.#flags[slot] = (flags & ~STATE_MASK) | DEAD;
    const silentMs = this.#ago(this.#lastActivity[slot]!, now);
    const pingsOutstanding = flags >> PINGS_SHIFT;
    const lastPingAgoMs = now - this.#pingTime(slot, now);
    const postponedByStall = (flags & POSTPONED) !== 0;
    const pingWord = pingsOutstanding === 1 ? 'ping' : 'pings';
    const evidence: HeartbeatDeadPeer<Id> = {
      id: this.#ids[slot] as Id,
      handle: this.#handleOf(slot),
      reason: DeathReasons.HEARTBEAT_TIMEOUT,
      code: null,
      because:
        `${pingsOutstanding} ${pingWord} unanswered, the last for ${formatDuration(lastPingAgoMs)} (timeout ${formatDuration(timeout)}); ` +
        `nothing received for ${formatDuration(silentMs)} (deadline ${formatDuration(maxSilence)})` +
        (postponedByStall ? '; held back once because this process stalled' : ''),
      silentMs,
      pingsOutstanding,
      lastPingAgoMs,
      lastRttMs: rttOrNull(this.#lastRtt[slot]!),
      smoothedRttMs: rttOrNull(this.#smoothedRtt[slot]!),
      postponedByStall,
      configured: { interval, timeout, maxSilence },
    };
    if (this.#phi) evidence.phi = this.#phiAt(slot, now);
    try {
      this.emit('dead', evidence);
    } finally {
      this.#free(slot);
    }
  }

  #recover(slot: number, via: 'pong' | 'traffic', silentMs: number, rttMs: number | null): void {
    this.#flags[slot] = (this.#flags[slot]! & ANSWERED) | ALIVE;
    this.emit('alive', { id: this.#ids[slot] as Id, handle: this.#handleOf(slot), via, silentMs, rttMs });
  }

  #suspectEvidence(slot: number, now: number, because: SuspicionCause): SuspectPeer<Id> {
    const pings = this.#pingsOutstanding(slot);
    const evidence: SuspectPeer<Id> = {
      id: this.#ids[slot] as Id,
      handle: this.#handleOf(slot),
      because,
      silentMs: this.#ago(this.#lastActivity[slot]!, now),
      pingsOutstanding: pings,
      pingWaitingMs: pings > 0 ? now - this.#pingTime(slot, now) : null,
      rtoMs: this.#rto(slot),
    };
    if (this.#phi) evidence.phi = this.#phiAt(slot, now);
    return evidence;
  }

  #sendPing(slot: number, now: number): void {
    this.#pingsSent++;
    this.#pingSentAt[slot] = this.#pingStamp(now);
    const nonce = this.#nonceOf(slot);
    const flags = this.#flags[slot]!;
    this.#flags[slot] = (flags & (STATE_MASK | POSTPONED)) | (Math.min(PINGS_MAX, (flags >> PINGS_SHIFT) + 1) << PINGS_SHIFT);
    const id = this.#ids[slot] as Id;
    const own = this.#senders?.[slot];
    try {
      if (own !== undefined) own(nonce);
      else this.options.sendPing!(id, nonce, this.#handleOf(slot));
    } catch (error) {
      this.emit('warning', { id, handle: this.#handleOf(slot), error });
    }
  }

  /**
   * Pings sent since the last inbound byte. Touch only stamps a time, so a touch after a ping is noticed here,
   * lazily: the pings (and a postponement, which was about the silence that just ended) are cleared.
   */
  #pingsOutstanding(slot: number): number {
    const pings = this.#flags[slot]! >> PINGS_SHIFT;
    // Stamps compare like TCP sequence numbers: both are younger than half their range.
    if (pings > 0 && ((this.#lastActivity[slot]! - this.#pingSentAt[slot]!) | 0) >= 0) {
      this.#flags[slot] = this.#flags[slot]! & STATE_MASK;
      return 0;
    }
    return pings;
  }

  /**
   * The nonce of this connection's last ping: a hash of the engine's seed, the slot and the ping's send time, so
   * it costs no memory. Two pings of one connection differ (they were sent at different times), so a late pong
   * for an older ping is traffic but no RTT sample (Karn), but for a 2^-32 chance. Never 0, so a protocol can use
   * 0 for "no nonce".
   */
  #nonceOf(slot: number): number {
    const nonce = mix32(this.#pingSentAt[slot]! ^ mix32(this.#jitterSeed ^ Math.imul(slot, 0x9e37_79b1)));
    return nonce === 0 ? 1 : nonce;
  }

  #stamp(now: number): number {
    return stampOf(now, this.#epoch, this.#unitsPerMs);
  }

  /** A ping's stamp: never NO_PING (a ping stamped at a multiple of the range is stamped one unit later). */
  #pingStamp(now: number): number {
    const stamp = this.#stamp(now);
    return stamp >>> 0 === NO_PING ? stamp + 1 : stamp;
  }

  #ago(stamp: number, now: number): number {
    return ageOf(stamp, now, this.#epoch, this.#unitsPerMs);
  }

  #activityTime(slot: number, now: number): number {
    return now - this.#ago(this.#lastActivity[slot]!, now);
  }

  /** When the connection's last ping was sent; -Infinity for none. */
  #pingTime(slot: number, now: number): number {
    const stamp = this.#pingSentAt[slot]!;
    return stamp === NO_PING ? -Infinity : now - this.#ago(stamp, now);
  }

  /**
   * Keeps every stamp young enough to read back exactly (time-stamps.ts): every eighth of the range, a stamp older
   * than a quarter of it (at least maxSilence, so no decision needs it) is moved up (last activity: the silence
   * reads shorter, so a verdict can only come later) or cleared (a ping: it no longer counts as sent, so the engine
   * pings afresh before any verdict). Only a connection left silent and unjudged that long has one: a stalled
   * process, or a busy connection's last ping. O(connections), once every 8 minutes or more.
   */
  #clampOldStamps(now: number): void {
    this.#nextStampPassAt = now + this.#stampPassEveryMs;
    const maxAge = this.#stampMaxAgeMs;
    const oldest = this.#stamp(now - maxAge);
    for (let slot = 0; slot < this.#highWater; slot++) {
      if (!this.#isFollowed(slot)) continue;
      if (this.#ago(this.#lastActivity[slot]!, now) > maxAge) this.#lastActivity[slot] = oldest;
      const ping = this.#pingSentAt[slot]!;
      if (ping !== NO_PING && this.#ago(ping, now) > maxAge) {
        this.#pingSentAt[slot] = NO_PING;
        this.#flags[slot] = this.#flags[slot]! & ~(PINGS_MAX << PINGS_SHIFT);
      }
    }
  }

  #rto(slot: number): number {
    return retransmissionTimeout(fromBfloat16(this.#smoothedRtt[slot]!), fromBfloat16(this.#rttVariance[slot]!), this.options.tick);
  }

  #stallEndedAt(): number {
    return this.#guard === null ? -Infinity : this.#guard.lastStallEndedAt;
  }

  /** Records one silence (a gap between inbound activity longer than a tick) in the running mean and variance. */
  #learnSilence(slot: number, silentMs: number): void {
    const samples = Math.min(MAX_SAMPLES, this.#silenceSamples![slot]! + 1);
    const weight = sampleWeight(samples, (this.#phi as ResolvedPhiOptions).windowSize);
    const mean = this.#silenceMean![slot]!;
    this.#silenceVariance![slot] = nextVariance(this.#silenceVariance![slot]!, mean, silentMs, weight);
    this.#silenceMean![slot] = nextMean(mean, silentMs, weight);
    this.#silenceSamples![slot] = samples;
  }

  /**
   * After learning, the model may expect phi to cross its threshold sooner than the check already scheduled (the
   * first samples replace a cautious first estimate): then the check moves earlier, an O(1) move in the wheel.
   * The one case where inbound traffic moves a connection's entry, at most once per tick of silence.
   */
  #bringPhiCheckForward(slot: number, handle: HeartbeatHandle, now: number): void {
    // An `alive` listener may have removed the connection, or removed it and added another in its slot.
    if (this.#slotOf(handle) !== slot || (this.#flags[slot]! & STATE_MASK) !== ALIVE) return;
    if (slot === this.#checking) return; // the check schedules itself
    const scheduled = this.#wheel.expiresAt(slot);
    // Waiting for its verdict at an exact deadline, which this traffic has put off: back to the wheel.
    if (scheduled === undefined) {
      this.#wheel.schedule(slot, this.#nextCheckAt(slot, now));
      return;
    }
    const crossing = this.#phiCrossesAt(slot, now);
    if (crossing < scheduled) this.#wheel.schedule(slot, crossing);
  }

  /**
   * The pong answered the last ping: the check waiting for the verdict (at the ping's timeout) would find nothing to
   * do but schedule the next ping. Moving the entry there now is an O(1) move instead of a check later: one check
   * per period for an idle connection that answers, instead of two (about a quarter of the engine's CPU in the
   * liveness benchmark). Once per ping, unlike touch, which never moves the entry. (A pong later than the last tick
   * before the verdict finds the entry waiting for its exact deadline: it moves back to the wheel, and the waiting
   * one is ignored when it comes.)
   */
  #rescheduleAnswered(slot: number, handle: HeartbeatHandle, now: number, listenersRan: boolean): void {
    // An `alive` listener may have removed the connection, or removed it and added another in its slot (or touched it).
    if (listenersRan && this.#slotOf(handle) !== slot) return;
    if (slot === this.#checking) return; // the check schedules itself
    // Without phi and listeners, the one rule left after an answer is the next ping, interval - tick after it
    // (#pingDueAt, ANSWERED): what #nextCheckAt would find, without reading the arrays back (the stamp just written
    // reads back as `now`). About a sixth of a pong's cost at 16 000 connections (bench:engine-at-scale).
    const at = this.#phi === false && !listenersRan ? now + this.#pingMinIdle : this.#nextCheckAt(slot, now);
    this.#wheel.schedule(slot, at);
  }

  /** Mean and standard deviation of this peer's silences; before any sample, Akka's first estimate (interval, interval / 4). */
  #silenceModel(slot: number): { mean: number; deviation: number } {
    const phiOptions = this.#phi as ResolvedPhiOptions;
    const learned = this.#silenceSamples![slot]! > 0;
    const mean = learned ? this.#silenceMean![slot]! : this.options.interval;
    const deviation = learned ? Math.sqrt(this.#silenceVariance![slot]!) : this.options.interval / 4;
    return { mean: mean + phiOptions.acceptablePause, deviation: Math.max(deviation, phiOptions.minStdDeviation) };
  }

  /** Silence is counted from the last activity, or from the end of the last stall if that is later. */
  #phiSilenceStart(slot: number, now: number): number {
    return Math.max(this.#activityTime(slot, now), this.#stallEndedAt());
  }

  #phiAt(slot: number, now: number): number {
    const { mean, deviation } = this.#silenceModel(slot);
    return phiOf(now - this.#phiSilenceStart(slot, now), mean, deviation);
  }

  /** When phi will reach its threshold if nothing arrives. */
  #phiCrossesAt(slot: number, now: number): number {
    const { mean, deviation } = this.#silenceModel(slot);
    return this.#phiSilenceStart(slot, now) + mean + deviation * this.#phiDeviations;
  }

  #isFollowed(slot: number): boolean {
    const state = this.#flags[slot]! & STATE_MASK;
    return state === ALIVE || state === SUSPECT;
  }

  #handleOf(slot: number): HeartbeatHandle {
    return (this.#generation[slot]! * SLOT_LIMIT + slot) as HeartbeatHandle;
  }

  /** The slot of a current handle, or -1 for anything else (stale, forged, not a number). */
  #slotOf(handle: HeartbeatHandle): number {
    const slot = handle % SLOT_LIMIT;
    if (!(slot >= 0 && slot < this.#highWater)) return -1;
    if ((handle - slot) / SLOT_LIMIT !== this.#generation[slot]) return -1;
    return this.#isFollowed(slot) ? slot : -1;
  }

  #allocate(): number {
    if (this.#freeHead >= 0) {
      const slot = this.#freeHead;
      this.#freeHead = this.#pingSentAt[slot]! - 1;
      return slot;
    }
    if (this.#highWater === this.#capacity) this.#grow(this.#capacity + 1);
    return this.#highWater++;
  }

  #free(slot: number): void {
    this.#wheel.cancel(slot);
    this.#generation[slot] = (this.#generation[slot]! + 1) & 0xffff;
    this.#flags[slot] = FREE;
    this.#ids[slot] = undefined;
    if (this.#senders !== null) this.#senders[slot] = undefined;
    this.#pingSentAt[slot] = this.#freeHead + 1;
    this.#freeHead = slot;
    this.#count--;
    // The heap cannot cancel one entry; with nothing followed, it drops them all and releases its timer.
    if (this.#count === 0) this.#verdicts.clear();
  }

  #grow(minimum: number): void {
    if (minimum > SLOT_LIMIT) throw new RangeError(`a heartbeat engine follows at most ${SLOT_LIMIT} connections`);
    const capacity = Math.min(SLOT_LIMIT, Math.max(minimum, this.#capacity * 2, 16));
    this.#lastActivity = resized(this.#lastActivity, new Uint32Array(capacity));
    this.#pingSentAt = resized(this.#pingSentAt, new Uint32Array(capacity));
    this.#generation = resized(this.#generation, new Uint16Array(capacity));
    this.#flags = resized(this.#flags, new Uint8Array(capacity));
    this.#lastRtt = resized(this.#lastRtt, new Uint16Array(capacity));
    this.#smoothedRtt = resized(this.#smoothedRtt, new Uint16Array(capacity));
    this.#rttVariance = resized(this.#rttVariance, new Uint16Array(capacity));
    if (this.#phi) {
      this.#silenceMean = resized(this.#silenceMean ?? new Float32Array(0), new Float32Array(capacity));
      this.#silenceVariance = resized(this.#silenceVariance ?? new Float32Array(0), new Float32Array(capacity));
      this.#silenceSamples = resized(this.#silenceSamples ?? new Uint8Array(0), new Uint8Array(capacity));
    }
    // Preallocated like the typed arrays: exactly 8 bytes a slot, where push() would leave up to half spare.
    const ids = new Array<Id | undefined>(capacity).fill(undefined);
    for (let slot = 0; slot < this.#highWater; slot++) ids[slot] = this.#ids[slot];
    this.#ids = ids;
    this.#wheel.grow(capacity);
    this.#capacity = capacity;
  }
}

function resized<T extends Float64Array | Float32Array | Uint32Array | Uint16Array | Uint8Array>(old: T, fresh: T): T {
  fresh.set(old as never);
  return fresh;
}

/** `candidate` if it is in the future and before `at`: a rule whose time has passed without firing cannot fire later. */
function earlier(at: number, candidate: number, now: number): number {
  return candidate > now && candidate < at ? candidate : at;
}

function rttOrNull(stored: number): number | null {
  const value = fromBfloat16(stored);
  return Number.isNaN(value) ? null : value;
}

const NO_RTT = toBfloat16(NaN);

/** murmur3's 32-bit finalizer: every input bit moves every output bit. */
function mix32(value: number): number {
  let h = value >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85eb_ca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2_ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * Enough buckets for one revolution to cover the longest deadline (maxSilence, no check is filed further ahead),
 * so that a sweep visits only entries that are due and the wheel need not keep their due ticks (8 bytes per
 * connection instead of 12, see wheel.ts). A quarter more, so that a wheel whose timer runs a few ticks late still
 * files every deadline within a revolution of its first unswept tick. Capped at 4096 (32 KiB of heads), beyond
 * which long deadlines take extra rounds and the wheel keeps due ticks.
 */
function wheelBuckets(maxSilence: number, tick: number): number {
  const needed = Math.ceil((1.25 * maxSilence) / tick) + 4;
  let buckets = 16;
  while (buckets < needed && buckets < MAX_BUCKETS) buckets *= 2;
  return buckets;
}

/** The wheel's phase from one draw of the `random` option; a draw outside [0, 1) (a user's generator) means 0. */
function wheelPhase(draw: number): number {
  return draw >= 0 && draw < 1 ? draw : 0;
}

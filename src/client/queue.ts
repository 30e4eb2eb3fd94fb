/**
 * The offline queue: messages sent while the client has no session (or while the session's OutboundLog is full)
 * wait here, bounded by count and bytes, until the client moves them into the log on connect.
 *
 * Nothing is lost silently. Every message's promise settles exactly once: it resolves when the peer acknowledges
 * it (the queue chains it to the OutboundLog's promise), or it rejects with a QueueError saying why it never got
 * there: `queue-full`, `dropped`, `too-large`, `expired` or `closed`.
 *
 * Order: once anything is queued, every new message must be queued too (not written straight to the log), or it
 * would overtake the older ones. The client sends directly only while `size === 0`.
 */
import { systemClock, type Clock, type ClockTimer } from '../clock.js';
import { type Duration } from '../duration.js';
import { ErrorCodes, InvalidOptionError, LifelineError } from '../errors.js';
import type { PendingMessage } from '../protocol/session.js';
import { checkObject, durationIn, integerIn, isClock, rejectUnknownKeys } from '../options.js';

/**
 * The code every QueueError carries. Not yet in `ErrorCodes` (src/errors.ts); until it joins as `QUEUE`,
 * QueueError passes it with a cast.
 */
export const QUEUE_ERROR_CODE = ErrorCodes.QUEUE;

/** What happens to a message that arrives when the queue is at `maxMessages` or `maxBytes`. */
export const QueuePolicies = {
  /**
   * `enqueue()` throws QueueError `queue-full` synchronously and queues nothing. Backpressure at the call site:
   * the caller still holds the message and decides (wait, store it elsewhere, give up). The default.
   */
  REJECT: 'reject',
  /**
   * The incoming message is dropped: `enqueue()` returns normally, with a promise that is already rejected with
   * QueueError `dropped`. For fire-and-forget senders (`void client.send(...)`, telemetry) that must never throw,
   * where the oldest data is worth the most (the first readings of an outage).
   */
  DROP_NEWEST: 'drop-newest',
  /**
   * The oldest queued messages are dropped (their promises reject with QueueError `dropped`), as many as needed to
   * make room, and the incoming one is queued. For data where the latest matters most (positions, gauges).
   */
  DROP_OLDEST: 'drop-oldest',
} as const;
export type QueuePolicy = (typeof QueuePolicies)[keyof typeof QueuePolicies];

export const QueueErrorReasons = {
  /** Policy `reject`: the queue is full; `enqueue()` threw and nothing was queued. */
  QUEUE_FULL: 'queue-full',
  /** Policy `drop-newest` (this message was refused) or `drop-oldest` (this message was evicted for a newer one). */
  DROPPED: 'dropped',
  /** The message alone is larger than `maxBytes`: no policy can make room, so `enqueue()` throws whatever the policy. */
  TOO_LARGE: 'too-large',
  /** The message waited longer than its TTL without a session to take it. */
  EXPIRED: 'expired',
  /** The queue was closed (the client closed or gave up); `cause` says why. */
  CLOSED: 'closed',
} as const;
export type QueueErrorReason = (typeof QueueErrorReasons)[keyof typeof QueueErrorReasons];

/** A message left the offline queue without being sent. The values of `reason` are stable: match on them. */
export class QueueError extends LifelineError {
  declare readonly code: typeof ErrorCodes.QUEUE;
  readonly reason: QueueErrorReason;

  constructor(reason: QueueErrorReason, message: string, cause?: unknown) {
    super(QUEUE_ERROR_CODE, `${reason}: ${message}`, cause === undefined ? undefined : { cause });
    this.reason = reason;
  }
}

/** Offline queue settings; `undefined` means the default. */
export interface OfflineQueueOptions {
  /** Messages held at most. Default 10 000. */
  maxMessages?: number;
  /** Payload bytes held at most. Default 8 MiB (as nats.go's reconnect buffer). */
  maxBytes?: number;
  /** What happens to a message that does not fit; see QueuePolicies. Default 'reject'. */
  whenFull?: QueuePolicy;
  /**
   * How long a message may wait in the queue, counted from `enqueue()`; after that its promise rejects with
   * `expired`. Only the wait here counts: once a message is in the OutboundLog it has been sent and is replayed
   * until acknowledged. `enqueue(payload, { ttl })` overrides it per message. `false`: no expiry. Default false.
   */
  ttl?: Duration | false;
  /** Time source for the TTL; tests pass a ManualClock. Default: the system clock. */
  clock?: Clock;
}

export interface ResolvedOfflineQueueOptions {
  maxMessages: number;
  maxBytes: number;
  whenFull: QueuePolicy;
  ttl: number | false;
  clock: Clock;
}

export interface EnqueueOptions {
  /** This message's TTL, instead of the queue's `ttl`; `false` for none. */
  ttl?: Duration | false;
}

/** The defaults, documented on OfflineQueueOptions. */
export const DEFAULT_OFFLINE_QUEUE = {
  maxMessages: 10_000,
  maxBytes: 8 * 1024 * 1024,
  whenFull: QueuePolicies.REJECT,
  ttl: false,
} as const;

/** Longest TTL accepted (Node's timer limit, about 24.8 days). */
export const MAX_QUEUE_TTL_MS = 2 ** 31 - 1;

const KNOWN_KEYS = ['maxMessages', 'maxBytes', 'whenFull', 'ttl', 'clock'] as const;
const POLICIES: readonly string[] = Object.values(QueuePolicies);

/**
 * Fills the defaults and checks every option. Throws InvalidOptionError naming the option, the value and the
 * allowed range; unknown keys are rejected with a hint.
 */
export function resolveOfflineQueueOptions(options: OfflineQueueOptions = {}): ResolvedOfflineQueueOptions {
  checkObject('options', options, `{ maxMessages: 1000, whenFull: 'drop-oldest', ttl: '30s' }`);
  rejectUnknownKeys('', options, KNOWN_KEYS);
  const maxMessages = integerIn('maxMessages', options.maxMessages ?? DEFAULT_OFFLINE_QUEUE.maxMessages, 1, 2 ** 31 - 1);
  const maxBytes = integerIn('maxBytes', options.maxBytes ?? DEFAULT_OFFLINE_QUEUE.maxBytes, 1, Number.MAX_SAFE_INTEGER);
  const whenFull = options.whenFull ?? DEFAULT_OFFLINE_QUEUE.whenFull;
  if (!POLICIES.includes(whenFull)) {
    throw new InvalidOptionError('whenFull', whenFull, `one of ${POLICIES.map((policy) => `'${policy}'`).join(', ')}`);
  }
  const ttl = resolveTtl('ttl', options.ttl ?? DEFAULT_OFFLINE_QUEUE.ttl);
  const clock = options.clock ?? systemClock;
  if (!isClock(clock)) throw new InvalidOptionError('clock', clock, 'a Clock { now(), setTimeout(), clearTimeout() }');
  return { maxMessages, maxBytes, whenFull, ttl, clock };
}

function resolveTtl(option: string, value: Duration | false): number | false {
  // 0 would expire every message before anyone could take it: a mistake, not a setting.
  return value === false ? false : durationIn(option, value, 1, MAX_QUEUE_TTL_MS, undefined, 'or false (no expiry)');
}

/**
 * A message taken out of the queue with `shift()`. Whoever takes it must settle it exactly once, normally by
 * passing the promise that settles when the peer acknowledges it to `settleWith`.
 */
export interface QueuedMessage {
  readonly payload: Uint8Array;
  /** When it was enqueued, on the queue's clock. */
  readonly enqueuedAt: number;
  /** Settles the sender's promise as `outcome` settles: pass the OutboundLog's `acknowledged`. */
  settleWith(outcome: Promise<void>): void;
  resolve(): void;
  reject(error: Error): void;
}

/** What `drainInto` needs from a log; OutboundLog has it. */
export interface MessageLog {
  fits(bytes: number): boolean;
  append(payload: Uint8Array): { message: PendingMessage; acknowledged: Promise<void> };
}

interface Entry {
  readonly payload: Uint8Array;
  readonly enqueuedAt: number;
  /** Infinity when the message has no TTL. */
  readonly expiresAt: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/**
 * A bounded FIFO of messages waiting for a session. The client:
 * - while it has no session, or while anything is queued: `await queue.enqueue(payload)` for each send;
 * - on connect (after the resume replay) and whenever acknowledgements free room in the log:
 *   `for (const message of queue.drainInto(log)) write(message)`;
 * - when it closes or gives up: `queue.close(reason)`.
 */
export class OfflineQueue {
  readonly options: Readonly<ResolvedOfflineQueueOptions>;
  #entries: Entry[] = [];
  #bytes = 0;
  #closedWith: QueueError | null = null;
  /** No queued message expires before this (a lower bound: it may be stale after removals); the timer is set for it. */
  #earliestExpiry = Infinity;
  #timer: ClockTimer | null = null;

  constructor(options: OfflineQueueOptions = {}) {
    this.options = Object.freeze(resolveOfflineQueueOptions(options));
  }

  /** Messages waiting. */
  get size(): number {
    return this.#entries.length;
  }

  /** Payload bytes waiting. */
  get bytes(): number {
    return this.#bytes;
  }

  get closed(): boolean {
    return this.#closedWith !== null;
  }

  /**
   * Queues a message. The promise resolves when the peer has acknowledged it (after `drainInto` moved it into the
   * session's log), or rejects with a QueueError (`dropped`, `expired`, `closed`) or whatever the log's promise
   * rejects with (a lost session). A rejection nobody awaits is not reported as unhandled.
   *
   * Throws synchronously, queuing nothing, with QueueError `queue-full` (policy `reject`), `too-large` (larger
   * than maxBytes, under every policy) or `closed`. The queue keeps a reference to `payload`: do not change it.
   */
  enqueue(payload: Uint8Array, options?: EnqueueOptions): Promise<void> {
    if (this.#closedWith) throw this.#closedWith;
    if (!(payload instanceof Uint8Array)) throw new InvalidOptionError('payload', payload, 'a Uint8Array (or Buffer)');
    const ttl = this.#ttlFor(options);
    const { maxBytes, whenFull, clock } = this.options;
    if (payload.length > maxBytes) {
      throw new QueueError(QueueErrorReasons.TOO_LARGE, `a message of ${payload.length} bytes can never fit in maxBytes ${maxBytes}`);
    }
    // Room held by messages that already expired is free: reclaim it before calling the queue full.
    if (!this.#fits(payload.length)) this.#expire();
    if (!this.#fits(payload.length)) {
      if (whenFull === QueuePolicies.REJECT) throw new QueueError(QueueErrorReasons.QUEUE_FULL, this.#fullness(payload.length));
      if (whenFull === QueuePolicies.DROP_NEWEST) {
        const refused = Promise.reject(new QueueError(QueueErrorReasons.DROPPED, `the incoming message was dropped: ${this.#fullness(payload.length)}`));
        refused.catch(() => {});
        return refused;
      }
      this.#dropOldestFor(payload.length);
    }
    let resolve!: () => void;
    let reject!: (error: Error) => void;
    const delivered = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // A caller that never awaits must not turn a drop or an expiry into an unhandled rejection crash.
    delivered.catch(() => {});
    const enqueuedAt = clock.now();
    const expiresAt = ttl === false ? Infinity : enqueuedAt + ttl;
    this.#entries.push({ payload, enqueuedAt, expiresAt, resolve, reject });
    this.#bytes += payload.length;
    if (expiresAt < this.#earliestExpiry) {
      this.#earliestExpiry = expiresAt;
      this.#setTimer();
    }
    return delivered;
  }

  /**
   * Moves queued messages, oldest first, into `log` while it has room, chaining each sender's promise to the log's
   * `acknowledged`. Expired messages are rejected on the way, never moved. If `log.append` throws (a lost
   * session), the message stays queued and the error propagates.
   * @returns the messages to write to the connection, in order.
   */
  drainInto(log: MessageLog): PendingMessage[] {
    this.#expire();
    const moved: PendingMessage[] = [];
    while (this.#entries.length > 0) {
      const head = this.#entries[0] as Entry;
      if (!log.fits(head.payload.length)) break;
      const { message, acknowledged } = log.append(head.payload);
      this.#removeHead();
      acknowledged.then(head.resolve, head.reject);
      moved.push(message);
    }
    return moved;
  }

  /** The oldest message that has not expired, without taking it; undefined when the queue is empty. */
  peek(): Uint8Array | undefined {
    this.#expire();
    return this.#entries[0]?.payload;
  }

  /**
   * Takes the oldest message that has not expired, for a client that does not use `drainInto`. The queue forgets
   * it: the caller must settle it (see QueuedMessage).
   */
  shift(): QueuedMessage | undefined {
    this.#expire();
    const head = this.#entries[0];
    if (head === undefined) return undefined;
    this.#removeHead();
    const { payload, enqueuedAt, resolve, reject } = head;
    return { payload, enqueuedAt, resolve, reject, settleWith: (outcome) => void outcome.then(resolve, reject) };
  }

  /**
   * Rejects every queued message with QueueError `closed` (its `cause` is `error`) and refuses new ones.
   * Idempotent: a second call changes nothing.
   */
  close(error?: Error): void {
    if (this.#closedWith) return;
    const why = error === undefined ? 'the queue was closed' : `the queue was closed: ${error.message}`;
    this.#closedWith = new QueueError(QueueErrorReasons.CLOSED, why, error);
    const entries = this.#entries;
    this.#entries = [];
    this.#bytes = 0;
    this.#clearTimer();
    for (const entry of entries) entry.reject(this.#closedWith);
  }

  #ttlFor(options: EnqueueOptions | undefined): number | false {
    if (options === undefined) return this.options.ttl;
    checkObject('enqueue options', options, `{ ttl: '5s' }`);
    rejectUnknownKeys('', options, ['ttl']);
    return options.ttl === undefined ? this.options.ttl : resolveTtl('ttl', options.ttl);
  }

  #fits(bytes: number): boolean {
    return this.#entries.length + 1 <= this.options.maxMessages && this.#bytes + bytes <= this.options.maxBytes;
  }

  #fullness(incoming: number): string {
    const { maxMessages, maxBytes } = this.options;
    return `${this.#entries.length} messages / ${this.#bytes} bytes queued, limits ${maxMessages} / ${maxBytes}; the new message has ${incoming} bytes`;
  }

  #dropOldestFor(incoming: number): void {
    // enqueue() refused messages larger than maxBytes, so emptying the queue always makes room: this ends.
    while (!this.#fits(incoming)) {
      const oldest = this.#entries[0] as Entry;
      const reason = this.#fullness(incoming);
      this.#removeHead();
      oldest.reject(new QueueError(QueueErrorReasons.DROPPED, `the oldest message was dropped for a newer one: ${reason}`));
    }
  }

  #removeHead(): void {
    const head = this.#entries.shift();
    if (head) this.#bytes -= head.payload.length;
    if (this.#entries.length === 0) this.#clearTimer();
  }

  /** Rejects every message whose TTL has passed. Cheap when none can have: one comparison. */
  #expire(): void {
    const now = this.options.clock.now();
    if (this.#earliestExpiry > now) return;
    const expired: Entry[] = [];
    const kept: Entry[] = [];
    let earliest = Infinity;
    for (const entry of this.#entries) {
      if (entry.expiresAt <= now) {
        expired.push(entry);
        this.#bytes -= entry.payload.length;
      } else {
        kept.push(entry);
        earliest = Math.min(earliest, entry.expiresAt);
      }
    }
    this.#entries = kept;
    this.#earliestExpiry = earliest;
    this.#setTimer();
    // Settle after the queue is consistent, so code reacting to a rejection sees the queue without it.
    for (const entry of expired) {
      entry.reject(new QueueError(QueueErrorReasons.EXPIRED,
        `the message waited ${now - entry.enqueuedAt} ms in the queue; its TTL was ${entry.expiresAt - entry.enqueuedAt} ms`));
    }
  }

  /** One timer, for the earliest expiry; none while nothing can expire (so an idle queue holds no timer). */
  #setTimer(): void {
    if (this.#timer !== null) this.options.clock.clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#earliestExpiry === Infinity) return;
    const { clock } = this.options;
    this.#timer = clock.setTimeout(() => {
      this.#timer = null;
      this.#expire();
      // A timer that fired a little early (real clocks round) expired nothing and must come back.
      if (this.#timer === null) this.#setTimer();
    }, Math.max(0, this.#earliestExpiry - clock.now()));
  }

  #clearTimer(): void {
    this.#earliestExpiry = Infinity;
    this.#setTimer();
  }
}

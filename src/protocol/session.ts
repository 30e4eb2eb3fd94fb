import { ErrorCodes, LifelineError } from '../errors.js';

/**
 * Sequence numbers, cumulative acknowledgements and replay: what makes a session lose nothing across
 * reconnects. Pure bookkeeping, no sockets and no time: the client and server drive it.
 *
 * Sequence numbers start at 1 and grow by one per DATA frame, per direction. An ACK n says "I delivered every
 * message up to and including n, in order". After a reconnect each side tells the other the last sequence it
 * delivered (the resume point in HELLO / WELCOME) and the sender replays everything after it.
 */

export const SessionErrorReasons = {
  /** The peer acknowledged a sequence number that was never sent: a broken or malicious peer. */
  ACK_BEYOND_SENT: 'ack-beyond-sent',
  /** A DATA frame skipped sequence numbers: frames were lost inside one TCP connection, which TCP rules out. */
  SEQUENCE_GAP: 'sequence-gap',
  /** The unacknowledged log is at its message or byte limit. */
  LOG_FULL: 'log-full',
  /** The session is gone (the server forgot it, or it was closed): unacknowledged messages will never be delivered. */
  SESSION_LOST: 'session-lost',
  /** A resume point that is not between what the peer acknowledged and what was sent. */
  BAD_RESUME_POINT: 'bad-resume-point',
} as const;
export type SessionErrorReason = (typeof SessionErrorReasons)[keyof typeof SessionErrorReasons];

export class SessionError extends LifelineError {
  declare readonly code: typeof ErrorCodes.SESSION;
  readonly reason: SessionErrorReason;

  constructor(reason: SessionErrorReason, message: string) {
    super(ErrorCodes.SESSION, `${reason}: ${message}`);
    this.reason = reason;
  }
}

export interface PendingMessage {
  readonly seq: number;
  readonly payload: Uint8Array;
}

interface Entry extends PendingMessage {
  resolve(): void;
  reject(error: Error): void;
}

export interface OutboundLogLimits {
  /** Unacknowledged messages kept for replay at most. */
  maxMessages: number;
  /** Unacknowledged payload bytes kept for replay at most. */
  maxBytes: number;
}

/**
 * The sender's side: every message gets the next sequence number and stays in the log, bounded by count and
 * bytes, until the peer acknowledges it; its promise settles then. Nothing is dropped silently: when the
 * session is lost, every pending promise rejects with SESSION_LOST.
 */
export class OutboundLog {
  readonly #limits: OutboundLogLimits;
  readonly #entries: Entry[] = [];
  #head = 0;
  #nextSeq = 1;
  #bytes = 0;
  #acknowledged = 0;
  #failed: SessionError | null = null;

  constructor(limits: OutboundLogLimits) {
    this.#limits = limits;
  }

  /** The last sequence number handed out (0 before the first). */
  get lastSent(): number {
    return this.#nextSeq - 1;
  }

  get lastAcknowledged(): number {
    return this.#acknowledged;
  }

  get size(): number {
    return this.#entries.length - this.#head;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Whether one more message of `bytes` fits under the limits. */
  fits(bytes: number): boolean {
    return this.size + 1 <= this.#limits.maxMessages && this.#bytes + bytes <= this.#limits.maxBytes;
  }

  /**
   * Assigns the next sequence number and keeps the message until it is acknowledged.
   * @returns the message to send and a promise that resolves when the peer has acknowledged it.
   */
  append(payload: Uint8Array): { message: PendingMessage; acknowledged: Promise<void> } {
    if (this.#failed) throw this.#failed;
    if (!this.fits(payload.length)) {
      throw new SessionError(
        SessionErrorReasons.LOG_FULL,
        `${this.size} messages / ${this.#bytes} bytes unacknowledged; limits ${this.#limits.maxMessages} / ${this.#limits.maxBytes}`,
      );
    }
    let resolve!: () => void;
    let reject!: (error: Error) => void;
    const acknowledged = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // A caller that never awaits must not turn a lost session into an unhandled rejection crash.
    acknowledged.catch(() => {});
    const entry: Entry = { seq: this.#nextSeq++, payload, resolve, reject };
    this.#entries.push(entry);
    this.#bytes += payload.length;
    return { message: { seq: entry.seq, payload }, acknowledged };
  }

  /** A cumulative ACK: settles every message up to `seq`. Returns how many were released. */
  acknowledge(seq: number): number {
    if (seq > this.lastSent) {
      throw new SessionError(SessionErrorReasons.ACK_BEYOND_SENT, `ACK ${seq} but only ${this.lastSent} were sent`);
    }
    let released = 0;
    while (this.#head < this.#entries.length) {
      const entry = this.#entries[this.#head] as Entry;
      if (entry.seq > seq) break;
      this.#head++;
      this.#bytes -= entry.payload.length;
      released++;
      entry.resolve();
    }
    this.#acknowledged = Math.max(this.#acknowledged, seq);
    this.#compact();
    return released;
  }

  /**
   * After a reconnect: the peer says it delivered everything up to `peerDelivered`. Acknowledges that much and
   * returns the messages to send again, in order.
   */
  resume(peerDelivered: number): PendingMessage[] {
    if (peerDelivered < this.#acknowledged || peerDelivered > this.lastSent) {
      throw new SessionError(
        SessionErrorReasons.BAD_RESUME_POINT,
        `peer resumes after ${peerDelivered}; acknowledged ${this.#acknowledged}, sent ${this.lastSent}`,
      );
    }
    this.acknowledge(peerDelivered);
    return this.#entries.slice(this.#head).map(({ seq, payload }) => ({ seq, payload }));
  }

  /** The session is gone: every unacknowledged message's promise rejects, and nothing more can be appended. */
  fail(error: SessionError = new SessionError(SessionErrorReasons.SESSION_LOST, 'the session is gone')): void {
    this.#failed = error;
    for (let index = this.#head; index < this.#entries.length; index++) (this.#entries[index] as Entry).reject(error);
    this.#entries.length = 0;
    this.#head = 0;
    this.#bytes = 0;
  }

  #compact(): void {
    // Dropping the acknowledged prefix in bulk keeps acknowledge() O(1) amortised without shifting per message.
    if (this.#head > 1024 && this.#head * 2 > this.#entries.length) {
      this.#entries.splice(0, this.#head);
      this.#head = 0;
    }
  }
}

/**
 * The receiver's side: delivers each sequence number once and in order, drops duplicates (replays of what was
 * already delivered), and refuses gaps.
 */
export class InboundLog {
  #delivered: number;

  /** @param delivered the last sequence delivered before (0 for a new session). */
  constructor(delivered = 0) {
    this.#delivered = delivered;
  }

  get lastDelivered(): number {
    return this.#delivered;
  }

  /** `deliver` for the next message in order, `duplicate` for one already delivered; a gap throws. */
  receive(seq: number): 'deliver' | 'duplicate' {
    if (seq <= this.#delivered) return 'duplicate';
    if (seq !== this.#delivered + 1) {
      throw new SessionError(SessionErrorReasons.SEQUENCE_GAP, `expected ${this.#delivered + 1}, got ${seq}`);
    }
    this.#delivered = seq;
    return 'deliver';
  }
}

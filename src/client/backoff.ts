/**
 * Reconnect delays: exponential backoff with full jitter, and which errors are worth retrying at all.
 *
 * Full jitter (AWS Architecture Blog, "Exponential Backoff and Jitter", 2015): the n-th delay (n from 0) is drawn
 * uniformly from [0, min(cap, base x 2^n)]. Drawing from the whole range, not around the ceiling, is what
 * spreads out thousands of clients that lost the same server at the same moment: with "equal" or no jitter they
 * come back in synchronised waves; with full jitter the server sees a near-flat arrival rate and the total work
 * is the lowest of the variants the article measured.
 */
import { checkObject, durationIn, integerIn, isClock, rejectUnknownKeys } from '../options.js';
import { systemClock, type Clock } from '../clock.js';
import type { Duration } from '../duration.js';
import { ErrorCodes, InvalidOptionError, describeValue } from '../errors.js';
import { GoAwayCodes, goAwayCodeName, type GoAwayCodeName } from '../protocol/goaway.js';

/** Backoff settings. Durations are milliseconds or strings like '30s'; `undefined` means the default. */
export interface BackoffOptions {
  /** The ceiling of the first delay; each further attempt doubles the ceiling. Default 100 ms. */
  base?: Duration;
  /** The ceiling never grows past this: no delay is longer. At least `base`. Default 30 s. */
  cap?: Duration;
  /**
   * How many delays `next()` hands out before it returns null (give up). `Infinity` never gives up; 0 never
   * retries. Default Infinity: a client that exists to survive outages keeps trying, at most every `cap`.
   */
  maxAttempts?: number;
  /**
   * A connection that stayed up at least this long resets the attempt counter when it drops, so the next
   * reconnect starts fast again. Shorter-lived connections do not: a server that accepts and then drops every
   * connection (crash loop, a handshake it refuses) must not reset the backoff and get hammered.
   * `false` never resets (only `reset()` does). Default 60 s.
   */
  resetAfter?: Duration | false;
  /** Uniform random numbers in [0, 1); tests pass a seeded one. Default Math.random. */
  random?: () => number;
  /** Time source for `resetAfter`; tests pass a ManualClock. Default: the system clock. */
  clock?: Clock;
}

export interface ResolvedBackoffOptions {
  base: number;
  cap: number;
  maxAttempts: number;
  resetAfter: number | false;
  random: () => number;
  clock: Clock;
}

/** The defaults, documented on BackoffOptions. */
export const DEFAULT_BACKOFF = {
  base: 100,
  cap: 30_000,
  maxAttempts: Infinity,
  resetAfter: 60_000,
} as const;

/** Longest delay accepted (Node's timer limit, about 24.8 days): a longer one would fire at once. */
export const MAX_BACKOFF_DELAY_MS = 2 ** 31 - 1;

const KNOWN_KEYS = ['base', 'cap', 'maxAttempts', 'resetAfter', 'random', 'clock'] as const;

/**
 * Fills the defaults and checks every backoff option. Throws InvalidOptionError naming the option, the value
 * and the allowed range; unknown keys are rejected with a hint. Nothing is adjusted silently.
 */
export function resolveBackoffOptions(options: BackoffOptions = {}): ResolvedBackoffOptions {
  checkObject('options', options, '{ base: 100, cap: 30000 }');
  rejectUnknownKeys('', options, KNOWN_KEYS);
  const base = durationIn('base', options.base ?? DEFAULT_BACKOFF.base, 1, MAX_BACKOFF_DELAY_MS);
  const cap = durationIn('cap', options.cap ?? DEFAULT_BACKOFF.cap, base, MAX_BACKOFF_DELAY_MS, 'at least base');
  const maxAttempts = options.maxAttempts ?? DEFAULT_BACKOFF.maxAttempts;
  if (maxAttempts !== Infinity) integerIn('maxAttempts', maxAttempts, 0, 2 ** 31 - 1, 'or Infinity (never give up)');
  const resetAfter = options.resetAfter === false ? false
    : durationIn('resetAfter', options.resetAfter ?? DEFAULT_BACKOFF.resetAfter, 0, MAX_BACKOFF_DELAY_MS, undefined, 'or false (never)');
  const random = options.random ?? Math.random;
  if (typeof random !== 'function') throw new InvalidOptionError('random', random, 'a function returning numbers in [0, 1)');
  const clock = options.clock ?? systemClock;
  if (!isClock(clock)) throw new InvalidOptionError('clock', clock, 'a Clock { now(), setTimeout(), clearTimeout() }');
  return { base, cap, maxAttempts, resetAfter, random, clock };
}

/** The largest delay attempt `attempt` (from 0) may draw: min(cap, base x 2^attempt). */
export function backoffCeiling(attempt: number, base: number, cap: number): number {
  // 2 ** 1100 is Infinity and min() takes cap, so large attempt numbers need no special case.
  return Math.min(cap, base * 2 ** attempt);
}

/**
 * The reconnect schedule of one client. Pure bookkeeping: it hands out delays and never sleeps or sets timers.
 *
 * ```ts
 * const backoff = new Backoff();
 * for (;;) {
 *   const delay = backoff.next();
 *   if (delay === null) break;            // maxAttempts exhausted: give up
 *   await sleep(delay);
 *   try { await connectAndHandshake(); } catch (error) { if (!isRetryable(error)) break; continue; }
 *   backoff.connected();                  // the session is up (after WELCOME, not after TCP connect)
 *   await closed;
 *   backoff.disconnected();               // resets the counter if it stayed up for resetAfter
 * }
 * ```
 */
export class Backoff {
  readonly options: Readonly<ResolvedBackoffOptions>;
  #attempts = 0;
  #connectedAt: number | null = null;

  constructor(options: BackoffOptions = {}) {
    this.options = Object.freeze(resolveBackoffOptions(options));
  }

  /** Delays handed out since the last reset: the number of the next attempt, counted from 0. */
  get attempts(): number {
    return this.#attempts;
  }

  /** True once `maxAttempts` delays were handed out: `next()` returns null until a reset. */
  get exhausted(): boolean {
    return this.#attempts >= this.options.maxAttempts;
  }

  /**
   * The delay in whole milliseconds before the next connection attempt, drawn uniformly from
   * [0, min(cap, base x 2^attempts)]; null when `maxAttempts` delays were already handed out.
   * A connection still marked up is taken as dropped first (see `disconnected()`), so a forgotten call
   * cannot leave a stale counter behind.
   */
  next(): number | null {
    if (this.#connectedAt !== null) this.disconnected();
    if (this.exhausted) return null;
    const { base, cap, random } = this.options;
    const ceiling = backoffCeiling(this.#attempts, base, cap);
    const draw = random();
    // A broken random source would silently turn the jitter off (or produce negative delays); say so instead.
    if (typeof draw !== 'number' || !(draw >= 0 && draw < 1)) {
      throw new InvalidOptionError('random', draw, 'a function returning numbers in [0, 1)', 'it returned a value outside that range');
    }
    this.#attempts++;
    // ceiling + 1 whole values 0..ceiling, each equally likely: the range is closed, as in the article.
    return Math.floor(draw * (ceiling + 1));
  }

  /** The connection (the session, after the handshake) is up: remembers when, for `resetAfter`. */
  connected(): void {
    this.#connectedAt = this.options.clock.now();
  }

  /**
   * The connection dropped. If it had stayed up for at least `resetAfter`, the attempt counter goes back to 0
   * so the next reconnect is fast again.
   * @returns whether the counter was reset.
   */
  disconnected(): boolean {
    const connectedAt = this.#connectedAt;
    this.#connectedAt = null;
    const { resetAfter, clock } = this.options;
    if (connectedAt === null || resetAfter === false || clock.now() - connectedAt < resetAfter) return false;
    this.#attempts = 0;
    return true;
  }

  /** Starts over from attempt 0, also after exhaustion (e.g. the application asked to reconnect now). */
  reset(): void {
    this.#attempts = 0;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Which errors are worth retrying

/**
 * What `isRetryable` reads from an error. Node's socket errors and LifelineErrors already fit; the client adds
 * `fatal` (or `goAway`) where it knows more than the code says.
 */
export interface RetryableErrorLike {
  /** An errno code (`ECONNREFUSED`), a Node code (`ERR_SOCKET_CONNECTION_TIMEOUT`), a lifeline code
   * (`ERR_LIFELINE_...`) or a GOAWAY code name (`unsupported_version`). */
  code?: string;
  /** Decides on its own when set: true = retrying cannot fix this, false = retry whatever the code says. */
  fatal?: boolean;
  /** The GOAWAY code the peer closed with, by name (`'protocol_error'`) or number (`1`). */
  goAway?: GoAwayCodeName | number;
  /** Looked at when the error itself has no code (a wrapper around a socket error). */
  cause?: unknown;
  /** Looked at for AggregateError (Node's happy eyeballs tried several addresses): retryable if any is. */
  errors?: unknown[];
}

/** isRetryable's answer with its evidence, for logs and the client's `disconnected` event. */
export interface RetryVerdict {
  retryable: boolean;
  /** The code, GOAWAY name or flag that decided, e.g. `ECONNREFUSED`, `goaway unsupported_version`, `fatal: true`. */
  decidedBy: string;
  /** Why, in words. */
  because: string;
}

/**
 * Codes retrying can fix: the network or the server is (for now) not there. Kept as a table, not implied by
 * "everything else", so each one carries the reason it is here.
 */
const RETRYABLE_CODES: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'nothing listens there yet: the server is starting or restarting',
  ECONNRESET: 'the connection was reset: the server or a middlebox restarted',
  ECONNABORTED: 'the connection was aborted locally',
  EPIPE: 'the peer closed while we were writing',
  ETIMEDOUT: 'no answer in time: a dead peer, a partition, or keepalive / user timeout gave up',
  EHOSTUNREACH: 'no route to the host right now',
  ENETUNREACH: 'no route to the network right now (interface down, Wi-Fi roaming)',
  EHOSTDOWN: 'the host is down',
  ENETDOWN: 'the network is down',
  EADDRNOTAVAIL: 'no local address or port available right now (interface not up, ephemeral ports exhausted)',
  ENOBUFS: 'the kernel is out of buffers for now',
  EMFILE: 'this process is out of file descriptors for now; others may close',
  ENFILE: 'the system is out of file descriptors for now',
  EAI_AGAIN: 'the DNS resolver failed temporarily',
  // A judgement call: NXDOMAIN is permanent in theory, but in practice names appear after the client starts:
  // a container whose DNS entry exists only once it runs (Compose, Kubernetes headless services), a record just
  // deployed, a resolver that answers NXDOMAIN while its upstream is unreachable. A typo in the host name is
  // also ENOTFOUND, but it retries at most every `cap` and each failure is reported, so it shows, and a client
  // that must not wait can set maxAttempts or mark it fatal.
  ENOTFOUND: 'the name does not resolve yet: DNS records can appear after the client starts',
  ERR_SOCKET_CONNECTION_TIMEOUT: 'no address answered within the connect timeout',
  [ErrorCodes.NO_FILE_DESCRIPTOR]: 'the socket closed under us',
  [ErrorCodes.SOCKET_OPTION]: 'setsockopt failed, usually on a socket that closed under us',
};

/** Codes retrying cannot fix: every attempt would fail the same way until a person changes something. */
const FATAL_CODES: Readonly<Record<string, string>> = {
  EACCES: 'permission denied: a local firewall rule, a privileged port or a broadcast address',
  EPERM: 'operation not permitted: a local firewall rule or missing capability',
  EINVAL: 'the address or an option is invalid',
  EAFNOSUPPORT: 'the address family is not supported here',
  ERR_INVALID_ARG_TYPE: 'the connect options are wrong',
  ERR_INVALID_ARG_VALUE: 'the connect options are wrong',
  ERR_SOCKET_BAD_PORT: 'the port is out of range',
  [ErrorCodes.INVALID_OPTION]: 'an option is invalid',
  [ErrorCodes.UNSUPPORTED]: 'this platform cannot do what the options ask',
  [ErrorCodes.NOT_APPLIED]: 'the kernel refuses a keepalive value',
  [ErrorCodes.PERMISSION]: 'missing privileges',
  // A frame we could not decode: the port speaks another protocol, or the versions disagree; the next
  // connection gets the same bytes.
  [ErrorCodes.PROTOCOL]: 'the peer does not speak this protocol (wrong port, version skew or a bug)',
  // TLS verification failures: a configuration problem (or an attack) that a retry does not change.
  CERT_HAS_EXPIRED: 'the server certificate has expired',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the server certificate is self-signed and not trusted',
  SELF_SIGNED_CERT_IN_CHAIN: 'a self-signed certificate in the chain is not trusted',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'the server certificate cannot be verified',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'the issuer of the server certificate is not trusted',
  ERR_TLS_CERT_ALTNAME_INVALID: 'the server certificate is not valid for this host name',
};

/**
 * What the client does on each GOAWAY it receives (docs/protocol.md has the table). Fatal: what the next
 * connection would repeat. `protocol_error` is fatal here although docs/protocol.md says "may reconnect": the
 * peer, which speaks our protocol, says we broke it, and a reconnect replays the same unacknowledged messages
 * into the same bug; the client can pass `fatal: false` to retry anyway.
 */
const GOAWAY_VERDICTS: Readonly<Record<GoAwayCodeName, { retryable: boolean; because: string }>> = {
  normal: { retryable: false, because: 'the peer ended the session on purpose: nothing failed, so nothing to retry' },
  protocol_error: { retryable: false, because: 'the peer says we broke the protocol; a reconnect would replay the same messages into the same bug' },
  unsupported_version: { retryable: false, because: 'the server does not speak our protocol version; it will not learn it by retrying' },
  handshake_timeout: { retryable: true, because: 'the handshake took too long; the next one may not' },
  too_many_pings: { retryable: true, because: 'we pinged too often; reconnect with a doubled interval' },
  session_gone: { retryable: true, because: 'the session is gone; reconnect with a new one (its unacknowledged messages are lost)' },
  shutting_down: { retryable: true, because: 'the server is going down for a deploy or drain; reconnect and resume' },
  frame_too_large: { retryable: false, because: 'we sent a frame over the peer\'s limit; a replay would send it again' },
  heartbeat_timeout: { retryable: true, because: 'the peer heard nothing from us in time; reconnect and resume' },
};

const GOAWAY_NAMES = new Set<string>(Object.keys(GoAwayCodes).map((key) => key.toLowerCase()));

/** Whether reconnecting can fix `error`. See `retryVerdict` for the rules and the evidence. */
export function isRetryable(error: unknown): boolean {
  return retryVerdict(error).retryable;
}

/**
 * Whether reconnecting can fix `error`, and why. In order:
 * 1. `fatal: true | false` on the error decides (the client marks what it knows better);
 * 2. `goAway` (a name or number) or a GOAWAY name as `code`: by the GOAWAY table; an unknown GOAWAY code counts
 *    as `protocol_error`, as docs/protocol.md says;
 * 3. `code`: retryable codes (ECONNREFUSED, ETIMEDOUT, ECONNRESET, EHOSTUNREACH, ENOTFOUND, ...) or fatal ones
 *    (EACCES, EPERM, ERR_LIFELINE_INVALID_OPTION, ERR_LIFELINE_PROTOCOL, TLS certificate failures, ...);
 * 4. an AggregateError's `errors`: retryable if any of them is;
 * 5. the `cause`, for a wrapper without a code of its own;
 * 6. anything else is retryable: wrongly retrying costs one attempt per `cap` and is reported each time, while
 *    wrongly giving up leaves a client that exists to survive outages dead for good.
 */
export function retryVerdict(error: unknown): RetryVerdict {
  return verdictOf(error, 0);
}

function verdictOf(error: unknown, depth: number): RetryVerdict {
  if (error === null || typeof error !== 'object') {
    return { retryable: true, decidedBy: describeValue(error), because: 'not an error object; retried by default' };
  }
  const { fatal, goAway, code, cause, errors } = error as RetryableErrorLike;
  if (typeof fatal === 'boolean') {
    return { retryable: !fatal, decidedBy: `fatal: ${fatal}`, because: 'the error is marked' };
  }
  if (goAway !== undefined) return goAwayVerdict(goAway);
  if (typeof code === 'string') {
    if (GOAWAY_NAMES.has(code)) return goAwayVerdict(code);
    const fatalBecause = FATAL_CODES[code];
    if (fatalBecause !== undefined) return { retryable: false, decidedBy: code, because: fatalBecause };
    const retryBecause = RETRYABLE_CODES[code];
    if (retryBecause !== undefined) return { retryable: true, decidedBy: code, because: retryBecause };
  }
  // Bounded: an error whose cause chain loops back on itself must not hang the reconnect loop.
  if (depth < 8) {
    if (Array.isArray(errors) && errors.length > 0) {
      const verdicts = errors.map((inner) => verdictOf(inner, depth + 1));
      return verdicts.find((verdict) => verdict.retryable) ?? (verdicts[0] as RetryVerdict);
    }
    if (cause !== undefined) return verdictOf(cause, depth + 1);
  }
  return {
    retryable: true,
    decidedBy: typeof code === 'string' ? code : 'no code',
    because: 'not known to be permanent; retried by default',
  };
}

function goAwayVerdict(goAway: string | number): RetryVerdict {
  const name = typeof goAway === 'number' ? goAwayCodeName(goAway) : GOAWAY_NAMES.has(goAway) ? goAway as GoAwayCodeName : undefined;
  const known = name ?? 'protocol_error';
  const verdict = GOAWAY_VERDICTS[known];
  return {
    retryable: verdict.retryable,
    decidedBy: `goaway ${name ?? `${describeValue(goAway)} (unknown: taken as protocol_error)`}`,
    because: verdict.because,
  };
}

import { seededRandom } from '../helpers/random.js';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { ManualClock } from '../../src/clock.js';
import { InvalidOptionError, LifelineError, ErrorCodes } from '../../src/errors.js';
import {
  Backoff,
  DEFAULT_BACKOFF,
  backoffCeiling,
  isRetryable,
  resolveBackoffOptions,
  retryVerdict,
} from '../../src/client/backoff.js';


/** Draws just below 1: every delay lands on its ceiling, which makes the ceilings visible. */
const almostOne = () => 1 - 2 ** -40;

function delays(backoff: Backoff, count: number): (number | null)[] {
  return Array.from({ length: count }, () => backoff.next());
}

describe('backoff: full jitter', () => {
  test('backoff: every delay is a whole number in [0, min(cap, base x 2^attempt)] (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 0, max: 2_000_000 }),
        fc.integer(),
        fc.integer({ min: 1, max: 80 }),
        (base, extra, seed, count) => {
          const cap = base + extra;
          const backoff = new Backoff({ base, cap, random: seededRandom(seed) });
          for (let attempt = 0; attempt < count; attempt++) {
            const delay = backoff.next();
            assert.ok(delay !== null);
            assert.ok(Number.isInteger(delay), `delay ${delay} is whole`);
            assert.ok(delay >= 0 && delay <= Math.min(cap, base * 2 ** attempt), `attempt ${attempt}: ${delay}`);
          }
          assert.equal(backoff.attempts, count);
        },
      ),
    );
  });

  test('backoff: the ceiling doubles from base and stops at cap, for any number of attempts', () => {
    const backoff = new Backoff({ random: almostOne });
    assert.deepEqual(delays(backoff, 11), [100, 200, 400, 800, 1600, 3200, 6400, 12_800, 25_600, 30_000, 30_000]);
    // Far past the point where 2^attempt overflows to Infinity, the ceiling is still cap.
    for (let i = 0; i < 2000; i++) backoff.next();
    assert.equal(backoff.next(), 30_000);
    assert.equal(backoffCeiling(5000, 100, 30_000), 30_000);
  });

  test('backoff: a draw of 0 gives no delay at all (full jitter spans the whole range)', () => {
    const backoff = new Backoff({ random: () => 0 });
    assert.deepEqual(delays(backoff, 3), [0, 0, 0]);
  });

  test('backoff: delays spread over the whole range, not around the ceiling', () => {
    const backoff = new Backoff({ base: 1000, cap: 1000, random: seededRandom(42) });
    const drawn = delays(backoff, 4000) as number[];
    const buckets = [0, 0, 0, 0];
    for (const delay of drawn) buckets[Math.min(3, Math.floor(delay / 250))]!++;
    for (const count of buckets) assert.ok(count > 850 && count < 1150, `quartiles ${buckets.join(', ')}`);
  });

  test('backoff: a random source outside [0, 1) is an error, not a silent loss of jitter', () => {
    const backoff = new Backoff({ random: () => 1 });
    assert.throws(() => backoff.next(), { code: 'ERR_LIFELINE_INVALID_OPTION', option: 'random' });
    assert.equal(backoff.attempts, 0);
    assert.throws(() => new Backoff({ random: () => Number.NaN }).next(), InvalidOptionError);
  });
});

describe('backoff: giving up and starting over', () => {
  test('backoff: maxAttempts delays, then null until reset', () => {
    const backoff = new Backoff({ maxAttempts: 3, random: almostOne });
    assert.deepEqual(delays(backoff, 5), [100, 200, 400, null, null]);
    assert.equal(backoff.attempts, 3);
    assert.equal(backoff.exhausted, true);
    backoff.reset();
    assert.equal(backoff.exhausted, false);
    assert.equal(backoff.next(), 100);
  });

  test('backoff: maxAttempts 0 never retries', () => {
    assert.equal(new Backoff({ maxAttempts: 0 }).next(), null);
  });

  test('backoff: the default never gives up', () => {
    const backoff = new Backoff({ random: seededRandom(1) });
    for (let i = 0; i < 10_000; i++) assert.notEqual(backoff.next(), null);
  });

  test('backoff: a connection that stayed up for resetAfter resets the counter when it drops', () => {
    const clock = new ManualClock();
    const backoff = new Backoff({ clock, random: almostOne, resetAfter: '60s' });
    delays(backoff, 5);
    backoff.connected();
    clock.advance(60_000);
    assert.equal(backoff.disconnected(), true);
    assert.equal(backoff.attempts, 0);
    assert.equal(backoff.next(), 100);
  });

  test('backoff: a connection shorter than resetAfter keeps the counter (a flapping server is not hammered)', () => {
    const clock = new ManualClock();
    const backoff = new Backoff({ clock, random: almostOne });
    delays(backoff, 5);
    backoff.connected();
    clock.advance(DEFAULT_BACKOFF.resetAfter - 1);
    assert.equal(backoff.disconnected(), false);
    assert.equal(backoff.attempts, 5);
    assert.equal(backoff.next(), 3200);
  });

  test('backoff: the reset needs a connection: time spent disconnected does not count', () => {
    const clock = new ManualClock();
    const backoff = new Backoff({ clock, random: almostOne, resetAfter: 1000 });
    delays(backoff, 3);
    clock.advance(10_000);
    assert.equal(backoff.disconnected(), false);
    assert.equal(backoff.attempts, 3);
  });

  test('backoff: next() while still marked connected counts as the drop', () => {
    const clock = new ManualClock();
    const backoff = new Backoff({ clock, random: almostOne, resetAfter: 1000 });
    delays(backoff, 4);
    backoff.connected();
    clock.advance(1000);
    assert.equal(backoff.next(), 100);
    // The drop was taken once: a later disconnected() finds no open connection to judge.
    assert.equal(backoff.disconnected(), false);
  });

  test('backoff: resetAfter false never resets on its own', () => {
    const clock = new ManualClock();
    const backoff = new Backoff({ clock, resetAfter: false });
    delays(backoff, 2);
    backoff.connected();
    clock.advance(10 * 24 * 3_600_000);
    assert.equal(backoff.disconnected(), false);
    assert.equal(backoff.attempts, 2);
  });
});

describe('backoff: options', () => {
  test('backoff: defaults are 100 ms base, 30 s cap, no attempt limit, reset after 60 s', () => {
    const { base, cap, maxAttempts, resetAfter, random } = resolveBackoffOptions();
    assert.deepEqual({ base, cap, maxAttempts, resetAfter }, { base: 100, cap: 30_000, maxAttempts: Infinity, resetAfter: 60_000 });
    assert.equal(random, Math.random);
    assert.deepEqual(resolveBackoffOptions({ base: '1s', cap: '2m', resetAfter: '5m' }).cap, 120_000);
  });

  test('backoff: a bad value names the option, the value and the allowed range', () => {
    assert.throws(() => resolveBackoffOptions({ base: 0 }), {
      code: 'ERR_LIFELINE_INVALID_OPTION', option: 'base', value: 0, message: /invalid option base: 0; allowed: 1 to 2147483647 ms/,
    });
    assert.throws(() => resolveBackoffOptions({ base: 500, cap: 200 }), {
      option: 'cap', message: /invalid option cap: 200; allowed: 500 to 2147483647 ms \(at least base\)/,
    });
    assert.throws(() => resolveBackoffOptions({ maxAttempts: 2.5 }), {
      option: 'maxAttempts', message: /allowed: an integer from 0 to 2147483647, or Infinity/,
    });
    assert.throws(() => resolveBackoffOptions({ maxAttempts: -1 }), { option: 'maxAttempts' });
    assert.throws(() => resolveBackoffOptions({ resetAfter: 'soon' }), { option: 'resetAfter' });
    assert.throws(() => resolveBackoffOptions({ resetAfter: true as never }), { option: 'resetAfter' });
    assert.throws(() => resolveBackoffOptions({ random: 0.5 as never }), { option: 'random' });
    assert.throws(() => resolveBackoffOptions({ clock: {} as never }), { option: 'clock' });
    assert.throws(() => resolveBackoffOptions(null as never), { option: 'options' });
  });

  test('backoff: unknown keys are rejected with a hint', () => {
    assert.throws(() => resolveBackoffOptions({ bse: 100 } as never), { option: 'bse', message: /did you mean base\?/ });
    assert.throws(() => resolveBackoffOptions({ maxRetries: 3 } as never), { option: 'maxRetries', message: /one of the keys base, cap/ });
  });
});

describe('backoff: which errors are worth retrying', () => {
  const errno = (code: string) => Object.assign(new Error(`connect ${code}`), { code, syscall: 'connect' });

  test('backoff: network failures are retryable', () => {
    for (const code of ['ECONNREFUSED', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'EAI_AGAIN']) {
      assert.equal(isRetryable(errno(code)), true, code);
    }
  });

  test('backoff: ENOTFOUND is retryable: DNS names can appear after the client starts', () => {
    const verdict = retryVerdict(errno('ENOTFOUND'));
    assert.equal(verdict.retryable, true);
    assert.equal(verdict.decidedBy, 'ENOTFOUND');
    assert.match(verdict.because, /DNS/);
  });

  test('backoff: what a retry repeats is fatal: permissions, invalid options, protocol errors, TLS verification', () => {
    for (const code of ['EACCES', 'EPERM', 'CERT_HAS_EXPIRED', 'ERR_TLS_CERT_ALTNAME_INVALID', ErrorCodes.PROTOCOL]) {
      assert.equal(isRetryable(errno(code)), false, code);
    }
    assert.equal(isRetryable(new InvalidOptionError('port', 0, 'an integer from 1 to 65535')), false);
  });

  test('backoff: GOAWAY codes, by name as code, by name or number as goAway; unknown numbers count as protocol_error', () => {
    assert.equal(isRetryable({ code: 'unsupported_version' }), false);
    assert.equal(isRetryable({ code: 'protocol_error' }), false);
    assert.equal(isRetryable({ code: 'shutting_down' }), true);
    assert.equal(isRetryable({ code: 'ERR_LIFELINE_GOAWAY', goAway: 'frame_too_large' }), false);
    assert.equal(isRetryable({ goAway: 8 }), true); // heartbeat_timeout
    assert.equal(isRetryable({ goAway: 5 }), true); // session_gone: a new session
    assert.equal(isRetryable({ goAway: 0 }), false); // normal: nothing failed
    const unknown = retryVerdict({ goAway: 99 });
    assert.equal(unknown.retryable, false);
    assert.match(unknown.decidedBy, /99 \(unknown: taken as protocol_error\)/);
  });

  test('backoff: a fatal flag decides over the code, both ways', () => {
    assert.equal(isRetryable({ code: 'ECONNREFUSED', fatal: true }), false);
    assert.equal(isRetryable({ code: 'protocol_error', fatal: false }), true);
    assert.deepEqual(retryVerdict({ fatal: true }), { retryable: false, decidedBy: 'fatal: true', because: 'the error is marked' });
  });

  test('backoff: wrappers are judged by their cause, AggregateErrors by the most hopeful of their errors', () => {
    const wrapped = new LifelineError(ErrorCodes.SESSION, 'lost', { cause: errno('EACCES') });
    // ERR_LIFELINE_SESSION itself decides nothing, so the cause does.
    assert.equal(isRetryable(wrapped), false);
    assert.equal(isRetryable(new Error('wrapper', { cause: errno('EPERM') })), false);
    assert.equal(isRetryable(new AggregateError([errno('EACCES'), errno('ECONNREFUSED')])), true);
    assert.equal(isRetryable(new AggregateError([errno('EACCES'), errno('EPERM')])), false);
  });

  test('backoff: anything unknown is retried, with the evidence saying so', () => {
    assert.equal(isRetryable(new Error('something odd')), true);
    assert.equal(isRetryable('a string'), true);
    assert.equal(isRetryable(undefined), true);
    assert.deepEqual(retryVerdict(errno('EWHATEVER')), {
      retryable: true, decidedBy: 'EWHATEVER', because: 'not known to be permanent; retried by default',
    });
  });

  test('backoff: a cause chain that loops back on itself still gets an answer', () => {
    const looped = new Error('a') as Error & { cause?: unknown };
    looped.cause = looped;
    assert.equal(isRetryable(looped), true);
  });
});

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { ManualClock, type Clock } from '../../src/clock.js';
import { OutboundLog } from '../../src/protocol/session.js';
import {
  DEFAULT_OFFLINE_QUEUE,
  OfflineQueue,
  QueueError,
  resolveOfflineQueueOptions,
  type QueuePolicy,
} from '../../src/client/queue.js';

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (payload: Uint8Array) => new TextDecoder().decode(payload);
const turn = () => new Promise((resolve) => setImmediate(resolve));

/** How a promise ended, observed without awaiting it (so the tests see the order things settle in). */
function watch(promise: Promise<void>): { state: 'pending' | 'resolved' | QueueError | Error } {
  const outcome: { state: 'pending' | 'resolved' | QueueError | Error } = { state: 'pending' };
  promise.then(() => (outcome.state = 'resolved'), (error: Error) => (outcome.state = error));
  return outcome;
}

function reasonOf(outcome: { state: unknown }): string {
  const { state } = outcome;
  if (state instanceof QueueError) return state.reason;
  return state instanceof Error ? state.message : String(state);
}

function errorOf(outcome: { state: unknown }): Error {
  assert.ok(outcome.state instanceof Error, `expected a rejection, got ${String(outcome.state)}`);
  return outcome.state;
}

/** A clock whose timers never fire: proves the queue also expires lazily, without its timer. */
function frozenTimersClock(): Clock & { time: number } {
  const clock = { time: 0, now: () => clock.time, setTimeout: () => ({}), clearTimeout: () => {} };
  return clock;
}

describe('queue: policies when full', () => {
  test("queue: 'reject' throws queue-full synchronously and queues nothing", async () => {
    const queue = new OfflineQueue({ maxMessages: 2, whenFull: 'reject' });
    const first = watch(queue.enqueue(bytes('a')));
    queue.enqueue(bytes('b'));
    assert.throws(() => queue.enqueue(bytes('c')), (error: unknown) => {
      assert.ok(error instanceof QueueError);
      assert.equal(error.code, 'ERR_LIFELINE_QUEUE');
      assert.equal(error.reason, 'queue-full');
      assert.match(error.message, /^queue-full: 2 messages \/ 2 bytes queued, limits 2 \/ 8388608/);
      return true;
    });
    await turn();
    assert.equal(first.state, 'pending');
    assert.equal(queue.size, 2);
  });

  test("queue: 'drop-newest' never throws: the incoming message's promise rejects with dropped", async () => {
    const queue = new OfflineQueue({ maxMessages: 1, whenFull: 'drop-newest' });
    const kept = watch(queue.enqueue(bytes('old')));
    const refused = watch(queue.enqueue(bytes('new')));
    await turn();
    assert.equal(reasonOf(refused), 'dropped');
    assert.match(errorOf(refused).message, /the incoming message was dropped/);
    assert.equal(kept.state, 'pending');
    assert.equal(text(queue.peek() as Uint8Array), 'old');
  });

  test("queue: 'drop-oldest' evicts the oldest (its promise rejects with dropped) and keeps the new one", async () => {
    const queue = new OfflineQueue({ maxMessages: 2, whenFull: 'drop-oldest' });
    const first = watch(queue.enqueue(bytes('1')));
    const second = watch(queue.enqueue(bytes('2')));
    const third = watch(queue.enqueue(bytes('3')));
    await turn();
    assert.equal(reasonOf(first), 'dropped');
    assert.match(errorOf(first).message, /the oldest message was dropped for a newer one/);
    assert.equal(second.state, 'pending');
    assert.equal(third.state, 'pending');
    assert.deepEqual([queue.shift(), queue.shift()].map((message) => text(message!.payload)), ['2', '3']);
  });

  test('queue: the byte limit counts too; drop-oldest evicts as many as it takes', async () => {
    const queue = new OfflineQueue({ maxMessages: 100, maxBytes: 10, whenFull: 'drop-oldest' });
    const small = [watch(queue.enqueue(bytes('aaaa'))), watch(queue.enqueue(bytes('bbbb')))];
    assert.equal(queue.bytes, 8);
    const big = watch(queue.enqueue(bytes('cccccccc')));
    await turn();
    assert.deepEqual(small.map(reasonOf), ['dropped', 'dropped']);
    assert.equal(big.state, 'pending');
    assert.equal(queue.size, 1);
    assert.equal(queue.bytes, 8);
  });

  test("queue: with 'reject', bytes decide even when the count has room", () => {
    const queue = new OfflineQueue({ maxMessages: 100, maxBytes: 10 });
    queue.enqueue(bytes('123456'));
    assert.throws(() => queue.enqueue(bytes('12345')), { reason: 'queue-full' });
    queue.enqueue(bytes('1234'));
    assert.equal(queue.bytes, 10);
  });

  test('queue: a message larger than maxBytes throws too-large under every policy, evicting nothing', async () => {
    for (const whenFull of ['reject', 'drop-newest', 'drop-oldest'] as QueuePolicy[]) {
      const queue = new OfflineQueue({ maxBytes: 4, whenFull });
      const waiting = watch(queue.enqueue(bytes('abc')));
      assert.throws(() => queue.enqueue(bytes('abcde')), { code: 'ERR_LIFELINE_QUEUE', reason: 'too-large' }, whenFull);
      await turn();
      assert.equal(waiting.state, 'pending', whenFull);
      assert.equal(queue.size, 1);
    }
  });

  test('queue: a dropped message nobody awaits is not an unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const queue = new OfflineQueue({ maxMessages: 1, whenFull: 'drop-oldest' });
      void queue.enqueue(bytes('a'));
      void queue.enqueue(bytes('b'));
      const newest = new OfflineQueue({ maxMessages: 1, whenFull: 'drop-newest' });
      void newest.enqueue(bytes('a'));
      void newest.enqueue(bytes('b'));
      queue.close();
      newest.close();
      await turn();
      await turn();
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    assert.deepEqual(unhandled, []);
  });
});

describe('queue: TTL', () => {
  test('queue: a message older than its TTL rejects with expired, on the timer, exactly when due', async () => {
    const clock = new ManualClock();
    const queue = new OfflineQueue({ ttl: '1s', clock });
    const first = watch(queue.enqueue(bytes('first')));
    clock.advance(500);
    const second = watch(queue.enqueue(bytes('second')));
    clock.advance(499);
    await turn();
    assert.equal(first.state, 'pending');
    clock.advance(1);
    await turn();
    assert.equal(reasonOf(first), 'expired');
    assert.match(errorOf(first).message, /waited 1000 ms in the queue; its TTL was 1000 ms/);
    assert.equal(second.state, 'pending');
    assert.equal(queue.size, 1);
    assert.equal(queue.bytes, 6);
    clock.advance(500);
    await turn();
    assert.equal(reasonOf(second), 'expired');
    assert.equal(queue.size, 0);
    assert.equal(clock.pending, 0, 'an empty queue holds no timer');
  });

  test('queue: a per-message TTL overrides the queue default, and the timer follows the earliest', async () => {
    const clock = new ManualClock();
    const queue = new OfflineQueue({ ttl: '10s', clock });
    const patient = watch(queue.enqueue(bytes('patient')));
    const urgent = watch(queue.enqueue(bytes('urgent'), { ttl: 200 }));
    const forever = watch(queue.enqueue(bytes('forever'), { ttl: false }));
    clock.advance(200);
    await turn();
    assert.equal(reasonOf(urgent), 'expired');
    assert.equal(patient.state, 'pending');
    clock.advance(9800);
    await turn();
    assert.equal(reasonOf(patient), 'expired');
    clock.advance(24 * 3_600_000);
    await turn();
    assert.equal(forever.state, 'pending');
    assert.equal(clock.pending, 0, 'nothing left that can expire: no timer');
  });

  test('queue: without TTL no timer is ever set', () => {
    const clock = new ManualClock();
    const queue = new OfflineQueue({ clock });
    queue.enqueue(bytes('a'));
    assert.equal(clock.pending, 0);
  });

  test('queue: expired messages are never drained, even before the timer fires (lazy check)', async () => {
    const clock = frozenTimersClock();
    const queue = new OfflineQueue({ ttl: 100, clock });
    const stale = watch(queue.enqueue(bytes('stale')));
    clock.time = 50;
    const fresh = watch(queue.enqueue(bytes('fresh')));
    clock.time = 100;
    const log = new OutboundLog({ maxMessages: 10, maxBytes: 1000 });
    assert.deepEqual(queue.drainInto(log).map(({ seq, payload }) => [seq, text(payload)]), [[1, 'fresh']]);
    await turn();
    assert.equal(reasonOf(stale), 'expired');
    assert.equal(fresh.state, 'pending');
  });

  test('queue: room held by expired messages is reclaimed before the queue counts as full', async () => {
    const clock = frozenTimersClock();
    const queue = new OfflineQueue({ maxMessages: 1, ttl: 100, clock });
    const stale = watch(queue.enqueue(bytes('stale')));
    clock.time = 100;
    const fresh = watch(queue.enqueue(bytes('fresh')));
    await turn();
    assert.equal(reasonOf(stale), 'expired');
    assert.equal(fresh.state, 'pending');
    assert.equal(queue.size, 1);
  });
});

describe('queue: into the session', () => {
  test('queue: drainInto moves messages in order while the log has room; promises settle on acknowledgement', async () => {
    const queue = new OfflineQueue();
    const sent = ['a', 'b', 'c'].map((payload) => watch(queue.enqueue(bytes(payload))));
    const log = new OutboundLog({ maxMessages: 2, maxBytes: 1000 });
    const moved = queue.drainInto(log);
    assert.deepEqual(moved.map(({ seq, payload }) => [seq, text(payload)]), [[1, 'a'], [2, 'b']]);
    assert.equal(queue.size, 1, 'what the log cannot take stays queued');
    log.acknowledge(1);
    await turn();
    assert.deepEqual(sent.map((outcome) => outcome.state), ['resolved', 'pending', 'pending']);
    log.acknowledge(2);
    assert.deepEqual(queue.drainInto(log).map(({ seq }) => seq), [3]);
    log.acknowledge(3);
    await turn();
    assert.deepEqual(sent.map((outcome) => outcome.state), ['resolved', 'resolved', 'resolved']);
  });

  test('queue: a queue emptied by drainInto or shift drops its TTL timer', () => {
    const clock = new ManualClock();
    const queue = new OfflineQueue({ ttl: '1m', clock });
    queue.enqueue(bytes('a'));
    queue.enqueue(bytes('b'));
    assert.equal(clock.pending, 1, 'one timer for the whole queue');
    queue.drainInto(new OutboundLog({ maxMessages: 1, maxBytes: 1000 }));
    assert.equal(clock.pending, 1, 'still needed for the message left');
    queue.shift()!.settleWith(Promise.resolve());
    assert.equal(clock.pending, 0);
  });

  test('queue: a lost session rejects the moved messages with the session error', async () => {
    const queue = new OfflineQueue();
    const moved = watch(queue.enqueue(bytes('a')));
    const log = new OutboundLog({ maxMessages: 10, maxBytes: 1000 });
    queue.drainInto(log);
    log.fail();
    await turn();
    assert.equal((errorOf(moved) as Error & { reason: string }).reason, 'session-lost');
  });

  test('queue: if the log refuses the append, the message stays queued', async () => {
    const queue = new OfflineQueue();
    const waiting = watch(queue.enqueue(bytes('a')));
    const log = new OutboundLog({ maxMessages: 10, maxBytes: 1000 });
    log.fail();
    assert.throws(() => queue.drainInto(log), { reason: 'session-lost' });
    await turn();
    assert.equal(waiting.state, 'pending');
    assert.equal(queue.size, 1);
  });

  test('queue: shift hands a message over; settleWith chains its promise', async () => {
    const queue = new OfflineQueue();
    const first = watch(queue.enqueue(bytes('a')));
    const second = watch(queue.enqueue(bytes('b')));
    const taken = queue.shift();
    assert.equal(text(taken!.payload), 'a');
    assert.equal(queue.size, 1);
    assert.equal(queue.bytes, 1);
    taken!.settleWith(Promise.resolve());
    queue.shift()!.settleWith(Promise.reject(new Error('gone')));
    await turn();
    assert.equal(first.state, 'resolved');
    assert.equal(reasonOf(second), 'gone');
    assert.equal(queue.shift(), undefined);
  });
});

describe('queue: closing', () => {
  test('queue: close rejects every queued message with closed, the reason as cause, and refuses new ones', async () => {
    const clock = new ManualClock();
    const queue = new OfflineQueue({ ttl: '1m', clock });
    const outcomes = ['a', 'b', 'c'].map((payload) => watch(queue.enqueue(bytes(payload))));
    const why = new Error('gave up after 10 attempts');
    queue.close(why);
    await turn();
    for (const outcome of outcomes) {
      assert.equal(reasonOf(outcome), 'closed');
      assert.equal(errorOf(outcome).cause, why);
      assert.match(errorOf(outcome).message, /^closed: the queue was closed: gave up after 10 attempts$/);
    }
    assert.equal(queue.closed, true);
    assert.equal(queue.size, 0);
    assert.equal(queue.bytes, 0);
    assert.equal(clock.pending, 0);
    assert.throws(() => queue.enqueue(bytes('d')), { reason: 'closed' });
    queue.close(new Error('again'));
    assert.throws(() => queue.enqueue(bytes('d')), { message: /gave up after 10 attempts/ });
  });
});

describe('queue: options', () => {
  test('queue: defaults are 10 000 messages, 8 MiB, reject when full, no TTL', () => {
    const { maxMessages, maxBytes, whenFull, ttl } = resolveOfflineQueueOptions();
    assert.deepEqual({ maxMessages, maxBytes, whenFull, ttl }, { ...DEFAULT_OFFLINE_QUEUE });
    assert.equal(resolveOfflineQueueOptions({ ttl: '30s' }).ttl, 30_000);
  });

  test('queue: a bad value names the option, the value and the allowed range; unknown keys get a hint', () => {
    assert.throws(() => resolveOfflineQueueOptions({ maxMessages: 0 }), {
      code: 'ERR_LIFELINE_INVALID_OPTION', option: 'maxMessages', message: /invalid option maxMessages: 0; allowed: an integer from 1 to 2147483647/,
    });
    assert.throws(() => resolveOfflineQueueOptions({ maxBytes: 1.5 }), { option: 'maxBytes' });
    assert.throws(() => resolveOfflineQueueOptions({ whenFull: 'drop-random' as never }), {
      option: 'whenFull', message: /allowed: one of 'reject', 'drop-newest', 'drop-oldest'/,
    });
    assert.throws(() => resolveOfflineQueueOptions({ ttl: 0 }), { option: 'ttl', message: /1 to 2147483647 ms, or false \(no expiry\)/ });
    assert.throws(() => resolveOfflineQueueOptions({ maxMesages: 5 } as never), { option: 'maxMesages', message: /did you mean maxMessages\?/ });
    const queue = new OfflineQueue();
    assert.throws(() => queue.enqueue(bytes('a'), { tll: 5 } as never), { option: 'tll', message: /did you mean ttl\?/ });
    assert.throws(() => queue.enqueue(bytes('a'), { ttl: -1 }), { option: 'ttl' });
    assert.throws(() => queue.enqueue('text' as never), { option: 'payload' });
    assert.equal(queue.size, 0);
  });
});

describe('queue: nothing is lost silently', () => {
  type Operation =
    | { kind: 'enqueue'; size: number; ttl: number | false | undefined }
    | { kind: 'advance'; ms: number }
    | { kind: 'drain'; room: number };

  const operation: fc.Arbitrary<Operation> = fc.oneof(
    fc.record({
      kind: fc.constant('enqueue' as const),
      size: fc.integer({ min: 0, max: 12 }),
      ttl: fc.option(fc.oneof(fc.integer({ min: 1, max: 500 }), fc.constant(false as const)), { nil: undefined }),
    }),
    fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 300 }) }),
    fc.record({ kind: fc.constant('drain' as const), room: fc.integer({ min: 0, max: 4 }) }),
  );

  test('queue: under any mix of sends, time and drains, every promise settles once, in order, within limits (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<QueuePolicy>('reject', 'drop-newest', 'drop-oldest'),
        fc.option(fc.integer({ min: 1, max: 400 }), { nil: undefined }),
        fc.array(operation, { maxLength: 60 }),
        async (whenFull, ttl, operations) => {
          const clock = new ManualClock();
          const limits = { maxMessages: 5, maxBytes: 24 };
          const queue = new OfflineQueue({ ...limits, whenFull, ttl: ttl ?? false, clock });
          const log = new OutboundLog({ maxMessages: 1000, maxBytes: 100_000 });
          const promises: Promise<void>[] = [];
          const settledCount = new Map<number, number>();
          const wire: number[] = [];
          let next = 0;
          for (const step of operations) {
            if (step.kind === 'enqueue') {
              const id = next++;
              const payload = new Uint8Array(Math.max(1, step.size)).fill(id % 256);
              payload[0] = id; // ids stay below 256 with 60 operations
              try {
                const promise = queue.enqueue(payload, step.ttl === undefined ? undefined : { ttl: step.ttl });
                const counted = promise.then(
                  () => void settledCount.set(id, (settledCount.get(id) ?? 0) + 1),
                  (error: unknown) => {
                    assert.ok(error instanceof QueueError, `message ${id} rejected with a QueueError`);
                    settledCount.set(id, (settledCount.get(id) ?? 0) + 1);
                  },
                );
                promises.push(counted);
              } catch (error) {
                assert.ok(error instanceof QueueError);
                assert.equal(whenFull === 'reject' ? ['queue-full', 'too-large'].includes(error.reason) : error.reason === 'too-large', true);
              }
            } else if (step.kind === 'advance') {
              clock.advance(step.ms);
            } else {
              const limited = { fits: (size: number) => step.room > 0 && log.fits(size), append: (payload: Uint8Array) => (step.room--, log.append(payload)) };
              for (const message of queue.drainInto(limited)) {
                wire.push(message.payload[0] as number);
                log.acknowledge(message.seq);
              }
            }
            assert.ok(queue.size <= limits.maxMessages && queue.bytes <= limits.maxBytes);
            assert.ok(queue.size > 0 || queue.bytes === 0);
          }
          queue.close();
          // Not Promise.all: a promise that never settles must fail the property, not hang it.
          await turn();
          // Each accepted message settled exactly once; what reached the wire kept the order it was sent in.
          assert.equal(settledCount.size, promises.length);
          for (const count of settledCount.values()) assert.equal(count, 1);
          assert.deepEqual(wire, [...wire].sort((a, b) => a - b));
          assert.equal(clock.pending, 0);
        },
      ),
      { numRuns: 300 },
    );
  });
});

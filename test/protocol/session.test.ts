import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { InboundLog, OutboundLog } from '../../src/index.js';

const bytes = (text: string) => new TextEncoder().encode(text);

describe('session logs', () => {
  test('session: sequence numbers start at 1; a cumulative ACK settles every message up to it', async () => {
    const log = new OutboundLog({ maxMessages: 10, maxBytes: 1000 });
    const sent = ['a', 'b', 'c'].map((text) => log.append(bytes(text)));
    assert.deepEqual(sent.map(({ message }) => message.seq), [1, 2, 3]);
    const settled: number[] = [];
    sent.forEach(({ acknowledged }, index) => void acknowledged.then(() => settled.push(index + 1)));
    assert.equal(log.acknowledge(2), 2);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(settled, [1, 2]);
    assert.equal(log.size, 1);
    assert.equal(log.bytes, 1);
  });

  test('session: resume replays exactly what the peer did not deliver', () => {
    const log = new OutboundLog({ maxMessages: 10, maxBytes: 1000 });
    for (const text of ['a', 'b', 'c', 'd']) log.append(bytes(text));
    log.acknowledge(1);
    assert.deepEqual(log.resume(2).map(({ seq }) => seq), [3, 4]);
    assert.deepEqual(log.resume(4), []);
  });

  test('session: an ACK for data never sent, or a resume point out of range, is a session error', () => {
    const log = new OutboundLog({ maxMessages: 10, maxBytes: 1000 });
    log.append(bytes('a'));
    assert.throws(() => log.acknowledge(2), { code: 'ERR_LIFELINE_SESSION', reason: 'ack-beyond-sent' });
    log.acknowledge(1);
    assert.throws(() => log.resume(0), { reason: 'bad-resume-point' });
    assert.throws(() => log.resume(5), { reason: 'bad-resume-point' });
  });

  test('session: the log is bounded by messages and bytes', () => {
    const log = new OutboundLog({ maxMessages: 2, maxBytes: 5 });
    log.append(bytes('abc'));
    assert.throws(() => log.append(bytes('abc')), { reason: 'log-full' });
    log.append(bytes('ab'));
    assert.throws(() => log.append(bytes('')), { reason: 'log-full' });
    log.acknowledge(2);
    assert.equal(log.fits(5), true);
  });

  test('session: a lost session rejects every pending promise and refuses new messages', async () => {
    const log = new OutboundLog({ maxMessages: 10, maxBytes: 1000 });
    const first = log.append(bytes('a'));
    const second = log.append(bytes('b'));
    log.acknowledge(1);
    log.fail();
    await first.acknowledged;
    await assert.rejects(second.acknowledged, { code: 'ERR_LIFELINE_SESSION', reason: 'session-lost' });
    assert.throws(() => log.append(bytes('c')), { reason: 'session-lost' });
  });

  test('session: the receiver delivers once and in order, drops replays, refuses gaps', () => {
    const inbound = new InboundLog();
    assert.equal(inbound.receive(1), 'deliver');
    assert.equal(inbound.receive(2), 'deliver');
    assert.equal(inbound.receive(1), 'duplicate');
    assert.throws(() => inbound.receive(4), { reason: 'sequence-gap' });
    assert.equal(new InboundLog(7).receive(8), 'deliver');
  });

  test('session: across any pattern of disconnects, every message arrives exactly once and in order', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 200 }),
        fc.array(fc.record({ after: fc.nat(), delivered: fc.nat() }), { maxLength: 20 }),
        (count, drops) => {
          const sender = new OutboundLog({ maxMessages: 1000, maxBytes: 1_000_000 });
          const receiver = new InboundLog();
          const received: number[] = [];
          let wire: number[] = [];
          for (let index = 1; index <= count; index++) wire.push(sender.append(bytes(String(index))).message.seq);
          for (const drop of drops) {
            // Some of what is on the wire arrives, then the connection dies and the sender resumes.
            const arriving = wire.slice(0, drop.after % (wire.length + 1));
            for (const seq of arriving) if (receiver.receive(seq) === 'deliver') received.push(seq);
            if (drop.delivered % 2 === 0) sender.acknowledge(receiver.lastDelivered);
            wire = sender.resume(receiver.lastDelivered).map(({ seq }) => seq);
          }
          for (const seq of wire) if (receiver.receive(seq) === 'deliver') received.push(seq);
          sender.acknowledge(receiver.lastDelivered);
          assert.deepEqual(received, Array.from({ length: count }, (_, index) => index + 1));
          assert.equal(sender.size, 0);
        },
      ),
    );
  });
});

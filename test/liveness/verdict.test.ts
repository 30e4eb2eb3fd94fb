import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { classifyDeath, type DeathEvidence, type TcpInfo } from '../../src/index.js';

/** TCP_INFO as read at the moment of death on kernel 6.18, from the measurements in docs/death-evidence.md. */
const base: TcpInfo = {
  state: 'CLOSE', caState: 0, retransmits: 0, probes: 0, backoff: 0, rtoMs: 204, unacked: 0,
  lastDataSentMs: 0, lastDataRecvMs: 5080, lastAckRecvMs: 5080, rttUs: 60, rttVarUs: 30, totalRetrans: 0,
  bytesAcked: 1, bytesReceived: 6, notSentBytes: 0, sendWindow: 65_000, totalRto: 0,
};
const keepaliveDeath: TcpInfo = { ...base, probes: 3 };
const retransmissionDeath: TcpInfo = { ...base, retransmits: 4, caState: 4, probes: 1, totalRto: 4 };
const noRouteDeath: TcpInfo = { ...base, probes: 5, notSentBytes: 32_768 };
const busySample: TcpInfo = { ...base, state: 'ESTABLISHED', unacked: 7, retransmits: 0 };

function evidence(overrides: Partial<DeathEvidence>): DeathEvidence {
  return { errorCode: null, peerEnded: false, closedLocally: false, atDeath: null, lastSample: null, pendingWriteBytes: 0, ...overrides };
}

describe('classifyDeath', () => {
  test('verdict: FIN without error is eof', () => {
    assert.equal(classifyDeath(evidence({ peerEnded: true })).reason, 'eof');
  });

  test('verdict: our own close is local, even after the peer ended', () => {
    assert.equal(classifyDeath(evidence({ closedLocally: true })).reason, 'local');
    assert.equal(classifyDeath(evidence({ closedLocally: true, peerEnded: true })).reason, 'local');
  });

  test('verdict: ECONNRESET and EPIPE are reset', () => {
    for (const code of ['ECONNRESET', 'EPIPE']) {
      assert.deepEqual(classifyDeath(evidence({ errorCode: code })), { reason: 'reset', code, because: 'the peer answered with RST' });
    }
  });

  test('verdict: EHOSTUNREACH and ENETUNREACH are unreachable', () => {
    for (const code of ['EHOSTUNREACH', 'ENETUNREACH']) assert.equal(classifyDeath(evidence({ errorCode: code })).reason, 'unreachable');
  });

  test('verdict: other codes are error, with the code', () => {
    assert.deepEqual(classifyDeath(evidence({ errorCode: 'ECONNREFUSED' })).reason, 'error');
  });

  test('verdict: ETIMEDOUT with probes out and nothing waiting is keepalive-timeout', () => {
    const verdict = classifyDeath(evidence({ errorCode: 'ETIMEDOUT', atDeath: keepaliveDeath }));
    assert.deepEqual(verdict, { reason: 'keepalive-timeout', code: 'ETIMEDOUT', because: '3 keepalive probes unanswered' });
  });

  test('verdict: ETIMEDOUT after retransmissions is user-timeout, even with a probe counted', () => {
    const verdict = classifyDeath(evidence({ errorCode: 'ETIMEDOUT', atDeath: retransmissionDeath }));
    assert.equal(verdict.reason, 'user-timeout');
    assert.match(verdict.because, /4 retransmissions/);
  });

  test('verdict: ETIMEDOUT with bytes that could never be sent is user-timeout, not keepalive', () => {
    const verdict = classifyDeath(evidence({ errorCode: 'ETIMEDOUT', atDeath: noRouteDeath }));
    assert.equal(verdict.reason, 'user-timeout');
    assert.match(verdict.because, /32768 bytes could not be sent/);
  });

  test('verdict: without a death snapshot, the last sample decides (unacked data)', () => {
    assert.equal(classifyDeath(evidence({ errorCode: 'ETIMEDOUT', lastSample: busySample })).reason, 'user-timeout');
  });

  test('verdict: the death snapshot wins over an older busy sample', () => {
    assert.equal(classifyDeath(evidence({ errorCode: 'ETIMEDOUT', atDeath: keepaliveDeath, lastSample: busySample })).reason, 'keepalive-timeout');
  });

  test('verdict: without kernel counters, queued writes mean user-timeout and none mean keepalive-timeout', () => {
    assert.equal(classifyDeath(evidence({ errorCode: 'ETIMEDOUT', pendingWriteBytes: 10 })).reason, 'user-timeout');
    const verdict = classifyDeath(evidence({ errorCode: 'ETIMEDOUT' }));
    assert.equal(verdict.reason, 'keepalive-timeout');
    assert.match(verdict.because, /no kernel counters/);
  });
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MIN_RTO_MS, nextRttVariance, nextSmoothedRtt, retransmissionTimeout } from '../../src/liveness/rtt.js';

test('rtt: RFC 6298: the first sample sets SRTT = R and RTTVAR = R/2, later ones weigh 1/8 and 1/4', () => {
  let srtt = NaN;
  let rttVar = NaN;
  const step = (sample: number) => {
    rttVar = nextRttVariance(rttVar, srtt, sample);
    srtt = nextSmoothedRtt(srtt, sample);
  };
  step(400);
  assert.deepEqual([srtt, rttVar], [400, 200]);
  step(800);
  assert.deepEqual([srtt, rttVar], [450, 0.75 * 200 + 0.25 * 400]);
  assert.equal(retransmissionTimeout(srtt, rttVar, 250), 450 + 4 * 250);
});

test('rtt: the RTO is 1 s before any sample and never below 1 s; the tick is the clock granularity G', () => {
  assert.equal(retransmissionTimeout(NaN, NaN, 250), MIN_RTO_MS);
  assert.equal(retransmissionTimeout(5, 1, 250), 1000);
  assert.equal(retransmissionTimeout(2000, 1, 250), 2250, 'G when 4 x RTTVAR is smaller');
});

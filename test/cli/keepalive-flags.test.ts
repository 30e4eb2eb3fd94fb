import assert from 'node:assert/strict';
import { test } from 'node:test';
import { keepAliveFromFlags, describeFlags } from '../../src/cli/keepalive-flags.js';

const fallback = { idle: 60_000, interval: 10_000, count: 6 };

test('keepalive-flags: off, on, triples and user timeouts', () => {
  assert.deepEqual(keepAliveFromFlags(undefined, undefined, fallback), fallback);
  assert.deepEqual(keepAliveFromFlags('off', undefined, fallback), { enabled: false });
  assert.deepEqual(keepAliveFromFlags('on', undefined, fallback), {});
  assert.deepEqual(keepAliveFromFlags('2,1,3', undefined, fallback), { idle: 2000, interval: 1000, count: 3 });
  assert.deepEqual(keepAliveFromFlags('30s,5000ms', undefined, fallback), { idle: 30_000, interval: 5000 });
  assert.deepEqual(keepAliveFromFlags('1m', '3s', fallback), { idle: 60_000, userTimeout: 3000 });
  assert.deepEqual(keepAliveFromFlags('off', '3', fallback), { enabled: false, userTimeout: 3000 });
  assert.deepEqual(keepAliveFromFlags(undefined, 'off', fallback), { ...fallback, userTimeout: false });
});

test('keepalive-flags: malformed policies are invalid options', () => {
  for (const bad of ['2,1,500ms', '2,1,3,4', '2,,3', ',', 'sometimes', '2,1,x', '-1']) {
    assert.throws(() => keepAliveFromFlags(bad, undefined, fallback), { code: 'ERR_LIFELINE_INVALID_OPTION' }, bad);
  }
  assert.throws(() => keepAliveFromFlags(undefined, 'soon', fallback), { code: 'ERR_LIFELINE_INVALID_OPTION' });
});

test('keepalive-flags: describes a policy the way the flags wrote it', () => {
  assert.equal(describeFlags({ idle: 2000, interval: 1000, count: 3 }), 'keepalive 2s,1s,3');
  assert.equal(describeFlags({ enabled: false, userTimeout: 3000 }), 'keepalive off, user timeout 3s');
  assert.equal(describeFlags({}), 'keepalive on (system defaults)');
});

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { readSysctls, sysctlConfLines, systemBudget, writeSysctls } from '../../src/index.js';

function fakeProcSys(values: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'lifeline-sysctl-'));
  mkdirSync(join(root, 'net', 'ipv4'), { recursive: true });
  for (const [name, value] of Object.entries(values)) writeFileSync(join(root, 'net', 'ipv4', name), value);
  return root;
}

const DEFAULTS = { tcp_keepalive_time: '7200\n', tcp_keepalive_intvl: '75\n', tcp_keepalive_probes: '9\n', tcp_retries2: '15\n' };

describe('sysctl', () => {
  test('sysctl: reads the four values and the budget they imply', () => {
    const values = readSysctls(fakeProcSys(DEFAULTS));
    assert.deepEqual(values, { time: 7200, intvl: 75, probes: 9, retries2: 15 });
    assert.equal(systemBudget(values).idleMs, 7_875_000);
    assert.equal(systemBudget(values).busyMs, 924_600);
  });

  test("sysctl: reads this machine's namespace as /proc/sys says", () => {
    const proc = (name: string) => Number(readFileSync(`/proc/sys/net/ipv4/${name}`, 'utf8'));
    assert.deepEqual(readSysctls(), {
      time: proc('tcp_keepalive_time'),
      intvl: proc('tcp_keepalive_intvl'),
      probes: proc('tcp_keepalive_probes'),
      retries2: proc('tcp_retries2'),
    });
  });

  test('sysctl: writes only what is given and reads the result back', () => {
    const root = fakeProcSys(DEFAULTS);
    const after = writeSysctls({ time: 60, intvl: 10, probes: 6 }, root);
    assert.deepEqual(after, { time: 60, intvl: 10, probes: 6, retries2: 15 });
    assert.equal(readFileSync(join(root, 'net', 'ipv4', 'tcp_keepalive_time'), 'utf8'), '60\n');
  });

  test('sysctl: an invalid value writes nothing', () => {
    const root = fakeProcSys(DEFAULTS);
    for (const values of [{ time: 60, probes: 1000 }, { time: 0 }, { intvl: 1.5 }, { retries2: -1 }, { bogus: 1 }]) {
      assert.throws(() => writeSysctls(values as never, root), { code: 'ERR_LIFELINE_INVALID_OPTION' });
    }
    assert.deepEqual(readSysctls(root), { time: 7200, intvl: 75, probes: 9, retries2: 15 });
  });

  test('sysctl: a missing or garbled file is ERR_LIFELINE_SYSCTL', () => {
    assert.throws(() => readSysctls(fakeProcSys({})), { code: 'ERR_LIFELINE_SYSCTL' });
    assert.throws(() => readSysctls(fakeProcSys({ ...DEFAULTS, tcp_retries2: 'many' })), { code: 'ERR_LIFELINE_SYSCTL' });
  });

  test('sysctl: lines for /etc/sysctl.d', () => {
    assert.deepEqual(sysctlConfLines({ time: 60, probes: 6 }), ['net.ipv4.tcp_keepalive_time = 60', 'net.ipv4.tcp_keepalive_probes = 6']);
  });
});

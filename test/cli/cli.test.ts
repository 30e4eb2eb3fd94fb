import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { CLI } from '../helpers/paths.js';
import { needsNetns, hasCommand } from '../helpers/privileges.js';

function lifeline(args: string[], wrap: string[] = []): SpawnSyncReturns<string> {
  const argv = [...wrap, process.execPath, CLI, ...args];
  return spawnSync(argv[0] as string, argv.slice(1), { encoding: 'utf8', timeout: 30_000 });
}

const proc = (name: string) => Number(readFileSync(`/proc/sys/net/ipv4/${name}`, 'utf8'));

describe('cli', () => {
  test('cli: sysctl --json agrees with /proc/sys/net/ipv4', () => {
    const run = lifeline(['sysctl', '--json']);
    assert.equal(run.status, 0, run.stderr);
    const out = JSON.parse(run.stdout) as Record<string, unknown>;
    const time = proc('tcp_keepalive_time');
    const intvl = proc('tcp_keepalive_intvl');
    const probes = proc('tcp_keepalive_probes');
    assert.equal(out['time'], time);
    assert.equal(out['intvl'], intvl);
    assert.equal(out['probes'], probes);
    assert.equal(out['retries2'], proc('tcp_retries2'));
    assert.equal(out['idleBudgetMs'], (time + probes * intvl) * 1000);
  });

  test('cli: sysctl explains the budget for people', () => {
    const run = lifeline(['sysctl']);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /net\.ipv4\.tcp_keepalive_time\s+= \d+/);
    assert.match(run.stdout, /finds a dead idle peer after/);
    assert.match(run.stdout, /\/etc\/sysctl\.d\//);
  });

  test('cli: sysctl --set writes into a fresh network namespace, leaving the host alone', { skip: needsNetns() }, () => {
    const before = proc('tcp_keepalive_time');
    const run = lifeline(['sysctl', '--set', 'time=60,intvl=10s,probes=6', '--json'], ['unshare', '--net']);
    assert.equal(run.status, 0, run.stderr);
    const out = JSON.parse(run.stdout) as Record<string, unknown>;
    assert.equal(out['time'], 60);
    assert.equal(out['intvl'], 10);
    assert.equal(out['probes'], 6);
    assert.equal(out['idleBudgetMs'], 120_000);
    assert.equal(proc('tcp_keepalive_time'), before);
  });

  // As nobody, in a namespace of its own so a mistake cannot touch the host; CAP_DAC_READ_SEARCH only lets nobody
  // read the built files wherever the clone lives.
  const asNobody = ['unshare', '--net', 'setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
  asNobody.push('--inh-caps=+dac_read_search', '--ambient-caps=+dac_read_search');
  test('cli: sysctl --set without root is one clear line and exit 1', { skip: needsNetns() || (!hasCommand('setpriv') && 'needs setpriv') }, () => {
    const run = lifeline(['sysctl', '--set', 'time=60'], asNobody);
    assert.equal(run.status, 1);
    assert.match(run.stderr, /^lifeline: cannot write net\.ipv4\.tcp_keepalive_time .*needs root \[ERR_LIFELINE_PERMISSION\]\n$/);
  });

  test('cli: doctor --json reports the paths and a passing live check', () => {
    const run = lifeline(['doctor', '--json']);
    assert.equal(run.status, 0, run.stderr);
    const out = JSON.parse(run.stdout) as { backend: string; checks: { host: string; ok: boolean }[]; ffi: { available: boolean } };
    assert.equal(out.backend, 'linux');
    assert.equal(out.ffi.available, true);
    assert.ok(out.checks.filter((check) => check.host === '127.0.0.1').every((check) => check.ok));
  });

  test('cli: doctor prints a table of options', () => {
    const run = lifeline(['doctor']);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /TCP_USER_TIMEOUT\s+setsockopt \(koffi\)\s+getsockopt \(koffi\)/);
    assert.match(run.stdout, /127\.0\.0\.1 client\s+ok/);
  });

  test('cli: demo (npm start) sets keepalive on loopback and shows the kernel values and budget', () => {
    const run = lifeline(['demo']);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /kernel holds idle 7s, interval 3s, count 4, user timeout 20s/);
    assert.match(run.stdout, /idle connection\s+22 s/);
  });

  const bad: [string, string[], RegExp][] = [
    ['an unknown command', ['bogus'], /unknown command 'bogus'/],
    ['an unknown flag', ['sysctl', '--bogus'], /unknown option '--bogus'/],
    ['a sysctl out of range', ['sysctl', '--set', 'time=0'], /invalid option time: 0; allowed: an integer from 1 to 32767/],
    ['an unknown sysctl', ['sysctl', '--set', 'bogus=1'], /unknown sysctl "bogus"/],
    ['a malformed assignment', ['sysctl', '--set', 'time'], /expected NAME=VALUE/],
    ['--persist without --set', ['sysctl', '--persist'], /--persist needs --set/],
  ];
  for (const [name, args, message] of bad) {
    test(`cli: ${name} gives one line on stderr and exit 2`, () => {
      const run = lifeline(args);
      assert.equal(run.status, 2, run.stderr);
      assert.match(run.stderr, message);
      assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
      assert.doesNotMatch(run.stderr, /\n\s+at /);
    });
  }
});

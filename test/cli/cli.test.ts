import assert from 'node:assert/strict';
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
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

  test('cli: server and client talk, and both name the end: eof, exit 0', async () => {
    const server = spawn(process.execPath, [CLI, 'server', '127.0.0.1', '0', '--json', '--echo', '--keepalive', '2,1,3']);
    try {
      const lines = createInterface({ input: server.stdout });
      const events: Record<string, unknown>[] = [];
      const waitFor = (name: string) =>
        new Promise<Record<string, unknown>>((resolve) => {
          const found = events.find((event) => event['event'] === name);
          if (found) return resolve(found);
          lines.on('line', function onLine() {
            const match = events.find((event) => event['event'] === name);
            if (match) {
              lines.off('line', onLine);
              resolve(match);
            }
          });
        });
      lines.on('line', (line) => events.push(JSON.parse(line) as Record<string, unknown>));
      const listening = await waitFor('listening');
      const run = spawnSync(process.execPath, [CLI, 'client', '127.0.0.1', String(listening['port']), '--json'], { input: 'ping\n', encoding: 'utf8', timeout: 10_000 });
      assert.equal(run.status, 0, run.stderr);
      assert.equal(run.stdout, 'ping\n', 'the echo came back on stdout');
      const clientEvents = run.stderr.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
      assert.deepEqual(clientEvents.map((event) => event['event']), ['connected', 'dead']);
      assert.equal(clientEvents[1]?.['reason'], 'eof');
      const dead = await waitFor('dead');
      assert.equal(dead['reason'], 'eof');
      const data = events.find((event) => event['event'] === 'data');
      assert.equal(data?.['data'], 'ping\n');
      assert.deepEqual((events.find((event) => event['event'] === 'accepted')?.['keepalive'] as { idle: number }).idle, 2000);
    } finally {
      server.kill('SIGTERM');
      const [code] = await once(server, 'exit');
      assert.equal(code, 0, 'SIGTERM ends the server cleanly');
    }
  });

  test('cli: a client whose server is not there exits 1 naming the reason', () => {
    const run = lifeline(['client', '127.0.0.1', '9']);
    assert.equal(run.status, 1);
    assert.match(run.stderr, /dead 127\.0\.0\.1:9 error \(ECONNREFUSED: Connection refused\)/);
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
    ['server --keepalive 0', ['server', '127.0.0.1', '0', '--keepalive', '0'], /invalid option --keepalive idle: 0; allowed: whole seconds from 1 to 32767 s/],
    ['server --keepalive 1,2,999', ['server', '127.0.0.1', '0', '--keepalive', '1,2,999'], /invalid option --keepalive count: 999; allowed: an integer from 1 to 127/],
    ['server --keepalive nonsense', ['server', '127.0.0.1', '0', '--keepalive', 'sometimes'], /invalid option --keepalive/],
    ['server with a port out of range', ['server', '127.0.0.1', '70000'], /invalid port "70000"/],
    ['server with an unknown flag', ['server', '--keepalive-idle', '3'], /unknown option '--keepalive-idle'/],
    ['server on an address this host does not have', ['server', '203.0.113.77', '0'], /cannot listen on 203\.0\.113\.77:0: EADDRNOTAVAIL/],
    ['server --user-timeout garbage', ['server', '127.0.0.1', '0', '--user-timeout', 'soon'], /invalid option --user-timeout/],
    ['client without a port', ['client', '127.0.0.1'], /missing required argument 'port'/],
    ['client with port 0', ['client', '127.0.0.1', '0'], /invalid port "0"/],
    ['client --keepalive 1,2,999', ['client', '127.0.0.1', '9', '--keepalive', '1,2,999'], /count: 999/],
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

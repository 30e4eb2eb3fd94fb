import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import type { ArmSettings } from '../../bench/liveness/arms.js';
import { WorkerChannel } from '../../bench/liveness/ipc.js';
import { configuredDetectionMs, WsArmNames, type WsArmName } from '../../bench/liveness/ws-arms.js';
import { TEST_NETNS_PREFIX } from '../helpers/netns.js';
import { repoPath } from '../helpers/paths.js';
import { needsNetns } from '../helpers/privileges.js';

/**
 * The liveness benchmark's `ws` transport at a tiny size, for real: one ws-server-worker and one ws-client-worker
 * (the compiled bench files) in a network namespace of the test's own, 200 WebSocket connections (a fifth busy)
 * plus 10 victims, period 2 s, each arm through the same IPC commands main.ts sends. The victims fall silent
 * without an nft cut: they stop answering pings, which is all either arm can see of a dead peer here.
 */
const skip = needsNetns();
const COUNT = 200;
const VICTIMS = 10;
const PERIOD = 2000;
const SETTINGS: ArmSettings = { periodMs: PERIOD, timeoutMs: PERIOD / 2, tickMs: 100, keepalive: { idle: 2000, interval: 1000, count: 3 } };
/** Scheduling noise on a loaded 2-core machine, on top of lifeline's one tick. */
const SLACK = 1000;
const WORKERS = repoPath('dist', 'bench', 'liveness');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Window {
  pings: number;
  pingsToBusy: number;
  lifetimePingsToBusy: number;
  deaths: Record<string, { at: number; reason: string }>;
  falsePositives: { remote: string; reason: string; at: number }[];
  cpuMs: number;
  loopDelay: { p99: number };
}

describe('bench/liveness over ws: ws-none, ws-readme (the ws README recipe) and lifeline-ws workers', { skip }, () => {
  const namespace = `${TEST_NETNS_PREFIX}${process.pid}-wsb`;
  const children: ChildProcess[] = [];
  let server: WorkerChannel;
  let client: WorkerChannel;
  let port: number;
  let generation = 0;

  const ip = (...args: string[]) => {
    const run = spawnSync('ip', args, { encoding: 'utf8' });
    assert.equal(run.status, 0, `ip ${args.join(' ')}: ${run.stderr}`);
  };
  const start = (file: string, nodeArgs: string[]) => {
    const child = spawn('ip', ['netns', 'exec', namespace, process.execPath, ...nodeArgs, `${WORKERS}/${file}`], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    children.push(child);
    return new WorkerChannel(file, child);
  };

  before(async () => {
    ip('netns', 'add', namespace);
    ip('-n', namespace, 'link', 'set', 'lo', 'up');
    server = start('ws-server-worker.js', ['--expose-gc']);
    client = start('ws-client-worker.js', []);
    port = await server.request<number>('listen', {}, 10_000);
  });

  after(async () => {
    await Promise.all(children.map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      if (child.connected) child.disconnect();
      if ((await Promise.race([exited, sleep(5000).then(() => 'late')])) === 'late') child.kill('SIGKILL');
    }));
    spawnSync('ip', ['netns', 'del', namespace]);
  });

  /** main.ts's sequence for one arm: connect, baseline, install over a period, kill, window. */
  async function run(arm: WsArmName, windowMs: number) {
    generation++;
    const ready = server.request<{ accepted: number; busy: number; victims: number }>('expect', { count: COUNT + VICTIMS }, 30_000);
    await client.request('connect', {
      host: '127.0.0.1', port, count: COUNT, victims: VICTIMS, busyFraction: 0.2, busyEveryMs: PERIOD / 4, generation, lane: 0,
    }, 30_000);
    const shape = await ready;
    const before = await server.request<{ heap: number }>('memory');
    // Spread over one period, the installs leave pings flowing at their steady rate from the end of it on.
    await server.request('install', { arm, settings: SETTINGS, spreadMs: PERIOD });
    const afterInstall = await server.request<{ heap: number }>('memory');
    await server.request('windowStart');
    const killed = await client.request<Record<string, number>>('kill');
    await sleep(windowMs);
    const window = await server.request<Window>('windowEnd');
    await server.request('teardown');
    const { errors } = await client.request<{ errors: number }>('teardown');
    await sleep(300);
    const heapPerConnection = (afterInstall.heap - before.heap) / (COUNT + VICTIMS);
    return { shape, window, killed, errors, heapPerConnection };
  }

  /** Every victim found, and each verdict's latency from the moment before its last message. */
  function latencies(killed: Record<string, number>, window: Window, reason: string): number[] {
    assert.equal(Object.keys(killed).length, VICTIMS);
    return Object.entries(killed).map(([victim, at]) => {
      const death = window.deaths[victim];
      assert.ok(death, `victim ${victim} not found dead; deaths: ${Object.keys(window.deaths).join(', ')}`);
      assert.equal(death.reason, reason);
      return death.at - at;
    });
  }

  test('ws-none pings nobody and convicts nobody', async (t) => {
    const { shape, window, errors, heapPerConnection } = await run(WsArmNames.WS_NONE, PERIOD);
    t.diagnostic(`heap ${heapPerConnection.toFixed(0)} B/connection over the bare connections`);
    assert.deepEqual(shape, { accepted: COUNT + VICTIMS, busy: COUNT / 5 + VICTIMS / 2, victims: VICTIMS });
    assert.equal(window.pings, 0);
    assert.deepEqual(window.deaths, {});
    assert.deepEqual(window.falsePositives, []);
    assert.equal(errors, 0);
  });

  test('ws-readme (the README recipe) pings the busy connections too and finds every victim within two periods', async (t) => {
    const { window, killed, errors, heapPerConnection } = await run(WsArmNames.WS_RECIPE, 2 * PERIOD + SLACK);
    const found = latencies(killed, window, 'ws-recipe-timeout');
    t.diagnostic(`pings ${window.pings} (to busy ${window.lifetimePingsToBusy} since install), heap ${heapPerConnection.toFixed(0)} B/c, latency ${Math.min(...found).toFixed(0)}..${Math.max(...found).toFixed(0)} ms`);
    // A 5 s window holds at least two sweeps, each pinging every live connection.
    assert.ok(window.pings >= 2 * COUNT, `only ${window.pings} pings`);
    assert.ok(window.pingsToBusy >= COUNT / 5, `only ${window.pingsToBusy} pings to the ${COUNT / 5} busy connections`);
    for (const latency of found) assert.ok(latency <= configuredDetectionMs(WsArmNames.WS_RECIPE, SETTINGS)! + SLACK, `found after ${latency} ms`);
    assert.deepEqual(window.falsePositives, []);
    assert.equal(errors, 0);
  });

  test('lifeline-ws never pings a busy connection and finds every victim at period + timeout, never earlier', async (t) => {
    const { window, killed, errors, heapPerConnection } = await run(WsArmNames.LIFELINE_WS, 2 * PERIOD + SLACK);
    const found = latencies(killed, window, 'heartbeat-timeout');
    const configured = configuredDetectionMs(WsArmNames.LIFELINE_WS, SETTINGS)!;
    t.diagnostic(`pings ${window.pings}, heap ${heapPerConnection.toFixed(0)} B/c, latency ${Math.min(...found).toFixed(0)}..${Math.max(...found).toFixed(0)} ms (configured ${configured})`);
    assert.equal(window.lifetimePingsToBusy, 0);
    // The idle ones (160 of 200, and the 5 idle victims until they die) are pinged about once a period.
    assert.ok(window.pings >= COUNT - COUNT / 5, `only ${window.pings} pings`);
    assert.ok(window.pings < 2 * 3 * (COUNT + VICTIMS), `${window.pings} pings`);
    for (const latency of found) {
      assert.ok(latency >= configured, `convicted ${latency.toFixed(0)} ms after the last message: before ${configured} ms`);
      assert.ok(latency <= configured + SETTINGS.tickMs + SLACK, `convicted ${latency.toFixed(0)} ms after the last message`);
    }
    assert.deepEqual(window.falsePositives, []);
    assert.equal(errors, 0);
  });
});

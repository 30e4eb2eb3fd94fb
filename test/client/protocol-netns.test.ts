import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { CablePair, removeLeftoverNamespaces } from '../helpers/netns.js';
import { needsNetns } from '../helpers/privileges.js';

/**
 * The lifeline protocol on real kernel TCP between two namespaces: the CLI client pushes numbered lines while its
 * connection is killed in every way issue #5 names, and every line must arrive exactly once, in order.
 */
const skip = needsNetns();
const isEvent = (name: string) => (event: Record<string, unknown>) => event['event'] === name;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('lifeline protocol in network namespaces', { skip }, () => {
  const pairs: CablePair[] = [];
  before(() => removeLeftoverNamespaces());
  after(() => {
    for (const pair of pairs) pair.remove();
  });

  function start() {
    const pair = new CablePair();
    pairs.push(pair);
    const server = pair.lifeline('server', ['server', pair.serverIp, '1234', '--protocol', 'lifeline', '--heartbeat', '1s,3s', '--json']);
    return { pair, server };
  }

  test('protocol: 5000 lines survive ss -K on both sides and a pulled-and-restored cable, exactly once and in order', async (t) => {
    const { pair, server } = start();
    assert.ok(await server.waitForEvent(isEvent('listening'), 5000));
    const client = pair.lifeline('client', ['client', pair.serverIp, '1234', '--protocol', 'lifeline', '--heartbeat', '1s', '--json']);
    assert.ok(await client.waitForEvent(isEvent('connected'), 5000, 'stderr'), client.stderr.map((l) => l.text).join('\n'));
    const kill = (side: 'server' | 'client') => spawnSync('ip', ['netns', 'exec', side === 'server' ? pair.server : pair.client, 'ss', '-K', 'dst', side === 'server' ? pair.clientIp : pair.serverIp]);
    const disruptions: [number, () => void][] = [
      [1500, () => kill('client')],
      [3000, () => pair.pull('client')],
      [5500, () => spawnSync('ip', ['-n', pair.client, 'link', 'set', 'eth0', 'up'])],
      [7000, () => kill('server')],
    ];
    const started = Date.now();
    let next = 0;
    for (let line = 0; line < 5000; line += 50) {
      client.write(Array.from({ length: 50 }, (_, index) => `line ${line + index}\n`).join(''));
      while (next < disruptions.length && Date.now() - started >= (disruptions[next] as [number, () => void])[0]) (disruptions[next++] as [number, () => void])[1]();
      await sleep(80);
    }
    while (next < disruptions.length) {
      const [at, act] = disruptions[next++] as [number, () => void];
      await sleep(Math.max(0, at - (Date.now() - started)));
      act();
    }
    client.child.stdin?.end();
    const exit = await Promise.race([client.exited, sleep(60_000).then(() => 'timeout')]);
    const clientEvents = client.events('stderr').map((event) => event['event']);
    t.diagnostic(`client events: ${clientEvents.join(', ')}`);
    assert.equal(exit, 0, `client did not finish cleanly: ${client.stderr.slice(-5).map((l) => l.text).join(' | ')}`);
    const lines = server.events().filter(isEvent('message')).map((event) => event['data']);
    assert.equal(lines.length, 5000, `${lines.length} messages`);
    assert.deepEqual(lines, Array.from({ length: 5000 }, (_, index) => `line ${index}`));
    assert.ok(clientEvents.filter((name) => name === 'connected').length >= 3, 'the client reconnected after the disruptions');
    assert.ok(clientEvents.every((name) => name !== 'session-lost'));
  });

  test('protocol: a cable pulled for good is reported as heartbeat-timeout within interval + timeout + 1 s', async (t) => {
    const { pair, server } = start();
    assert.ok(await server.waitForEvent(isEvent('listening'), 5000));
    const client = pair.lifeline('client', ['client', pair.serverIp, '1234', '--protocol', 'lifeline', '--heartbeat', '1s', '--json']);
    assert.ok(await client.waitForEvent(isEvent('connected'), 5000, 'stderr'));
    client.write('hello\n');
    assert.ok(await server.waitForEvent(isEvent('message'), 5000));
    await sleep(200);
    const pulledAt = performance.now();
    pair.pull('server');
    const dead = await client.waitForEvent(isEvent('dead'), 8000, 'stderr');
    assert.ok(dead, 'the client reported nothing');
    const after = dead.at - pulledAt;
    t.diagnostic(`heartbeat-timeout ${after.toFixed(0)} ms after the pull: ${dead['detail']}`);
    assert.equal(dead['reason'], 'heartbeat-timeout');
    assert.ok(after <= 4000, `reported ${after.toFixed(0)} ms after the pull; interval 1 s + timeout 2 s + 1 s = 4 s`);
  });
});

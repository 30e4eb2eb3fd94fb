import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CablePair, removeLeftoverNamespaces, type CliProcess } from '../helpers/netns.js';
import { needsNetns } from '../helpers/privileges.js';

/**
 * The first article's experiment on real kernel TCP: a server and a client in two network namespaces joined
 * by a veth cable, and the cable pulled (`ip link set eth0 down` at one end).
 */
const skip = needsNetns();
const PORT = '1234';
const isEvent = (name: string) => (event: Record<string, unknown>) => event['event'] === name;

describe('seed experiment in network namespaces', { skip }, () => {
  const pairs: CablePair[] = [];
  const timers: NodeJS.Timeout[] = [];
  before(() => removeLeftoverNamespaces());
  after(() => {
    for (const timer of timers) clearInterval(timer);
    for (const pair of pairs) pair.remove();
  });

  async function serverWithClient(serverArgs: string[], clientArgs: string[]) {
    const pair = new CablePair();
    pairs.push(pair);
    const server = pair.lifeline('server', ['server', pair.serverIp, PORT, '--json', ...serverArgs]);
    assert.ok(await server.waitForEvent(isEvent('listening'), 5000), `server did not listen: ${server.stderr.map((l) => l.text).join('\n')}`);
    const client = pair.lifeline('client', ['client', pair.serverIp, PORT, '--json', ...clientArgs]);
    assert.ok(await server.waitForEvent(isEvent('accepted'), 5000), 'server accepted nothing');
    assert.ok(await client.waitForEvent(isEvent('connected'), 5000, 'stderr'), 'client did not connect');
    return { pair, server, client };
  }

  /** Sends a line and returns when the server printed it: the moment of the last traffic. */
  async function lastTraffic(client: CliProcess, server: CliProcess): Promise<number> {
    client.write('hello\n');
    const data = await server.waitForEvent(isEvent('data'), 5000);
    assert.ok(data, 'server received no data');
    return data.at;
  }

  test('seed: keepalive 2,1,3 reports keepalive-timeout / ETIMEDOUT 5 s after the last traffic when the client cable is pulled', async (t) => {
    const { pair, server, client } = await serverWithClient(['--keepalive', '2,1,3'], ['--keepalive', 'off']);
    const lastAt = await lastTraffic(client, server);
    pair.pull('client');
    const dead = await server.waitForEvent(isEvent('dead'), 12_000);
    assert.ok(dead, 'no dead event within 12 s');
    assert.equal(dead['reason'], 'keepalive-timeout');
    assert.equal(dead['code'], 'ETIMEDOUT');
    const detectedAfter = dead.at - lastAt;
    t.diagnostic(`detected ${detectedAfter.toFixed(0)} ms after the last traffic; silentMs ${dead['silentMs']}`);
    assert.ok(detectedAfter >= 4000 && detectedAfter <= 6000, `detected ${detectedAfter.toFixed(0)} ms after the last traffic, expected 5000 +- 1000`);
    assert.ok(Number(dead['silentMs']) >= 4000 && Number(dead['silentMs']) <= 6000, `silentMs ${dead['silentMs']}`);
    assert.match(String(dead['because']), /3 keepalive probes unanswered/);
    assert.deepEqual(pair.established('server'), []);
  });

  test('seed: with --keepalive off the connection is still ESTABLISHED 10 s after the pull', async () => {
    const { pair, server, client } = await serverWithClient(['--keepalive', 'off'], ['--keepalive', 'off']);
    await lastTraffic(client, server);
    pair.pull('client');
    const dead = await server.waitForEvent(isEvent('dead'), 10_000);
    assert.equal(dead, undefined, 'the server noticed a dead peer without keepalive');
    const established = pair.established('server');
    assert.equal(established.length, 1, `ss shows: ${established.join('\n')}`);
    assert.match(established[0] ?? '', new RegExp(`${pair.clientIp.replaceAll('.', '\\.')}:\\d+`));
  });

  test('seed: a client that aborts with RST gives reset / ECONNRESET', async () => {
    const pair = new CablePair();
    pairs.push(pair);
    const server = pair.lifeline('server', ['server', pair.serverIp, PORT, '--json', '--keepalive', '2,1,3']);
    assert.ok(await server.waitForEvent(isEvent('listening'), 5000));
    const script = `const s = require('net').connect(${PORT}, '${pair.serverIp}', () => { s.write('x'); setTimeout(() => s.resetAndDestroy(), 200); });`;
    pair.spawn('client', [process.execPath, '-e', script]);
    const dead = await server.waitForEvent(isEvent('dead'), 5000);
    assert.ok(dead, 'no dead event');
    assert.equal(dead['reason'], 'reset');
    assert.equal(dead['code'], 'ECONNRESET');
  });

  test('seed: a client that closes gives eof on the server, and the client exits 0', async () => {
    const { server, client } = await serverWithClient(['--keepalive', '2,1,3', '--echo'], []);
    client.write('bye\n');
    client.child.stdin?.end();
    const dead = await server.waitForEvent(isEvent('dead'), 5000);
    assert.ok(dead, 'no dead event');
    assert.equal(dead['reason'], 'eof');
    assert.equal(dead['code'], null);
    assert.equal(await client.exited, 0);
    const clientDead = client.events('stderr').find(isEvent('dead'));
    assert.equal(clientDead?.['reason'], 'eof');
  });

  /** Keeps the client's stdin busy so its socket always has data in flight. */
  function stream(client: CliProcess) {
    const chunk = 'x'.repeat(4096);
    const timer = setInterval(() => client.write(chunk), 50);
    timers.push(timer);
    return () => clearInterval(timer);
  }

  test('seed: a client with data in flight and --user-timeout 3s reports user-timeout 3 to 4.5 s after the pull', async (t) => {
    const { pair, server, client } = await serverWithClient(['--keepalive', 'off'], ['--keepalive', '2,1,3', '--user-timeout', '3s']);
    const stop = stream(client);
    assert.ok(await server.waitForEvent(isEvent('data'), 5000));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const pulledAt = performance.now();
    pair.pull('server');
    const dead = await client.waitForEvent(isEvent('dead'), 8000, 'stderr');
    stop();
    assert.ok(dead, 'the client reported nothing within 8 s');
    assert.equal(dead['reason'], 'user-timeout');
    assert.equal(dead['code'], 'ETIMEDOUT');
    const after = dead.at - pulledAt;
    t.diagnostic(`user-timeout reported ${after.toFixed(0)} ms after the pull: ${dead['because']}`);
    assert.ok(after >= 3000 && after <= 4500, `reported ${after.toFixed(0)} ms after the pull, expected 3000 to 4500`);
    assert.equal(await client.exited, 1);
  });

  test('seed: without a user timeout, a client with data in flight reports nothing within 10 s (keepalive never fires)', async () => {
    const { pair, server, client } = await serverWithClient(['--keepalive', 'off'], ['--keepalive', '2,1,3']);
    const stop = stream(client);
    assert.ok(await server.waitForEvent(isEvent('data'), 5000));
    await new Promise((resolve) => setTimeout(resolve, 300));
    pair.pull('server');
    const dead = await client.waitForEvent(isEvent('dead'), 10_000, 'stderr');
    stop();
    assert.equal(dead, undefined, `the client reported ${JSON.stringify(dead)}`);
    assert.equal(pair.established('client').length, 1);
  });
});

describe('supervisor finds deaths Node does not report', { skip }, () => {
  test('seed: a connection Node stopped reading (backpressure) is still found dead by polling the kernel', async (t) => {
    const pair = new CablePair();
    try {
      const index = JSON.stringify(new URL('../../src/index.js', import.meta.url).pathname);
      const script = `
        const { Supervisor } = await import(${index});
        const supervisor = new Supervisor({ keepalive: { idle: 2000, interval: 1000, count: 3 }, sampleInterval: 250 });
        supervisor.on('accepted', (c) => {
          const socket = supervisor.connection(c.id).socket;
          socket.once('data', () => socket._handle.readStop());
          console.log(JSON.stringify({ event: 'accepted' }));
        });
        supervisor.on('dead', (dead) => console.log(JSON.stringify({ event: 'dead', ...dead })));
        await supervisor.listen(1234, '${pair.serverIp}');
        console.log(JSON.stringify({ event: 'listening' }));
      `;
      const server = pair.spawn('server', [process.execPath, '--input-type=module', '-e', script]);
      assert.ok(await server.waitForEvent(isEvent('listening'), 5000), server.stderr.map((l) => l.text).join('\n'));
      const client = pair.lifeline('client', ['client', pair.serverIp, '1234', '--keepalive', 'off']);
      assert.ok(await server.waitForEvent(isEvent('accepted'), 5000));
      client.write('hello\n');
      await new Promise((resolve) => setTimeout(resolve, 200));
      const pulledAt = performance.now();
      pair.pull('client');
      const dead = await server.waitForEvent(isEvent('dead'), 9000);
      assert.ok(dead, 'not found: Node emitted nothing and polling did not notice');
      t.diagnostic(`found ${(dead.at - pulledAt).toFixed(0)} ms after the pull: ${dead['because']}`);
      assert.equal(dead['reason'], 'keepalive-timeout');
      assert.equal(dead['code'], 'ETIMEDOUT');
      assert.ok(dead.at - pulledAt < 7000);
    } finally {
      pair.remove();
    }
  });
});

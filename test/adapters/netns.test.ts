import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CablePair, removeLeftoverNamespaces, type CliProcess } from '../helpers/netns.js';
import { repoPath } from '../helpers/paths.js';
import { hasCommand, needsNetns } from '../helpers/privileges.js';

/**
 * The adapters on real kernel TCP between two namespaces: a supervised server (test/adapters/fixtures) in one, a
 * peer nobody here wrote in the other (the `ws` client; curl over h2c), then the client's cable is pulled. With
 * nothing coming back, the verdict must come within interval + timeout of the last thing heard, plus one tick of
 * the engine's wheel and the time a JSON line takes to reach this process.
 */
const skip = needsNetns();
const INTERVAL = 1000;
const TIMEOUT = 1000;
/** The engine's tick for these values (at most 250 ms), and the pipe between the fixture and this test. */
const LATE = 250 + 250;
const PORT = '8080';
const FIXTURES = repoPath('dist', 'test', 'adapters', 'fixtures');
const isEvent = (name: string) => (event: Record<string, unknown>) => event['event'] === name;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('lifeline/ws and lifeline/http2 in network namespaces', { skip }, () => {
  const pairs: CablePair[] = [];
  before(() => removeLeftoverNamespaces());
  after(() => {
    for (const pair of pairs) pair.remove();
  });

  async function start(kind: 'ws' | 'h2'): Promise<{ pair: CablePair; server: CliProcess }> {
    const pair = new CablePair();
    pairs.push(pair);
    const server = pair.spawn('server', [process.execPath, `${FIXTURES}/supervised-server.js`, kind, pair.serverIp, PORT, String(INTERVAL), String(TIMEOUT)]);
    assert.ok(await server.waitForEvent(isEvent('listening'), 5000), server.stderr.map((line) => line.text).join('\n'));
    return { pair, server };
  }

  /** Pulls the client's cable once the connection has been idle (pings answered) for a few intervals. */
  async function pullAndJudge(t: { diagnostic(message: string): void }, pair: CablePair, server: CliProcess) {
    await sleep(3 * INTERVAL);
    assert.equal(server.events().filter(isEvent('dead')).length, 0, 'convicted while the peer was answering');
    const pulledAt = performance.now();
    pair.pull('client');
    const dead = await server.waitForEvent(isEvent('dead'), INTERVAL + TIMEOUT + LATE + 5000);
    assert.ok(dead, `no verdict; server said: ${server.stdout.map((line) => line.text).join(' | ')}`);
    const after = dead.at - pulledAt;
    t.diagnostic(`dead ${after.toFixed(0)} ms after the pull: ${String(dead['because'])}`);
    assert.equal(dead['reason'], 'heartbeat-timeout');
    // The last pong came at most one interval before the pull, so the verdict is at least one timeout after it.
    assert.ok(after >= TIMEOUT - 50, `convicted ${after.toFixed(0)} ms after the pull: before a ping could time out`);
    assert.ok(after <= INTERVAL + TIMEOUT + LATE, `convicted ${after.toFixed(0)} ms after the pull; allowed ${INTERVAL + TIMEOUT} ms + ${LATE} ms`);
    const closed = await server.waitForEvent(isEvent('closed'), 2000);
    assert.equal(closed?.['reason'], 'heartbeat-timeout');
  }

  function assertKeepAliveReadBack(open: Record<string, unknown>) {
    // The fixture asks for idle 7 s, interval 3 s, count 4: setKeepAlive's read-back and a second getKeepAlive agree.
    for (const field of ['keepalive', 'kernel'] as const) {
      const values = open[field] as { enabled: boolean; idle: number; interval: number; count: number } | null;
      assert.ok(values, `${field} missing`);
      assert.deepEqual([values.enabled, values.idle, values.interval, values.count], [true, 7000, 3000, 4], field);
    }
  }

  test('netns ws: a ws client behind a pulled cable is terminated within interval + timeout; keepalive read back from the kernel', async (t) => {
    const { pair, server } = await start('ws');
    const client = pair.spawn('client', [process.execPath, `${FIXTURES}/ws-client.js`, `ws://${pair.serverIp}:${PORT}`]);
    assert.ok(await client.waitForEvent(isEvent('open'), 5000), client.stdout.map((line) => line.text).join('\n'));
    const open = await server.waitForEvent(isEvent('open'), 2000);
    assert.ok(open);
    assert.match(String(open['remote']), new RegExp(`${pair.clientIp.replaceAll('.', '\\.')}:\\d+$`));
    assertKeepAliveReadBack(open);
    await pullAndJudge(t, pair, server);
    assert.ok(client.events().filter(isEvent('ping')).length >= 2, 'the client was pinged before the pull');
  });

  test('netns http2: a curl session (h2c, one stream held open) behind a pulled cable is destroyed within interval + timeout', async (t) => {
    if (!hasCommand('curl')) {
      t.skip('curl is not installed (Debian curl)');
      return;
    }
    const { pair, server } = await start('h2');
    const curl = pair.spawn('client', ['curl', '-sSN', '--http2-prior-knowledge', `http://${pair.serverIp}:${PORT}/hold`]);
    const open = await server.waitForEvent(isEvent('open'), 5000);
    assert.ok(open, `curl never connected: ${curl.stderr.map((line) => line.text).join(' | ')}`);
    assertKeepAliveReadBack(open);
    await pullAndJudge(t, pair, server);
  });
});

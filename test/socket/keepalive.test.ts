import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { Socket, connect } from 'node:net';
import { after, describe, test } from 'node:test';
import { promisify } from 'node:util';
import {
  applyKeepAlive,
  capabilities,
  getKeepAlive,
  setKeepAlive,
  type KeepAliveOptions,
} from '../../src/index.js';
import { nodeHasKeepAliveIntervalCount } from '../../src/platform/node-runtime.js';
import { kernelKeepAlive } from '../helpers/kernel.js';
import { repoPath } from '../helpers/paths.js';
import { listeningServer, tcpPair, tlsPair, type Pair } from '../helpers/sockets.js';

const ISSUE_VALUES = { idle: 7000, interval: 3000, count: 4, userTimeout: 20_000 } as const;
const ISSUE_KERNEL = { keepalive: 1, idleS: 7, intervalS: 3, count: 4, userTimeoutMs: 20_000 };
const EXPECTED_PATH = nodeHasKeepAliveIntervalCount() && process.env['LIFELINE_NODE_KEEPALIVE'] !== 'classic' ? 'node' : 'ffi';
const pairs: Pair[] = [];
after(async () => {
  for (const pair of pairs) await pair.close();
});

async function pair(kind: '127.0.0.1' | '::1' | 'tls'): Promise<Pair> {
  const made = kind === 'tls' ? await tlsPair() : await tcpPair(kind);
  pairs.push(made);
  return made;
}

describe(`keepalive on Node ${process.versions.node}, set via ${EXPECTED_PATH}`, () => {
  for (const host of ['127.0.0.1', '::1', 'tls'] as const) {
    for (const side of ['client', 'accepted'] as const) {
      test(`keepalive: ${host} ${side} socket holds idle 7s, interval 3s, count 4, user timeout 20s in the kernel`, async () => {
        const socket = (await pair(host))[side];
        const result = setKeepAlive(socket, ISSUE_VALUES);
        assert.deepEqual(kernelKeepAlive(socket), ISSUE_KERNEL);
        assert.deepEqual(result, {
          enabled: true,
          ...ISSUE_VALUES,
          source: 'kernel',
          via: { enabled: EXPECTED_PATH, idle: EXPECTED_PATH, interval: EXPECTED_PATH, count: EXPECTED_PATH, userTimeout: 'ffi' },
        });
        assert.deepEqual(getKeepAlive(socket), { enabled: true, ...ISSUE_VALUES, source: 'kernel' });
      });
    }
  }

  test('keepalive: capabilities name the path each option takes', () => {
    const caps = capabilities();
    assert.equal(caps.backend, 'linux');
    assert.equal(caps.ffi.available, true);
    for (const field of ['enabled', 'idle', 'interval', 'count'] as const) assert.equal(caps.options[field].set, EXPECTED_PATH);
    assert.deepEqual(caps.options.userTimeout, { set: 'ffi', read: 'ffi' });
    assert.equal(caps.tcpInfo, true);
  });

  test('keepalive: a fresh socket reads back as off with the namespace defaults', async () => {
    const { client } = await pair('127.0.0.1');
    const state = getKeepAlive(client);
    assert.equal(state.enabled, false);
    assert.equal(state.userTimeout, 0);
    const raw = kernelKeepAlive(client);
    assert.equal(state.idle, raw.idleS * 1000);
  });

  test('keepalive: only the options given change; the rest keep their kernel values', async () => {
    const { client } = await pair('127.0.0.1');
    setKeepAlive(client, ISSUE_VALUES);
    setKeepAlive(client, { count: 6 });
    assert.deepEqual(kernelKeepAlive(client), { ...ISSUE_KERNEL, count: 6 });
    setKeepAlive(client, { userTimeout: false });
    assert.deepEqual(kernelKeepAlive(client), { ...ISSUE_KERNEL, count: 6, userTimeoutMs: 0 });
  });

  test('keepalive: enabled false switches probes off and can still set a user timeout', async () => {
    const { client } = await pair('::1');
    setKeepAlive(client, ISSUE_VALUES);
    const result = setKeepAlive(client, { enabled: false, userTimeout: 5000 });
    assert.equal(result?.enabled, false);
    assert.equal(kernelKeepAlive(client).keepalive, 0);
    assert.equal(kernelKeepAlive(client).userTimeoutMs, 5000);
  });

  test('keepalive: durations may be strings', async () => {
    const { accepted } = await pair('127.0.0.1');
    setKeepAlive(accepted, { idle: '7s', interval: '3s', count: 4, userTimeout: '20s' });
    assert.deepEqual(kernelKeepAlive(accepted), ISSUE_KERNEL);
  });

  test('keepalive: set before connect is applied when the socket connects', async () => {
    const { server, port } = await listeningServer();
    try {
      const socket = new Socket();
      assert.equal(setKeepAlive(socket, ISSUE_VALUES), undefined);
      socket.connect(port, '127.0.0.1');
      await once(socket, 'connect');
      assert.deepEqual(kernelKeepAlive(socket), ISSUE_KERNEL);
      socket.destroy();
    } finally {
      server.close();
    }
  });

  test('keepalive: applyKeepAlive waits for the connection and resolves with the kernel values', async () => {
    const { server, port } = await listeningServer('::1');
    try {
      const socket = connect(port, '::1');
      const result = await applyKeepAlive(socket, ISSUE_VALUES);
      assert.equal(result.source, 'kernel');
      assert.equal(result.idle, 7000);
      assert.deepEqual(kernelKeepAlive(socket), ISSUE_KERNEL);
      socket.destroy();
    } finally {
      server.close();
    }
  });

  test('keepalive: applyKeepAlive rejects when the socket closes before connecting', async () => {
    const { server, port } = await listeningServer();
    server.close();
    await once(server, 'close');
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    await assert.rejects(applyKeepAlive(socket, ISSUE_VALUES), { code: 'ERR_LIFELINE_NO_FILE_DESCRIPTOR' });
  });

  test('keepalive: a destroyed socket gives ERR_LIFELINE_NO_FILE_DESCRIPTOR', async () => {
    const { client } = await pair('127.0.0.1');
    client.destroy();
    assert.throws(() => setKeepAlive(client, ISSUE_VALUES), { code: 'ERR_LIFELINE_NO_FILE_DESCRIPTOR' });
    assert.throws(() => getKeepAlive(client), { code: 'ERR_LIFELINE_NO_FILE_DESCRIPTOR' });
    assert.throws(() => getKeepAlive(new Socket()), { code: 'ERR_LIFELINE_NO_FILE_DESCRIPTOR' });
  });

  const invalid: [string, unknown][] = [
    ['count 1000', { count: 1000 }],
    ['count 1000 beside a valid idle', { idle: 5000, count: 1000 }],
    ['count 0', { count: 0 }],
    ['count 128', { count: 128 }],
    ['count 2.5', { count: 2.5 }],
    ['count as a string', { count: '4' }],
    ['idle 0', { idle: 0 }],
    ['idle not whole seconds', { idle: 1500 }],
    ['idle above 32767 s', { idle: 32_768_000 }],
    ['idle negative', { idle: -1000 }],
    ['idle NaN', { idle: Number.NaN }],
    ['idle garbage string', { idle: 'soon' }],
    ['interval 0', { interval: 0 }],
    ['interval 2.5 s', { interval: '2.5s' }],
    ['user timeout negative', { userTimeout: -1 }],
    ['user timeout 2^31 ms', { userTimeout: 2 ** 31 }],
    ['user timeout fractional', { userTimeout: 1.5 }],
    ['user timeout true', { userTimeout: true }],
    ['enabled as a string', { enabled: 'yes' }],
    ['an unknown key', { idel: 7000 }],
    ['options that are not an object', 7000],
    ['options that are an array', [7000]],
  ];
  for (const [name, options] of invalid) {
    test(`keepalive: ${name} throws ERR_LIFELINE_INVALID_OPTION and leaves the socket untouched`, async () => {
      const { client } = await pair('127.0.0.1');
      setKeepAlive(client, ISSUE_VALUES);
      assert.throws(() => setKeepAlive(client, options as KeepAliveOptions), (error: Error & { code?: string }) => {
        assert.equal(error.code, 'ERR_LIFELINE_INVALID_OPTION');
        assert.match(error.message, /invalid option \w+: .+; allowed: .+/);
        return true;
      });
      assert.deepEqual(kernelKeepAlive(client), ISSUE_KERNEL);
    });
  }

  test('keepalive: the error names the option, the value and the range', () => {
    const socket = new Socket();
    assert.throws(() => setKeepAlive(socket, { count: 1000 }), {
      message: 'invalid option count: 1000; allowed: an integer from 1 to 127',
    });
    assert.throws(() => setKeepAlive(socket, { idle: 1500 }), {
      message: /idle: 1500; allowed: whole seconds from 1 to 32767 s .*whole seconds/,
    });
    assert.throws(() => setKeepAlive(socket, { idel: 7000 } as KeepAliveOptions), { message: /idel.*did you mean idle\?/ });
    socket.destroy();
  });
});

describe('keepalive without the FFI (LIFELINE_FFI=off), in a child process', () => {
  const script = `
    import { setKeepAlive, capabilities } from ${JSON.stringify(repoPath('dist', 'src', 'index.js'))};
    import { kernelKeepAlive } from ${JSON.stringify(repoPath('dist', 'test', 'helpers', 'kernel.js'))};
    import { tcpPair } from ${JSON.stringify(repoPath('dist', 'test', 'helpers', 'sockets.js'))};
    const pair = await tcpPair('127.0.0.1');
    const caps = capabilities();
    const result = setKeepAlive(pair.client, { idle: 7000 });
    let uto;
    try { setKeepAlive(pair.client, { userTimeout: 3000 }); } catch (error) { uto = error.code; }
    console.log(JSON.stringify({ caps, result, uto, kernel: kernelKeepAlive(pair.client) }));
    await pair.close();
  `;

  test('keepalive: falls back to Node, reports it, refuses the user timeout', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, LIFELINE_FFI: 'off' },
    });
    const out = JSON.parse(stdout) as {
      caps: { ffi: { available: boolean; error: string }; options: Record<string, { set: string | null; read: string | null }> };
      result: { source: string; idle: number | null; via: Record<string, string> };
      uto: string;
      kernel: { keepalive: number; idleS: number };
    };
    assert.equal(out.caps.ffi.available, false);
    assert.match(out.caps.ffi.error, /LIFELINE_FFI=off/);
    assert.equal(out.caps.options['userTimeout']?.set, null);
    assert.equal(out.caps.options['idle']?.read, null);
    assert.equal(out.result.source, 'unverified');
    assert.equal(out.result.idle, null);
    assert.equal(out.result.via['idle'], 'node');
    assert.equal(out.uto, 'ERR_LIFELINE_UNSUPPORTED');
    assert.equal(out.kernel.keepalive, 1);
    assert.equal(out.kernel.idleS, 7);
  });
});

import assert from 'node:assert/strict';
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { once } from 'node:events';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import { setKeepAlive } from '../../src/socket/keepalive.js';
import { formatTimer, timerText } from '../../src/cli/inspect.js';
import { CLI } from '../helpers/paths.js';
import { hasCommand } from '../helpers/privileges.js';

function lifeline(args: string[]): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 30_000 });
}

interface Connections {
  server: Server;
  port: number;
  plain: Socket;
  kept: Socket;
  close(): Promise<void>;
}

/** A loopback server with two clients, one with lifeline's keepalive (idle 60 s) and one without. */
async function connections(): Promise<Connections> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  const accepted: Socket[] = [];
  server.on('connection', (socket) => accepted.push(socket));
  const dial = async () => {
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    return socket;
  };
  const plain = await dial();
  const kept = await dial();
  setKeepAlive(kept, { idle: '60s', interval: '5s', count: 3 });
  return {
    server, port, plain, kept,
    close: async () => {
      for (const socket of [plain, kept, ...accepted]) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

interface JsonConnection {
  state: string;
  localPort: number;
  remotePort: number;
  timer: string;
  timerMs: number;
  process: { pid: number; command: string } | null;
  risks: { code: string; reason: string }[];
}

describe('cli inspect', () => {
  test('cli inspect: --json prints one array of this port\'s connections, mapped to this process, the risky one flagged', async () => {
    const live = await connections();
    try {
      const run = lifeline(['inspect', '--port', String(live.port), '--json']);
      assert.equal(run.status, 0, run.stderr);
      assert.equal(run.stdout.trim().split('\n').length, 1, 'one line');
      const list = JSON.parse(run.stdout) as JsonConnection[];
      assert.ok(Array.isArray(list));
      assert.equal(list.length, 4, 'two clients and their accepted sockets; the listener is hidden');
      assert.ok(list.every((connection) => connection.localPort === live.port || connection.remotePort === live.port));
      assert.ok(list.every((connection) => connection.process?.pid === process.pid));
      const plain = list.find((connection) => connection.localPort === live.plain.localPort);
      const kept = list.find((connection) => connection.localPort === live.kept.localPort);
      assert.deepEqual(plain?.risks.map((risk) => risk.code), ['no-keepalive']);
      assert.equal(kept?.timer, 'keepalive');
      assert.ok((kept?.timerMs ?? 0) > 55_000, `keepalive in ${kept?.timerMs} ms`);
      assert.deepEqual(kept?.risks, []);

      const withListener = JSON.parse(lifeline(['inspect', '--port', String(live.port), '--json', '--state', 'listen']).stdout) as JsonConnection[];
      assert.deepEqual(withListener.map((connection) => connection.state), ['LISTEN']);
    } finally {
      await live.close();
    }
  });

  test('cli inspect: the table marks risky rows and says why', async () => {
    const live = await connections();
    try {
      const run = lifeline(['inspect', '--port', String(live.port)]);
      assert.equal(run.status, 0, run.stderr);
      const lines = run.stdout.split('\n');
      assert.match(lines[0] ?? '', /^\s+STATE\s+LOCAL\s+REMOTE\s+PROCESS\s+TIMER\s+PROBES\s+RETRANS\s+SEND-Q\s+RECV-Q\s+RISK$/);
      const rowOf = (socket: Socket) => lines.find((line) => new RegExp(`^[! ] +ESTABLISHED +127\\.0\\.0\\.1:${socket.localPort} `).test(line));
      const plainRow = rowOf(live.plain);
      const keptRow = rowOf(live.kept);
      assert.match(plainRow ?? '', /^! +ESTABLISHED .* - +0 +0 +0 +0 +ESTABLISHED without a keepalive timer: a half-open connection would live forever$/);
      assert.match(keptRow ?? '', new RegExp(`^ +ESTABLISHED .*/${process.pid} +keepalive in (59|60)\\.\\ds +0 +0 +0 +0 +-$`));
      assert.match(run.stdout, /\n4 connections, 3 risky; \d+ more in LISTEN, TIME_WAIT, SYN_RECV or CLOSE not shown \(--all shows them\)\n$/);
    } finally {
      await live.close();
    }
  });

  test('cli inspect: --watch without a terminal prints a separator per refresh; with --json, one array per line', async () => {
    const live = await connections();
    try {
      const text = lifeline(['inspect', '--port', String(live.port), '--watch', '100ms', '--count', '3']);
      assert.equal(text.status, 0, text.stderr);
      assert.equal(text.stdout.match(/^--- \d{4}-\d\d-\d\dT[\d:.]+Z ---$/gm)?.length, 3);
      assert.equal(text.stdout.match(/^4 connections, 3 risky/gm)?.length, 3);
      const json = lifeline(['inspect', '--port', String(live.port), '--watch', '0.1', '--count', '2', '--json']);
      assert.equal(json.status, 0, json.stderr);
      const lines = json.stdout.trim().split('\n');
      assert.equal(lines.length, 2);
      for (const line of lines) assert.equal((JSON.parse(line) as unknown[]).length, 4);
    } finally {
      await live.close();
    }
  });

  test('cli inspect: --watch on a terminal clears the screen and redraws in place', { skip: !hasCommand('script') && 'needs script (util-linux) for a pseudo-terminal' }, () => {
    const command = [process.execPath, CLI, 'inspect', '--watch', '100ms', '--count', '2', '--port', '1'].join(' ');
    const run = spawnSync('script', ['-qec', command, '/dev/null'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(run.status, 0, run.stderr);
    const frames = run.stdout.split('\x1b[H\x1b[2J').slice(1);
    assert.equal(frames.length, 2, JSON.stringify(run.stdout));
    for (const frame of frames) assert.match(frame, /^lifeline inspect, every 100ms, .* \(Ctrl-C to stop\)\r?\nno TCP connections match/);
    assert.doesNotMatch(run.stdout, /^---/m);
  });

  test('cli inspect: --watch runs until SIGINT, then exits 0', async () => {
    const child = spawn(process.execPath, [CLI, 'inspect', '--watch', '100ms', '--json', '--port', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const deadline = Date.now() + 15_000;
    while (out.split('\n').length < 3 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    child.kill('SIGINT');
    const [code] = (await once(child, 'exit')) as [number | null];
    clearTimeout(killer);
    assert.equal(code, 0);
    assert.ok(out.split('\n').filter(Boolean).length >= 2, 'it refreshed more than once before the signal');
  });

  test('cli inspect: bad arguments are one line on stderr and exit 2', () => {
    const cases: [string[], RegExp][] = [
      [['--port', 'abc'], /invalid option --port: "abc"; allowed: a port from 1 to 65535/],
      [['--port', '70000'], /--port/],
      [['--pid', '0'], /invalid option --pid: "0"; allowed: a positive integer/],
      [['--pid', '4194304'], /invalid option --pid: 4194304; allowed: the id of a running process/],
      [['--state', 'establsihed'], /invalid option --state: "establsihed"; .*did you mean ESTABLISHED\?/],
      [['--watch', '10ms'], /invalid option --watch: "10ms"; allowed: an interval from 100ms to 1h/],
      [['--watch', 'soon'], /invalid option --watch/],
      [['--count', '2'], /--count needs --watch/],
      [['--watch', '--count', 'x'], /invalid option --count/],
      [['--all', '--state', 'listen'], /--all and --state exclude each other/],
      [['--netns', '../etc'], /invalid option --netns/],
      [['--netns', 'lifeline-no-such-namespace'], /invalid option --netns: "lifeline-no-such-namespace"; allowed: the name of a network namespace in \/run\/netns/],
      [['--prot', '80'], /unknown option '--prot'/],
    ];
    for (const [args, message] of cases) {
      const run = lifeline(['inspect', ...args]);
      assert.equal(run.status, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.equal(run.stdout, '', args.join(' '));
      assert.equal(run.stderr.split('\n').length, 2, `one line: ${run.stderr}`);
      assert.match(run.stderr, message, args.join(' '));
    }
  });

  test('cli inspect: timer text', () => {
    assert.equal(formatTimer(180), '180ms');
    assert.equal(formatTimer(4_230), '4.2s');
    assert.equal(formatTimer(59_990), '59.9s');
    assert.equal(formatTimer(150_000), '2m30s');
    assert.equal(formatTimer(7_140_000), '1h59m');
    assert.equal(timerText({ timer: 'keepalive', timerMs: 4200, state: 'ESTABLISHED', kind: 'socket' }), 'keepalive in 4.2s');
    assert.equal(timerText({ timer: 'keepalive', timerMs: 4200, state: 'FIN_WAIT2', kind: 'socket' }), 'fin-wait2 timeout in 4.2s');
    assert.equal(timerText({ timer: 'zero-window-probe', timerMs: 180, state: 'ESTABLISHED', kind: 'socket' }), 'zero-window probe in 180ms');
    assert.equal(timerText({ timer: 'none', timerMs: 0, state: 'ESTABLISHED', kind: 'socket' }), '-');
  });
});

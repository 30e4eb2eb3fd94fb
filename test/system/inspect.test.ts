import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setKeepAlive } from '../../src/socket/keepalive.js';
import {
  inspectConnections,
  joinConnections,
  resolveInspectOptions,
  risksOf,
  type InspectedConnection,
} from '../../src/system/inspect.js';
import { parseProcNetTcp, type ProcTcpSocket } from '../../src/system/proc-net-tcp.js';
import { readSocketOwners } from '../../src/system/proc-sockets.js';
import { CablePair, removeLeftoverNamespaces } from '../helpers/netns.js';
import { repoPath } from '../helpers/paths.js';
import { hasCommand, needsNetns } from '../helpers/privileges.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function fixture(name: string): ProcTcpSocket[] {
  const read = (family: string) => readFileSync(repoPath('test', 'fixtures', 'proc', `${name}.${family}`), 'utf8');
  return parseProcNetTcp(read('tcp') + read('tcp6')).sockets;
}

const byPorts = (sockets: readonly ProcTcpSocket[], local: number, remote: number) =>
  sockets.find((socket) => socket.localPort === local && socket.remotePort === remote) as ProcTcpSocket;

interface Live {
  server: Server;
  port: number;
  /** A client without keepalive, and the server's side of it. */
  plain: Socket;
  plainAccepted: Socket;
  /** A client with lifeline's keepalive (idle 30 s), and the server's side of it. */
  kept: Socket;
  keptAccepted: Socket;
  close(): Promise<void>;
}

/** A paused server (it reads nothing, so bytes sent to it wait in its receive queue) and two clients. */
async function live(host: '127.0.0.1' | '::1' | '::', connectTo: string = host, idle = '30s'): Promise<Live> {
  const server = createServer({ pauseOnConnect: true });
  server.listen(0, host);
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  const accept = async () => {
    const accepted = once(server, 'connection') as Promise<[Socket]>;
    const client = connect(port, connectTo);
    await once(client, 'connect');
    return [client, (await accepted)[0]] as const;
  };
  const [plain, plainAccepted] = await accept();
  const [kept, keptAccepted] = await accept();
  setKeepAlive(kept, { idle, interval: '5s', count: 3 });
  plain.write(Buffer.alloc(5000, 1));
  await sleep(100);
  return {
    server, port, plain, plainAccepted, kept, keptAccepted,
    close: async () => {
      for (const socket of [plain, plainAccepted, kept, keptAccepted]) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function mine(connections: readonly InspectedConnection[], socket: Socket): InspectedConnection {
  const found = connections.find((connection) => connection.localPort === socket.localPort && connection.remotePort === socket.remotePort);
  assert.ok(found, `no connection ${socket.localPort} -> ${socket.remotePort} among ${connections.map((c) => `${c.localPort}->${c.remotePort}`).join(', ')}`);
  return found;
}

/** One line of `ss -tanoeH`: the socket as the kernel's netlink interface (inet_diag) reports it, not /proc. */
interface SsSocket {
  state: string;
  recvQ: number;
  sendQ: number;
  local: string;
  remote: string;
  timer: string | null;
  timerMs: number | null;
  timerResolution: number;
  timerCount: number | null;
  uid: number;
  inode: number;
}

function ss(port: number): SsSocket[] {
  const run = spawnSync('ss', ['-tanoeH', `sport = :${port} or dport = :${port}`], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(run.status, 0, run.stderr);
  return run.stdout.split('\n').filter((line) => line.trim() !== '').map(parseSsLine);
}

function parseSsLine(line: string): SsSocket {
  const [state, recvQ, sendQ, local, remote, ...rest] = line.trim().split(/\s+/) as [string, string, string, string, string, ...string[]];
  const extra = rest.join(' ');
  const timer = /timer:\((\w+),([^,]*),(\d+)\)/.exec(extra);
  return {
    state,
    recvQ: Number(recvQ),
    sendQ: Number(sendQ),
    local,
    remote,
    timer: timer?.[1] ?? null,
    timerMs: timer ? ssDuration(timer[2] as string).ms : null,
    timerResolution: timer ? ssDuration(timer[2] as string).resolution : 0,
    timerCount: timer ? Number(timer[3]) : null,
    // ss leaves uid out when it is 0.
    uid: Number(/\buid:(\d+)/.exec(extra)?.[1] ?? 0),
    inode: Number(/\bino:(\d+)/.exec(extra)?.[1]),
  };
}

/**
 * ss's print_ms_timer: `1min4sec`, `56sec`, `4.188ms` (4.188 s), `200ms`, `1min`, `` (0). It drops the
 * milliseconds from 10 s up and the seconds from 10 min up: `resolution` is how much it may have cut off.
 */
function ssDuration(text: string): { ms: number; resolution: number } {
  const match = /^(?:(\d+)min)?(?:(\d+)(sec|\.))?(?:(\d+)ms)?$/.exec(text);
  assert.ok(match, `ss timer ${JSON.stringify(text)}`);
  const minutes = Number(match[1] ?? 0);
  const ms = minutes * 60_000 + Number(match[2] ?? 0) * 1000 + Number(match[4] ?? 0);
  const resolution = match[4] !== undefined || text === '' ? 1 : minutes > 9 ? 60_000 : 1000;
  return { ms, resolution };
}

const SS_STATES: Record<string, string> = {
  ESTAB: 'ESTABLISHED', 'SYN-SENT': 'SYN_SENT', 'SYN-RECV': 'SYN_RECV', 'FIN-WAIT-1': 'FIN_WAIT1', 'FIN-WAIT-2': 'FIN_WAIT2',
  'TIME-WAIT': 'TIME_WAIT', UNCONN: 'CLOSE', 'CLOSE-WAIT': 'CLOSE_WAIT', 'LAST-ACK': 'LAST_ACK', LISTEN: 'LISTEN', CLOSING: 'CLOSING',
};
const SS_TIMERS: Record<string, string> = { on: 'retransmit', keepalive: 'keepalive', timewait: 'time-wait', persist: 'zero-window-probe' };

function endpoint(address: string, port: number, family: 4 | 6): string {
  return `${family === 6 ? `[${address}]` : address}:${port === 0 ? '*' : port}`;
}

describe('inspect', () => {
  test('inspect: ss timer text is read as ss writes it', () => {
    assert.deepEqual(ssDuration('1min4sec'), { ms: 64_000, resolution: 1000 });
    assert.deepEqual(ssDuration('56sec'), { ms: 56_000, resolution: 1000 });
    assert.deepEqual(ssDuration('4.188ms'), { ms: 4188, resolution: 1 });
    assert.deepEqual(ssDuration('200ms'), { ms: 200, resolution: 1 });
    assert.deepEqual(ssDuration('119min'), { ms: 7_140_000, resolution: 60_000 });
    assert.deepEqual(ssDuration(''), { ms: 0, resolution: 1 });
  });

  for (const host of ['127.0.0.1', '::1'] as const) {
    test(`inspect: live sockets on ${host}: both found, mapped to this process, the one without keepalive flagged`, async () => {
      const sockets = await live(host);
      try {
        const report = inspectConnections({ port: sockets.port });
        assert.equal(report.source, '/proc/net');
        assert.ok(report.hidden >= 1, 'the listener is hidden without all');
        assert.equal(report.connections.length, 4);
        const plain = mine(report.connections, sockets.plain);
        const kept = mine(report.connections, sockets.kept);
        for (const connection of [plain, kept]) {
          assert.equal(connection.state, 'ESTABLISHED');
          assert.equal(connection.process?.pid, process.pid);
          assert.equal(connection.process?.command, readFileSync('/proc/self/comm', 'utf8').trim());
          assert.equal(connection.localAddress, host);
        }
        assert.deepEqual(plain.risks.map((risk) => risk.code), ['no-keepalive']);
        assert.equal(plain.risks[0]?.reason, 'ESTABLISHED without a keepalive timer: a half-open connection would live forever');
        assert.equal(kept.timer, 'keepalive');
        assert.ok(kept.timerMs > 28_000 && kept.timerMs <= 30_000, `keepalive in ${kept.timerMs} ms`);
        assert.deepEqual(kept.risks, []);
        // The server never reads: what plain sent waits in its receive queue.
        assert.equal(mine(report.connections, sockets.plainAccepted).rxQueue, 5000);
        const all = inspectConnections({ port: sockets.port, all: true });
        assert.ok(all.connections.some((connection) => connection.state === 'LISTEN' && connection.process?.pid === process.pid));
      } finally {
        await sockets.close();
      }
    });
  }

  const sets = [['127.0.0.1', '127.0.0.1', '30s'], ['::1', '::1', '5s'], ['::', '127.0.0.1', '8s']] as const;
  for (const [host, connectTo, idle] of sets) {
    test(`inspect: every field ss -tanoe shows agrees, ${connectTo} to ${host}, keepalive ${idle}`, { skip: !hasCommand('ss') && 'needs ss (Debian package iproute2)' }, async () => {
      const sockets = await live(host, connectTo, idle);
      try {
        // TIME_WAIT left by an earlier socket on the same port (no inode to match it by) is left out of both.
        const fromSs = ss(sockets.port).filter((socket) => socket.state !== 'TIME-WAIT');
        const report = inspectConnections({ port: sockets.port, states: ['listen', 'established'] });
        assert.equal(fromSs.length, 5, fromSs.map((socket) => `${socket.state} ${socket.local} ${socket.remote}`).join('\n'));
        assert.equal(report.connections.length, fromSs.length);
        for (const theirs of fromSs) {
          const ours = report.connections.find((connection) => connection.inode === theirs.inode);
          assert.ok(ours, `ss ino:${theirs.inode} not found by inspect`);
          const what = `${theirs.state} ${theirs.local} ${theirs.remote}`;
          assert.equal(ours.state, SS_STATES[theirs.state], what);
          // ss writes the IPv6 wildcard of a dual-stack socket as `*` (inet_diag tells it v6only; /proc does not).
          const dualStack = (text: string) => text.replace(/^\*:/, '[::]:');
          assert.equal(endpoint(ours.localAddress, ours.localPort, ours.family), dualStack(theirs.local), what);
          assert.equal(endpoint(ours.remoteAddress, ours.remotePort, ours.family), dualStack(theirs.remote), what);
          assert.equal(ours.uid, theirs.uid, what);
          assert.equal(ours.rxQueue, theirs.recvQ, what);
          // For a listener ss's Send-Q is the backlog limit; /proc prints write_seq - snd_una there.
          if (ours.state !== 'LISTEN') assert.equal(ours.txQueue, theirs.sendQ, what);
          assert.equal(ours.timer, theirs.timer === null ? 'none' : SS_TIMERS[theirs.timer], what);
          if (theirs.timer !== null) {
            // ss was read first: since then the timer came closer by the time between the two reads (well under
            // 1 s); ss cut off up to its resolution, /proc rounds to 10 ms ticks.
            const ahead = ours.timerMs - (theirs.timerMs as number);
            assert.ok(ahead > -1000 && ahead <= theirs.timerResolution + 10, `${what}: ss ${theirs.timerMs} ms (to ${theirs.timerResolution} ms), inspect ${ours.timerMs} ms`);
            assert.equal(theirs.timerCount, theirs.timer === 'on' ? ours.retransmits : ours.probes, what);
          }
        }
        assert.ok(report.connections.some((connection) => connection.timer === 'keepalive'));
        assert.ok(report.connections.some((connection) => connection.rxQueue === 5000));
      } finally {
        await sockets.close();
      }
    });
  }

  test('inspect: filters by pid, port and state', async () => {
    const sockets = await live('127.0.0.1');
    const sleeper = spawn('sleep', ['30']);
    try {
      const ours = inspectConnections({ pid: process.pid, port: sockets.port });
      assert.equal(ours.source, `/proc/${process.pid}/net`);
      assert.equal(ours.connections.length, 4);
      assert.equal(inspectConnections({ pid: sleeper.pid as number, port: sockets.port }).connections.length, 0);
      const listeners = inspectConnections({ port: sockets.port, states: ['listen'] });
      assert.deepEqual(listeners.connections.map((connection) => connection.state), ['LISTEN']);
      assert.equal(listeners.hidden, 4);
      // The port matches the remote side too: the clients' sockets have it as their remote port.
      const clientsOnly = inspectConnections({ port: sockets.port, states: 'estab' }).connections.filter((c) => c.remotePort === sockets.port);
      assert.equal(clientsOnly.length, 2);
      assert.equal(inspectConnections({ port: sockets.port, states: 'time-wait,close-wait' }).connections.length, 0);
    } finally {
      sleeper.kill();
      await sockets.close();
    }
  });

  test('inspect: options are checked, naming the option, the value and what is allowed', () => {
    const invalid = { code: 'ERR_LIFELINE_INVALID_OPTION' };
    assert.throws(() => resolveInspectOptions({ prot: 80 } as never), /invalid option prot: 80; allowed: one of the keys .* \(did you mean port\?\)/);
    assert.throws(() => resolveInspectOptions({ port: 0 }), invalid);
    assert.throws(() => resolveInspectOptions({ port: 65_536 }), invalid);
    assert.throws(() => resolveInspectOptions({ pid: -1 }), invalid);
    assert.throws(() => resolveInspectOptions({ pid: 1.5 }), invalid);
    assert.throws(() => resolveInspectOptions({ states: ['establsihed'] }), /did you mean ESTABLISHED\?/);
    assert.throws(() => resolveInspectOptions({ states: [] }), invalid);
    assert.throws(() => resolveInspectOptions({ netns: '../etc' }), invalid);
    assert.throws(() => resolveInspectOptions({ all: 'yes' as never }), invalid);
    assert.deepEqual(resolveInspectOptions({ states: 'Estab, TIME-WAIT,close_wait', port: 443 }), {
      pid: null, port: 443, states: ['ESTABLISHED', 'TIME_WAIT', 'CLOSE_WAIT'], all: false, netns: null,
    });
    assert.throws(() => inspectConnections({ pid: 4_194_304 }), /invalid option pid: 4194304; allowed: the id of a running process/);
    assert.throws(() => inspectConnections({ netns: 'lifeline-no-such-namespace' }), /invalid option netns/);
  });

  test('inspect: risks from captured kernel lines', () => {
    const probes = fixture('keepalive-probes');
    assert.deepEqual(risksOf(byPorts(probes, 50001, 4401)), [{ code: 'probes-unanswered', reason: '2 keepalive probes unanswered: the peer is probably gone' }]);
    // The servers' side there has no keepalive.
    assert.deepEqual(risksOf(byPorts(probes, 4401, 50001)).map((risk) => risk.code), ['no-keepalive']);
    const retransmit = fixture('retransmit');
    assert.deepEqual(risksOf(byPorts(retransmit, 50001, 4401)), [{ code: 'retransmitting', reason: '3 retransmissions unanswered: the peer or the path is probably gone' }]);
    // A zero window that is answered, SYN_SENT, TIME_WAIT, CLOSE_WAIT, listeners and keepalive at rest are not risky.
    assert.deepEqual(risksOf(byPorts(fixture('zero-window'), 50001, 4401)), []);
    assert.deepEqual(risksOf(byPorts(fixture('handshake'), 50001, 4401)), []);
    for (const socket of fixture('time-wait')) assert.deepEqual(risksOf(socket), [], socket.state);
    assert.deepEqual(risksOf(byPorts(fixture('keepalive'), 50001, 4401)), []);
    assert.deepEqual(risksOf(byPorts(fixture('listen'), 4401, 0)), []);
  });

  test('inspect: the join gives each socket its processes, and the default hides what ss hides', () => {
    const sockets = fixture('time-wait');
    const closeWait = byPorts(sockets, 4402, 50002);
    const owners = new Map([[closeWait.inode, [{ pid: 7, command: 'redis-server' }, { pid: 9, command: 'redis-server' }]]]);
    const { connections, hidden } = joinConnections(sockets, { byInode: owners }, resolveInspectOptions());
    assert.deepEqual(connections.map((connection) => connection.state).sort(), ['CLOSE_WAIT', 'FIN_WAIT2']);
    assert.equal(hidden, 5);
    const joined = connections.find((connection) => connection.state === 'CLOSE_WAIT');
    assert.deepEqual(joined?.process, { pid: 7, command: 'redis-server' });
    assert.equal(joined?.processes.length, 2);
    assert.equal(connections.find((connection) => connection.state === 'FIN_WAIT2')?.process, null);
    assert.equal(joinConnections(sockets, { byInode: owners }, resolveInspectOptions({ pid: 9 })).connections.length, 1);
    assert.equal(joinConnections(sockets, { byInode: owners }, resolveInspectOptions({ pid: 9, states: 'listen' })).connections.length, 0);
  });

  test('inspect: socket owners come from /proc/<pid>/fd, this process included', async () => {
    const sockets = await live('127.0.0.1');
    try {
      const owners = readSocketOwners({ pids: [process.pid] });
      assert.equal(owners.scanned, 1);
      const report = inspectConnections({ port: sockets.port });
      for (const connection of report.connections) assert.deepEqual(owners.byInode.get(connection.inode)?.map((owner) => owner.pid), [process.pid]);
      assert.equal(readSocketOwners({ pids: [4_194_304] }).byInode.size, 0, 'a process that is gone is skipped');
    } finally {
      await sockets.close();
    }
  });

  describe('in a network namespace', { skip: needsNetns() }, () => {
    const pairs: CablePair[] = [];
    before(() => removeLeftoverNamespaces());
    after(() => {
      for (const pair of pairs) pair.remove();
    });

    test('inspect: a keepalive connection whose cable is pulled shows its probes unanswered, and is flagged', async () => {
      const pair = new CablePair();
      pairs.push(pair);
      const isEvent = (name: string) => (event: Record<string, unknown>) => event['event'] === name;
      const server = pair.lifeline('server', ['server', pair.serverIp, '1234', '--keepalive', '1,1,30', '--json']);
      assert.ok(await server.waitForEvent(isEvent('listening'), 5000), server.stderr.map((line) => line.text).join('\n'));
      const client = pair.lifeline('client', ['client', pair.serverIp, '1234']);
      assert.ok(await server.waitForEvent(isEvent('accepted'), 5000));
      const serverPid = server.child.pid as number;

      const before = inspectConnections({ netns: pair.server, port: 1234 });
      assert.equal(before.source, `ip netns exec ${pair.server}`);
      const resting = before.connections.find((connection) => connection.state === 'ESTABLISHED');
      assert.ok(resting, 'the accepted connection is seen in the namespace');
      assert.equal(resting.timer, 'keepalive');
      assert.equal(resting.remoteAddress, pair.clientIp);
      assert.equal(resting.process?.pid, serverPid, 'mapped to the server process through the host /proc');
      assert.ok(!inspectConnections({ port: 1234 }).connections.some((connection) => connection.remoteAddress === pair.clientIp), 'not in the host namespace');

      pair.pull('client');
      let flagged: InspectedConnection | undefined;
      const deadline = Date.now() + 10_000;
      while (!flagged && Date.now() < deadline) {
        await sleep(250);
        flagged = inspectConnections({ netns: pair.server, port: 1234 }).connections.find((connection) => connection.probes > 0);
      }
      assert.ok(flagged, 'no unanswered probes within 10 s of the pull');
      assert.equal(flagged.state, 'ESTABLISHED');
      assert.equal(flagged.timer, 'keepalive');
      assert.deepEqual(flagged.risks.map((risk) => risk.code), ['probes-unanswered']);
      assert.match(flagged.risks[0]?.reason ?? '', /^\d+ keepalive probes? unanswered: the peer is probably gone$/);

      // The same through the process: /proc/<pid>/net is the namespace the process lives in.
      const viaPid = inspectConnections({ pid: serverPid, port: 1234 });
      assert.equal(viaPid.source, `/proc/${serverPid}/net`);
      assert.ok(viaPid.connections.some((connection) => connection.inode === flagged?.inode));
      assert.ok(inspectConnections({ pid: serverPid, netns: pair.server }).connections.length > 0);
      assert.throws(() => inspectConnections({ pid: serverPid, netns: pair.client }), /invalid option netns: .*process \d+ lives in another one/);
      client.kill();
      server.kill();
    });
  });
});

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, test } from 'node:test';
import { ManualClock, Supervisor, TcpClient, type DeadPeer } from '../../src/index.js';
import { kernelKeepAlive } from '../helpers/kernel.js';

let supervisors: Supervisor[] = [];
afterEach(async () => {
  for (const supervisor of supervisors) await supervisor.close();
  supervisors = [];
});

async function start(options: ConstructorParameters<typeof Supervisor>[0] = {}, host = '127.0.0.1') {
  const supervisor = new Supervisor(options);
  supervisors.push(supervisor);
  // Like any Node socket, an accepted one reports the peer's FIN only once its data is consumed.
  supervisor.on('accepted', (snapshot) => supervisor.connection(snapshot.id)?.socket.resume());
  const server = await supervisor.listen(0, host);
  const address = server.address();
  assert.ok(address && typeof address !== 'string');
  return { supervisor, port: address.port };
}

async function connected(port: number, host = '127.0.0.1'): Promise<Socket> {
  const socket = connect(port, host);
  await once(socket, 'connect');
  return socket;
}

const nextDead = (supervisor: Supervisor) => once(supervisor, 'dead').then(([dead]) => dead as DeadPeer);

describe('Supervisor', () => {
  test('supervisor: applies the default keepalive (60s,10s,6) to accepted sockets and reports it read back', async () => {
    const { supervisor, port } = await start();
    const accepted = once(supervisor, 'accepted');
    const client = await connected(port);
    const [snapshot] = await accepted;
    assert.deepEqual(snapshot.keepalive, { enabled: true, idle: 60_000, interval: 10_000, count: 6, userTimeout: 0, source: 'kernel' });
    const socket = supervisor.connection(snapshot.id)?.socket;
    assert.ok(socket);
    assert.deepEqual(kernelKeepAlive(socket), { keepalive: 1, idleS: 60, intervalS: 10, count: 6, userTimeoutMs: 0 });
    client.destroy();
  });

  test('supervisor: keepalive false leaves accepted sockets as Node made them', async () => {
    const { supervisor, port } = await start({ keepalive: false });
    const accepted = once(supervisor, 'accepted');
    const client = await connected(port, '127.0.0.1');
    const [snapshot] = await accepted;
    assert.equal(snapshot.keepalive, null);
    assert.equal(kernelKeepAlive(supervisor.connection(snapshot.id)!.socket).keepalive, 0);
    client.destroy();
  });

  test('supervisor: a peer that closes is eof, one that resets is reset, with evidence', async () => {
    const { supervisor, port } = await start({ keepalive: { idle: 2000, interval: 1000, count: 3 } }, '::1');
    const first = await connected(port, '::1');
    first.end('bye');
    const eof = await nextDead(supervisor);
    assert.equal(eof.reason, 'eof');
    assert.equal(eof.code, null);
    assert.equal(eof.bytesIn, 3);
    assert.match(eof.remote, /^\[::1\]:\d+$/);
    assert.equal(eof.keepalive?.idle, 2000);
    assert.ok(eof.tcpInfo, 'TCP_INFO at death');

    const second = await connected(port, '::1');
    second.write('x');
    await new Promise((resolve) => setTimeout(resolve, 50));
    second.resetAndDestroy();
    const reset = await nextDead(supervisor);
    assert.equal(reset.reason, 'reset');
    assert.equal(reset.code, 'ECONNRESET');
    assert.ok(reset.lifetimeMs >= 0);
    assert.equal(supervisor.size, 0);
  });

  test('supervisor: close() ends every connection as local', async () => {
    const { supervisor, port } = await start();
    const clients = await Promise.all([connected(port), connected(port), connected(port)]);
    while (supervisor.size < 3) await once(supervisor, 'accepted');
    const deaths: DeadPeer[] = [];
    supervisor.on('dead', (dead) => deaths.push(dead));
    await supervisor.close();
    assert.deepEqual(deaths.map((dead) => dead.reason), ['local', 'local', 'local']);
    for (const client of clients) client.destroy();
  });

  test('supervisor: connections() snapshots traffic stamped by the injected clock', async () => {
    const clock = new ManualClock(1000);
    const { supervisor, port } = await start({ clock, sampleInterval: 500 });
    const accepted = once(supervisor, 'accepted');
    const client = await connected(port);
    await accepted;
    client.write('hello');
    await once(supervisor.connection(1)!.socket, 'data');
    clock.advance(500);
    const [snapshot] = supervisor.connections();
    assert.equal(snapshot?.openedAt, 1000);
    assert.equal(snapshot?.lastReceivedAt, 1500);
    assert.equal(snapshot?.bytesIn, 5);
    assert.equal(snapshot?.state, 'open');
    client.destroy();
  });

  test('supervisor: options are validated, naming the option', () => {
    assert.throws(() => new Supervisor({ keepalive: { count: 1000 } }), { code: 'ERR_LIFELINE_INVALID_OPTION', message: /count: 1000/ });
    assert.throws(() => new Supervisor({ sampleInterval: 5 }), { code: 'ERR_LIFELINE_INVALID_OPTION', message: /sampleInterval/ });
    assert.throws(() => new Supervisor({ keepAlive: {} } as never), { code: 'ERR_LIFELINE_INVALID_OPTION', message: /keepAlive/ });
  });

  test('supervisor: listen on a busy port rejects with EADDRINUSE', async () => {
    const { port } = await start();
    const other = new Supervisor();
    await assert.rejects(other.listen(port, '127.0.0.1'), { code: 'EADDRINUSE' });
  });
});

describe('TcpClient', () => {
  test('tcp-client: applies keepalive and reports eof when the server closes', async () => {
    const { supervisor, port } = await start();
    supervisor.once('accepted', (snapshot) => supervisor.connection(snapshot.id)?.socket.end('bye'));
    const client = new TcpClient({ host: '127.0.0.1', port, keepalive: { idle: 5000, interval: 2000, count: 3 } });
    const [connected] = await once(client, 'connected');
    assert.equal(connected.keepalive?.idle, 5000);
    const [dead] = (await once(client, 'dead')) as [DeadPeer];
    assert.equal(dead.reason, 'eof');
    assert.equal(dead.bytesIn, 3);
  });

  test('tcp-client: a refused connection is reported once, as error / ECONNREFUSED', async () => {
    const { supervisor, port } = await start();
    await supervisor.close();
    const client = new TcpClient({ host: '127.0.0.1', port });
    const [dead] = (await once(client, 'dead')) as [DeadPeer];
    assert.equal(dead.reason, 'error');
    assert.equal(dead.code, 'ECONNREFUSED');
    assert.match(dead.because, /could not connect/);
  });

  test('tcp-client: bad host or port is an invalid option', () => {
    assert.throws(() => new TcpClient({ host: '', port: 1 }), { code: 'ERR_LIFELINE_INVALID_OPTION' });
    assert.throws(() => new TcpClient({ host: 'localhost', port: 70_000 }), { code: 'ERR_LIFELINE_INVALID_OPTION' });
  });
});

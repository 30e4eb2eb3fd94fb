/**
 * The processes a lab run starts inside its namespaces: `server` (the supervised server under test, one arm)
 * and `client` (a plain peer the runner steers over stdin). Both print one JSON object per line on stdout.
 * Run as `node dist/src/lab/agent.js server|client '<json config>'`.
 */
import { createInterface } from 'node:readline';
import type { Socket } from 'node:net';
import { Client } from '../client/client.js';
import { TcpClient } from '../client/tcp-client.js';
import { LifelineServer } from '../server/lifeline-server.js';
import { Supervisor } from '../server/supervisor.js';
import { getKeepAlive } from '../socket/keepalive.js';
import { readTcpInfo, type TcpInfo } from '../socket/tcp-info.js';
import type { ArmSetup } from './arms.js';

export interface ServerAgentConfig {
  host: string;
  port: number;
  setup: ArmSetup;
  /** `stream`: keep data in flight to the client (4 KiB every 50 ms, up to 4 MiB queued). */
  behaviour: 'idle' | 'stream';
  /** How often the kernel's counters are polled for the timeline. */
  pollMs: number;
}

export interface ClientAgentConfig {
  host: string;
  port: number;
  /** Speak the lifeline protocol with this heartbeat interval (the `heartbeat` arm); raw TCP when absent. */
  heartbeatInterval?: number;
  /** `no-read`: never read what the server sends (its window closes). */
  behaviour: 'read' | 'no-read';
}

const emit = (event: string, fields: object = {}) => process.stdout.write(`${JSON.stringify({ ts: Date.now(), event, ...fields })}\n`);

async function server(config: ServerAgentConfig): Promise<void> {
  const { keepalive } = config.setup;
  if ('heartbeat' in keepalive) return protocolServer(config, keepalive.heartbeat);
  const supervisor = new Supervisor({ keepalive: 'node' in keepalive ? false : keepalive, sampleInterval: 250 });
  supervisor.on('accepted', (snapshot) => {
    const socket = supervisor.connection(snapshot.id)?.socket as Socket;
    if ('node' in keepalive) socket.setKeepAlive(true, keepalive.node);
    emit('accepted', { id: snapshot.id, remote: snapshot.remote, kernel: getKeepAlive(socket) });
    socket.on('data', (chunk: Buffer) => emit('data', { bytes: chunk.length, text: chunk.toString('utf8').slice(0, 64) }));
    pollCounters(socket, config.pollMs);
    if (config.behaviour === 'stream') stream(socket);
  });
  supervisor.on('dead', (dead) => emit('dead', dead));
  await supervisor.listen(config.port, config.host);
  emit('listening');
}

function stream(socket: Socket): void {
  const chunk = Buffer.alloc(4096, 120);
  const timer = setInterval(() => {
    if (socket.destroyed) return clearInterval(timer);
    if (socket.writableLength < 4 * 1024 * 1024) socket.write(chunk);
  }, 50);
}

/** The kernel's view while the connection lives, for a timeline when tcpdump is missing. */
function pollCounters(socket: Socket, everyMs: number): void {
  let last = '';
  const timer = setInterval(() => {
    const info: TcpInfo | undefined = readTcpInfo(socket);
    if (!info || socket.destroyed) return clearInterval(timer);
    const { state, probes, retransmits, backoff, unacked, notSentBytes, sendWindow } = info;
    const key = JSON.stringify([state, probes, retransmits, backoff, unacked > 0, notSentBytes > 0, sendWindow === 0]);
    if (key !== last) emit('counters', { state, probes, retransmits, backoff, unacked, notSentBytes, sendWindow });
    last = key;
  }, everyMs);
}

/** The `heartbeat` arm: the same server role, speaking the lifeline protocol; the heartbeat engine decides. */
async function protocolServer(config: ServerAgentConfig, heartbeat: { interval: number; timeout: number }): Promise<void> {
  const server = new LifelineServer({
    keepalive: false,
    heartbeat: { interval: heartbeat.interval, min: Math.min(100, heartbeat.interval), max: heartbeat.interval, timeoutFactor: heartbeat.timeout / heartbeat.interval },
  });
  server.on('session', ({ session, remote }) => {
    emit('accepted', { id: session, remote, kernel: { enabled: false, idle: 0, interval: 0, count: 0, userTimeout: 0 }, heartbeat });
    if (config.behaviour === 'stream') {
      const chunk = Buffer.alloc(4096, 120);
      const timer = setInterval(() => {
        if (server.sessionCount === 0) return clearInterval(timer);
        server.send(session, chunk).catch(() => clearInterval(timer));
      }, 50);
    }
  });
  server.on('message', ({ data }) => emit('data', { bytes: data.length, text: data.toString('utf8').slice(0, 64) }));
  server.on('disconnect', (event) => emit('dead', event));
  await server.listen(config.port, config.host);
  emit('listening');
}

async function client(config: ClientAgentConfig): Promise<void> {
  if (config.heartbeatInterval !== undefined) return protocolClient(config, config.heartbeatInterval);
  const peer = new TcpClient({ host: config.host, port: config.port, keepalive: false });
  peer.on('connected', () => {
    if (config.behaviour === 'no-read') peer.socket.pause();
    emit('connected');
  });
  peer.on('dead', (dead) => emit('dead', dead));
  createInterface({ input: process.stdin }).on('line', (line) => {
    const [command, ...rest] = line.split(' ');
    if (command === 'send') peer.write(`${rest.join(' ')}\n`);
  });
}

/** A protocol client that does not reconnect: the lab watches one connection's fate from the server's side. */
async function protocolClient(config: ClientAgentConfig, heartbeatInterval: number): Promise<void> {
  const peer = new Client({ host: config.host, port: config.port, keepalive: false, heartbeatInterval, backoff: { maxAttempts: 0 } });
  peer.on('connected', () => {
    if (config.behaviour === 'no-read') peer.socket?.pause();
    emit('connected');
  });
  peer.on('dead', (dead) => emit('dead', dead));
  peer.connect();
  createInterface({ input: process.stdin }).on('line', (line) => {
    const [command, ...rest] = line.split(' ');
    if (command === 'send') peer.send(rest.join(' ')).catch(() => {});
  });
}

const [mode, json] = process.argv.slice(2);
if (mode === 'server') await server(JSON.parse(json ?? '{}') as ServerAgentConfig);
else if (mode === 'client') await client(JSON.parse(json ?? '{}') as ClientAgentConfig);
else {
  process.stderr.write('usage: agent.js server|client <json config>\n');
  process.exitCode = 2;
}

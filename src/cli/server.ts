import type { Command } from 'commander';
import type { Socket } from 'node:net';
import { Supervisor, DEFAULT_SUPERVISOR_KEEPALIVE } from '../server/supervisor.js';
import { addressError, parsePort } from './args.js';
import { acceptedLine, deadLine, jsonEvent } from './events.js';
import { describeFlags, keepAliveFromFlags } from './keepalive-flags.js';
import { metricsFor, parseMetricsAddress, serveUntilSignalled } from './metrics-flag.js';
import { parseHeartbeat, parseProtocol } from './protocol-flags.js';
import { runProtocolServer } from './protocol-server.js';
import { UsageError } from './usage-error.js';

interface ServerFlags {
  protocol?: string;
  heartbeat?: string;
  keepalive?: string;
  userTimeout?: string;
  echo?: boolean;
  json?: boolean;
  metrics?: string;
}

export const DEFAULT_PORT = 1234;

export function registerServer(program: Command): void {
  program
    .command('server')
    .description('accept connections, apply keepalive to each, and report every death with its reason (the seed experiment)')
    .argument('[host]', 'address to listen on', '0.0.0.0')
    .argument('[port]', `port to listen on (0: any)`, String(DEFAULT_PORT))
    .option('--keepalive <policy>', 'off | on (system defaults) | IDLE[,INTERVAL[,COUNT]] e.g. 2,1,3 or 30s,10s,3 (default 60,10,6)')
    .option('--user-timeout <duration>', 'TCP_USER_TIMEOUT, e.g. 3s or 500ms (a bare number is seconds); off by default')
    .option('--echo', 'send received bytes back (raw protocol)')
    .option('--protocol <protocol>', 'raw (bytes, the default) or lifeline (sessions, heartbeats, resumable messages)')
    .option('--heartbeat <interval[,timeout]>', 'lifeline protocol: heartbeat interval and total silence before dead, e.g. 2s,5s')
    .option('--metrics <host:port>', 'serve Prometheus /metrics and a live status page at http://HOST:PORT/ (needs prom-client), e.g. 127.0.0.1:9464')
    .option('--json', 'one JSON object per event on stdout')
    .action((host: string, portText: string, flags: ServerFlags) => runServer(host, parsePort(portText, DEFAULT_PORT), flags));
}

async function runServer(host: string, port: number, flags: ServerFlags): Promise<void> {
  const keepalive = keepAliveFromFlags(flags.keepalive, flags.userTimeout, DEFAULT_SUPERVISOR_KEEPALIVE);
  const heartbeat = parseHeartbeat(flags.heartbeat);
  const metricsAddress = parseMetricsAddress(flags.metrics);
  if (parseProtocol(flags.protocol) === 'lifeline') return runProtocolServer(host, port, { json: flags.json ?? false, keepalive, heartbeat, metrics: metricsAddress });
  if (heartbeat) throw new UsageError('--heartbeat needs --protocol lifeline');
  const metrics = metricsFor(metricsAddress);
  const supervisor = new Supervisor({ keepalive, ...(metrics && { metrics }) });
  const print = (event: string, fields: object, human: string) => {
    process.stdout.write(`${flags.json ? jsonEvent(event, fields) : human}\n`);
  };
  supervisor.on('accepted', (connection) => {
    print('accepted', connection, acceptedLine(connection));
    const socket = supervisor.connection(connection.id)?.socket as Socket;
    socket.on('data', (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      print('data', { id: connection.id, remote: connection.remote, bytes: chunk.length, data: text }, `data ${connection.remote} ${JSON.stringify(text)}`);
      if (flags.echo) socket.write(chunk);
    });
  });
  supervisor.on('dead', (dead) => print('dead', dead, deadLine(dead)));
  supervisor.on('warning', ({ id, remote, error }) => {
    print('warning', { id, remote, code: (error as { code?: string }).code ?? null, message: error.message }, `warning ${remote} #${id}: ${error.message}`);
  });
  let server;
  try {
    server = await supervisor.listen(port, host);
  } catch (error) {
    throw addressError(error, `listen on ${host}:${port}`);
  }
  const address = server.address();
  const bound = address && typeof address !== 'string' ? address : { address: host, port };
  const policy = describeFlags(keepalive);
  print('listening', { address: bound.address, port: bound.port, keepalive }, `listening ${bound.address}:${bound.port} (${policy})`);
  await serveUntilSignalled(supervisor, { address: metricsAddress, metrics, title: `lifeline server ${bound.address}:${bound.port}` }, print);
}

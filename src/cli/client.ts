import type { Command } from 'commander';
import { TcpClient } from '../client/tcp-client.js';
import { DEFAULT_SUPERVISOR_KEEPALIVE } from '../server/supervisor.js';
import { DeathReasons } from '../liveness/verdict.js';
import { addressError, parsePort } from './args.js';
import { acceptedLine, deadLine, jsonEvent } from './events.js';
import { keepAliveFromFlags } from './keepalive-flags.js';
import { parseHeartbeat, parseProtocol } from './protocol-flags.js';
import { runProtocolClient } from './protocol-client.js';
import { UsageError } from './usage-error.js';

interface ClientFlags {
  protocol?: string;
  heartbeat?: string;
  keepalive?: string;
  userTimeout?: string;
  json?: boolean;
}

/** Exit code when the server died or could not be reached (reason printed on stderr). */
export const EXIT_PEER_DIED = 1;

export function registerClient(program: Command): void {
  program
    .command('client')
    .description('like nc: stdin to the server, its bytes to stdout; reports how the server died (exit 1) or 0 on a clean end')
    .argument('<host>', 'server address')
    .argument('<port>', 'server port')
    .option('--keepalive <policy>', 'off | on (system defaults) | IDLE[,INTERVAL[,COUNT]] e.g. 2,1,3 (default 60,10,6)')
    .option('--user-timeout <duration>', 'TCP_USER_TIMEOUT, e.g. 3s (a bare number is seconds); off by default')
    .option('--json', 'events as JSON lines on stderr')
    .option('--protocol <protocol>', 'raw (bytes, the default) or lifeline (each stdin line one message; reconnects and resumes)')
    .option('--heartbeat <interval>', 'lifeline protocol: the heartbeat interval to propose, e.g. 2s')
    .action((host: string, portText: string, flags: ClientFlags) => runClient(host, portText, flags));
}

async function runClient(host: string, portText: string, flags: ClientFlags): Promise<void> {
  const port = parsePort(portText, 0);
  if (port === 0) throw new UsageError('invalid port "0": allowed 1 to 65535');
  const keepalive = keepAliveFromFlags(flags.keepalive, flags.userTimeout, DEFAULT_SUPERVISOR_KEEPALIVE);
  const heartbeat = parseHeartbeat(flags.heartbeat);
  if (parseProtocol(flags.protocol) === 'lifeline') return runProtocolClient(host, port, { json: flags.json ?? false, keepalive, heartbeat });
  if (heartbeat) throw new UsageError('--heartbeat needs --protocol lifeline');
  const client = new TcpClient({ host, port, keepalive });
  const event = (name: string, fields: object, human: string) => {
    process.stderr.write(`${flags.json ? jsonEvent(name, fields) : human}\n`);
  };
  client.on('connected', (connection) => {
    event('connected', connection, acceptedLine(connection, 'connected'));
    process.stdin.pipe(client.socket);
  });
  client.on('data', (chunk) => process.stdout.write(chunk));
  const dead = await new Promise<Parameters<typeof deadLine>[0]>((resolve) => client.once('dead', resolve));
  process.stdin.unpipe(client.socket);
  process.stdin.destroy();
  if (dead.id === 0 && (dead.code === 'ENOTFOUND' || dead.code === 'EAI_AGAIN')) throw addressError(Object.assign(new Error(dead.because), { code: dead.code }), `resolve ${host}`);
  event('dead', dead, deadLine(dead));
  const clean = dead.reason === DeathReasons.EOF || dead.reason === DeathReasons.LOCAL;
  process.exitCode = clean ? 0 : EXIT_PEER_DIED;
}

import { LifelineServer } from '../server/lifeline-server.js';
import type { KeepAliveOptions } from '../socket/options.js';
import { addressError } from './args.js';
import { jsonEvent } from './events.js';
import { metricsFor, serveUntilSignalled, type MetricsAddress } from './metrics-flag.js';

/** `lifeline server --protocol lifeline`: sessions, messages and disconnects, one line each. */
export async function runProtocolServer(
  host: string,
  port: number,
  options: { json: boolean; keepalive: KeepAliveOptions | false; heartbeat: { interval: number; timeout: number | null } | null; metrics?: MetricsAddress | null },
): Promise<void> {
  const heartbeat = options.heartbeat
    ? { interval: options.heartbeat.interval, min: Math.min(1000, options.heartbeat.interval), ...(options.heartbeat.timeout && { timeoutFactor: options.heartbeat.timeout / options.heartbeat.interval }) }
    : undefined;
  const metricsAddress = options.metrics ?? null;
  const metrics = metricsFor(metricsAddress);
  const server = new LifelineServer({ keepalive: options.keepalive, ...(heartbeat && { heartbeat }), ...(metrics && { metrics }) });
  const print = (event: string, fields: object, human: string) => process.stdout.write(`${options.json ? jsonEvent(event, fields) : human}\n`);
  server.on('session', (session) => print('session', session, `session ${session.session} from ${session.remote} (${session.resumed ? 'resumed' : 'new'}, heartbeat ${session.heartbeatIntervalMs} ms)`));
  server.on('message', ({ session, seq, data }) => {
    const text = data.toString('utf8');
    print('message', { session, seq, data: text }, `message ${session} #${seq} ${JSON.stringify(text)}`);
  });
  server.on('disconnect', (event) => print('disconnect', event, `disconnect ${event.remote}${event.session ? ` (session ${event.session} kept for resumption)` : ''}`));
  server.on('session-expired', (event) => print('session-expired', event, `session ${event.session} expired with ${event.unacknowledged} unacknowledged`));
  server.on('protocol-error', ({ remote, session, error }) => {
    print('protocol-error', { remote, session, code: (error as { code?: string }).code ?? null, message: error.message }, `protocol-error ${remote}: ${error.message}`);
  });
  let listening;
  try {
    listening = await server.listen(port, host);
  } catch (error) {
    throw addressError(error, `listen on ${host}:${port}`);
  }
  const address = listening.address();
  const bound = address && typeof address !== 'string' ? address : { address: host, port };
  print('listening', { address: bound.address, port: bound.port, protocol: 'lifeline' }, `listening ${bound.address}:${bound.port} (lifeline protocol)`);
  await serveUntilSignalled(server, { address: metricsAddress, metrics, title: `lifeline server ${bound.address}:${bound.port} (lifeline protocol)` }, print);
}

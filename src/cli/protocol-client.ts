import { createInterface } from 'node:readline';
import { Client } from '../client/client.js';
import type { KeepAliveOptions } from '../socket/options.js';
import { jsonEvent } from './events.js';

/**
 * `lifeline client --protocol lifeline`: each stdin line is one message; reconnects and resumes by itself; on end
 * of input it exits 0 only when every message was acknowledged (1 when it gave up).
 */
export async function runProtocolClient(
  host: string,
  port: number,
  options: { json: boolean; keepalive: KeepAliveOptions | false; heartbeat: { interval: number } | null },
): Promise<void> {
  const client = new Client({ host, port, keepalive: options.keepalive, ...(options.heartbeat && { heartbeatInterval: options.heartbeat.interval }) });
  const event = (name: string, fields: object, human: string) => process.stderr.write(`${options.json ? jsonEvent(name, fields) : human}\n`);
  client.on('connected', (e) => event('connected', e, `connected: session ${e.session} (${e.resumed ? `resumed, ${e.replayed} replayed` : 'new'}), heartbeat ${e.heartbeatIntervalMs} ms`));
  client.on('dead', (e) => event('dead', e, `dead: ${e.reason}${e.code ? ` (${e.code})` : ''}: ${e.detail}`));
  client.on('reconnecting', (e) => event('reconnecting', e, `reconnecting in ${e.inMs} ms (attempt ${e.attempt})`));
  client.on('session-lost', (e) => event('session-lost', e, `session ${e.session} lost: ${e.lost} messages not delivered`));
  client.on('goaway', (e) => event('goaway', e, `goaway ${e.name}: ${e.reason}`));
  client.on('message', ({ seq, data }) => process.stdout.write(options.json ? `${JSON.stringify({ seq, data: data.toString('utf8') })}\n` : `${data.toString('utf8')}\n`));
  let failures = 0;
  let gaveUp = false;
  client.on('gave-up', (e) => {
    gaveUp = true;
    event('gave-up', e, `gave up: ${e.reason}`);
  });
  client.connect();
  const sends: Promise<void>[] = [];
  for await (const line of createInterface({ input: process.stdin })) {
    sends.push(client.send(line).catch(() => void failures++));
  }
  await Promise.all(sends);
  if (!gaveUp && failures === 0) await client.end();
  else client.close();
  event('done', { sent: sends.length, failed: failures }, `done: ${sends.length - failures} of ${sends.length} messages acknowledged`);
  process.exitCode = gaveUp || failures > 0 ? 1 : 0;
}

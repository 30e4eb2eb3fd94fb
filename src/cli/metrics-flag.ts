import { isIP } from 'node:net';
import type { ConnectionSource } from '../server/connection-status.js';
import { LivenessMetrics, loadPromClient, type MetricsRegistry } from '../server/metrics.js';
import { StatusPage } from '../server/status-page.js';
import { addressError } from './args.js';
import { UsageError } from './usage-error.js';

export interface MetricsAddress {
  host: string;
  port: number;
}

/** `--metrics HOST:PORT`: `127.0.0.1:9464`, `[::1]:9464`, `localhost:0` (0: any free port). */
export function parseMetricsAddress(value: string | undefined): MetricsAddress | null {
  if (value === undefined) return null;
  const match = /^\[([0-9a-fA-F:.]+)\]:(\d{1,5})$/.exec(value) ?? /^([A-Za-z0-9.-]+):(\d{1,5})$/.exec(value);
  const host = match?.[1];
  const port = Number(match?.[2]);
  const hostOk = host !== undefined && (isIP(host) !== 0 || (!host.includes(':') && /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(host)));
  if (!match || !hostOk || !(port >= 0 && port <= 65_535)) {
    throw new UsageError(`invalid --metrics ${JSON.stringify(value)}: allowed HOST:PORT such as 127.0.0.1:9464 or [::1]:9464 (port 0 to 65535)`);
  }
  return { host: host as string, port };
}

/**
 * The metrics for a server command: a LivenessMetrics on a registry of its own (only lifeline's metrics),
 * or null without --metrics. Needs prom-client (ERR_LIFELINE_UNSUPPORTED says how to install it).
 */
export function metricsFor(address: MetricsAddress | null): LivenessMetrics | null {
  if (!address) return null;
  const client = loadPromClient();
  const Registry = client.Registry as new () => MetricsRegistry;
  return new LivenessMetrics({ registry: new Registry(), promClient: client });
}

export interface ServedStatusPage {
  page: StatusPage;
  address: string;
  port: number;
  /** `http://127.0.0.1:9464/` */
  url: string;
}

/** Starts the status page; returns it with the URL it serves, for the `metrics` line. */
export async function startStatusPage(address: MetricsAddress, metrics: LivenessMetrics, sources: ConnectionSource[], title: string): Promise<ServedStatusPage> {
  const page = new StatusPage({ metrics, sources, title });
  let bound;
  try {
    bound = await page.listen(address.port, address.host);
  } catch (error) {
    throw addressError(error, `serve metrics on ${address.host}:${address.port}`);
  }
  const host = bound.family === 'IPv6' || bound.address.includes(':') ? `[${bound.address}]` : bound.address;
  return { page, address: bound.address, port: bound.port, url: `http://${host}:${bound.port}/` };
}

/** What a server command serves until it is told to stop: the Supervisor or the LifelineServer. */
export interface ServingCommand extends ConnectionSource {
  close(): Promise<unknown>;
}

/**
 * The tail of both server commands: with --metrics, start the status page (closing the server if it cannot) and
 * print where it is; then serve until SIGINT or SIGTERM and close both.
 */
export async function serveUntilSignalled(
  server: ServingCommand,
  status: { address: MetricsAddress | null; metrics: LivenessMetrics | null; title: string },
  print: (event: string, fields: object, human: string) => void,
): Promise<void> {
  let served: ServedStatusPage | undefined;
  if (status.address && status.metrics) {
    try {
      served = await startStatusPage(status.address, status.metrics, [server], status.title);
    } catch (error) {
      await server.close();
      throw error;
    }
    print('metrics', { address: served.address, port: served.port, url: served.url }, `metrics ${served.url}metrics, status page ${served.url}`);
  }
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      void Promise.all([server.close(), served?.page.close()]).then(() => resolve());
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

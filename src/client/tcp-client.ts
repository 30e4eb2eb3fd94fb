import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';
import { systemClock, type Clock } from '../clock.js';
import { InvalidOptionError } from '../errors.js';
import { classifyDeath } from '../liveness/verdict.js';
import type { KeepAliveOptions } from '../socket/options.js';
import type { ConnectionSnapshot, DeadPeer } from '../socket/watched-connection.js';
import { Supervisor, DEFAULT_SUPERVISOR_KEEPALIVE } from '../server/supervisor.js';

export interface TcpClientOptions {
  host: string;
  port: number;
  /** Keepalive and user timeout for the connection; default DEFAULT_SUPERVISOR_KEEPALIVE, `false` for none. */
  keepalive?: KeepAliveOptions | false;
  clock?: Clock;
}

export interface TcpClientEvents {
  connected: [ConnectionSnapshot];
  data: [Buffer];
  /** The connection ended (or never came up): one reason with its evidence. Emitted exactly once. */
  dead: [DeadPeer];
}

/**
 * A plain TCP client with a keepalive policy that reports how the server died, with the same reasons and
 * evidence as the Supervisor. (Heartbeats, reconnects and resumable sessions are the protocol Client's job.)
 */
export class TcpClient extends EventEmitter<TcpClientEvents> {
  readonly socket: Socket;
  readonly #supervisor: Supervisor;
  #connected = false;

  constructor(options: TcpClientOptions) {
    super();
    const { host, port } = options;
    if (typeof host !== 'string' || host.length === 0) throw new InvalidOptionError('host', host, 'a host name or address');
    if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new InvalidOptionError('port', port, 'an integer from 1 to 65535');
    const clock = options.clock ?? systemClock;
    this.#supervisor = new Supervisor({ keepalive: options.keepalive ?? DEFAULT_SUPERVISOR_KEEPALIVE, clock });
    this.#supervisor.on('dead', (dead) => this.emit('dead', dead));
    this.#supervisor.on('warning', ({ error }) => this.socket.destroy(error));
    const startedAt = clock.now();
    // allowHalfOpen: after we end our side (stdin closed), the server may still have bytes for us.
    this.socket = connect({ host, port, allowHalfOpen: true });
    this.socket.on('data', (chunk: Buffer) => this.emit('data', chunk));
    // Half-open only in one direction: once the server has finished, so are we.
    this.socket.on('end', () => this.socket.end());
    this.socket.once('connect', () => {
      this.#connected = true;
      this.emit('connected', this.#supervisor.watch(this.socket).snapshot());
    });
    this.socket.once('error', (error: NodeJS.ErrnoException) => {
      if (this.#connected) return;
      const verdict = classifyDeath({ errorCode: error.code ?? null, peerEnded: false, closedLocally: false, atDeath: null, lastSample: null, pendingWriteBytes: 0 });
      this.emit('dead', {
        id: 0,
        remote: host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`,
        local: 'unknown',
        ...verdict,
        because: `could not connect: ${verdict.because}`,
        silentMs: Math.round(clock.now() - startedAt),
        lifetimeMs: 0,
        bytesIn: 0,
        bytesOut: 0,
        keepalive: null,
        tcpInfo: null,
      });
    });
  }

  write(data: string | Uint8Array): boolean {
    return this.socket.write(data);
  }

  /** Half-closes: sends FIN after what was written, and keeps reading until the server closes. */
  end(): void {
    this.socket.end();
  }

  /** Closes at once from our side (`local`). */
  close(): Promise<void> {
    return this.#supervisor.close();
  }
}

import type { WebSocket, WebSocketServer } from 'ws';
import { WebSocketHeartbeat } from '../../src/adapters/ws.js';
import type { Entry } from '../../src/adapters/transport-heartbeat.js';
import type { ArmSettings } from './arms.js';

/**
 * The liveness strategies of the benchmark over real `ws` WebSocket connections (issue 8): the same workload and
 * settings as arms.ts, but every connection is a `ws` server-side WebSocket and each arm works on it as its users
 * write it (ws.ping(), 'pong' listeners, terminate()). ws-server-worker.ts owns the connections; an arm only counts
 * its pings and its verdicts through the host, at the one place it pings and the one place it convicts.
 */
export const WsArmNames = {
  /** No liveness at all: the cost of the bare ws connections (and the baseline's loop delay). */
  WS_NONE: 'ws-none',
  /** The ws README recipe, as written there: one setInterval(period) over wss.clients, isAlive, ping, terminate. */
  WS_RECIPE: 'ws-readme',
  /** lifeline/ws (src/adapters/ws.ts): the heartbeat engine on ping/pong frames, any byte read is life. */
  LIFELINE_WS: 'lifeline-ws',
} as const;
export type WsArmName = (typeof WsArmNames)[keyof typeof WsArmNames];
export const ALL_WS_ARMS: readonly WsArmName[] = Object.values(WsArmNames);

/** The worst-case time from a peer's last byte to each arm's verdict, as configured; null: it never decides. */
export function configuredDetectionMs(arm: WsArmName, settings: ArmSettings): number | null {
  switch (arm) {
    case WsArmNames.WS_NONE:
      return null;
    case WsArmNames.WS_RECIPE:
      // The flag is checked every period: a peer that answered the last ping dies unseen for up to 2 periods.
      return 2 * settings.periodMs;
    case WsArmNames.LIFELINE_WS:
      // maxSilence (interval + timeout); the verdict comes then (as late as the timers run), never earlier.
      return settings.periodMs + settings.timeoutMs;
  }
}

/** A server-side WebSocket with the index the worker gave it (set for every arm: part of the baseline). */
export type BenchWebSocket = WebSocket & { benchIndex: number } & Record<string, unknown>;

/** What the server worker gives an arm. */
export interface WsArmHost {
  /** The WebSocketServer: `server.clients` is the recipe's wss.clients. */
  readonly server: WebSocketServer;
  readonly settings: ArmSettings;
  /** Connections this arm will see (for up-front allocation). */
  readonly expected: number;
  /** The arm is pinging this connection now (called where the arm calls ws.ping()). */
  countPing(ws: BenchWebSocket): void;
  /**
   * The arm judged this connection dead and terminates it (the host records when, and whether it was a victim).
   * `silentMs`: how long the arm itself had heard nothing, where it knows (lifeline-ws's verdict says so).
   */
  recordDeath(ws: BenchWebSocket, reason: string, silentMs?: number): void;
}

export interface WsLivenessArm {
  readonly name: WsArmName;
  /** Puts the arm on one open connection (the recipe's 'connection' handler; lifeline's add()). */
  install(ws: BenchWebSocket): void;
  /** Stops the arm; the connections stay open (the worker terminates them). */
  uninstall(): void;
}

export function createWsArm(name: WsArmName, host: WsArmHost): WsLivenessArm {
  switch (name) {
    case WsArmNames.WS_NONE:
      return { name, install: () => {}, uninstall: () => {} };
    case WsArmNames.WS_RECIPE:
      return wsRecipeArm(host);
    case WsArmNames.LIFELINE_WS:
      return lifelineWsArm(host);
  }
}

// The recipe's listener, shared by every connection, as in the README.
function heartbeat(this: WebSocket) {
  (this as BenchWebSocket).isAlive = true;
}

function wsRecipeArm(host: WsArmHost): WsLivenessArm {
  // The README's code; `ws.on('error', console.error)` is the worker's (every arm has an error listener). Two
  // additions, marked: the counters, and skipping connections the arm has not been installed on yet (the worker
  // installs arms spread over one period; in the README every connection is installed as it is accepted).
  const interval = setInterval(function ping() {
    host.server.clients.forEach(function each(client) {
      const ws = client as BenchWebSocket;
      if (ws.isAlive === undefined) return; // added: not installed yet
      if (ws.isAlive === false) {
        host.recordDeath(ws, 'ws-recipe-timeout'); // added
        return ws.terminate();
      }

      ws.isAlive = false;
      host.countPing(ws); // added
      ws.ping();
    });
  }, host.settings.periodMs);
  return {
    name: WsArmNames.WS_RECIPE,
    install(ws) {
      ws.isAlive = true;
      ws.on('pong', heartbeat);
    },
    uninstall() {
      clearInterval(interval);
    },
  };
}

/**
 * lifeline/ws, unchanged, except that its one place that pings (the protected sendPing) also counts the ping when
 * one went out. The adapter's metrics hook would count pings too, but it also keeps every connection in a Set and
 * calls the recorder on every open and close: it would add its own cost to the arm's.
 */
class CountingWebSocketHeartbeat extends WebSocketHeartbeat {
  readonly #host: WsArmHost;

  constructor(host: WsArmHost) {
    const { periodMs, timeoutMs, tickMs } = host.settings;
    super({ interval: periodMs, timeout: timeoutMs, tick: tickMs, keepalive: false, initialCapacity: host.expected });
    this.#host = host;
  }

  protected override sendPing(entry: Entry<WebSocket>, nonce: number): boolean {
    const sent = super.sendPing(entry, nonce);
    if (sent) this.#host.countPing(entry.conn as BenchWebSocket);
    return sent;
  }
}

function lifelineWsArm(host: WsArmHost): WsLivenessArm {
  const supervisor = new CountingWebSocketHeartbeat(host);
  // 'dead' comes after the adapter terminated the connection, in the same turn of the event loop.
  supervisor.on('dead', (dead) => host.recordDeath(dead.ws as BenchWebSocket, dead.reason, dead.silentMs));
  return {
    name: WsArmNames.LIFELINE_WS,
    install(ws) {
      supervisor.add(ws);
    },
    uninstall() {
      supervisor.close();
      supervisor.removeAllListeners();
    },
  };
}

/**
 * One client process of the liveness benchmark's `ws` transport: client-worker.ts's commands and replies over real
 * `ws` WebSocket clients. Opens connections to one ws-server-worker, lets ws answer every ping (autoPong), sends
 * application data on the busy ones, and on command "kills" the victims: each sends one last message and falls
 * silent, pongs included (main.ts then drops their packets with nft).
 */
import { WebSocket } from 'ws';
import { connectionSpecs, openAll, paceTraffic, type ConnectRequest } from './client-plan.js';
import { serve } from './ipc.js';
import { HelloFlags, MessageTypes, message, monotonicMs } from './wire.js';

type ClientWebSocket = WebSocket & { muted?: boolean };


let sockets: ClientWebSocket[] = [];
let busySockets: ClientWebSocket[] = [];
let victims: ClientWebSocket[] = [];
let trafficTimer: NodeJS.Timeout | undefined;
let errors = 0;

function onError() {
  errors++;
}

/**
 * A victim's pong, written by hand: ws sets autoPong only at construction, so victims are made with autoPong false
 * and answer here (as ws would: the ping's payload back) until they are killed.
 */
function answerPing(this: ClientWebSocket, data: Buffer) {
  if (!this.muted) this.pong(data);
}

/** The TCP socket under a WebSocket (ws keeps it in _socket; @types/ws does not declare it). */
function localKey(ws: ClientWebSocket): string {
  const socket = (ws as unknown as { _socket?: { localAddress?: string; localPort?: number } })._socket;
  return `${socket?.localAddress}:${socket?.localPort}`;
}

function open(url: string, localAddress: string | undefined, flags: number): Promise<ClientWebSocket> {
  return new Promise((resolve, reject) => {
    const isVictim = (flags & HelloFlags.VICTIM) !== 0;
    const ws: ClientWebSocket = new WebSocket(url, {
      perMessageDeflate: false,
      autoPong: !isVictim,
      ...(localAddress !== undefined && { localAddress }),
    });
    ws.once('error', reject);
    ws.once('open', () => {
      ws.removeListener('error', reject);
      ws.on('error', onError);
      if (isVictim) ws.on('ping', answerPing);
      ws.send(message(MessageTypes.HELLO, 0).fill(flags, 1, 2));
      resolve(ws);
    });
  });
}

serve({
  /** Opens the connections of connectionSpecs() and starts the busy ones' traffic. */
  async connect(request) {
    const plan = request as unknown as ConnectRequest;
    const specs = connectionSpecs(plan);
    errors = 0;
    sockets = await openAll(specs, (spec) => open(`ws://${plan.host}:${plan.port}`, spec.address, spec.flags));
    busySockets = sockets.filter((_, i) => specs[i]!.flags & HelloFlags.BUSY);
    victims = sockets.slice(plan.count);
    const data = message(MessageTypes.DATA, 0);
    trafficTimer = paceTraffic(busySockets, plan.busyEveryMs, (ws) => {
      if (!ws.muted && ws.readyState === WebSocket.OPEN) ws.send(data);
    });
    return { opened: sockets.length, busy: busySockets.length };
  },

  /** Each victim sends a last message and falls silent; returns, per victim, the moment before that message. */
  kill() {
    const killed: Record<string, number> = {};
    const last = message(MessageTypes.DATA, 0xdead);
    for (const ws of victims) {
      const at = monotonicMs();
      ws.muted = true;
      ws.send(last);
      killed[localKey(ws)] = at;
    }
    return killed;
  },

  teardown() {
    clearInterval(trafficTimer);
    for (const ws of sockets) ws.terminate();
    const result = { errors };
    sockets = [];
    busySockets = [];
    victims = [];
    return result;
  },
});

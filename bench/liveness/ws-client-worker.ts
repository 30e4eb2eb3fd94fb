/**
 * One client process of the liveness benchmark's `ws` transport: client-worker.ts's commands and replies over real
 * `ws` WebSocket clients. Opens connections to one ws-server-worker, lets ws answer every ping (autoPong), sends
 * application data on the busy ones, and on command "kills" the victims: each sends one last message and falls
 * silent, pongs included (main.ts then drops their packets with nft).
 */
import { WebSocket } from 'ws';
import { serve } from './ipc.js';
import { HelloFlags, MessageTypes, message, monotonicMs } from './wire.js';

type ClientWebSocket = WebSocket & { muted?: boolean };

const CONNECT_CONCURRENCY = 512;
const TRAFFIC_TICK_MS = 10;

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

async function openAll(specs: { address: string | undefined; flags: number }[], url: string) {
  const opened: ClientWebSocket[] = new Array<ClientWebSocket>(specs.length);
  let next = 0;
  const lane = async () => {
    while (next < specs.length) {
      const index = next++;
      const spec = specs[index]!;
      opened[index] = await open(url, spec.address, spec.flags);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONNECT_CONCURRENCY, specs.length) }, lane));
  return opened;
}

serve({
  /**
   * Opens `count` connections (every 1/busyFraction-th busy) and `victims` more from 127.250.<generation>.<lane + 1>,
   * the range main.ts blackholes.
   */
  async connect(request) {
    const { host, port, count, victims: victimCount, busyFraction, busyEveryMs, generation, lane } = request as unknown as {
      host: string; port: number; count: number; victims: number; busyFraction: number; busyEveryMs: number; generation: number; lane: number;
    };
    const specs: { address: string | undefined; flags: number }[] = [];
    const busyEvery = busyFraction > 0 ? Math.round(1 / busyFraction) : 0;
    for (let k = 0; k < count; k++) {
      // No bind, as client-worker.ts: connect() picks the port per destination in O(1).
      specs.push({ address: undefined, flags: busyEvery && k % busyEvery === 0 ? HelloFlags.BUSY : 0 });
    }
    for (let v = 0; v < victimCount; v++) {
      // Half the victims are busy until they die, half idle.
      specs.push({ address: `127.250.${generation}.${lane + 1}`, flags: HelloFlags.VICTIM | (v % 2 ? HelloFlags.BUSY : 0) });
    }
    errors = 0;
    sockets = await openAll(specs, `ws://${host}:${port}`);
    busySockets = sockets.filter((_, i) => specs[i]!.flags & HelloFlags.BUSY);
    victims = sockets.slice(count);
    // Every busy connection sends one message each busyEveryMs, spread evenly over the ticks (as client-worker.ts).
    let cursor = 0;
    let owed = 0;
    const data = message(MessageTypes.DATA, 0);
    trafficTimer = setInterval(() => {
      owed += (busySockets.length * TRAFFIC_TICK_MS) / busyEveryMs;
      for (; owed >= 1; owed--) {
        if (cursor >= busySockets.length) cursor = 0;
        const ws = busySockets[cursor++];
        if (ws && !ws.muted && ws.readyState === WebSocket.OPEN) ws.send(data);
      }
    }, TRAFFIC_TICK_MS);
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

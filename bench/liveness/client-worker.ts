/**
 * One client process of the liveness benchmark: opens connections to one server worker from its own loopback
 * source addresses, answers every ping at once, sends application data on the busy ones, and on command "kills"
 * the victims: each sends one last message and falls silent (main.ts then drops their packets with nft).
 */
import { connect, type Socket } from 'node:net';
import { serve } from './ipc.js';
import { HelloFlags, MESSAGE_BYTES, MessageTypes, message, monotonicMs } from './wire.js';

type ClientSocket = Socket & { muted?: boolean };

const CONNECT_CONCURRENCY = 512;
const TRAFFIC_TICK_MS = 10;

let sockets: ClientSocket[] = [];
let busySockets: ClientSocket[] = [];
let victims: ClientSocket[] = [];
let trafficTimer: NodeJS.Timeout | undefined;
let errors = 0;

function onData(this: ClientSocket, chunk: Buffer) {
  if (this.muted) return;
  for (let offset = 0; offset + MESSAGE_BYTES <= chunk.length; offset += MESSAGE_BYTES) {
    if (chunk[offset] === MessageTypes.PING) this.write(message(MessageTypes.PONG, chunk.readUInt32BE(offset + 4)));
  }
}

function onError() {
  errors++;
}

function open(host: string, port: number, localAddress: string | undefined, flags: number): Promise<ClientSocket> {
  return new Promise((resolve, reject) => {
    const socket: ClientSocket = connect({ host, port, noDelay: true, ...(localAddress !== undefined && { localAddress }) });
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.removeListener('error', reject);
      socket.on('error', onError);
      socket.on('data', onData);
      socket.write(message(MessageTypes.HELLO, 0).fill(flags, 1, 2));
      resolve(socket);
    });
  });
}

async function openAll(specs: { address: string | undefined; flags: number }[], host: string, port: number) {
  const opened: ClientSocket[] = new Array<ClientSocket>(specs.length);
  let next = 0;
  const lane = async () => {
    while (next < specs.length) {
      const index = next++;
      const spec = specs[index]!;
      opened[index] = await open(host, port, spec.address, spec.flags);
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
      // No bind: connect() picks the port per destination in O(1), while bind(port 0) on an address that already
      // holds thousands of ports searches the range (minutes for 17 000 connections).
      specs.push({ address: undefined, flags: busyEvery && k % busyEvery === 0 ? HelloFlags.BUSY : 0 });
    }
    for (let v = 0; v < victimCount; v++) {
      // Half the victims are busy until they die, half idle.
      specs.push({ address: `127.250.${generation}.${lane + 1}`, flags: HelloFlags.VICTIM | (v % 2 ? HelloFlags.BUSY : 0) });
    }
    errors = 0;
    sockets = await openAll(specs, host, port);
    busySockets = sockets.filter((_, i) => specs[i]!.flags & HelloFlags.BUSY);
    victims = sockets.slice(count);
    // Every busy connection sends one message each busyEveryMs, spread evenly over the ticks.
    let cursor = 0;
    let owed = 0;
    const data = message(MessageTypes.DATA, 0);
    trafficTimer = setInterval(() => {
      owed += (busySockets.length * TRAFFIC_TICK_MS) / busyEveryMs;
      for (; owed >= 1; owed--) {
        if (cursor >= busySockets.length) cursor = 0;
        const socket = busySockets[cursor++];
        if (socket && !socket.muted && !socket.destroyed) socket.write(data);
      }
    }, TRAFFIC_TICK_MS);
    return { opened: sockets.length, busy: busySockets.length };
  },

  /** Each victim sends a last message and falls silent; returns, per victim, the moment before that message. */
  kill() {
    const killed: Record<string, number> = {};
    const last = message(MessageTypes.DATA, 0xdead);
    for (const socket of victims) {
      const at = monotonicMs();
      socket.muted = true;
      socket.write(last);
      killed[`${socket.localAddress}:${socket.localPort}`] = at;
    }
    return killed;
  },

  teardown() {
    clearInterval(trafficTimer);
    for (const socket of sockets) socket.resetAndDestroy();
    const result = { errors };
    sockets = [];
    busySockets = [];
    victims = [];
    return result;
  },
});

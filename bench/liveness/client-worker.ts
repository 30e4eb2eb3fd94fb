/**
 * One client process of the liveness benchmark: opens connections to one server worker from its own loopback
 * source addresses, answers every ping at once, sends application data on the busy ones, and on command "kills"
 * the victims: each sends one last message and falls silent (main.ts then drops their packets with nft).
 */
import { connect, type Socket } from 'node:net';
import { connectionSpecs, openAll, paceTraffic, type ConnectRequest } from './client-plan.js';
import { serve } from './ipc.js';
import type { PingCheck } from './results.js';
import { HelloFlags, MESSAGE_BYTES, MessageTypes, fastMonotonicMs, message, monotonicMs, msBeforePing } from './wire.js';

/**
 * `lastDataAt` and `dataBeforeAt`: when this client last wrote data on the socket, and the time before that (a ping
 * read after a newer write was sent before it: its silence runs from the write before).
 */
type ClientSocket = Socket & { muted?: boolean; lastDataAt?: number; dataBeforeAt?: number | undefined };

const noPings = (): PingCheck => ({ afterData: 0, afterQuiet: 0, unknown: 0, shortestQuietMs: null });
/** The pings this client received on connections that send data, by how long they had been quiet when the ping left. */
let pingCheck = noPings();
let periodMs = 0;


let sockets: ClientSocket[] = [];
let busySockets: ClientSocket[] = [];
let victims: ClientSocket[] = [];
let trafficTimer: NodeJS.Timeout | undefined;
let errors = 0;

function onData(this: ClientSocket, chunk: Buffer) {
  if (this.muted) return;
  for (let offset = 0; offset + MESSAGE_BYTES <= chunk.length; offset += MESSAGE_BYTES) {
    if (chunk[offset] !== MessageTypes.PING) continue;
    if (this.lastDataAt !== undefined) checkPing(this, chunk, offset);
    this.write(message(MessageTypes.PONG, chunk.readUInt32BE(offset + 4)));
  }
}

/** Classifies a ping on a connection that sends data by the silence before it left the server. */
function checkPing(socket: ClientSocket, chunk: Buffer, offset: number) {
  let quiet = msBeforePing(chunk, offset, socket.lastDataAt!);
  if (quiet < 0 && socket.dataBeforeAt !== undefined) quiet = msBeforePing(chunk, offset, socket.dataBeforeAt);
  if (quiet < 0) {
    pingCheck.unknown++;
  } else if (quiet < periodMs) {
    pingCheck.afterData++;
    pingCheck.shortestQuietMs = Math.min(pingCheck.shortestQuietMs ?? quiet, quiet);
  } else {
    pingCheck.afterQuiet++;
  }
}

function sendData(socket: ClientSocket, data: Buffer) {
  if (socket.muted || socket.destroyed) return;
  socket.dataBeforeAt = socket.lastDataAt;
  socket.lastDataAt = fastMonotonicMs();
  socket.write(data);
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

serve({
  /** Opens the connections of connectionSpecs() and starts the busy ones' traffic. */
  async connect(request) {
    const plan = request as unknown as ConnectRequest;
    const specs = connectionSpecs(plan);
    errors = 0;
    periodMs = plan.periodMs;
    pingCheck = noPings();
    sockets = await openAll(specs, (spec) => open(plan.host, plan.port, spec.address, spec.flags));
    busySockets = sockets.filter((_, i) => specs[i]!.flags & HelloFlags.BUSY);
    victims = sockets.slice(plan.count);
    const data = message(MessageTypes.DATA, 0);
    trafficTimer = paceTraffic(busySockets, plan.busyEveryMs, (socket) => sendData(socket, data));
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

  /** The pings received on connections that send data since connect, by the silence before each (pingCheck). */
  pingCheck: () => pingCheck,

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

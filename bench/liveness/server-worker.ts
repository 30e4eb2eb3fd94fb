/**
 * One server process of the liveness benchmark: accepts the connections of one client worker, runs one arm at a
 * time on them, and measures what the arm costs this process (CPU, heap, RSS, event-loop delay, pings) and when
 * it declares each victim dead. Started by main.ts with --expose-gc and an IPC channel.
 */
import { createServer, type Server } from 'node:net';
import { createArm, type ArmHost, type ArmName, type ArmSettings, type BenchSocket, type LivenessArm } from './arms.js';
import { serve } from './ipc.js';
import { ArmRecord, settledMemory, spreadOver } from './worker-measure.js';
import { HelloFlags, MESSAGE_BYTES, MessageTypes, fastMonotonicMs, message, pingMessage } from './wire.js';

if (!(globalThis as { gc?: () => void }).gc) throw new Error('the server worker needs node --expose-gc');

let server: Server;
let sockets: (BenchSocket | undefined)[] = [];
let busy = new Uint8Array(0);
let victim = new Uint8Array(0);
/** Connections the current arm has been given (traffic on the others is not the arm's business yet). */
let installed = new Uint8Array(0);
/** Victims' remote address:port, kept because a closed socket no longer knows it. */
const victimKeys = new Map<number, string>();
let accepted = 0;
let hellos = 0;
let expected = 0;
let onAllHellos: (() => void) | null = null;
let arm: LivenessArm | null = null;
let settings: ArmSettings;
/** Bytes left over when a read ended inside a message (rare on loopback; kept per index). */
const partial = new Map<number, Buffer>();

const record = new ArmRecord();


const host: ArmHost = {
  get sockets() {
    return sockets;
  },
  get busy() {
    return busy;
  },
  get settings() {
    return settings;
  },
  get expected() {
    return expected;
  },
  sendPing(index, nonce) {
    const socket = sockets[index];
    if (!socket || socket.destroyed) return;
    socket.write(pingMessage(nonce, fastMonotonicMs()));
    // A victim was busy until it died; pinging it afterwards is right.
    record.countPing(busy[index] === 1 && !victim[index]);
  },
  declareDead(index, reason) {
    const socket = sockets[index];
    if (!socket) return;
    recordDeath(socket, reason);
    socket.destroy();
  },
};

function recordDeath(socket: BenchSocket, reason: string) {
  record.recordDeath(victimKeys.get(socket.benchIndex), () => `${socket.remoteAddress}:${socket.remotePort}`, reason);
}

function onData(this: BenchSocket, chunk: Buffer) {
  const index = this.benchIndex;
  const left = partial.get(index);
  if (left) {
    partial.delete(index);
    chunk = Buffer.concat([left, chunk]);
  }
  let offset = 0;
  for (; offset + MESSAGE_BYTES <= chunk.length; offset += MESSAGE_BYTES) {
    const type = chunk[offset];
    if (type === MessageTypes.DATA) {
      if (installed[index]) arm!.onData(index);
    } else if (type === MessageTypes.PONG) {
      if (installed[index]) arm!.onPong(index, chunk.readUInt32BE(offset + 4));
    } else if (type === MessageTypes.HELLO) {
      hello(this, chunk[offset + 1]!);
    }
  }
  if (offset < chunk.length) partial.set(index, chunk.subarray(offset));
}

function hello(socket: BenchSocket, flags: number) {
  const index = socket.benchIndex;
  busy[index] = flags & HelloFlags.BUSY ? 1 : 0;
  victim[index] = flags & HelloFlags.VICTIM ? 1 : 0;
  if (victim[index]) victimKeys.set(index, `${socket.remoteAddress}:${socket.remotePort}`);
  if (++hellos === expected && onAllHellos) onAllHellos();
}

function onError(this: BenchSocket, error: NodeJS.ErrnoException) {
  // The kernel's verdict (keepalive: ETIMEDOUT) or a reset during teardown (not recording then).
  recordDeath(this, error.code ?? 'error');
}

function onClose(this: BenchSocket) {
  // A socket of an earlier generation may close after the next one started: touch only our own slot.
  if (sockets[this.benchIndex] !== this) return;
  if (installed[this.benchIndex]) arm!.onClose(this.benchIndex);
  sockets[this.benchIndex] = undefined;
}

serve({
  async listen() {
    server = createServer({ noDelay: true });
    server.on('connection', (raw) => {
      const socket = raw as BenchSocket;
      const index = accepted++;
      socket.benchIndex = index;
      sockets[index] = socket;
      socket.on('data', onData);
      socket.on('error', onError);
      socket.on('close', onClose);
    });
    await new Promise<void>((resolve) => server.listen({ port: 0, host: '127.0.0.1', backlog: 65535 }, resolve));
    return (server.address() as { port: number }).port;
  },

  /** Prepares for `count` connections and answers once all of them said hello. */
  async expect(request) {
    expected = request.count as number;
    sockets = new Array<BenchSocket | undefined>(expected);
    busy = new Uint8Array(expected);
    victim = new Uint8Array(expected);
    installed = new Uint8Array(expected);
    victimKeys.clear();
    accepted = 0;
    hellos = 0;
    partial.clear();
    await new Promise<void>((resolve) => {
      onAllHellos = resolve;
    });
    onAllHellos = null;
    if (accepted !== expected) throw new Error(`accepted ${accepted}, expected ${expected}`);
    const warm = message(MessageTypes.WARM, 0);
    for (const socket of sockets) socket!.write(warm);
    // Let those writes complete: requests in flight are not the bare socket's state.
    await new Promise((resolve) => setTimeout(resolve, 200));
    return { accepted, busy: busy.reduce((a, b) => a + b, 0), victims: victim.reduce((a, b) => a + b, 0) };
  },

  memory: () => settledMemory(),

  /** Installs an arm on every connection, spread evenly over `spreadMs` as connections of a long-running server are. */
  async install(request) {
    settings = request.settings as ArmSettings;
    record.startArm();
    arm = createArm(request.arm as ArmName, host);
    const installedCount = await spreadOver(expected, request.spreadMs as number, (index) => {
      if (!sockets[index]) return;
      installed[index] = 1;
      arm!.install(index);
    });
    return { installed: installedCount };
  },

  /**
   * Destroys the victims the arm left open (none, io-floor and kernel keepalive on loopback do not convict them), so
   * that every arm's window follows the same destroyed sockets. Destroying a socket deoptimises Node's read and write
   * path at the next full GC (V8 drops code whose embedded objects died: 17 functions in lifeline's window at 1 000
   * with --trace-opt), and at 1 000 connections that path is re-optimised only seconds later: without this, arms that
   * convict paid for it in their window and io-floor, the floor they are measured against, did not.
   */
  reapVictims() {
    let reaped = 0;
    for (let index = 0; index < sockets.length; index++) {
      const socket = sockets[index];
      if (victim[index] && socket && !socket.destroyed) {
        socket.destroy();
        reaped++;
      }
    }
    return { reaped };
  },

  windowStart: () => record.windowStart(),

  windowEnd: () => record.windowEnd(),

  /** Ends the arm and resets every connection (RST: no TIME_WAIT to exhaust ports in later rounds). */
  teardown() {
    record.stopArm();
    arm?.uninstall();
    arm = null;
    installed = new Uint8Array(0);
    for (const socket of sockets) socket?.resetAndDestroy();
    sockets = [];
    partial.clear();
    return null;
  },
});

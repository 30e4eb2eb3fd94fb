/**
 * One server process of the liveness benchmark's `ws` transport: server-worker.ts's commands and replies over real
 * `ws` WebSocket connections. Accepts the connections of one ws-client-worker, runs one ws arm (ws-arms.ts) at a
 * time on them, and measures what the arm costs this process (CPU, heap, RSS, event-loop delay, pings) and when it
 * declares each victim dead. Started with --expose-gc and an IPC channel.
 *
 * Each client message is one binary WebSocket message carrying the 8-byte wire.ts format; the worker reads only
 * HELLO (busy and victim flags). The arms see traffic their own way: the recipe hears only pongs, lifeline/ws
 * every byte read from the socket.
 */
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { ArmSettings } from './arms.js';
import { serve } from './ipc.js';
import { ArmRecord, settledMemory, spreadOver } from './worker-measure.js';
import { HelloFlags, MESSAGE_BYTES, MessageTypes, message } from './wire.js';
import { createWsArm, type BenchWebSocket, type WsArmHost, type WsArmName, type WsLivenessArm } from './ws-arms.js';

if (!(globalThis as { gc?: () => void }).gc) throw new Error('the server worker needs node --expose-gc');

let server: WebSocketServer;
/** This generation's connections by index (the slot is cleared when that connection closes). */
let clients: (BenchWebSocket | undefined)[] = [];
let busy = new Uint8Array(0);
let victim = new Uint8Array(0);
/** Victims' remote address:port, kept because a closed socket no longer knows it. */
const victimKeys = new Map<number, string>();
let accepted = 0;
let hellos = 0;
let expected = 0;
let onAllHellos: (() => void) | null = null;
let arm: WsLivenessArm | null = null;
let settings: ArmSettings;
/** 'error' events on the WebSockets (protocol errors); reported by teardown. */
let errors = 0;

/** The arm's pings and verdicts (`silentMs` where the arm knows it: then latency - silentMs is the last message's way in). */
const record = new ArmRecord();

/** The TCP socket under a WebSocket (ws keeps it in _socket; @types/ws does not declare it). */
function socketOf(ws: BenchWebSocket): { remoteAddress?: string | undefined; remotePort?: number | undefined } | undefined {
  return (ws as unknown as { _socket?: { remoteAddress?: string; remotePort?: number } })._socket;
}

/** Whether this connection belongs to the current generation (a late one of the last round must not count). */
function current(ws: BenchWebSocket): boolean {
  return clients[ws.benchIndex] === ws;
}

const host: WsArmHost = {
  get server() {
    return server;
  },
  get settings() {
    return settings;
  },
  get expected() {
    return expected;
  },
  countPing(ws) {
    const index = ws.benchIndex;
    // A victim was busy until it died; pinging it afterwards is right.
    record.countPing(current(ws) && busy[index] === 1 && !victim[index]);
  },
  recordDeath(ws, reason, silentMs) {
    if (!current(ws)) return;
    const socket = socketOf(ws);
    record.recordDeath(victimKeys.get(ws.benchIndex), () => `${socket?.remoteAddress}:${socket?.remotePort}`, reason, silentMs);
  },
};

function onMessage(this: WebSocket, data: RawData, isBinary: boolean) {
  // binaryType is 'nodebuffer': a Buffer. DATA is the arms' business (lifeline/ws hears its bytes on the socket).
  const bytes = data as Buffer;
  if (!isBinary || bytes.length < MESSAGE_BYTES || bytes[0] !== MessageTypes.HELLO) return;
  hello(this as BenchWebSocket, bytes[1]!);
}

function hello(ws: BenchWebSocket, flags: number) {
  if (!current(ws)) return;
  const index = ws.benchIndex;
  busy[index] = flags & HelloFlags.BUSY ? 1 : 0;
  victim[index] = flags & HelloFlags.VICTIM ? 1 : 0;
  if (victim[index]) {
    const socket = socketOf(ws);
    victimKeys.set(index, `${socket?.remoteAddress}:${socket?.remotePort}`);
  }
  if (++hellos === expected && onAllHellos) onAllHellos();
}

function onError() {
  errors++;
}

function onClose(this: WebSocket) {
  // A connection of an earlier generation may close after the next one started: touch only our own slot.
  const ws = this as BenchWebSocket;
  if (current(ws)) clients[ws.benchIndex] = undefined;
}

serve({
  async listen() {
    server = new WebSocketServer({ host: '127.0.0.1', port: 0, backlog: 65535, perMessageDeflate: false, clientTracking: true });
    server.on('connection', (client) => {
      const ws = client as BenchWebSocket;
      const index = accepted++;
      ws.benchIndex = index;
      clients[index] = ws;
      ws.on('message', onMessage);
      ws.on('error', onError);
      ws.on('close', onClose);
    });
    await once(server, 'listening');
    return (server.address() as AddressInfo).port;
  },

  /** Prepares for `count` connections and answers once all of them are open and said hello. */
  async expect(request) {
    expected = request.count as number;
    clients = new Array<BenchWebSocket | undefined>(expected);
    busy = new Uint8Array(expected);
    victim = new Uint8Array(expected);
    victimKeys.clear();
    accepted = 0;
    hellos = 0;
    await new Promise<void>((resolve) => {
      onAllHellos = resolve;
    });
    onAllHellos = null;
    if (accepted !== expected) throw new Error(`accepted ${accepted}, expected ${expected}`);
    // As server-worker.ts: the first write's per-socket state belongs to the bare connection, not to the first pinger.
    const warm = message(MessageTypes.WARM, 0);
    for (const ws of clients) ws!.send(warm);
    // Let those writes complete: requests in flight are not the bare connection's state.
    await new Promise((resolve) => setTimeout(resolve, 200));
    return { accepted, busy: busy.reduce((a, b) => a + b, 0), victims: victim.reduce((a, b) => a + b, 0) };
  },

  memory: () => settledMemory(),

  /** Installs an arm on every connection, spread evenly over `spreadMs` as connections of a long-running server are. */
  async install(request) {
    settings = request.settings as ArmSettings;
    record.startArm();
    arm = createWsArm(request.arm as WsArmName, host);
    const installedCount = await spreadOver(expected, request.spreadMs as number, (index) => {
      const ws = clients[index];
      if (ws) arm!.install(ws);
    });
    return { installed: installedCount };
  },

  windowStart: () => record.windowStart(),

  windowEnd: () => record.windowEnd(),

  /** Ends the arm and terminates every connection (ws.terminate(): the socket is destroyed, no close handshake). */
  teardown() {
    record.stopArm();
    arm?.uninstall();
    arm = null;
    const old = clients;
    // Cleared first: the old connections' 'close' events (now or later) find no slot of theirs.
    clients = [];
    for (const ws of old) ws?.terminate();
    const result = { errors };
    errors = 0;
    return result;
  },
});

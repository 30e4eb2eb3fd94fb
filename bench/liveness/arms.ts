import type { Socket } from 'node:net';
import { HeartbeatEngine, type HeartbeatHandle } from '../../src/liveness/heartbeat.js';
import { DEFAULT_HEARTBEAT_OPTIONS } from '../../src/liveness/heartbeat-options.js';
import { setKeepAlive } from '../../src/socket/keepalive.js';

/**
 * The liveness strategies the benchmark compares, each written the way its users write it, on the same sockets
 * and the same wire format (wire.ts). The server worker owns the sockets and parses every message; an arm only
 * hears `onData` / `onPong` and decides when to ping and when a connection is dead.
 */
export const ArmNames = {
  /** No liveness at all: the baseline that heap, RSS and event-loop delay are measured against. */
  NONE: 'none',
  /** lifeline keepalive only (idle = period): the floor for userspace cost; the kernel probes. */
  KERNEL: 'kernel',
  /** Pings only the idle connections, one each per period, spread evenly; no bookkeeping, no verdicts: the cost of the I/O itself. */
  IO_FLOOR: 'io-floor',
  /** The `ws` README recipe: one setInterval over all connections, an isAlive flag, a ping to every one. */
  WS_RECIPE: 'ws-recipe',
  /** engine.io style: a ping timer and a timeout timer per connection, re-armed on traffic. */
  PER_SOCKET_TIMERS: 'per-socket-timers',
  /** Node's socket.setTimeout(period): a ping on the first timeout, close on the next. */
  SOCKET_TIMEOUT: 'socket-timeout',
  /** lifeline's heartbeat engine: one timing wheel, typed arrays, pings only to silent connections. */
  LIFELINE: 'lifeline',
  /**
   * io-floor again, last in the round: two identical arms, so the difference between them is how finely that round
   * resolves any difference between arms (machine noise and drift over the round), not a property of either.
   */
  IO_FLOOR_AGAIN: 'io-floor-again',
} as const;
export type ArmName = (typeof ArmNames)[keyof typeof ArmNames];
export const ALL_ARMS: readonly ArmName[] = Object.values(ArmNames);

export interface ArmSettings {
  /** P: the longest silence before a ping (and the recipe's setInterval). */
  periodMs: number;
  /** How long a ping waits for an answer (per-socket timers, lifeline). */
  timeoutMs: number;
  /** lifeline's wheel tick (pings go out at the end of the tick they fall due in) and io-floor's pacing. */
  tickMs: number;
  /** Kernel keepalive for the kernel arm, in ms (whole seconds). */
  keepalive: { idle: number; interval: number; count: number };
}

/** The worst-case time from a peer's last byte to each arm's verdict, as configured; null: it never decides. */
export function configuredDetectionMs(arm: ArmName, settings: ArmSettings): number | null {
  const { periodMs, timeoutMs, keepalive } = settings;
  switch (arm) {
    case ArmNames.KERNEL:
      return keepalive.idle + keepalive.interval * keepalive.count;
    case ArmNames.NONE:
    case ArmNames.IO_FLOOR:
    case ArmNames.IO_FLOOR_AGAIN:
      return null;
    case ArmNames.WS_RECIPE:
      // The flag is checked every period: a peer that answered the last ping dies unseen for up to 2 periods.
      return 2 * periodMs;
    case ArmNames.PER_SOCKET_TIMERS:
    case ArmNames.LIFELINE:
      return periodMs + timeoutMs;
    case ArmNames.SOCKET_TIMEOUT:
      // Node refreshes the timeout on every read and write: the ping written at P re-arms it for another P.
      return 2 * periodMs;
  }
}

/** What the server worker gives an arm. */
export interface ArmHost {
  readonly sockets: readonly (BenchSocket | undefined)[];
  readonly busy: Uint8Array;
  readonly settings: ArmSettings;
  /** Connections this arm will see (for up-front allocation). */
  readonly expected: number;
  sendPing(index: number, nonce: number): void;
  /** The arm judged the connection dead: the host records it and terminates the socket. */
  declareDead(index: number, reason: string): void;
}

export interface LivenessArm {
  readonly name: ArmName;
  install(index: number): void;
  onData(index: number): void;
  onPong(index: number, nonce: number): void;
  /** The connection closed (by a verdict, the kernel or teardown). */
  onClose(index: number): void;
  uninstall(): void;
}

/** A server socket with the index the worker gave it (set for every arm, so it is part of the baseline). */
export type BenchSocket = Socket & { benchIndex: number } & Record<string, unknown>;

export function createArm(name: ArmName, host: ArmHost): LivenessArm {
  switch (name) {
    case ArmNames.NONE:
      return { name, install: nothing, onData: nothing, onPong: nothing, onClose: nothing, uninstall: nothing };
    case ArmNames.KERNEL:
      return kernelArm(host);
    case ArmNames.IO_FLOOR:
    case ArmNames.IO_FLOOR_AGAIN:
      return ioFloorArm(host, name);
    case ArmNames.WS_RECIPE:
      return wsRecipeArm(host);
    case ArmNames.PER_SOCKET_TIMERS:
      return perSocketTimersArm(host);
    case ArmNames.SOCKET_TIMEOUT:
      return socketTimeoutArm(host);
    case ArmNames.LIFELINE:
      return lifelineArm(host);
  }
}

const nothing = () => {};
/**
 * The heartbeat engine's slices write at most sliceSize / 16 = 64 pings (heartbeat.ts PING_STEPS) and end after
 * sliceTime (1 ms by default), then resume through a zero-delay timer.
 */
const IO_FLOOR_PINGS_PER_TURN = 64;
const IO_FLOOR_SLICE_MS = DEFAULT_HEARTBEAT_OPTIONS.sliceTime;

function kernelArm(host: ArmHost): LivenessArm {
  const { idle, interval, count } = host.settings.keepalive;
  return {
    name: ArmNames.KERNEL,
    // The kernel's verdict reaches the worker as the socket's ETIMEDOUT error.
    install: (index) => void setKeepAlive(host.sockets[index]!, { idle, interval, count }),
    onData: nothing,
    onPong: nothing,
    onClose: nothing,
    uninstall: nothing,
  };
}

function ioFloorArm(host: ArmHost, name: typeof ArmNames.IO_FLOOR | typeof ArmNames.IO_FLOOR_AGAIN): LivenessArm {
  const idle: number[] = [];
  let cursor = 0;
  let owed = 0;
  const { periodMs, tickMs } = host.settings;
  // Paced like lifeline's sweeps: at most 64 pings and 1 ms per turn of the event loop, resumed by a zero-delay timer,
  // so that the floor's I/O pattern (and its batching of pongs) is the same and only the bookkeeping differs.
  const slice = () => {
    const ends = performance.now() + IO_FLOOR_SLICE_MS;
    let budget = IO_FLOOR_PINGS_PER_TURN;
    for (; owed >= 1 && budget > 0; owed--, budget--) {
      if (idle.length === 0) break;
      if (cursor >= idle.length) cursor = 0;
      const index = idle[cursor++]!;
      if (host.sockets[index]) {
        host.sendPing(index, 0);
        if (performance.now() >= ends) budget = 1;
      }
    }
    if (owed >= 1 && idle.length > 0) setTimeout(slice, 0);
  };
  const timer = setInterval(() => {
    // Each idle connection once per period, in equal shares per tick.
    const pending = owed >= 1;
    owed += (idle.length * tickMs) / periodMs;
    if (!pending) slice();
  }, tickMs);
  return {
    name,
    install: (index) => void (host.busy[index] ? undefined : idle.push(index)),
    onData: nothing,
    onPong: nothing,
    onClose: nothing,
    uninstall: () => {
      clearInterval(timer);
      owed = 0;
    },
  };
}

function wsRecipeArm(host: ArmHost): LivenessArm {
  // As in the ws README: `ws.isAlive = true` on connection and on 'pong'; every 30 s (here: the period) terminate
  // those still false, then set false and ping everyone. `clients` stands for wss.clients.
  const clients = new Set<BenchSocket>();
  const interval = setInterval(function ping() {
    clients.forEach(function each(ws) {
      if (ws.isAlive === false) return host.declareDead(ws.benchIndex, 'ws-recipe-timeout');
      ws.isAlive = false;
      host.sendPing(ws.benchIndex, 0);
    });
  }, host.settings.periodMs);
  return {
    name: ArmNames.WS_RECIPE,
    install(index) {
      const ws = host.sockets[index]!;
      ws.isAlive = true;
      clients.add(ws);
    },
    onData: nothing,
    onPong(index) {
      host.sockets[index]!.isAlive = true;
    },
    onClose(index) {
      const ws = host.sockets[index];
      if (ws) clients.delete(ws);
    },
    uninstall() {
      clearInterval(interval);
      clients.clear();
    },
  };
}

function perSocketTimersArm(host: ArmHost): LivenessArm {
  const { periodMs, timeoutMs } = host.settings;
  // engine.io's shape: schedulePing() arms a ping timer; sending the ping arms the timeout; traffic re-arms both.
  const schedulePing = (socket: BenchSocket) => {
    socket.pingIntervalTimer = setTimeout(() => {
      host.sendPing(socket.benchIndex, 0);
      socket.pingTimeoutTimer = setTimeout(() => host.declareDead(socket.benchIndex, 'ping-timeout'), timeoutMs);
    }, periodMs);
  };
  const traffic = (index: number) => {
    const socket = host.sockets[index]!;
    clearTimeout(socket.pingTimeoutTimer as NodeJS.Timeout | undefined);
    clearTimeout(socket.pingIntervalTimer as NodeJS.Timeout | undefined);
    schedulePing(socket);
  };
  const stop = (socket: BenchSocket | undefined) => {
    if (!socket) return;
    clearTimeout(socket.pingTimeoutTimer as NodeJS.Timeout | undefined);
    clearTimeout(socket.pingIntervalTimer as NodeJS.Timeout | undefined);
  };
  return {
    name: ArmNames.PER_SOCKET_TIMERS,
    install: (index) => schedulePing(host.sockets[index]!),
    onData: traffic,
    onPong: traffic,
    onClose: (index) => stop(host.sockets[index]),
    uninstall: () => host.sockets.forEach(stop),
  };
}

function socketTimeoutArm(host: ArmHost): LivenessArm {
  function onTimeout(this: BenchSocket) {
    if (this.awaitingPong === true) return host.declareDead(this.benchIndex, 'socket-timeout');
    this.awaitingPong = true;
    host.sendPing(this.benchIndex, 0);
  }
  const clear = (index: number) => {
    host.sockets[index]!.awaitingPong = false;
  };
  return {
    name: ArmNames.SOCKET_TIMEOUT,
    install(index) {
      const socket = host.sockets[index]!;
      socket.awaitingPong = false;
      socket.setTimeout(host.settings.periodMs);
      socket.on('timeout', onTimeout);
    },
    onData: clear,
    onPong: clear,
    onClose: nothing,
    uninstall() {
      for (const socket of host.sockets) {
        if (!socket) continue;
        socket.setTimeout(0);
        socket.removeListener('timeout', onTimeout);
      }
    },
  };
}

function lifelineArm(host: ArmHost): LivenessArm {
  const { periodMs, timeoutMs, tickMs } = host.settings;
  const engine = new HeartbeatEngine<number>({
    interval: periodMs,
    timeout: timeoutMs,
    tick: tickMs,
    initialCapacity: host.expected,
    sendPing: (index, nonce) => host.sendPing(index, nonce),
  });
  engine.on('dead', (peer) => host.declareDead(peer.id, peer.reason));
  const handles = new Uint32Array(host.expected);
  return {
    name: ArmNames.LIFELINE,
    install(index) {
      handles[index] = engine.add(index);
    },
    onData(index) {
      engine.touch(handles[index]! as HeartbeatHandle);
    },
    onPong(index, nonce) {
      engine.pong(handles[index]! as HeartbeatHandle, nonce);
    },
    onClose(index) {
      engine.remove(handles[index]! as HeartbeatHandle);
    },
    uninstall() {
      engine.clear();
      engine.removeAllListeners();
    },
  };
}

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { HeartbeatEngine, type HeartbeatHandle } from '../../src/liveness/heartbeat.js';

/**
 * Real sockets and the real clock: the server's event loop is stuck in an I/O callback while a peer's bytes arrive,
 * and the engine's timer falls due meanwhile. Node runs due timers before it polls for I/O, so without the alarm's
 * read-first turn the engine would act on the connection before reading what the peer sent during the stall.
 *
 * The peer is a worker thread (its own event loop, so it keeps writing while the server's is stuck). Messages are
 * 5 bytes: a type and a 32-bit number. The peer sends 'd' (data), answers 'P' (ping) with 'Q' (pong) after
 * `pongDelayMs`, and on its second connection sends 'B' once (half-way between its data writes number `blockAfterWrites` and the next, or on the first ping), which makes the server busy-wait `blockMs`.
 */
const PEER = `
const { connect } = require('node:net');
const { workerData, parentPort } = require('node:worker_threads');
const { port, dataEveryMs, dataForMs, pongDelayMs, blockAfterWrites, blockOnPing } = workerData;
const main = connect(port, '127.0.0.1');
const blocker = connect(port, '127.0.0.1');
let blockedOnce = false;
const block = () => blocker.write(Buffer.from([0x42, 0, 0, 0, 0]));
main.on('data', (chunk) => {
  for (let at = 0; at + 5 <= chunk.length; at += 5) {
    if (chunk[at] !== 0x50) continue;
    const pong = Buffer.from(chunk.subarray(at, at + 5));
    pong[0] = 0x51;
    if (blockOnPing && !blockedOnce) {
      blockedOnce = true;
      block();
    }
    setTimeout(() => main.write(pong), pongDelayMs);
  }
});
main.on('connect', () => {
  if (dataEveryMs > 0) {
    const started = Date.now();
    let writes = 0;
    const timer = setInterval(() => {
      main.write(Buffer.from([0x64, 0, 0, 0, 0]));
      // Half-way between two writes: the server has read the one before and the next arrives while it is stuck.
      if (++writes === blockAfterWrites) setTimeout(block, dataEveryMs / 2);
      if (Date.now() - started >= dataForMs) clearInterval(timer);
    }, dataEveryMs);
  }
});
parentPort.on('message', () => { main.destroy(); blocker.destroy(); parentPort.close(); });
`;

interface Scenario {
  engine: { interval: number; timeout: number; tick: number };
  peer: { dataEveryMs: number; dataForMs: number; pongDelayMs: number; blockAfterWrites: number; blockOnPing: boolean };
  blockMs: number;
  /** How long the test watches, from the first connection. */
  watchMs: number;
}

async function run(scenario: Scenario) {
  const pings: number[] = [];
  const dead: string[] = [];
  let blocked = 0;
  const sockets: Socket[] = [];
  const engine = new HeartbeatEngine<Socket>({
    ...scenario.engine,
    jitter: 0,
    stallThreshold: false,
    sendPing: (socket, nonce) => {
      pings.push(nonce);
      const ping = Buffer.alloc(5);
      ping[0] = 0x50;
      ping.writeUInt32BE(nonce >>> 0, 1);
      socket.write(ping);
    },
  });
  engine.on('dead', (event) => dead.push(event.reason));
  const server = createServer((socket) => {
    sockets.push(socket);
    // The first connection is the one watched; the second only asks the server to block.
    const handle: HeartbeatHandle | null = sockets.length === 1 ? engine.add(socket) : null;
    socket.on('data', (chunk) => {
      for (let at = 0; at + 5 <= chunk.length; at += 5) {
        const type = chunk[at];
        if (type === 0x42) {
          blocked++;
          const until = performance.now() + scenario.blockMs;
          while (performance.now() < until); // stuck in an I/O callback, as a busy server is
        } else if (handle !== null && type === 0x64) {
          engine.touch(handle);
        } else if (handle !== null && type === 0x51) {
          engine.pong(handle, chunk.readUInt32BE(at + 1));
        }
      }
    });
    socket.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  const peer = new Worker(PEER, { eval: true, workerData: { port, ...scenario.peer } });
  let size: number;
  try {
    await new Promise((resolve) => setTimeout(resolve, scenario.watchMs));
    size = engine.size;
  } finally {
    const exited = once(peer, 'exit');
    peer.postMessage('stop');
    await exited;
    engine.clear();
    for (const socket of sockets) socket.destroy();
    server.close();
  }
  return { pings, dead, blocked, size };
}

test('read first: a busy connection whose data arrived while the loop was stuck is not pinged after the stall', async () => {
  // Data every 40 ms, never 300 ms apart on the wire; the server is stuck for 700 ms from 20 ms after the 4th, so the
  // connection's ping (due 300 ms after the last data read) falls due inside the stall, with 17 messages waiting.
  const result = await run({
    engine: { interval: 300, timeout: 600, tick: 25 },
    peer: { dataEveryMs: 40, dataForMs: 1600, pongDelayMs: 0, blockAfterWrites: 4, blockOnPing: false },
    blockMs: 700,
    watchMs: 1500,
  });
  assert.equal(result.blocked, 1, 'the server was stuck once');
  assert.deepEqual(result.pings, [], 'no ping: the data that arrived during the stall is read before the sweep');
  assert.deepEqual(result.dead, []);
});

test('read first: a pong that arrived while the loop was stuck past the deadline is read before the verdict', async () => {
  // No data: a ping at 200 ms of silence, a deadline at 500. The peer asks the server to block for 700 ms as soon as
  // the ping arrives, and answers it 100 ms later: the pong waits in the kernel while the deadline passes.
  const result = await run({
    engine: { interval: 200, timeout: 300, tick: 25 },
    peer: { dataEveryMs: 0, dataForMs: 0, pongDelayMs: 100, blockAfterWrites: 0, blockOnPing: true },
    blockMs: 700,
    watchMs: 1200,
  });
  assert.equal(result.blocked, 1, 'the server was stuck once');
  assert.ok(result.pings.length >= 1, 'the engine pinged the silent connection');
  assert.deepEqual(result.dead, [], 'no verdict: the pong that came during the stall is read before the deadline is judged');
  assert.equal(result.size, 1);
});

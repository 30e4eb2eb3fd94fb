import { HelloFlags } from './wire.js';

/**
 * What both client workers (raw TCP and ws) do alike: which connections to open, opening them a few hundred at a
 * time, and pacing the busy ones' traffic. The transports differ only in how a connection is opened and written.
 */

export interface ConnectRequest {
  host: string;
  port: number;
  count: number;
  victims: number;
  busyFraction: number;
  busyEveryMs: number;
  /** P: a ping that left less than this after the connection's last data was one the issue says must not be sent. */
  periodMs: number;
  generation: number;
  lane: number;
}

export interface ConnectionSpec {
  /** Bound source address (victims only); undefined lets connect() pick the port per destination in O(1), where
   * bind(port 0) on an address already holding thousands of ports searches the range (minutes at 17 000). */
  address: string | undefined;
  flags: number;
}

/** `count` connections, every 1/busyFraction-th busy, then `victims` from 127.250.<generation>.<lane + 1> (the range main.ts cuts), half of them busy. */
export function connectionSpecs(request: ConnectRequest): ConnectionSpec[] {
  const specs: ConnectionSpec[] = [];
  const busyEvery = request.busyFraction > 0 ? Math.round(1 / request.busyFraction) : 0;
  for (let k = 0; k < request.count; k++) specs.push({ address: undefined, flags: busyEvery && k % busyEvery === 0 ? HelloFlags.BUSY : 0 });
  for (let v = 0; v < request.victims; v++) {
    specs.push({ address: `127.250.${request.generation}.${request.lane + 1}`, flags: HelloFlags.VICTIM | (v % 2 ? HelloFlags.BUSY : 0) });
  }
  return specs;
}

const CONNECT_CONCURRENCY = 512;

/** Opens every spec, CONNECT_CONCURRENCY at a time; the result is in spec order. */
export async function openAll<C>(specs: readonly ConnectionSpec[], open: (spec: ConnectionSpec) => Promise<C>): Promise<C[]> {
  const opened = new Array<C>(specs.length);
  let next = 0;
  const lane = async () => {
    while (next < specs.length) {
      const index = next++;
      opened[index] = await open(specs[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONNECT_CONCURRENCY, specs.length) }, lane));
  return opened;
}

const TRAFFIC_TICK_MS = 10;

/**
 * Every connection in `busy` gets `send` once every busyEveryMs, spread evenly over 10 ms ticks. Returns the timer.
 *
 * What is owed grows with the time elapsed, not with the number of ticks: the clients run at nice 19, and while the
 * servers took both cores their 10 ms timer ran far apart. Counted per tick, the busy connections then sent less
 * often than every busyEveryMs, went silent for whole periods, and the arms rightly pinged them (tens of thousands of
 * pings to "busy" connections at 100 000). A late tick catches up, but sends to each connection at most once.
 */
export function paceTraffic<C>(busy: readonly C[], busyEveryMs: number, send: (connection: C) => void, now: () => number = () => performance.now()): NodeJS.Timeout {
  let cursor = 0;
  let owed = 0;
  let last = now();
  return setInterval(() => {
    const at = now();
    owed = Math.min(busy.length, owed + (busy.length * (at - last)) / busyEveryMs);
    last = at;
    for (; owed >= 1; owed--) {
      if (cursor >= busy.length) cursor = 0;
      const connection = busy[cursor++];
      if (connection !== undefined) send(connection);
    }
  }, TRAFFIC_TICK_MS);
}

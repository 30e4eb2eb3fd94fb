/**
 * A pure parser of Linux's /proc/net/tcp and /proc/net/tcp6: text in, records out, no I/O.
 *
 * What the kernel prints, and from where (net/ipv4/tcp_ipv4.c get_tcp4_sock, get_openreq4, get_timewait4_sock;
 * net/ipv6/tcp_ipv6.c get_tcp6_sock and friends print the same columns with 128-bit addresses):
 *
 * ```
 *   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
 *    0: 0100007F:1F90 0100007F:D2F0 01 00000000:00000000 02:00000BB8 00000000     0        0 5121 ...
 * ```
 * - `local_address`, `rem_address`: the address as the kernel holds it (network byte order) printed as host
 *   integers with %08X, one 32-bit word at a time: on a little-endian machine each 4-byte word reads backwards
 *   (127.0.0.1 is `0100007F`). Ports are printed after ntohs, so they read straight.
 * - `st`: the TCP state (include/net/tcp_states.h). A TIME_WAIT mini socket prints its substate, which is
 *   FIN_WAIT2 (05) for an orphan closed in FIN_WAIT2 and TIME_WAIT (06) otherwise; both carry timer 3.
 * - `tx_queue`: write_seq - snd_una, bytes written by the application and not yet acknowledged.
 *   `rx_queue`: rcv_nxt - copied_seq, bytes received and not yet read; for a LISTEN socket the accept backlog.
 * - `tr`: which timer is pending: 0 none, 1 retransmit (also the RACK reorder timer and the tail loss probe, and
 *   the SYN-ACK timer of a request socket), 2 sk_timer (keepalive; FIN_WAIT2 timeout for an orphan), 3 TIME_WAIT,
 *   4 zero-window probe. The retransmit and zero-window timers win over keepalive: a socket with data in flight
 *   shows 1 even when keepalive is on.
 * - `tm->when`: time until that timer fires, in clock ticks (jiffies_delta_to_clock_t: USER_HZ, 100 a second on
 *   every architecture Linux still builds), 0 when no timer runs or it is overdue.
 * - `retrnsmt`: icsk_retransmits (num_timeout of a request socket: SYN-ACKs resent).
 * - `uid`: the owner's uid (0 for TIME_WAIT, which has no owner).
 * - `timeout`: icsk_probes_out, keepalive or zero-window probes sent and not answered.
 * - `inode`: the socket's inode, the link to /proc/<pid>/fd (0 for TIME_WAIT and request sockets).
 * - Full sockets then print: refcount, the kernel address (%pK), rto and ato (clock ticks), quick-ack count << 1
 *   | pingpong, snd_cwnd, and snd_ssthresh (-1 in initial slow start; for LISTEN: the TCP Fast Open queue limit).
 *   TIME_WAIT and request sockets print only refcount and the address.
 */

/** TCP states by the code the kernel prints (include/net/tcp_states.h). */
export const TCP_STATE_CODES = {
  1: 'ESTABLISHED',
  2: 'SYN_SENT',
  3: 'SYN_RECV',
  4: 'FIN_WAIT1',
  5: 'FIN_WAIT2',
  6: 'TIME_WAIT',
  7: 'CLOSE',
  8: 'CLOSE_WAIT',
  9: 'LAST_ACK',
  10: 'LISTEN',
  11: 'CLOSING',
  12: 'NEW_SYN_RECV',
} as const;

export type TcpState = (typeof TCP_STATE_CODES)[keyof typeof TCP_STATE_CODES];
export const TCP_STATES = Object.values(TCP_STATE_CODES) as readonly TcpState[];

/** The `tr` column by name. */
export const TcpTimers = {
  NONE: 'none',
  RETRANSMIT: 'retransmit',
  KEEPALIVE: 'keepalive',
  TIME_WAIT: 'time-wait',
  ZERO_WINDOW_PROBE: 'zero-window-probe',
} as const;

export type TcpTimer = (typeof TcpTimers)[keyof typeof TcpTimers];
const TIMER_CODES: readonly TcpTimer[] = ['none', 'retransmit', 'keepalive', 'time-wait', 'zero-window-probe'];

/** One line of /proc/net/tcp or tcp6. Durations in milliseconds. */
export interface ProcTcpSocket {
  /** 4 for /proc/net/tcp, 6 for tcp6 (whose addresses may be IPv4-mapped, `::ffff:127.0.0.1`). */
  family: 4 | 6;
  /** `socket` (a full socket), `time-wait` (the TIME_WAIT mini socket), `request` (a SYN_RECV request socket). */
  kind: 'socket' | 'time-wait' | 'request';
  /** The `sl` column: the line's index in the kernel's walk. */
  slot: number;
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  state: TcpState;
  stateCode: number;
  /** Bytes written and not yet acknowledged by the peer (write_seq - snd_una). */
  txQueue: number;
  /** Bytes received and not yet read by the application; for LISTEN, connections waiting in the accept queue. */
  rxQueue: number;
  timer: TcpTimer;
  timerCode: number;
  /** Time until the timer fires (0 with no timer). Resolution 1000 / USER_HZ = 10 ms. */
  timerMs: number;
  /** icsk_retransmits: consecutive retransmission timeouts without progress. */
  retransmits: number;
  /** The owner's uid; null for TIME_WAIT (the kernel prints 0: a mini socket has no owner). */
  uid: number | null;
  /** icsk_probes_out: keepalive or zero-window probes sent and unanswered (the `timeout` column). */
  probes: number;
  /** The socket inode (`socket:[inode]` in /proc/<pid>/fd); 0 for TIME_WAIT and request sockets. */
  inode: number;
  refcount: number;
  /** The retransmission timeout, ms (full sockets only). */
  rtoMs: number | null;
  /** The delayed-ACK timeout, ms (full sockets only). */
  atoMs: number | null;
  /** Quick-ACK segments left (full sockets only). */
  quickAcks: number | null;
  /** Delayed-ACK ping-pong (interactive) mode (full sockets only). */
  pingpong: boolean | null;
  /** Congestion window, segments (full sockets only). */
  cwnd: number | null;
  /** Slow-start threshold, segments; null while in initial slow start, for LISTEN, and for mini sockets. */
  ssthresh: number | null;
  /** LISTEN only: the TCP Fast Open queue limit (0 when Fast Open is off). */
  fastOpenQueueLimit: number | null;
}

export interface SkippedLine {
  /** 1-based line number in the text. */
  line: number;
  /** The line, cut to 200 characters. */
  text: string;
  reason: string;
}

export interface ProcNetTcpTable {
  sockets: ProcTcpSocket[];
  /** Lines that were not header, blank or a socket, each with why (at most MAX_SKIPPED_REPORTED of them). */
  skipped: SkippedLine[];
  /** How many lines were skipped in all (may exceed skipped.length). */
  skippedCount: number;
}

export interface ProcNetTcpParseOptions {
  /** Clock ticks per second of the clock_t columns (USER_HZ). Default 100, as on every Linux architecture. */
  userHz?: number;
  /** The byte order of the machine that printed the text. Default `LE` (x86, arm64, riscv, ...). */
  byteOrder?: 'LE' | 'BE';
}

export const MAX_SKIPPED_REPORTED = 100;
const MAX_LINE_TEXT = 200;

export type ParsedLine = { ok: true; socket: ProcTcpSocket } | { ok: false; reason: string };

/**
 * Parses the whole text of /proc/net/tcp, /proc/net/tcp6, or both concatenated (the family of each line is
 * told by the width of its addresses). Header and blank lines are ignored; any other line that is not a socket
 * is skipped with its reason. Never throws on any input.
 */
export function parseProcNetTcp(text: string, options: ProcNetTcpParseOptions = {}): ProcNetTcpTable {
  const sockets: ProcTcpSocket[] = [];
  const skipped: SkippedLine[] = [];
  let skippedCount = 0;
  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const raw = lines[index] as string;
    const line = raw.trim();
    if (line === '' || isHeader(line)) continue;
    const parsed = parseProcNetTcpLine(line, options);
    if (parsed.ok) {
      sockets.push(parsed.socket);
      continue;
    }
    skippedCount++;
    if (skipped.length < MAX_SKIPPED_REPORTED) {
      skipped.push({ line: index + 1, text: line.length > MAX_LINE_TEXT ? `${line.slice(0, MAX_LINE_TEXT)}...` : line, reason: parsed.reason });
    }
  }
  return { sockets, skipped, skippedCount };
}

function isHeader(line: string): boolean {
  return line.startsWith('sl ') && line.includes('local_address');
}

const HEX = /^[0-9A-Fa-f]+$/;
const DEC = /^\d+$/;

/** Parses one socket line; a line that is not one gives `{ ok: false, reason }`, never an exception. */
export function parseProcNetTcpLine(line: string, options: ProcNetTcpParseOptions = {}): ParsedLine {
  const userHz = options.userHz ?? 100;
  const littleEndian = (options.byteOrder ?? 'LE') === 'LE';
  const fields = line.trim().split(/\s+/);
  if (fields.length < 12) return fail(`${fields.length} fields, a socket line has at least 12`);
  const [sl, local, remote, st, queues, timer, retrnsmt, uid, timeout, inode, refcount] = fields as [
    string, string, string, string, string, string, string, string, string, string, string,
  ];
  if (!/^\d+:$/.test(sl) || sl.length > 11) return fail(`slot ${JSON.stringify(sl)} is not a number followed by a colon`);

  const localEnd = parseEndpoint(local, littleEndian);
  if (typeof localEnd === 'string') return fail(`local address: ${localEnd}`);
  const remoteEnd = parseEndpoint(remote, littleEndian);
  if (typeof remoteEnd === 'string') return fail(`remote address: ${remoteEnd}`);
  if (localEnd.family !== remoteEnd.family) return fail('local and remote addresses are of different families');

  if (!HEX.test(st) || st.length !== 2) return fail(`state ${JSON.stringify(st)} is not two hex digits`);
  const stateCode = Number.parseInt(st, 16);
  const state = TCP_STATE_CODES[stateCode as keyof typeof TCP_STATE_CODES] as TcpState | undefined;
  if (state === undefined) return fail(`unknown state code ${st}`);

  const queuePair = hexPair(queues, 8, 8);
  if (queuePair === undefined) return fail(`queues ${JSON.stringify(queues)} are not tx_queue:rx_queue in hex`);
  const timerPair = hexPair(timer, 2, 16);
  if (timerPair === undefined) return fail(`timer ${JSON.stringify(timer)} is not tr:tm->when in hex`);
  const [timerCode, when] = timerPair;
  const timerName = TIMER_CODES[timerCode];
  if (timerName === undefined) return fail(`unknown timer kind ${timerCode}`);

  if (!HEX.test(retrnsmt) || retrnsmt.length > 8) return fail(`retrnsmt ${JSON.stringify(retrnsmt)} is not hex`);
  for (const [name, value] of [['uid', uid], ['timeout', timeout], ['inode', inode]] as const) {
    if (!DEC.test(value) || value.length > 20) return fail(`${name} ${JSON.stringify(value)} is not a decimal number`);
  }
  if (!/^-?\d+$/.test(refcount) || refcount.length > 11) return fail(`refcount ${JSON.stringify(refcount)} is not a number`);

  const kind: ProcTcpSocket['kind'] = fields.length >= 17 ? 'socket' : timerCode === 3 ? 'time-wait' : 'request';
  const full = kind === 'socket' ? parseFullFields(fields.slice(12, 17), userHz) : null;
  if (typeof full === 'string') return fail(full);

  return {
    ok: true,
    socket: {
      family: localEnd.family,
      kind,
      slot: Number(sl.slice(0, -1)),
      localAddress: localEnd.address,
      localPort: localEnd.port,
      remoteAddress: remoteEnd.address,
      remotePort: remoteEnd.port,
      state,
      stateCode,
      txQueue: queuePair[0],
      rxQueue: queuePair[1],
      timer: timerName,
      timerCode,
      timerMs: timerCode === 0 ? 0 : ticksToMs(when, userHz),
      retransmits: Number.parseInt(retrnsmt, 16),
      uid: kind === 'time-wait' ? null : Number(uid),
      probes: Number(timeout),
      inode: Number(inode),
      refcount: Number(refcount),
      rtoMs: full?.rtoMs ?? null,
      atoMs: full?.atoMs ?? null,
      quickAcks: full?.quickAcks ?? null,
      pingpong: full?.pingpong ?? null,
      cwnd: full?.cwnd ?? null,
      ssthresh: full === null || state === 'LISTEN' || full.last < 0 ? null : full.last,
      fastOpenQueueLimit: full !== null && state === 'LISTEN' ? Math.max(0, full.last) : null,
    },
  };
}

function fail(reason: string): ParsedLine {
  return { ok: false, reason };
}

/** `%lu %lu %u %u %d` after the kernel address: rto, ato, quick<<1|pingpong, cwnd, ssthresh. */
function parseFullFields(fields: string[], userHz: number) {
  const [rto, ato, quick, cwnd, last] = fields as [string, string, string, string, string];
  for (const [name, value] of [['rto', rto], ['ato', ato], ['quick/pingpong', quick], ['cwnd', cwnd]] as const) {
    if (!DEC.test(value) || value.length > 20) return `${name} ${JSON.stringify(value)} is not a decimal number`;
  }
  if (!/^-?\d+$/.test(last) || last.length > 11) return `ssthresh ${JSON.stringify(last)} is not a number`;
  const quickPingpong = Number(quick);
  return {
    rtoMs: ticksToMs(Number(rto), userHz),
    atoMs: ticksToMs(Number(ato), userHz),
    quickAcks: Math.floor(quickPingpong / 2),
    pingpong: (quickPingpong & 1) === 1,
    cwnd: Number(cwnd),
    last: Number(last),
  };
}

/**
 * tm->when is printed with %08lX. Kernels before 4.9 printed jiffies_to_clock_t of a negative delta for an
 * overdue timer, which shows as a huge unsigned value: that is "overdue", 0 ms.
 */
function ticksToMs(ticks: number, userHz: number): number {
  if (!Number.isSafeInteger(ticks) || ticks > 0x7fffffff * 100) return 0;
  return Math.round((ticks * 1000) / userHz);
}

function hexPair(text: string, maxLeft: number, maxRight: number): [number, number] | undefined {
  const colon = text.indexOf(':');
  if (colon < 0) return undefined;
  const left = text.slice(0, colon);
  const right = text.slice(colon + 1);
  if (!HEX.test(left) || !HEX.test(right) || left.length > maxLeft || right.length > maxRight) return undefined;
  const rightValue = right.length > 13 ? Number(BigInt(`0x${right}`)) : Number.parseInt(right, 16);
  return [Number.parseInt(left, 16), rightValue];
}

interface Endpoint {
  family: 4 | 6;
  address: string;
  port: number;
}

function parseEndpoint(text: string, littleEndian: boolean): Endpoint | string {
  const colon = text.indexOf(':');
  if (colon < 0) return `${JSON.stringify(text.slice(0, 60))} has no colon`;
  const hex = text.slice(0, colon);
  const port = text.slice(colon + 1);
  if (!HEX.test(port) || port.length !== 4) return `port ${JSON.stringify(port.slice(0, 60))} is not 4 hex digits`;
  if (!HEX.test(hex) || (hex.length !== 8 && hex.length !== 32)) {
    return `${JSON.stringify(hex.slice(0, 60))} is not 8 (IPv4) or 32 (IPv6) hex digits`;
  }
  const bytes = Buffer.alloc(hex.length / 2);
  for (let word = 0; word < hex.length / 8; word++) {
    const value = Number.parseInt(hex.slice(word * 8, word * 8 + 8), 16);
    if (littleEndian) bytes.writeUInt32LE(value, word * 4);
    else bytes.writeUInt32BE(value, word * 4);
  }
  return {
    family: hex.length === 8 ? 4 : 6,
    address: hex.length === 8 ? [...bytes].join('.') : formatIPv6(bytes),
    port: Number.parseInt(port, 16),
  };
}

/**
 * RFC 5952 text for 16 bytes, as glibc's and libuv's inet_ntop write it (so it matches `ss` and Node's
 * remoteAddress): lower case, the first longest run of two or more zero groups as `::`, and the last 32 bits
 * as a dotted quad for IPv4-mapped (`::ffff:1.2.3.4`) and IPv4-compatible (`::1.2.3.4`) addresses.
 */
export function formatIPv6(bytes: Uint8Array): string {
  const words: number[] = [];
  for (let index = 0; index < 8; index++) words.push(((bytes[index * 2] ?? 0) << 8) | (bytes[index * 2 + 1] ?? 0));
  let bestStart = -1;
  let bestLength = 0;
  for (let start = 0; start < 8; ) {
    if (words[start] !== 0) {
      start++;
      continue;
    }
    let end = start;
    while (end < 8 && words[end] === 0) end++;
    if (end - start > bestLength) {
      bestStart = start;
      bestLength = end - start;
    }
    start = end;
  }
  if (bestLength < 2) bestStart = -1;
  const embedsIPv4 = bestStart === 0 && (bestLength === 6 || (bestLength === 5 && words[5] === 0xffff));
  const groups = embedsIPv4 ? 6 : 8;
  let text = '';
  for (let index = 0; index < groups; index++) {
    if (index === bestStart) {
      text += '::';
      index += bestLength - 1;
      continue;
    }
    if (text !== '' && !text.endsWith(':')) text += ':';
    text += (words[index] as number).toString(16);
  }
  if (embedsIPv4) text += `${text.endsWith(':') ? '' : ':'}${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
  return text;
}

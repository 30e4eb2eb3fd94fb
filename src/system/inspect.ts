import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { endianness } from 'node:os';
import { InvalidOptionError, PermissionError, UnsupportedError } from '../errors.js';
import { checkObject, integerIn, nearest, rejectUnknownKeys } from '../options.js';
import { parseProcNetTcp, TCP_STATES, type ProcTcpSocket, type SkippedLine, type TcpState } from './proc-net-tcp.js';
import { readSocketOwners, type SocketOwner, type SocketOwners } from './proc-sockets.js';

/**
 * `lifeline inspect` as a library: the TCP connections of this host (or of one network namespace, or one
 * process), joined with the processes that hold them, with the risky ones flagged.
 *
 * Where the tables come from:
 * - by default /proc/net/tcp and /proc/net/tcp6, which show this process's network namespace;
 * - with `pid`, /proc/<pid>/net/tcp{,6}: the namespace that process lives in, read without any subprocess;
 * - with `netns` (and no pid), `ip netns exec NAME cat /proc/self/net/tcp{,6}`: Node cannot switch namespaces
 *   itself (setns on one thread of a multi-threaded process would leave libuv's threads behind), and a
 *   namespace may hold sockets while no process lives in it, so only a process started inside can read its
 *   tables. This needs root, as `ip netns exec` does. With both, the process must live in that namespace.
 * The processes are always found through this host's /proc: socket inodes are unique across namespaces and
 * `ip netns exec` does not change the pid namespace, so the join works for any namespace.
 */

export interface InspectOptions {
  /** Only sockets this process holds; the tables are read from its own network namespace. */
  pid?: number;
  /** Only sockets whose local or remote port is this one. */
  port?: number;
  /**
   * Only these states (`ESTABLISHED`, `established`, `estab`, `time-wait`, ...). Default: every state but
   * LISTEN, TIME_WAIT, SYN_RECV and CLOSE, as `ss` shows without `-a`.
   */
  states?: string | readonly string[];
  /** Every state, listeners and TIME_WAIT included (ignored when `states` is given). Default false. */
  all?: boolean;
  /** A network namespace by its `ip netns` name (in /run/netns). Default: this process's namespace. */
  netns?: string;
}

export interface ResolvedInspectOptions {
  pid: number | null;
  port: number | null;
  /** null: the default set (see DEFAULT_HIDDEN_STATES), or every state with `all`. */
  states: readonly TcpState[] | null;
  all: boolean;
  netns: string | null;
}

/** The states left out unless asked for, as `ss` leaves them out without `-a`. */
export const DEFAULT_HIDDEN_STATES: readonly TcpState[] = ['LISTEN', 'TIME_WAIT', 'SYN_RECV', 'CLOSE'];

/** The largest pid Linux can hand out (PID_MAX_LIMIT on 64-bit). */
const PID_MAX = 4_194_304;
const KNOWN_KEYS = ['pid', 'port', 'states', 'all', 'netns'] as const;
const STATE_ALIASES: Record<string, TcpState> = { ESTAB: 'ESTABLISHED', SYN_RECEIVED: 'SYN_RECV', TIMEWAIT: 'TIME_WAIT', CLOSED: 'CLOSE' };

export function resolveInspectOptions(options: InspectOptions = {}): ResolvedInspectOptions {
  checkObject('options', options, "{ port: 6379, states: ['established'] }");
  rejectUnknownKeys('', options, KNOWN_KEYS);
  const pid = options.pid === undefined ? null : integerIn('pid', options.pid, 1, PID_MAX);
  const port = options.port === undefined ? null : integerIn('port', options.port, 1, 65_535);
  if (options.all !== undefined && typeof options.all !== 'boolean') throw new InvalidOptionError('all', options.all, 'true or false');
  let netns: string | null = null;
  if (options.netns !== undefined) {
    if (typeof options.netns !== 'string' || !/^[A-Za-z0-9_.@-]{1,255}$/.test(options.netns) || options.netns === '.' || options.netns === '..') {
      throw new InvalidOptionError('netns', options.netns, 'the name of a network namespace as `ip netns list` shows it');
    }
    netns = options.netns;
  }
  return { pid, port, states: options.states === undefined ? null : parseStates(options.states), all: options.all ?? false, netns };
}

/** `established`, `ESTAB`, `time-wait`, `TIME_WAIT` -> the kernel's names; a list may also be one comma-separated string. */
export function parseStates(value: unknown): TcpState[] {
  const allowed = `state names: ${TCP_STATES.join(', ')} (any case, - or _)`;
  const items = typeof value === 'string' ? value.split(',') : Array.isArray(value) ? (value as unknown[]) : null;
  if (items === null || items.length === 0) throw new InvalidOptionError('states', value, allowed);
  const states: TcpState[] = [];
  for (const item of items) {
    if (typeof item !== 'string') throw new InvalidOptionError('states', value, allowed);
    const name = item.trim().toUpperCase().replaceAll('-', '_');
    const state = (TCP_STATES as readonly string[]).includes(name) ? (name as TcpState) : STATE_ALIASES[name];
    if (state === undefined) {
      const match = nearest(name, [...TCP_STATES, ...Object.keys(STATE_ALIASES)]);
      throw new InvalidOptionError('states', item, allowed, match ? `did you mean ${match}?` : undefined);
    }
    if (!states.includes(state)) states.push(state);
  }
  return states;
}

export const RiskCodes = {
  /** ESTABLISHED and no timer at all: SO_KEEPALIVE is off (with keepalive on, the keepalive timer always runs). */
  NO_KEEPALIVE: 'no-keepalive',
  /** Keepalive or zero-window probes sent and not answered. */
  PROBES_UNANSWERED: 'probes-unanswered',
  /** Data retransmitted at least RETRANSMIT_RISK times in a row without an acknowledgement. */
  RETRANSMITTING: 'retransmitting',
} as const;

export type RiskCode = (typeof RiskCodes)[keyof typeof RiskCodes];

export interface Risk {
  code: RiskCode;
  /** One line for people. */
  reason: string;
}

/** Consecutive retransmission timeouts that make a connection look lost (the RTO has then grown at least 8-fold). */
export const RETRANSMIT_RISK = 3;

const SYNCHRONIZED: readonly TcpState[] = ['ESTABLISHED', 'FIN_WAIT1', 'CLOSE_WAIT', 'LAST_ACK', 'CLOSING'];

/** What is risky about one socket, from its line alone. */
export function risksOf(socket: ProcTcpSocket): Risk[] {
  const risks: Risk[] = [];
  if (socket.state === 'ESTABLISHED' && socket.timer === 'none') {
    risks.push({ code: RiskCodes.NO_KEEPALIVE, reason: 'ESTABLISHED without a keepalive timer: a half-open connection would live forever' });
  }
  if (socket.probes > 0 && (socket.timer === 'keepalive' || socket.timer === 'zero-window-probe')) {
    const what = socket.timer === 'keepalive' ? 'keepalive' : 'zero-window';
    risks.push({ code: RiskCodes.PROBES_UNANSWERED, reason: `${plural(socket.probes, `${what} probe`)} unanswered: the peer is probably gone` });
  }
  if (socket.timer === 'retransmit' && socket.retransmits >= RETRANSMIT_RISK && SYNCHRONIZED.includes(socket.state)) {
    risks.push({ code: RiskCodes.RETRANSMITTING, reason: `${plural(socket.retransmits, 'retransmission')} unanswered: the peer or the path is probably gone` });
  }
  return risks;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

export interface InspectedConnection extends ProcTcpSocket {
  /** The first (lowest pid) process holding the socket; null for TIME_WAIT, request sockets and unreadable owners. */
  process: SocketOwner | null;
  /** Every process holding it. */
  processes: SocketOwner[];
  risks: Risk[];
}

export interface InspectReport {
  connections: InspectedConnection[];
  /** Sockets that matched pid and port but not the states shown (listeners and TIME_WAIT without `all`). */
  hidden: number;
  /** Where the tables were read: `/proc/net`, `/proc/1234/net` or `ip netns exec NAME`. */
  source: string;
  /** Lines of the tables that were not understood, with why (at most 100). */
  skipped: SkippedLine[];
  skippedCount: number;
  /** Processes whose sockets could not be read (other users' without root): their sockets show no process. */
  unreadableProcesses: number;
}

/** Reads the tables and the processes, joins and filters them. Throws InvalidOptionError, PermissionError, UnsupportedError. */
export function inspectConnections(options: InspectOptions = {}): InspectReport {
  const resolved = resolveInspectOptions(options);
  const tables = readTcpTables(resolved);
  const parsed = parseProcNetTcp(tables.text, { byteOrder: endianness() });
  const owners = readSocketOwners();
  return { ...joinConnections(parsed.sockets, owners, resolved), source: tables.source, skipped: parsed.skipped, skippedCount: parsed.skippedCount, unreadableProcesses: owners.unreadable };
}

/** The pure part: join sockets with their processes, filter, flag. */
export function joinConnections(sockets: readonly ProcTcpSocket[], owners: Pick<SocketOwners, 'byInode'>, options: ResolvedInspectOptions): { connections: InspectedConnection[]; hidden: number } {
  const connections: InspectedConnection[] = [];
  let hidden = 0;
  for (const socket of sockets) {
    const processes = socket.inode === 0 ? [] : owners.byInode.get(socket.inode) ?? [];
    if (options.pid !== null && !processes.some((owner) => owner.pid === options.pid)) continue;
    if (options.port !== null && socket.localPort !== options.port && socket.remotePort !== options.port) continue;
    const shown = options.states !== null ? options.states.includes(socket.state) : options.all || !DEFAULT_HIDDEN_STATES.includes(socket.state);
    if (!shown) {
      hidden++;
      continue;
    }
    connections.push({ ...socket, process: processes[0] ?? null, processes, risks: risksOf(socket) });
  }
  return { connections, hidden };
}

/** The text of the tcp and tcp6 tables of the namespace the options point at (see the top of this file). */
export function readTcpTables(options: Pick<ResolvedInspectOptions, 'pid' | 'netns'>): { text: string; source: string } {
  const { pid, netns } = options;
  if (pid !== null) {
    if (!existsSync(`/proc/${pid}`)) throw new InvalidOptionError('pid', pid, 'the id of a running process');
    if (netns !== null && !sameNamespace(pid, netns)) {
      throw new InvalidOptionError('netns', netns, `the network namespace of process ${pid}`, `process ${pid} lives in another one`);
    }
    const dir = `/proc/${pid}/net`;
    return { text: readTable(`${dir}/tcp`, true) + readTable(`${dir}/tcp6`, false), source: dir };
  }
  if (netns !== null) {
    if (!existsSync(`/run/netns/${netns}`)) {
      throw new InvalidOptionError('netns', netns, 'the name of a network namespace in /run/netns (see `ip netns list`)');
    }
    return { text: readInNamespace(netns, 'tcp', true) + readInNamespace(netns, 'tcp6', false), source: `ip netns exec ${netns}` };
  }
  return { text: readTable('/proc/net/tcp', true) + readTable('/proc/net/tcp6', false), source: '/proc/net' };
}

function readTable(path: string, required: boolean): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (!required && code === 'ENOENT') return ''; // IPv6 disabled
    if (code === 'EACCES' || code === 'EPERM') throw new PermissionError(`cannot read ${path} (${code})`, error);
    throw new UnsupportedError(`reading ${path}`, `${code ?? (error as Error).message}: this needs Linux with /proc mounted`);
  }
}

function readInNamespace(netns: string, table: 'tcp' | 'tcp6', required: boolean): string {
  const run = spawnSync('ip', ['netns', 'exec', netns, 'cat', `/proc/self/net/${table}`], { encoding: 'utf8', timeout: 10_000, maxBuffer: 256 * 1024 * 1024 });
  if (run.error) {
    const code = (run.error as NodeJS.ErrnoException).code;
    throw new UnsupportedError('--netns', code === 'ENOENT' ? 'needs the ip command (Debian package iproute2)' : run.error.message);
  }
  if (run.status === 0) return run.stdout;
  const stderr = run.stderr.trim().split('\n')[0] ?? '';
  if (!required && /No such file/.test(stderr)) return '';
  if (/Operation not permitted|Permission denied/i.test(stderr)) {
    throw new PermissionError(`cannot enter network namespace ${netns}: ${stderr} (ip netns exec needs root)`);
  }
  throw new UnsupportedError(`reading the TCP table of network namespace ${netns}`, stderr || `ip exited with ${run.status ?? run.signal}`);
}

function sameNamespace(pid: number, netns: string): boolean {
  try {
    const named = statSync(`/run/netns/${netns}`);
    const ofPid = statSync(`/proc/${pid}/ns/net`);
    return named.ino === ofPid.ino && named.dev === ofPid.dev;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') throw new PermissionError(`cannot tell which network namespace process ${pid} is in (${code})`, error);
    throw new InvalidOptionError('netns', netns, 'the name of a network namespace in /run/netns (see `ip netns list`)');
  }
}

import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';

/** Every namespace the lab makes starts with this, then the pid of the process that made it. */
export const LAB_PREFIX = 'lfl-';

export type Host = 'client' | 'router' | 'server';

/** Documentation ranges (RFC 5737), never routed anywhere: the client side and the server side of the router. */
export const ADDRESSES = {
  client: '198.51.100.2',
  routerClientSide: '198.51.100.1',
  routerServerSide: '203.0.113.1',
  server: '203.0.113.2',
} as const;

export class LabCommandError extends Error {
  override readonly name = 'LabCommandError';
}

export function run(argv: string[], input?: string): string {
  const [command, ...args] = argv;
  const result = spawnSync(command as string, args, { encoding: 'utf8', input, timeout: 15_000 });
  if (result.error) throw new LabCommandError(`${argv.join(' ')}: ${result.error.message}`);
  if (result.status !== 0) throw new LabCommandError(`${argv.join(' ')} failed: ${(result.stderr || result.stdout).trim()}`);
  return result.stdout;
}

let sequence = 0;

/**
 * Three hosts as network namespaces, client - router - server, joined by veth pairs:
 * client 198.51.100.2/24 <-> router 198.51.100.1 | router 203.0.113.1 <-> server 203.0.113.2/24.
 * No link leads out of them. Names carry the pid and a sequence number, so runs never collide and
 * `cleanupLeftovers` can tell a dead run's namespaces from a live one's.
 */
export class Topology {
  readonly id: string;
  readonly #children = new Set<ChildProcess>();
  #removed = false;

  constructor(tag = '') {
    this.id = `${LAB_PREFIX}${process.pid}-${sequence++}${tag ? `-${tag}` : ''}`.slice(0, 40);
    try {
      this.#build();
    } catch (error) {
      this.remove();
      throw error;
    }
  }

  ns(host: Host): string {
    return `${this.id}-${host[0]}`;
  }

  #build(): void {
    for (const host of ['client', 'router', 'server'] as const) run(['ip', 'netns', 'add', this.ns(host)]);
    this.#linkClient();
    run(['ip', 'link', 'add', 'eth-s', 'netns', this.ns('router'), 'type', 'veth', 'peer', 'name', 'eth0', 'netns', this.ns('server')]);
    this.ip('router', 'addr', 'add', `${ADDRESSES.routerServerSide}/24`, 'dev', 'eth-s');
    this.ip('router', 'link', 'set', 'eth-s', 'up');
    this.ip('server', 'addr', 'add', `${ADDRESSES.server}/24`, 'dev', 'eth0');
    this.ip('server', 'link', 'set', 'eth0', 'up');
    this.ip('server', 'route', 'add', 'default', 'via', ADDRESSES.routerServerSide);
    for (const host of ['client', 'router', 'server'] as const) this.ip(host, 'link', 'set', 'lo', 'up');
    this.sysctl('router', 'net.ipv4.ip_forward', '1');
  }

  /** The client's cable to the router (made again after a reboot). */
  #linkClient(): void {
    run(['ip', 'link', 'add', 'eth-c', 'netns', this.ns('router'), 'type', 'veth', 'peer', 'name', 'eth0', 'netns', this.ns('client')]);
    this.ip('router', 'addr', 'add', `${ADDRESSES.routerClientSide}/24`, 'dev', 'eth-c');
    this.ip('router', 'link', 'set', 'eth-c', 'up');
    this.ip('client', 'addr', 'add', `${ADDRESSES.client}/24`, 'dev', 'eth0');
    this.ip('client', 'link', 'set', 'eth0', 'up');
    this.ip('client', 'link', 'set', 'lo', 'up');
    this.ip('client', 'route', 'add', 'default', 'via', ADDRESSES.routerClientSide);
  }

  ip(host: Host, ...args: string[]): string {
    return run(['ip', '-n', this.ns(host), ...args]);
  }

  exec(host: Host, argv: string[], input?: string): string {
    return run(['ip', 'netns', 'exec', this.ns(host), ...argv], input);
  }

  sysctl(host: Host, key: string, value: string): void {
    this.exec(host, ['sysctl', '-qw', `${key}=${value}`]);
  }

  /** Loads an nftables ruleset into one host (`nft -f -`). */
  nft(host: Host, ruleset: string): void {
    this.exec(host, ['nft', '-f', '-'], ruleset);
  }

  /** Starts a long-running process inside a host; it is killed when the topology is removed. */
  spawn(host: Host, argv: string[], options: SpawnOptions = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.ns(host), ...argv], { stdio: ['pipe', 'pipe', 'pipe'], ...options });
    this.#children.add(child);
    child.once('exit', () => this.#children.delete(child));
    return child;
  }

  /** The cable between the client and the router is pulled at the client's end. */
  pullClientCable(): void {
    this.ip('client', 'link', 'set', 'eth0', 'down');
  }

  /**
   * The client host dies: nothing more leaves it (its cable goes first, so its kernel's FIN for the killed
   * processes never arrives), its processes are killed, and it is gone with its cable: the router's end is
   * deleted at once (namespace deletion itself finishes asynchronously in the kernel).
   */
  killClientHost(): void {
    this.pullClientCable();
    this.#killIn('client');
    this.ip('router', 'link', 'del', 'eth-c');
    run(['ip', 'netns', 'del', this.ns('client')]);
  }

  /** A client host that died comes back, empty, with the same address. */
  bootClientHost(): void {
    run(['ip', 'netns', 'add', this.ns('client')]);
    this.#linkClient();
  }

  /** ESTABLISHED TCP connections a host's kernel holds (ss), one line each. */
  established(host: Host): string[] {
    return this.exec(host, ['ss', '-tnH', 'state', 'established']).split('\n').filter((line) => line.trim() !== '');
  }

  #killIn(host: Host): void {
    const pids = spawnSync('ip', ['netns', 'pids', this.ns(host)], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
    for (const pid of pids) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }

  /** Removes everything: processes, namespaces (and with them veths and nft tables). Safe to call twice. */
  remove(): void {
    if (this.#removed) return;
    this.#removed = true;
    for (const child of this.#children) child.kill('SIGKILL');
    for (const host of ['client', 'router', 'server'] as const) {
      this.#killIn(host);
      spawnSync('ip', ['netns', 'del', this.ns(host)]);
    }
  }
}

/** The lab's namespaces on this machine: `lfl-<pid>-...`. */
export function labNamespaces(): { name: string; pid: number }[] {
  const list = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
  return list
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => name.startsWith(LAB_PREFIX))
    .map((name) => ({ name, pid: Number(name.slice(LAB_PREFIX.length).split('-')[0]) }));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the namespaces of lab runs whose process is gone (killed with SIGKILL, say), and the processes still
 * inside them. Namespaces of a run that is still going are left alone. Returns the names removed.
 */
export function cleanupLeftovers(): string[] {
  const removed: string[] = [];
  for (const { name, pid } of labNamespaces()) {
    if (Number.isInteger(pid) && pid !== process.pid && alive(pid)) continue;
    const pids = spawnSync('ip', ['netns', 'pids', name], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
    for (const inside of pids) {
      try {
        process.kill(Number(inside), 'SIGKILL');
      } catch {
        // already gone
      }
    }
    spawnSync('ip', ['netns', 'del', name]);
    removed.push(name);
  }
  return removed;
}

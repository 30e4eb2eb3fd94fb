import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { labNamespaces } from '../../src/lab/topology.js';
import { CLI } from './paths.js';

/**
 * The lab namespaces one process made (they carry its pid). Tests check only their own for leftovers: another lab run
 * on the same host (someone's `npm start`) may hold namespaces of its own meanwhile.
 */
export function labNamespacesOf(pid: number): { name: string; pid: number }[] {
  return labNamespaces().filter((namespace) => namespace.pid === pid);
}

/** A prefix every namespace made by the tests carries, so leftovers of a killed run can be found and removed. */
export const TEST_NETNS_PREFIX = 'lfl-t';
let counter = 0;

function ip(...args: string[]): void {
  const run = spawnSync('ip', args, { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`ip ${args.join(' ')} failed: ${run.stderr.trim()}`);
}

/**
 * Two hosts joined by a cable: a server namespace (198.51.100.1) and a client namespace (198.51.100.2), on a
 * documentation range with no route anywhere else. `pull(side)` sets that side's end of the veth down: the
 * article's pulled cable, as the other side sees it.
 */
export class CablePair {
  readonly server: string;
  readonly client: string;
  readonly serverIp = '198.51.100.1';
  readonly clientIp = '198.51.100.2';
  readonly #children = new Set<ChildProcess>();

  constructor() {
    const tag = `${TEST_NETNS_PREFIX}${process.pid}-${counter++}`;
    this.server = `${tag}-s`;
    this.client = `${tag}-c`;
    ip('netns', 'add', this.server);
    try {
      ip('netns', 'add', this.client);
      ip('link', 'add', 'eth0', 'netns', this.server, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', this.client);
      for (const [ns, address] of [[this.server, this.serverIp], [this.client, this.clientIp]] as const) {
        ip('-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0');
        ip('-n', ns, 'link', 'set', 'eth0', 'up');
        ip('-n', ns, 'link', 'set', 'lo', 'up');
      }
    } catch (error) {
      this.remove();
      throw error;
    }
  }

  /** The cable is pulled at `side`'s end. */
  pull(side: 'server' | 'client'): void {
    ip('-n', side === 'server' ? this.server : this.client, 'link', 'set', 'eth0', 'down');
  }

  /** Runs the lifeline CLI inside one namespace; its stdout and stderr lines are collected. */
  lifeline(side: 'server' | 'client', args: string[]): CliProcess {
    return this.spawn(side, [process.execPath, CLI, ...args]);
  }

  /** Runs any command inside one namespace; killed when the pair is removed. */
  spawn(side: 'server' | 'client', argv: string[]): CliProcess {
    const child = spawn('ip', ['netns', 'exec', side === 'server' ? this.server : this.client, ...argv], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.#children.add(child);
    child.once('exit', () => this.#children.delete(child));
    return new CliProcess(child);
  }

  /** ESTABLISHED connections the kernel of `side` holds, as `ss` shows them. */
  established(side: 'server' | 'client'): string[] {
    const run = spawnSync('ip', ['netns', 'exec', side === 'server' ? this.server : this.client, 'ss', '-tnH', 'state', 'established'], { encoding: 'utf8' });
    return run.stdout.split('\n').filter((line) => line.trim() !== '');
  }

  remove(): void {
    for (const child of this.#children) child.kill('SIGKILL');
    for (const ns of [this.server, this.client]) spawnSync('ip', ['netns', 'del', ns]);
  }
}

/** Removes namespaces left by test runs that were killed. */
export function removeLeftoverNamespaces(): void {
  const list = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
  for (const line of list.split('\n')) {
    const name = line.split(' ')[0];
    if (name?.startsWith(TEST_NETNS_PREFIX)) spawnSync('ip', ['netns', 'del', name]);
  }
}

export interface TimedLine {
  at: number;
  text: string;
}

/** A CLI process whose output lines can be awaited, each stamped with the time it arrived. */
export class CliProcess {
  readonly child: ChildProcess;
  readonly stdout: TimedLine[] = [];
  readonly stderr: TimedLine[] = [];
  readonly exited: Promise<number | null>;
  #waiters: (() => void)[] = [];

  constructor(child: ChildProcess) {
    this.child = child;
    // A test may still be feeding stdin when the process has exited; that is not a failure of the test.
    child.stdin?.on('error', () => {});
    for (const [stream, lines] of [[child.stdout, this.stdout], [child.stderr, this.stderr]] as const) {
      if (!stream) continue;
      createInterface({ input: stream }).on('line', (text) => {
        lines.push({ at: performance.now(), text });
        for (const wake of this.#waiters.splice(0)) wake();
      });
    }
    this.exited = new Promise((resolve) => child.once('exit', (code) => {
      for (const wake of this.#waiters.splice(0)) wake();
      resolve(code);
    }));
  }

  /** JSON events from a stream (lines that are not JSON are skipped). */
  events(stream: 'stdout' | 'stderr' = 'stdout'): (Record<string, unknown> & { at: number })[] {
    return this[stream].flatMap((line) => {
      try {
        return [{ ...(JSON.parse(line.text) as Record<string, unknown>), at: line.at }];
      } catch {
        return [];
      }
    });
  }

  /** Waits for the first JSON event matching `match`, or returns undefined after `timeoutMs`. */
  async waitForEvent(
    match: (event: Record<string, unknown>) => boolean,
    timeoutMs: number,
    stream: 'stdout' | 'stderr' = 'stdout',
  ): Promise<(Record<string, unknown> & { at: number }) | undefined> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const found = this.events(stream).find(match);
      if (found) return found;
      const left = deadline - performance.now();
      if (left <= 0 || this.child.exitCode !== null) return undefined;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  write(text: string): void {
    this.child.stdin?.write(text);
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }
}

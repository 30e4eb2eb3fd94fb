import { execFileSync, spawnSync } from 'node:child_process';

/** Set in the re-executed benchmark: it runs in a network namespace of its own. */
const MARK = 'LIFELINE_BENCH_NETNS';

/**
 * Runs the benchmark in a network namespace of its own (as root: unshare --net; otherwise in a user namespace
 * too), so that its nft rules and 200 000 loopback sockets touch nothing of the host. Returns only inside it.
 */
export function enterOwnNetworkNamespace(): void {
  if (process.env[MARK] === '1') {
    execFileSync('ip', ['link', 'set', 'lo', 'up']);
    return;
  }
  const root = process.getuid?.() === 0;
  const unshare = root ? ['--net'] : ['--user', '--map-root-user', '--net'];
  const result = spawnSync('unshare', [...unshare, process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, [MARK]: '1' },
  });
  if (result.error) throw new Error(`cannot start the benchmark in a network namespace (unshare): ${result.error.message}`);
  process.exit(result.status ?? 1);
}

/** Drops every packet from or to the victims' source range: a cable pulled at a known time. */
export class VictimCut {
  constructor(readonly range: string) {
    nft(['add', 'table', 'inet', 'lfbench']);
    nft(['add', 'chain', 'inet', 'lfbench', 'input', '{ type filter hook input priority 0; policy accept; }']);
  }

  cut(): void {
    nft(['add', 'rule', 'inet', 'lfbench', 'input', 'ip', 'saddr', this.range, 'drop']);
    nft(['add', 'rule', 'inet', 'lfbench', 'input', 'ip', 'daddr', this.range, 'drop']);
  }

  restore(): void {
    nft(['flush', 'chain', 'inet', 'lfbench', 'input']);
  }
}

function nft(args: string[]): void {
  try {
    execFileSync('nft', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // A fresh machine: say what to install rather than print a spawn stack trace.
    if (code === 'ENOENT') throw new Error('bench:liveness cuts its victims off with nft: install nftables (apt-get install nftables)', { cause: error });
    throw error;
  }
}

import { execFileSync } from 'node:child_process';
import os from 'node:os';

/** The commit a result was measured at, marked when the code under test had uncommitted changes. */
export function gitRevision(root: string, watched: string): string | null {
  try {
    const git = (args: string[]) => execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const head = git(['rev-parse', '--short', 'HEAD']);
    return git(['status', '--porcelain', '--', watched]) ? `${head} (${watched}/ modified)` : head;
  } catch {
    return null;
  }
}

/** What every recorded benchmark result says about where it ran. */
export function machineInfo(root: string, watched: string) {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    v8: process.versions.v8,
    platform: process.platform,
    kernel: os.release(),
    date: new Date().toISOString(),
    git: gitRevision(root, watched),
  };
}

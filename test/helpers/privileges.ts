import { spawnSync } from 'node:child_process';

export const isRoot = process.getuid?.() === 0;

let unshareOk: boolean | undefined;
/** Whether this process may create a network namespace of its own (`unshare --net`, as root). */
export function canUnshareNet(): boolean {
  unshareOk ??= isRoot && spawnSync('unshare', ['--net', 'true']).status === 0;
  return unshareOk;
}

/** A reason to skip, printed by the test runner, or false when the test can run. */
export function needsNetns(): string | false {
  if (!isRoot) return 'needs root to create a network namespace (run as root, as CI does)';
  if (!canUnshareNet()) return 'unshare --net failed: this kernel or container forbids network namespaces';
  return false;
}

/** The lab's own check, so tests skip for exactly what the lab needs. */
export { hasCommand } from '../../src/lab/runner.js';

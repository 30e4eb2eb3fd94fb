import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/** The repository root, whether the tests run from dist/test or from test/. */
export const REPO_ROOT = fileURLToPath(new URL(import.meta.url.includes('/dist/') ? '../../../' : '../../', import.meta.url));

export function repoPath(...parts: string[]): string {
  return join(REPO_ROOT, ...parts);
}

export const CLI = repoPath('dist', 'src', 'cli', 'main.js');

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { LabReport } from '../../src/lab/types.js';
import { repoPath } from '../helpers/paths.js';
import { hasCommand, needsNetns } from '../helpers/privileges.js';

/**
 * Without root, the lab re-runs itself as root of a user namespace. The user namespace's root is nobody outside
 * it, so the test runs a copy of the built package that nobody owns (a clone in a private directory is not
 * readable by nobody, as a user's own checkout would be).
 */
describe('lab: without root', { skip: needsNetns() || (!hasCommand('setpriv') && 'needs setpriv') }, () => {
  const copy = mkdtempSync(join(tmpdir(), 'lifeline-nobody-'));
  after(() => rmSync(copy, { recursive: true, force: true }));

  test('lab: as nobody it re-runs itself as root of a user namespace and still measures', (t) => {
    const asNobody = ['--reuid=65534', '--regid=65534', '--clear-groups'];
    const probe = spawnSync('setpriv', [...asNobody, 'unshare', '--user', '--map-root-user', '--net', '--mount', 'true']);
    if (probe.status !== 0) return t.skip('this kernel does not allow unprivileged user namespaces');
    for (const part of ['package.json', 'dist/src', 'node_modules/koffi', 'node_modules/@koromix', 'node_modules/commander']) {
      cpSync(repoPath(part), join(copy, part), { recursive: true });
    }
    spawnSync('chown', ['-R', '65534:65534', copy]);
    const cli = join(copy, 'dist', 'src', 'cli', 'main.js');
    const run = spawnSync('setpriv', [...asNobody, 'env', 'HOME=/tmp', process.execPath, cli, 'lab', 'cable-pull', '--arm', 'tuned', '--window', '8s', '--json', '-'], {
      encoding: 'utf8',
      timeout: 60_000,
      cwd: copy,
    });
    assert.equal(run.status, 0, run.stderr);
    const report = JSON.parse(run.stdout) as LabReport;
    assert.equal(report.environment.privileges, 'user-namespace');
    assert.equal(report.runs[0]?.verdict, 'as-configured');
  });
});

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import type { LabReport } from '../../src/lab/types.js';
import { CLI } from '../helpers/paths.js';
import { hasCommand, needsNetns } from '../helpers/privileges.js';

describe('lab: without root', { skip: needsNetns() || (!hasCommand('setpriv') && 'needs setpriv') }, () => {
  test('lab: as nobody it re-runs itself as root of a user namespace and still measures', (t) => {
    // CAP_DAC_READ_SEARCH only lets nobody read the built files wherever the clone lives; it grants nothing else.
    const asNobody = ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=+dac_read_search', '--ambient-caps=+dac_read_search'];
    const probe = spawnSync('setpriv', [...asNobody, 'unshare', '--user', '--map-root-user', '--net', '--mount', 'true']);
    if (probe.status !== 0) return t.skip('this kernel does not allow unprivileged user namespaces');
    const run = spawnSync('setpriv', [...asNobody, 'env', 'HOME=/tmp', process.execPath, CLI, 'lab', 'cable-pull', '--arm', 'tuned', '--window', '8s', '--json', '-'], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(run.status, 0, run.stderr);
    const report = JSON.parse(run.stdout) as LabReport;
    assert.equal(report.environment.privileges, 'user-namespace');
    assert.equal(report.runs[0]?.verdict, 'as-configured');
  });
});

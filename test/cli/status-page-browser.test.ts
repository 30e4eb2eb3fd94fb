import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CablePair, removeLeftoverNamespaces } from '../helpers/netns.js';
import { needsNetns } from '../helpers/privileges.js';

/**
 * The status page in a real browser: headless Chromium (Debian's `chromium`) driven by playwright-core, watching
 * `lifeline server --metrics` while a client in another namespace connects and then loses its cable.
 *
 * Where the browser runs: the server and its metrics listener run in the server namespace, and the metrics
 * listen on that namespace's loopback (127.0.0.1), which the test process in the root namespace cannot reach.
 * So Chromium runs inside the server namespace too: playwright launches a two-line wrapper that does
 * `ip netns exec <server ns> /usr/bin/chromium "$@"` (setns keeps the DevTools pipe, fds 3 and 4, that playwright
 * talks over). The browser cannot run in the client namespace: pulling the client's cable would cut it off.
 */
const CHROMIUM = '/usr/bin/chromium';
const skip = needsNetns() || (existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing (Debian packages chromium, chromium-driver)`);
const isEvent = (name: string) => (event: Record<string, unknown>) => event['event'] === name;

describe('status page in headless Chromium', { skip }, () => {
  const pairs: CablePair[] = [];
  const dirs: string[] = [];
  before(() => removeLeftoverNamespaces());
  after(() => {
    for (const pair of pairs) pair.remove();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  test('browser: the page lists a connection a client opens and shows it dead (keepalive-timeout) after its cable is pulled', async (t) => {
    const { chromium } = await import('playwright-core');
    const pair = new CablePair();
    pairs.push(pair);
    const server = pair.lifeline('server', ['server', pair.serverIp, '1234', '--json', '--keepalive', '2,1,3', '--metrics', '127.0.0.1:0']);
    const served = await server.waitForEvent(isEvent('metrics'), 5000);
    assert.ok(served, `no metrics line: ${server.stderr.map((line) => line.text).join('\n')}`);
    const url = String(served['url']);

    const dir = mkdtempSync(join(tmpdir(), 'lifeline-browser-'));
    dirs.push(dir);
    const wrapper = join(dir, 'chromium-in-netns');
    writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec "$LIFELINE_NETNS" ${CHROMIUM} "$@"\n`);
    chmodSync(wrapper, 0o755);
    // A fresh profile for this run only, removed afterwards.
    const context = await chromium.launchPersistentContext(join(dir, 'profile'), {
      executablePath: wrapper,
      env: { ...process.env, LIFELINE_NETNS: pair.server },
      headless: true,
      timeout: 30_000,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
    });
    t.after(() => context.close());
    const page = context.pages()[0] ?? (await context.newPage());
    const requests: string[] = [];
    page.on('request', (request) => requests.push(request.url()));
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));

    await page.goto(url, { timeout: 10_000 });
    await page.waitForSelector('#live[data-live="yes"]', { timeout: 10_000 });
    assert.match(await page.title(), /^lifeline server 198\.51\.100\.1:1234: connections$/);

    const client = pair.lifeline('client', ['client', pair.serverIp, '1234', '--json', '--keepalive', 'off']);
    assert.ok(await client.waitForEvent(isEvent('connected'), 5000, 'stderr'), 'client did not connect');
    client.write('hello\n');
    assert.ok(await server.waitForEvent(isEvent('data'), 5000), 'server received nothing');
    const row = '#connections tbody tr[data-remote^="198.51.100.2:"]';
    await page.waitForSelector(`${row}[data-state="open"]`, { timeout: 10_000 });
    const cells = await page.locator(`${row} td`).allTextContents();
    assert.equal(cells[2], 'open');
    assert.equal(cells[5], '2s,1s,3', 'keepalive as read back from the kernel');

    const pulledAt = performance.now();
    pair.pull('client');
    await page.waitForSelector(`${row}[data-state="dead"][data-reason="keepalive-timeout"]`, { timeout: 15_000 });
    const shownAfter = performance.now() - pulledAt;
    t.diagnostic(`the page showed the connection dead ${(shownAfter / 1000).toFixed(1)} s after the cable was pulled`);
    const dead = await server.waitForEvent(isEvent('dead'), 1000);
    assert.equal(dead?.['reason'], 'keepalive-timeout');
    assert.ok(shownAfter >= 3000 && shownAfter <= 9000, `shown ${shownAfter.toFixed(0)} ms after the pull; keepalive 2,1,3 allows about 5 s`);
    assert.match((await page.locator(`${row} td.state`).textContent()) ?? '', /^dead: keepalive-timeout$/);

    await page.waitForSelector('#deaths tbody tr[data-reason="keepalive-timeout"][data-remote^="198.51.100.2:"]', { timeout: 5000 });
    const deathCells = await page.locator('#deaths tbody tr[data-reason="keepalive-timeout"] td').allTextContents();
    assert.equal(deathCells[4], 'ETIMEDOUT');
    assert.match(deathCells[6] ?? '', /3 keepalive probes unanswered/);
    assert.equal(await page.locator('#chart rect[data-reason="keepalive-timeout"]').count(), 1, 'one bar segment in the chart');
    assert.match((await page.locator('#legend [data-reason="keepalive-timeout"]').textContent()) ?? '', /keepalive-timeout 1/);

    const origin = new URL(url).origin;
    assert.deepEqual(requests.filter((request) => !request.startsWith(origin)), [], 'the page loads nothing from elsewhere');
    assert.deepEqual(pageErrors, []);
  });
});

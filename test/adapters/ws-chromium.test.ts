import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { WebSocketServer, type WebSocket } from 'ws';
import { WebSocketHeartbeat } from '../../src/adapters/ws.js';

/**
 * lifeline/ws against headless Chromium's WebSocket (Debian `chromium`): the browser's network stack answers our
 * pings, so a tab whose JavaScript does not run (frozen, throttled, busy) is not killed by mistake, as it would be
 * by an application-level heartbeat (a setInterval in the page sending "ping" messages): the test runs one as the
 * control and shows it stopping. Closing the page is an orderly close, not a verdict.
 */
const CHROMIUM = '/usr/bin/chromium';
const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (Debian chromium)`;
const INTERVAL = 500;
const TIMEOUT = 500;
/** Longer than interval + timeout several times over: a heartbeat that relied on the page would have convicted it. */
const THROTTLED_MS = 3000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The page's own WebSocket (the DOM's, not ws'). */
interface BrowserSocket {
  readyState: number;
  send(data: string): void;
  onopen: (() => void) | null;
  onerror: (() => void) | null;
}

describe('lifeline/ws against headless Chromium', { skip }, () => {
  let context: BrowserContext;
  let profile: string;
  let wss: WebSocketServer;
  let heartbeat: WebSocketHeartbeat;
  const events: { name: string; event: Record<string, unknown> }[] = [];
  const messages: string[] = [];

  before(async () => {
    wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await once(wss, 'listening');
    heartbeat = new WebSocketHeartbeat({ interval: INTERVAL, timeout: TIMEOUT }).attach(wss);
    for (const name of ['open', 'suspect', 'dead', 'closed'] as const) {
      heartbeat.on(name, (event: object) => events.push({ name, event: event as Record<string, unknown> }));
    }
    wss.on('connection', (ws) => ws.on('message', (data: Buffer) => messages.push(data.toString())));
    profile = mkdtempSync(join(tmpdir(), 'lifeline-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
    });
  });

  after(async () => {
    await context?.close();
    heartbeat?.close();
    for (const ws of wss?.clients ?? []) ws.terminate();
    await new Promise<void>((resolve) => (wss ? wss.close(() => resolve()) : resolve()));
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  async function openPage(): Promise<{ page: Page; server: WebSocket }> {
    const page = await context.newPage();
    const accepted = once(wss, 'connection') as Promise<[WebSocket]>;
    const address = wss.address();
    const url = `ws://127.0.0.1:${address !== null && typeof address === 'object' ? address.port : 0}`;
    await page.evaluate((target) => new Promise<void>((resolve, reject) => {
      const page = globalThis as unknown as { WebSocket: new (url: string) => BrowserSocket; socket: BrowserSocket };
      const ws = new page.WebSocket(target);
      page.socket = ws;
      ws.onopen = () => resolve();
      ws.onerror = () => reject(new Error('WebSocket error'));
    }), url);
    const [server] = await accepted;
    return { page, server };
  }

  const deaths = () => events.filter((e) => e.name === 'dead');

  test('chromium: a page with an open WebSocket stays alive and its pongs give the RTT', async (t) => {
    const { page, server } = await openPage();
    await sleep(6 * INTERVAL);
    const stats = heartbeat.stats(server);
    t.diagnostic(`Chromium RTT last ${stats?.lastRttMs?.toFixed(2)} ms, smoothed ${stats?.smoothedRttMs?.toFixed(2)} ms`);
    assert.deepEqual(deaths(), []);
    assert.ok(stats?.lastRttMs !== null && stats?.lastRttMs !== undefined && stats.lastRttMs < 200, `RTT ${stats?.lastRttMs}`);
    await page.close();
  });

  test('chromium: a page whose JavaScript is stopped (paused in the debugger, then a busy loop on a 4x slower CPU), each for longer than interval + timeout, is not killed, while its own setInterval heartbeat stopped', async (t) => {
    const { page, server } = await openPage();
    const cdp = await context.newCDPSession(page);
    // The control: the page's own heartbeat, a message every 100 ms, as applications write them.
    await page.evaluate(() => {
      const ws = (globalThis as unknown as { socket: BrowserSocket }).socket;
      setInterval(() => ws.send('tick'), 100);
    });
    await sleep(500);
    const ticks = () => messages.filter((message) => message === 'tick').length;
    assert.ok(ticks() >= 3, 'the page heartbeat does not run');
    const pingsBefore = heartbeat.stats(server)?.lastPingAt ?? null;
    // Frozen: the page's JavaScript stopped in the debugger. (Page.setWebLifecycleState 'frozen' does nothing to a
    // visible page, and a headless page is always visible: the control below caught that.)
    await cdp.send('Debugger.enable');
    await cdp.send('Debugger.pause');
    await sleep(200);
    const ticksFrozen = ticks();
    await sleep(THROTTLED_MS - 200);
    const ticksWhileFrozen = ticks() - ticksFrozen;
    await cdp.send('Debugger.resume');
    await cdp.send('Debugger.disable');
    const frozenStats = heartbeat.stats(server);
    t.diagnostic(`page heartbeat messages while paused for ${THROTTLED_MS} ms: ${ticksWhileFrozen}`);
    assert.ok(ticksWhileFrozen <= 1, `the page was not paused: ${ticksWhileFrozen} of its messages arrived`);
    assert.deepEqual(deaths(), [], 'killed while paused');
    assert.ok(frozenStats?.lastPingAt !== null && frozenStats?.lastPingAt !== pingsBefore, 'no ping was sent while the page was paused');
    // Also slow the CPU down 4x and keep the page's main thread busy: no JavaScript of the page runs meanwhile.
    await cdp.send('Emulation.setCPUThrottlingRate', { rate: 4 });
    const ticksBusy = ticks();
    await page.evaluate((ms) => {
      const end = Date.now() + ms;
      while (Date.now() < end) { /* busy */ }
    }, THROTTLED_MS);
    const ticksWhileBusy = ticks() - ticksBusy;
    await cdp.send('Emulation.setCPUThrottlingRate', { rate: 1 });
    assert.ok(ticksWhileBusy <= 2, `the page was not busy: ${ticksWhileBusy} of its messages arrived`);
    const state = await page.evaluate(() => {
      const ws = (globalThis as unknown as { socket: BrowserSocket }).socket;
      ws.send('still here');
      return ws.readyState;
    });
    assert.equal(state, 1, 'the page sees its WebSocket OPEN');
    for (let waited = 0; waited < 2000 && !messages.includes('still here'); waited += 20) await sleep(20);
    assert.ok(messages.includes('still here'), 'the message after the throttling did not arrive');
    await sleep(500);
    assert.ok(ticks() - ticksBusy - ticksWhileBusy >= 2, 'the page heartbeat did not resume');
    assert.deepEqual(deaths(), [], 'killed while busy');
    const stats = heartbeat.stats(server);
    t.diagnostic(`after ${2 * THROTTLED_MS} ms paused or busy: state ${stats?.state}, RTT smoothed ${stats?.smoothedRttMs?.toFixed(2)} ms`);
    assert.ok(stats && stats.lastRttMs !== null);
    await page.close();
  });

  test('chromium: closing the page is an orderly close (eof, close code 1001), not a heartbeat verdict', async () => {
    const { page, server } = await openPage();
    await sleep(2 * INTERVAL);
    await page.close();
    let closed: Record<string, unknown> | undefined;
    for (let waited = 0; waited < 3000 && !closed; waited += 20) {
      closed = events.find((e) => e.name === 'closed' && e.event['ws'] === server)?.event;
      await sleep(20);
    }
    assert.ok(closed, 'no closed event');
    assert.equal(closed['reason'], 'eof');
    assert.match(String(closed['because']), /close code 1001/);
    assert.deepEqual(deaths(), []);
  });
});

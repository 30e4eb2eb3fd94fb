import assert from 'node:assert/strict';
import { test } from 'node:test';
import { detectionSummary, keepaliveSummary, renderHtmlReport } from '../../src/lab/report-html.js';
import type { LabReport, RunResult } from '../../src/lab/types.js';

const detected: RunResult = {
  scenario: 'cable-pull',
  arm: 'tuned',
  config: { arm: 'tuned', description: 'setKeepAlive(socket, {idle: 2000, interval: 1000, count: 3})', enabled: true, idle: 2000, interval: 1000, count: 3, userTimeout: 0, heartbeat: null },
  budgetMs: 5000,
  detectedMs: 5210,
  silentMs: 5050,
  code: 'ETIMEDOUT',
  reason: 'keepalive-timeout',
  verdict: 'as-configured',
  establishedAtEnd: null,
  client: null,
  note: 'found dead as configured <script>alert("x")</script> & more',
  timeline: [
    { t: -3000, from: 'client', kind: 'syn', detail: 'SYN' },
    { t: -2999.9, from: 'server', kind: 'syn', detail: 'SYN-ACK' },
    { t: -2900, from: 'client', kind: 'data', detail: '5 B, seq 1:6' },
    { t: -2899.8, from: 'server', kind: 'ack', detail: 'ACK 6' },
    { t: 0, from: 'router', kind: 'fault', detail: 'the link between client and router goes down' },
    { t: 2000, from: 'server', kind: 'keepalive-probe', detail: 'probe seq 0 (1 of 3)' },
    { t: 3000, from: 'server', kind: 'keepalive-probe', detail: 'probe seq 0 (2 of 3)' },
    { t: 3500, from: 'router', kind: 'icmp', detail: 'host unreachable from 10.0.0.254, about <server> & client' },
    { t: 4000, from: 'server', kind: 'keepalive-probe', detail: 'probe seq 0 (3 of 3)' },
    { t: 5000, from: 'server', kind: 'rst', detail: 'RST, ACK seq 1' },
    { t: 5210, from: 'server', kind: 'dead', detail: 'keepalive-timeout ETIMEDOUT' },
  ],
  timelineSource: 'tcpdump',
  pcapFile: null,
  windowMs: 20_000,
};

const notDetected: RunResult = {
  ...detected,
  scenario: 'host-down',
  arm: 'system',
  config: { arm: 'system', description: 'SO_KEEPALIVE only', enabled: true, idle: 7_200_000, interval: 75_000, count: 9, userTimeout: 0, heartbeat: null },
  budgetMs: 7_875_000,
  detectedMs: null,
  silentMs: null,
  code: null,
  reason: null,
  verdict: 'not-detected',
  establishedAtEnd: true,
  note: 'not detected in 60.0 s',
  timeline: [
    { t: 0, from: 'router', kind: 'fault', detail: 'the client host stops' },
    { t: 100, from: 'kernel', kind: 'counter', detail: 'state ESTABLISHED, probes 0' },
    { t: 200, from: 'kernel', kind: 'counter', detail: 'state ESTABLISHED, probes 0' },
    { t: 300, from: 'kernel', kind: 'counter', detail: 'state ESTABLISHED, probes 0' },
  ],
  timelineSource: 'tcp-info-polling',
  windowMs: 60_000,
};

const report: LabReport = {
  runs: [detected, notDetected],
  skipped: [{ scenario: 'nat-expiry', reason: 'nft is not installed <so no NAT>' }],
  environment: {
    kernel: '6.8.0-45-generic',
    node: 'v20.20.2',
    libuv: '1.46.0',
    platform: 'linux x64',
    privileges: 'root',
    nft: false,
    tcpdump: true,
    sysctls: { time: 7200, intvl: 75, probes: 9, retries2: 15 },
    date: '2025-01-02T03:04:05.000Z',
  },
};

const html = renderHtmlReport(report);
const rows = html.match(/<tr class="run-row[^]*?<\/tr>/g) ?? [];

test('report-html: one self-contained page with the environment', () => {
  assert.match(html, /^<!doctype html>\n<html lang="en">/);
  assert.match(html, /<\/html>\n$/);
  assert.match(html, /<style>/);
  for (const text of ['6.8.0-45-generic', 'v20.20.2 (libuv 1.46.0)', '2025-01-02T03:04:05.000Z', '<dt>privileges</dt><dd>root</dd>', '<dt>tcpdump</dt><dd>present</dd>', 'tcp_keepalive_time 7200 s']) {
    assert.ok(html.includes(text), text);
  }
  assert.match(html, /<dt>nft<\/dt><dd>missing: /);
});

test('report-html: a table row per run with configuration, budget, detection, code, reason and verdict', () => {
  assert.equal(rows.length, 2);
  const [first, second] = rows as [string, string];
  for (const text of ['cable-pull', 'tuned', 'idle 2 s, then every 1 s × 3', '5 s', '5.2 s', '<code>ETIMEDOUT</code>', 'keepalive-timeout']) {
    assert.ok(first.includes(text), `first row has ${text}`);
  }
  assert.ok(second.includes('host-down'));
  assert.ok(second.includes('not detected in 60 s; the kernel would notice after 2 h 11 min 15 s'), second);
  assert.ok(second.includes('idle 2 h, then every 1 min 15 s × 9'), second);
  assert.ok(first.includes('title="setKeepAlive(socket, {idle: 2000, interval: 1000, count: 3})"'), 'the arm as written is the tooltip');
});

test('report-html: verdicts carry their class and tone', () => {
  assert.match(rows[0]!, /<span class="verdict verdict-as-configured tone-good">as-configured<\/span>/);
  assert.match(rows[1]!, /<span class="verdict verdict-not-detected tone-none">not-detected<\/span>/);
  assert.match(html, /\.tone-good \{ color: #1e6b34; background: #e6f4ea; \}/);
  assert.match(html, /\.tone-bad \{/);
});

test('report-html: notes, details and reasons are escaped', () => {
  assert.ok(!html.includes('<script'), 'no script element, not even from a note');
  assert.ok(html.includes('found dead as configured &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; more'));
  assert.ok(html.includes('about &lt;server&gt; &amp; client'));
  assert.ok(html.includes('nft is not installed &lt;so no NAT&gt;'));
  assert.ok(!html.includes('<server>'));
});

test('report-html: each run has an SVG timeline with lanes, the fault, the verdict and tooltips', () => {
  const svgs = html.match(/<svg class="timeline"[^]*?<\/svg>/g) ?? [];
  assert.equal(svgs.length, 2);
  const [first, second] = svgs as [string, string];
  assert.ok(first.includes('>server</text>') && first.includes('>client</text>') && first.includes('>router / kernel</text>'));
  assert.ok(first.includes('<g class="fault"><title>fault at +0.000 s: the link between client and router goes down</title>'));
  assert.match(first, /<g class="verdict-marker verdict-as-configured"><title>as-configured: keepalive-timeout at 5.2 s<\/title>/);
  for (const kind of ['syn', 'data', 'ack', 'keepalive-probe', 'icmp', 'rst', 'dead']) assert.ok(first.includes(`<g class="event event-${kind}">`), kind);
  assert.ok(first.includes('<title>+2.000 s server keepalive-probe: probe seq 0 (1 of 3)</title>'));
  assert.match(second, /verdict-marker verdict-not-detected"><title>not-detected: window ends at 1 min<\/title>/);
  // Three identical counter samples are drawn once.
  assert.equal(second.match(/event-counter/g)?.length, 1);
  assert.ok(second.includes('(unchanged until +0.300 s)'));
});

test('report-html: the events are also listed, collapsible, under each picture', () => {
  const lists = html.match(/<details><summary>[^]*?<\/details>/g) ?? [];
  assert.equal(lists.length, 2);
  assert.match(lists[0]!, /<summary>11 events, as a list<\/summary>/);
  assert.ok(lists[0]!.includes('<td class="t">−3.000 s</td><td>client</td><td>syn</td><td>SYN</td>'));
  assert.ok(lists[1]!.includes('unchanged for 2 more samples, until +0.300 s'));
});

test('report-html: skipped scenarios are listed with their reasons', () => {
  assert.ok(html.includes('<li><strong>nat-expiry</strong>: nft is not installed &lt;so no NAT&gt;</li>'));
});

test('report-html: nothing is loaded from elsewhere', () => {
  assert.ok(!/\bsrc\s*=/i.test(html), 'no src=');
  assert.ok(!/href\s*=\s*["']?\s*(?:https?:|\/\/)/i.test(html), 'no external href');
  assert.ok(!/url\(|@import|<link|<script|<iframe|<img/i.test(html));
  // The only links are to the run sections on the page itself.
  for (const [, target] of html.matchAll(/href="([^"]*)"/g)) assert.match(target!, /^#run-\d+$/);
});

test('report-html: survivors are not "not detected", and keepalive off never notices', () => {
  assert.equal(detectionSummary({ ...notDetected, verdict: 'survived' }), 'nothing in 60 s');
  const off = { ...notDetected, budgetMs: null, config: { ...notDetected.config, arm: 'off' as const, enabled: false } };
  assert.equal(detectionSummary(off), 'not detected in 60 s; the kernel never notices');
  assert.equal(keepaliveSummary({ ...detected.config, userTimeout: 5000 }), 'idle 2 s, then every 1 s × 3; user timeout 5 s');
  assert.equal(keepaliveSummary(off.config), 'off');
});

test('report-html: an empty report still renders', () => {
  const empty = renderHtmlReport({ ...report, runs: [], skipped: [] });
  assert.match(empty, /0 runs: none/);
  assert.match(empty, /No scenario was skipped/);
});

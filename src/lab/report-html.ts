/**
 * The lab's report as one self-contained HTML page: inline CSS and SVG, no scripts, no external resources, so it
 * can be attached to an issue or opened from a CI artifact as is.
 */
import { describeDetection } from './report-text.js';
import { formatDuration } from '../duration.js';
import { LabVerdicts, type ArmConfig, type LabEnvironment, type LabReport, type LabVerdict, type RunResult, type TimelineEvent } from './types.js';

type EventKind = TimelineEvent['kind'];

/** Escapes text for HTML content and quoted attribute values alike (SVG inside HTML uses the same rules). */
const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => HTML_ESCAPES[character] ?? character);
}

/** How a verdict reads at a glance: right, off by more than a second, nothing to judge, wrong. */
type Tone = 'good' | 'warn' | 'none' | 'bad';

const VERDICT_TONES: Record<LabVerdict, Tone> = {
  'as-configured': 'good',
  survived: 'good',
  early: 'warn',
  late: 'warn',
  'not-detected': 'none',
  'flow-lost': 'none',
  'false-positive': 'bad',
};

const TONE_COLORS: Record<Tone, { text: string; background: string; line: string }> = {
  good: { text: '#1e6b34', background: '#e6f4ea', line: '#2e7d32' },
  warn: { text: '#7a5200', background: '#fff4d6', line: '#d98e04' },
  none: { text: '#455a64', background: '#eceff1', line: '#78909c' },
  bad: { text: '#b3261e', background: '#fdecea', line: '#c62828' },
};

type Shape = 'circle' | 'ring' | 'diamond' | 'hollow-diamond' | 'square' | 'hollow-square' | 'triangle-up' | 'triangle-down' | 'cross' | 'bar' | 'tick' | 'line';

/** One look per kind, so a lane of probes reads differently from a lane of retransmissions without the legend. */
const KIND_STYLES: Record<EventKind, { shape: Shape; color: string; label: string }> = {
  syn: { shape: 'diamond', color: '#2e7d32', label: 'SYN / SYN-ACK' },
  data: { shape: 'bar', color: '#1565c0', label: 'data' },
  ack: { shape: 'circle', color: '#90a4ae', label: 'ACK' },
  'keepalive-probe': { shape: 'circle', color: '#7b1fa2', label: 'keepalive probe' },
  'keepalive-ack': { shape: 'ring', color: '#7b1fa2', label: 'ACK of a probe' },
  retransmission: { shape: 'triangle-up', color: '#e65100', label: 'retransmission' },
  'zero-window': { shape: 'hollow-square', color: '#ad1457', label: 'zero window' },
  'zero-window-probe': { shape: 'square', color: '#ad1457', label: 'zero-window probe' },
  fin: { shape: 'triangle-down', color: '#37474f', label: 'FIN' },
  rst: { shape: 'cross', color: '#c62828', label: 'RST' },
  icmp: { shape: 'hollow-diamond', color: '#c77c02', label: 'ICMP' },
  fault: { shape: 'line', color: '#d32f2f', label: 'fault' },
  dead: { shape: 'bar', color: '#000000', label: 'declared dead' },
  counter: { shape: 'tick', color: '#8d6e63', label: 'kernel counters' },
};

const STYLE = `
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2327; margin: 0 auto; padding: 16px 24px 48px; max-width: 1280px; }
h1 { font-size: 22px; margin: 8px 0 4px; }
h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid #dde3e8; padding-bottom: 4px; }
h3 { font-size: 15px; margin: 0 0 6px; }
code { font: 12.5px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.muted { color: #5f6b73; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 6px 0; }
dl.facts dt { color: #5f6b73; }
dl.facts dd { margin: 0; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: 4px 8px; border-bottom: 1px solid #e6eaed; }
th { background: #f5f7f8; font-weight: 600; position: sticky; top: 0; }
table.results .number { white-space: nowrap; }
table.results tr:hover td { background: #fafbfc; }
.verdict { display: inline-block; padding: 1px 8px; border-radius: 10px; font-weight: 600; white-space: nowrap; }
${(Object.keys(TONE_COLORS) as Tone[]).map((tone) => `.tone-${tone} { color: ${TONE_COLORS[tone].text}; background: ${TONE_COLORS[tone].background}; }`).join('\n')}
.summary .verdict { margin-right: 6px; }
section.run { border: 1px solid #e1e6ea; border-radius: 6px; padding: 10px 14px; margin: 12px 0; }
section.run p.note { margin: 4px 0 6px; }
svg.timeline { width: 100%; height: auto; display: block; margin: 6px 0; }
svg.timeline text { font: 11px system-ui, sans-serif; fill: #5f6b73; }
svg.timeline text.marker { font-weight: 600; }
details summary { cursor: pointer; color: #37474f; }
table.events td { padding: 1px 8px; border: 0; font-size: 12.5px; }
table.events td.t { font-family: ui-monospace, Menlo, Consolas, monospace; text-align: right; white-space: nowrap; }
ul.legend { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 4px 16px; }
ul.legend svg { vertical-align: middle; }
`;

/** The lab's report as one self-contained HTML page. */
export function renderHtmlReport(report: LabReport): string {
  const title = `lifeline lab: dead-peer detection on ${report.environment.kernel}`;
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(title)}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    `<h1>${escapeHtml(title)}</h1>`,
    `<p class="muted">How long real kernel TCP takes to notice a dead peer, per scenario and keepalive setting. Run ${escapeHtml(report.environment.date)}.</p>`,
    renderEnvironment(report.environment),
    '<h2>Results</h2>',
    renderSummary(report.runs),
    renderResultTable(report.runs),
    renderSkipped(report.skipped),
    '<h2>Runs</h2>',
    renderLegend(),
    ...report.runs.map((run, index) => renderRun(run, index)),
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

function renderEnvironment(environment: LabEnvironment): string {
  const present = (found: boolean, missing: string) => (found ? 'present' : `missing: ${missing}`);
  const { sysctls } = environment;
  const facts: [string, string][] = [
    ['kernel', environment.kernel],
    ['node', `${environment.node} (libuv ${environment.libuv})`],
    ['platform', environment.platform],
    ['date', environment.date],
    ['privileges', environment.privileges === 'root' ? 'root' : 'unprivileged, in a user namespace'],
    ['tcpdump', present(environment.tcpdump, 'timelines come from polling TCP_INFO instead of packets')],
    ['nft', present(environment.nft, 'scenarios that need packet filtering were skipped')],
    [
      'sysctls',
      `tcp_keepalive_time ${sysctls.time} s, tcp_keepalive_intvl ${sysctls.intvl} s, tcp_keepalive_probes ${sysctls.probes}, tcp_retries2 ${sysctls.retries2}`,
    ],
  ];
  return `<h2>Environment</h2>\n${renderFacts(facts)}`;
}

function renderFacts(facts: [string, string][]): string {
  return `<dl class="facts">${facts.map(([name, value]) => `<dt>${escapeHtml(name)}</dt><dd>${escapeHtml(value)}</dd>`).join('')}</dl>`;
}

function verdictBadge(verdict: LabVerdict): string {
  return `<span class="verdict verdict-${verdict} tone-${VERDICT_TONES[verdict]}">${escapeHtml(verdict)}</span>`;
}

function renderSummary(runs: RunResult[]): string {
  const counts = LabVerdicts.map((verdict) => [verdict, runs.filter((run) => run.verdict === verdict).length] as const).filter(([, count]) => count > 0);
  const badges = counts.map(([verdict, count]) => `${verdictBadge(verdict)}&#215;${count}`).join(' ');
  return `<p class="summary">${runs.length} run${runs.length === 1 ? '' : 's'}: ${badges || 'none'}</p>`;
}

/** The keepalive the server's kernel held, in words: `idle 2 s, then every 1 s × 3; user timeout 5 s`. */
export function keepaliveSummary(config: ArmConfig): string {
  if (config.heartbeat) return `heartbeat after ${formatDuration(config.heartbeat.interval)} of silence, dead after ${formatDuration(config.heartbeat.timeout)}`;
  const userTimeout = config.userTimeout > 0 ? `user timeout ${formatDuration(config.userTimeout)}` : '';
  if (!config.enabled) return userTimeout ? `off; ${userTimeout}` : 'off';
  const probes = `idle ${formatDuration(config.idle)}, then every ${formatDuration(config.interval)} × ${config.count}`;
  return userTimeout ? `${probes}; ${userTimeout}` : probes;
}

/** The same words as the text table: `12.3 s (silent 12.6 s)`, or what the kernel would do when nothing was found. */
export const detectionSummary = describeDetection;

function runAnchor(index: number): string {
  return `run-${index + 1}`;
}

function renderResultTable(runs: RunResult[]): string {
  const header = ['#', 'scenario', 'arm', 'keepalive (idle, interval × count; user timeout)', 'budget', 'detected after', 'code', 'reason', 'verdict'];
  const rows = runs.map((run, index) => {
    const cells = [
      `<a href="#${runAnchor(index)}">${index + 1}</a>`,
      escapeHtml(run.scenario),
      escapeHtml(run.arm),
      `<span title="${escapeHtml(run.config.description)}">${escapeHtml(keepaliveSummary(run.config))}</span>`,
      `<span class="number">${escapeHtml(budgetText(run))}</span>`,
      escapeHtml(detectionSummary(run)),
      run.code === null ? '<span class="muted">–</span>' : `<code>${escapeHtml(run.code)}</code>`,
      run.reason === null ? '<span class="muted">–</span>' : escapeHtml(run.reason),
      verdictBadge(run.verdict),
    ];
    return `<tr class="run-row verdict-row-${run.verdict}">${cells.map((cell) => `<td>${cell}</td>`).join('')}</tr>`;
  });
  return [
    '<table class="results">',
    `<thead><tr>${header.map((name) => `<th>${escapeHtml(name)}</th>`).join('')}</tr></thead>`,
    `<tbody>${rows.join('\n')}</tbody>`,
    '</table>',
  ].join('\n');
}

function renderSkipped(skipped: LabReport['skipped']): string {
  if (skipped.length === 0) return '<p class="muted">No scenario was skipped.</p>';
  const items = skipped.map((entry) => `<li><strong>${escapeHtml(entry.scenario)}</strong>: ${escapeHtml(entry.reason)}</li>`).join('');
  return `<h3>Skipped</h3><ul class="skipped">${items}</ul>`;
}

function renderLegend(): string {
  const items = (Object.keys(KIND_STYLES) as EventKind[]).map((kind) => {
    const style = KIND_STYLES[kind];
    const mark = style.shape === 'line' ? `<line x1="8" y1="1" x2="8" y2="15" stroke="${style.color}" stroke-width="2"/>` : drawShape(style.shape, style.color, 8, 8);
    return `<li><svg width="16" height="16" viewBox="0 0 16 16" aria-hidden="true">${mark}</svg> ${escapeHtml(style.label)}</li>`;
  });
  return `<ul class="legend">${items.join('')}</ul>`;
}

function formatOffset(ms: number): string {
  const sign = ms < 0 ? '−' : '+';
  return `${sign}${(Math.abs(ms) / 1000).toFixed(3)} s`;
}

function renderRun(run: RunResult, index: number): string {
  const facts: [string, string][] = [
    ['keepalive', `${keepaliveSummary(run.config)} (${run.config.description})`],
    ['budget', budgetText(run)],
    ['detected after', detectionSummary(run)],
  ];
  if (run.silentMs !== null) facts.push(['peer silent for', formatDuration(run.silentMs)]);
  if (run.reason !== null) facts.push(['reason', run.code === null ? run.reason : `${run.reason} (${run.code})`]);
  if (run.client) {
    facts.push(['client saw', `${run.client.reason}${run.client.code ? ` (${run.client.code})` : ''} after ${formatDuration(run.client.detectedMs)}`]);
  }
  if (run.establishedAtEnd !== null) facts.push(['ESTABLISHED at the end', run.establishedAtEnd ? 'yes (ss still lists it)' : 'no']);
  facts.push(['timeline from', run.timelineSource === 'tcpdump' ? 'tcpdump capture' : 'TCP_INFO polling (no tcpdump)']);
  if (run.pcapFile !== null) facts.push(['capture', run.pcapFile]);
  return [
    `<section class="run" id="${runAnchor(index)}">`,
    `<h3>${index + 1}. ${escapeHtml(run.scenario)} · ${escapeHtml(run.arm)} ${verdictBadge(run.verdict)}</h3>`,
    `<p class="note">${escapeHtml(run.note)}</p>`,
    renderFacts(facts),
    renderTimelineSvg(run),
    renderEventList(run),
    '</section>',
  ].join('\n');
}

/**
 * Polled kernel counters repeat themselves every 100 ms while nothing changes; consecutive identical samples are
 * shown once with how many more there were, so a 60 s window does not turn into 600 rows.
 */
interface ShownEvent {
  event: TimelineEvent;
  repeats: number;
  lastT: number;
}

function eventsToShow(timeline: TimelineEvent[]): ShownEvent[] {
  const sorted = timeline.filter((event) => Number.isFinite(event.t)).sort((a, b) => a.t - b.t);
  const shown: ShownEvent[] = [];
  const lastCounter = new Map<string, ShownEvent>();
  for (const event of sorted) {
    if (event.kind === 'counter') {
      const previous = lastCounter.get(event.from);
      if (previous && previous.event.detail === event.detail) {
        previous.repeats += 1;
        previous.lastT = event.t;
        continue;
      }
    }
    const entry = { event, repeats: 0, lastT: event.t };
    if (event.kind === 'counter') lastCounter.set(event.from, entry);
    shown.push(entry);
  }
  return shown;
}

function renderEventList(run: RunResult): string {
  const shown = eventsToShow(run.timeline);
  if (shown.length === 0) return '<p class="muted">No events were recorded.</p>';
  const rows = shown.map(({ event, repeats, lastT }) => {
    const repeated = repeats > 0 ? ` <span class="muted">(unchanged for ${repeats} more sample${repeats === 1 ? '' : 's'}, until ${formatOffset(lastT)})</span>` : '';
    return `<tr><td class="t">${formatOffset(event.t)}</td><td>${escapeHtml(event.from)}</td><td>${escapeHtml(event.kind)}</td><td>${escapeHtml(event.detail)}${repeated}</td></tr>`;
  });
  const count = run.timeline.length;
  return `<details><summary>${count} event${count === 1 ? '' : 's'}, as a list</summary><table class="events"><tbody>${rows.join('')}</tbody></table></details>`;
}

/** Coordinates to one decimal: enough for the eye, and it keeps forty timelines small. */
const px = (value: number) => String(Math.round(value * 10) / 10);

function drawShape(shape: Shape, color: string, x: number, y: number): string {
  const r = 4.5;
  const points = (list: [number, number][]) => list.map(([dx, dy]) => `${px(x + dx)},${px(y + dy)}`).join(' ');
  switch (shape) {
    case 'circle':
      return `<circle cx="${px(x)}" cy="${px(y)}" r="${r}" fill="${color}"/>`;
    case 'ring':
      return `<circle cx="${px(x)}" cy="${px(y)}" r="${r - 0.5}" fill="#ffffff" stroke="${color}" stroke-width="2"/>`;
    case 'diamond':
      return `<polygon points="${points([[0, -r - 1], [r + 1, 0], [0, r + 1], [-r - 1, 0]])}" fill="${color}"/>`;
    case 'hollow-diamond':
      return `<polygon points="${points([[0, -r - 1], [r + 1, 0], [0, r + 1], [-r - 1, 0]])}" fill="#ffffff" stroke="${color}" stroke-width="2"/>`;
    case 'square':
      return `<rect x="${px(x - r)}" y="${px(y - r)}" width="${r * 2}" height="${r * 2}" fill="${color}"/>`;
    case 'hollow-square':
      return `<rect x="${px(x - r + 1)}" y="${px(y - r + 1)}" width="${r * 2 - 2}" height="${r * 2 - 2}" fill="#ffffff" stroke="${color}" stroke-width="2"/>`;
    case 'triangle-up':
      return `<polygon points="${points([[0, -r - 1], [r + 1, r], [-r - 1, r]])}" fill="${color}"/>`;
    case 'triangle-down':
      return `<polygon points="${points([[0, r + 1], [r + 1, -r], [-r - 1, -r]])}" fill="${color}"/>`;
    case 'cross':
      return `<path d="M${px(x - r)} ${px(y - r)}L${px(x + r)} ${px(y + r)}M${px(x + r)} ${px(y - r)}L${px(x - r)} ${px(y + r)}" stroke="${color}" stroke-width="2.5"/>`;
    case 'bar':
      return `<rect x="${px(x - 1.5)}" y="${px(y - 7)}" width="3" height="14" fill="${color}"/>`;
    case 'tick':
      return `<line x1="${px(x)}" y1="${px(y - 5)}" x2="${px(x)}" y2="${px(y + 5)}" stroke="${color}" stroke-width="1.5"/>`;
    case 'line':
      return '';
  }
}

/** A step of 1, 2 or 5 times a power of ten giving about `target` ticks over `span` ms. */
function tickStep(span: number, target: number): number {
  const raw = span / target;
  const power = 10 ** Math.floor(Math.log10(raw));
  const multiple = [1, 2, 5, 10].find((candidate) => candidate * power >= raw) ?? 10;
  return multiple * power;
}

function tickLabel(ms: number): string {
  if (ms === 0) return '0';
  return `${ms < 0 ? '−' : '+'}${formatDuration(Math.abs(ms))}`;
}

const SVG_WIDTH = 960;
const LANE_LEFT = 96;
const PLOT_RIGHT = SVG_WIDTH - 16;
const TOP = 22;
const LANE_HEIGHT = 36;
const AXIS_HEIGHT = 26;
/** Vertical offsets tried, in order, when marks in a lane would overlap. */
const STAGGER = [0, -8, 8, -15, 15];
const MIN_MARK_GAP = 7;

/** Where the verdict sits on the time axis, and what it says. */
function verdictMarker(run: RunResult): { t: number; label: string } {
  if (run.detectedMs !== null) return { t: run.detectedMs, label: `${run.verdict}: ${run.reason ?? 'dead'} at ${formatDuration(run.detectedMs)}` };
  return { t: run.windowMs, label: `${run.verdict}: window ends at ${formatDuration(run.windowMs)}` };
}

function renderTimelineSvg(run: RunResult): string {
  const shown = eventsToShow(run.timeline);
  const faults = shown.filter(({ event }) => event.kind === 'fault').map(({ event }) => event);
  const marks = shown.filter(({ event }) => event.kind !== 'fault');
  const lanes: { name: string; froms: TimelineEvent['from'][] }[] = [
    { name: 'server', froms: ['server'] },
    { name: 'client', froms: ['client'] },
  ];
  if (marks.some(({ event }) => event.from === 'router' || event.from === 'kernel')) lanes.push({ name: 'router / kernel', froms: ['router', 'kernel'] });
  const height = TOP + lanes.length * LANE_HEIGHT + AXIS_HEIGHT;
  const axisY = TOP + lanes.length * LANE_HEIGHT;

  // The axis runs from the first event to the last, always taking in the fault (0) and the verdict.
  const marker = verdictMarker(run);
  const times = [0, marker.t, ...shown.map(({ event }) => event.t), ...shown.map(({ lastT }) => lastT)];
  let start = Math.min(...times);
  let end = Math.max(...times);
  if (end - start < 1) {
    start -= 500;
    end += 500;
  }
  const padding = (end - start) * 0.02;
  start -= padding;
  end += padding;
  const x = (t: number) => LANE_LEFT + ((t - start) / (end - start)) * (PLOT_RIGHT - LANE_LEFT);

  const parts: string[] = [];
  parts.push(`<svg class="timeline" viewBox="0 0 ${SVG_WIDTH} ${height}" width="${SVG_WIDTH}" height="${height}" role="img" aria-label="${escapeHtml(`timeline of ${run.scenario} with arm ${run.arm}`)}">`);
  lanes.forEach((lane, laneIndex) => {
    const y = TOP + laneIndex * LANE_HEIGHT;
    parts.push(`<rect x="${LANE_LEFT}" y="${y}" width="${PLOT_RIGHT - LANE_LEFT}" height="${LANE_HEIGHT}" fill="${laneIndex % 2 === 0 ? '#f7f9fa' : '#ffffff'}"/>`);
    parts.push(`<text x="${LANE_LEFT - 8}" y="${px(y + LANE_HEIGHT / 2 + 4)}" text-anchor="end">${escapeHtml(lane.name)}</text>`);
  });

  // Time axis with round ticks.
  const step = tickStep(end - start, 8);
  parts.push(`<line x1="${LANE_LEFT}" y1="${axisY}" x2="${PLOT_RIGHT}" y2="${axisY}" stroke="#90a4ae"/>`);
  for (let tick = Math.ceil(start / step) * step; tick <= end; tick += step) {
    const tickX = px(x(tick));
    parts.push(`<line x1="${tickX}" y1="${TOP}" x2="${tickX}" y2="${axisY + 4}" stroke="#e1e6ea"/>`);
    parts.push(`<text x="${tickX}" y="${axisY + 17}" text-anchor="middle">${escapeHtml(tickLabel(Math.round(tick * 1000) / 1000))}</text>`);
  }

  // The fault, at t = 0 and wherever the timeline records fault steps.
  const faultTimes = new Map<number, string[]>([[0, []]]);
  for (const fault of faults) faultTimes.set(fault.t, [...(faultTimes.get(fault.t) ?? []), fault.detail]);
  for (const [t, details] of faultTimes) {
    const faultX = px(x(t));
    const tooltip = `fault at ${formatOffset(t)}${details.length ? `: ${details.join('; ')}` : ''}`;
    parts.push(`<g class="fault"><title>${escapeHtml(tooltip)}</title><line x1="${faultX}" y1="${TOP - 4}" x2="${faultX}" y2="${axisY}" stroke="#d32f2f" stroke-width="2"/></g>`);
  }
  // Labels: "fault" to the left of its line, the verdict to the right of its own, so the two do not collide when
  // detection is immediate.
  parts.push(`<text class="marker" x="${px(x(0) - 4)}" y="${TOP - 8}" text-anchor="end" style="fill:#d32f2f">fault</text>`);

  // The verdict.
  const tone = TONE_COLORS[VERDICT_TONES[run.verdict]];
  const markerX = x(marker.t);
  const anchor = markerX > PLOT_RIGHT - 110 ? 'end' : 'start';
  parts.push(
    `<g class="verdict-marker verdict-${run.verdict}"><title>${escapeHtml(marker.label)}</title>` +
      `<line x1="${px(markerX)}" y1="${TOP - 4}" x2="${px(markerX)}" y2="${axisY}" stroke="${tone.line}" stroke-width="2" stroke-dasharray="5 3"/>` +
      `<text class="marker" x="${px(markerX + (anchor === 'end' ? -4 : 4))}" y="${TOP - 8}" text-anchor="${anchor}" style="fill:${tone.line}">${escapeHtml(run.verdict)}</text></g>`,
  );

  // The events, staggered vertically where they would sit on top of each other.
  lanes.forEach((lane, laneIndex) => {
    const centre = TOP + laneIndex * LANE_HEIGHT + LANE_HEIGHT / 2;
    const lastX = STAGGER.map(() => -Infinity);
    for (const { event, repeats, lastT } of marks.filter(({ event }) => lane.froms.includes(event.from))) {
      const eventX = x(event.t);
      let level = lastX.findIndex((previous) => eventX - previous >= MIN_MARK_GAP);
      if (level < 0) level = lastX.indexOf(Math.min(...lastX));
      lastX[level] = eventX;
      const style = KIND_STYLES[event.kind];
      const repeated = repeats > 0 ? ` (unchanged until ${formatOffset(lastT)})` : '';
      const tooltip = `${formatOffset(event.t)} ${event.from} ${event.kind}: ${event.detail}${repeated}`;
      parts.push(`<g class="event event-${event.kind}"><title>${escapeHtml(tooltip)}</title>${drawShape(style.shape, style.color, eventX, centre + (STAGGER[level] ?? 0))}</g>`);
    }
  });
  parts.push('</svg>');
  return parts.join('');
}

/** A live peer has no detection budget (any verdict is false); a dead one with none is never found. */
function budgetText(run: RunResult): string {
  if (run.budgetMs !== null) return formatDuration(run.budgetMs);
  return ['survived', 'false-positive', 'flow-lost'].includes(run.verdict) ? '– (peer alive)' : 'never';
}

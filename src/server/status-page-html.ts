/**
 * The status page: one self-contained HTML document (inline CSS, JS and SVG; it loads nothing from elsewhere).
 * It follows `events` (server-sent events, a relative URL so the page also works mounted under a path):
 * `hello` (everything), then `connections` (a fresh snapshot) and `deaths` (new deaths). Test hooks: rows carry
 * data-id, data-remote, data-state and data-reason.
 */

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

export function statusPageHtml(title: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}: connections</title>
<style>
  :root { --fg: #1d2330; --muted: #6b7280; --line: #e5e7eb; --bg: #fff; --ok: #15803d; --bad: #b91c1c; --warn: #b45309; }
  body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); margin: 1.5rem; }
  h1 { font-size: 1.3rem; margin: 0 0 .3rem; }
  h2 { font-size: 1.05rem; margin: 1.6rem 0 .5rem; }
  .muted { color: var(--muted); }
  #live { display: inline-block; padding: 0 .5em; border-radius: 1em; font-size: .85em; background: #fde68a; }
  #live[data-live="yes"] { background: #bbf7d0; }
  table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
  th, td { text-align: left; padding: .25rem .6rem; border-bottom: 1px solid var(--line); white-space: nowrap; }
  th { font-weight: 600; color: var(--muted); font-size: .85em; }
  td.num { text-align: right; }
  tr[data-state="suspect"] td.state { color: var(--warn); font-weight: 600; }
  tr[data-state="dead"] { color: var(--muted); background: #fef2f2; }
  tr[data-state="dead"] td.state { color: var(--bad); font-weight: 600; }
  .reason { display: inline-block; width: .7em; height: .7em; border-radius: 2px; margin-right: .35em; vertical-align: baseline; }
  #legend span.item { margin-right: 1.2em; white-space: nowrap; }
  #chart { width: 100%; max-width: 960px; height: 220px; display: block; }
  #chart text { font-size: 11px; fill: var(--muted); }
  .cards { display: flex; gap: 1rem; flex-wrap: wrap; margin: .6rem 0; }
  .card { border: 1px solid var(--line); border-radius: 6px; padding: .4rem .8rem; min-width: 7rem; }
  .card b { display: block; font-size: 1.3rem; }
</style>
</head>
<body>
<h1>${escapeHtml(title)} <span id="live" data-live="no">connecting</span></h1>
<div class="muted">Live connections and deaths, updated by the server as they happen. <a href="metrics">/metrics</a> · <a href="connections.json">connections.json</a></div>
<div class="cards" id="cards"></div>

<h2>Connections <span class="muted" id="count"></span></h2>
<table id="connections">
  <thead><tr><th>#</th><th>remote</th><th>state</th><th>silent</th><th>RTT</th><th>keepalive (read back)</th><th>heartbeat</th></tr></thead>
  <tbody></tbody>
</table>

<h2>Deaths by reason over time</h2>
<svg id="chart" viewBox="0 0 960 220" preserveAspectRatio="none" role="img" aria-label="deaths by reason over time"></svg>
<div id="legend"></div>

<h2>Recent deaths</h2>
<table id="deaths">
  <thead><tr><th>time</th><th>#</th><th>remote</th><th>reason</th><th>code</th><th>silent</th><th>because</th></tr></thead>
  <tbody></tbody>
</table>

<script>
(function () {
  'use strict';
  var COLORS = { 'keepalive-timeout': '#dc2626', 'user-timeout': '#ea580c', 'heartbeat-timeout': '#9333ea', 'unreachable': '#ca8a04',
    'reset': '#2563eb', 'eof': '#16a34a', 'local': '#6b7280', 'error': '#be185d', 'goaway': '#0891b2', 'protocol-error': '#7c2d12' };
  var EXTRA = ['#0f766e', '#4d7c0f', '#a16207', '#1e40af', '#86198f', '#334155'];
  var LINGER_MS = 30000, DEATH_ROWS = 50, WINDOW_MAX_MS = 15 * 60000, WINDOW_MIN_MS = 60000, BINS = 30;
  var state = { maxDeaths: 1000, connections: [], total: 0, states: {}, totals: {}, deaths: [], dead: {} };

  function color(reason) {
    if (COLORS[reason]) return COLORS[reason];
    var hash = 0;
    for (var i = 0; i < reason.length; i++) hash = (hash * 31 + reason.charCodeAt(i)) >>> 0;
    return EXTRA[hash % EXTRA.length];
  }
  function duration(ms) {
    if (ms === null || ms === undefined) return '-';
    if (ms < 1000) return (ms < 10 ? ms.toFixed(2) : Math.round(ms)) + ' ms';
    if (ms < 60000) return (ms / 1000).toFixed(1) + ' s';
    if (ms < 3600000) return Math.floor(ms / 60000) + ' min ' + Math.round((ms % 60000) / 1000) + ' s';
    return Math.floor(ms / 3600000) + ' h ' + Math.round((ms % 3600000) / 60000) + ' min';
  }
  function short(ms) { return ms % 1000 === 0 ? (ms / 1000) + 's' : ms + 'ms'; }
  function keepalive(k) {
    if (!k) return 'not read back';
    var uto = k.userTimeout > 0 ? ', user timeout ' + short(k.userTimeout) : '';
    return k.enabled ? short(k.idle) + ',' + short(k.interval) + ',' + k.count + uto : 'off' + uto;
  }
  function cell(row, text, cls) {
    var td = document.createElement('td');
    td.textContent = text;
    if (cls) td.className = cls;
    row.appendChild(td);
    return td;
  }
  function key(id, remote) { return String(id) + ' ' + remote; }

  function renderConnections() {
    var now = Date.now(), rows = [], seen = {};
    state.connections.forEach(function (c) { seen[key(c.id, c.remote)] = true; rows.push(c); });
    Object.keys(state.dead).forEach(function (k) {
      var d = state.dead[k];
      if (d.until < now) { delete state.dead[k]; return; }
      if (!seen[k]) rows.unshift(d.row);
    });
    var body = document.querySelector('#connections tbody');
    var fresh = document.createElement('tbody');
    rows.forEach(function (c) {
      var dead = state.dead[key(c.id, c.remote)];
      var tr = document.createElement('tr');
      tr.dataset.id = String(c.id);
      tr.dataset.remote = c.remote;
      tr.dataset.state = dead ? 'dead' : c.state;
      if (dead) tr.dataset.reason = dead.reason;
      cell(tr, String(c.id));
      cell(tr, c.remote);
      cell(tr, dead ? 'dead: ' + dead.reason : c.state, 'state');
      cell(tr, duration(dead ? dead.silentMs : c.silentMs), 'num');
      cell(tr, c.rttMs === null ? '-' : duration(c.rttMs), 'num');
      cell(tr, keepalive(c.keepalive));
      cell(tr, c.heartbeatIntervalMs ? 'every ' + duration(c.heartbeatIntervalMs) : '-');
      fresh.appendChild(tr);
    });
    body.replaceWith(fresh);
    document.getElementById('count').textContent = state.total > state.connections.length
      ? '(showing ' + state.connections.length + ' of ' + state.total + ', the most silent first)' : '(' + state.total + ')';
  }

  function renderCards() {
    var cards = document.getElementById('cards');
    cards.textContent = '';
    function card(label, value, hint) {
      var div = document.createElement('div');
      div.className = 'card';
      var b = document.createElement('b');
      b.textContent = String(value);
      div.appendChild(b);
      div.appendChild(document.createTextNode(label));
      if (hint) div.title = hint;
      cards.appendChild(div);
    }
    card('live connections', state.total);
    Object.keys(state.states).sort().forEach(function (s) { if (state.states[s] > 0) card(s, state.states[s]); });
    var dead = 0;
    Object.keys(state.totals).forEach(function (r) { dead += state.totals[r]; });
    card('deaths', dead, Object.keys(state.totals).map(function (r) { return r + ': ' + state.totals[r]; }).join(', '));
  }

  function renderDeaths() {
    var body = document.createElement('tbody');
    var list = state.deaths.slice(-DEATH_ROWS).reverse();
    list.forEach(function (d) {
      var tr = document.createElement('tr');
      tr.dataset.remote = d.remote || '';
      tr.dataset.reason = d.reason;
      if (d.id !== undefined) tr.dataset.id = String(d.id);
      cell(tr, new Date(d.at).toLocaleTimeString());
      cell(tr, d.id === undefined ? '-' : String(d.id));
      cell(tr, d.remote || '-');
      var reason = cell(tr, d.reason);
      var swatch = document.createElement('span');
      swatch.className = 'reason';
      swatch.style.background = color(d.reason);
      reason.prepend(swatch);
      cell(tr, d.code || '-');
      cell(tr, duration(d.silentMs === undefined ? d.detectionLatencyMs : d.silentMs), 'num');
      cell(tr, d.because || '');
      body.appendChild(tr);
    });
    document.querySelector('#deaths tbody').replaceWith(body);
  }

  var SVG = 'http://www.w3.org/2000/svg';
  function svg(name, attrs, text) {
    var el = document.createElementNS(SVG, name);
    Object.keys(attrs).forEach(function (a) { el.setAttribute(a, attrs[a]); });
    if (text !== undefined) el.textContent = text;
    return el;
  }
  function renderChart() {
    var chart = document.getElementById('chart');
    while (chart.firstChild) chart.removeChild(chart.firstChild);
    var now = Date.now(), deaths = state.deaths;
    var oldest = deaths.length ? deaths[0].at : now;
    var span = Math.min(WINDOW_MAX_MS, Math.max(WINDOW_MIN_MS, now - oldest));
    var start = now - span, width = span / BINS, bins = [], reasons = {}, max = 0;
    for (var i = 0; i < BINS; i++) bins.push({});
    deaths.forEach(function (d) {
      if (d.at < start) return;
      var b = Math.min(BINS - 1, Math.floor((d.at - start) / width));
      bins[b][d.reason] = (bins[b][d.reason] || 0) + 1;
      reasons[d.reason] = (reasons[d.reason] || 0) + 1;
    });
    bins.forEach(function (bin) { var n = 0; Object.keys(bin).forEach(function (r) { n += bin[r]; }); if (n > max) max = n; });
    var left = 40, top = 10, w = 960 - left - 10, h = 180, order = Object.keys(reasons).sort();
    chart.appendChild(svg('line', { x1: left, y1: top + h, x2: left + w, y2: top + h, stroke: '#9ca3af' }));
    chart.appendChild(svg('text', { x: left - 6, y: top + 10, 'text-anchor': 'end' }, String(max)));
    chart.appendChild(svg('text', { x: left - 6, y: top + h, 'text-anchor': 'end' }, '0'));
    chart.appendChild(svg('text', { x: left, y: top + h + 18 }, '-' + duration(span)));
    chart.appendChild(svg('text', { x: left + w, y: top + h + 18, 'text-anchor': 'end' }, 'now'));
    chart.appendChild(svg('text', { x: left + w / 2, y: top + h + 18, 'text-anchor': 'middle' }, 'each bar ' + duration(width)));
    var barW = w / BINS;
    bins.forEach(function (bin, index) {
      var y = top + h;
      order.forEach(function (reason) {
        var n = bin[reason];
        if (!n) return;
        var bh = (n / max) * h;
        y -= bh;
        var rect = svg('rect', { x: left + index * barW + 1, y: y, width: Math.max(1, barW - 2), height: bh, fill: color(reason), 'data-reason': reason });
        rect.appendChild(svg('title', {}, reason + ': ' + n));
        chart.appendChild(rect);
      });
    });
    if (!deaths.length) chart.appendChild(svg('text', { x: left + w / 2, y: top + h / 2, 'text-anchor': 'middle' }, 'no deaths yet'));
    var legend = document.getElementById('legend');
    legend.textContent = '';
    order.forEach(function (reason) {
      var item = document.createElement('span');
      item.className = 'item';
      item.dataset.reason = reason;
      var swatch = document.createElement('span');
      swatch.className = 'reason';
      swatch.style.background = color(reason);
      item.appendChild(swatch);
      item.appendChild(document.createTextNode(reason + ' ' + reasons[reason]));
      legend.appendChild(item);
    });
  }

  function addDeaths(list) {
    var now = Date.now();
    list.forEach(function (d) {
      state.deaths.push(d);
      if (d.remote === undefined) return;
      var k = key(d.id, d.remote), row = null;
      state.connections.forEach(function (c) { if (key(c.id, c.remote) === k) row = c; });
      if (row) state.dead[k] = { row: row, reason: d.reason, silentMs: d.silentMs, until: now + LINGER_MS };
    });
    if (state.deaths.length > state.maxDeaths) state.deaths.splice(0, state.deaths.length - state.maxDeaths);
  }
  function snapshot(data) {
    state.connections = data.connections;
    state.total = data.total;
    state.states = data.states;
    state.totals = data.totals;
  }
  function renderAll() { renderCards(); renderConnections(); renderDeaths(); renderChart(); }

  var live = document.getElementById('live');
  var source = new EventSource('events');
  source.addEventListener('hello', function (e) {
    var data = JSON.parse(e.data);
    state.maxDeaths = data.maxDeaths;
    state.deaths = [];
    addDeaths(data.deaths);
    snapshot(data);
    renderAll();
  });
  source.addEventListener('deaths', function (e) {
    addDeaths(JSON.parse(e.data));
    renderDeaths();
    renderChart();
    renderConnections();
  });
  source.addEventListener('connections', function (e) {
    snapshot(JSON.parse(e.data));
    renderCards();
    renderConnections();
  });
  source.onopen = function () { live.dataset.live = 'yes'; live.textContent = 'live'; };
  source.onerror = function () { live.dataset.live = 'no'; live.textContent = 'reconnecting'; };
  setInterval(renderChart, 5000);
})();
</script>
</body>
</html>
`;
}

import { createHash } from 'node:crypto';

/**
 * /dashboard: one self-contained page (inline CSS and JS, no CDN, no external request) that polls
 * /dashboard.json every second. Every value is written with textContent (never innerHTML), and the
 * Content-Security-Policy allows exactly this script and this style by their hashes.
 */
const STYLE = `
:root{--blue:#2f6fde;--green:#23945a;--bad:#c62828;--warn:#b26a00;--fg:#1d2330;--muted:#667085;--bg:#f4f6f9;--card:#fff;--line:#e3e7ee}
*{box-sizing:border-box}body{margin:0;font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
header{display:flex;align-items:center;justify-content:space-between;padding:10px 20px;background:#1d2330;color:#fff}
h1{font-size:18px;margin:0}h2{font-size:13px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted);margin:0 0 8px}
main{display:grid;grid-template-columns:repeat(auto-fit,minmax(360px,1fr));gap:14px;padding:14px 20px}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:14px}.wide{grid-column:1/-1}
.row{display:flex;gap:28px;flex-wrap:wrap;align-items:baseline;margin-bottom:10px}.big{font-size:22px;font-weight:700}
.split{display:flex;height:38px;border-radius:6px;overflow:hidden;background:var(--line)}
.seg{display:flex;align-items:center;justify-content:center;color:#fff;font-weight:700;transition:width .4s;min-width:0;overflow:hidden;white-space:nowrap}
.seg.blue{background:var(--blue)}.seg.green{background:var(--green)}
.muted{color:var(--muted)}.blue-t{color:var(--blue)}.green-t{color:var(--green)}
.conn{font-size:12px}.conn.down{color:#ffb4a9}
svg{width:100%;height:auto;display:block;max-height:240px}svg text{font-size:13px;fill:var(--muted)}svg .grid{stroke:var(--line)}
table{width:100%;border-collapse:collapse}th,td{text-align:left;padding:4px 6px;border-bottom:1px solid var(--line);vertical-align:top}
.v-passed{color:var(--green);font-weight:600}.v-failed{color:var(--bad);font-weight:600}.v-pending{color:var(--warn);font-weight:600}
.dot{display:inline-block;width:9px;height:9px;border-radius:50%;margin-right:6px}.up{background:var(--green)}.down{background:var(--bad)}
.alert{border-left:4px solid var(--warn);padding:4px 8px;margin:4px 0;background:#fff8ec}.alert.critical{border-color:var(--bad);background:#fdecec}
.legend span{margin-right:14px}
.top{display:flex;flex-direction:column;gap:6px}.badge{display:inline-block;padding:4px 14px;border-radius:6px;font-size:20px;font-weight:800;color:#fff;background:var(--muted)}
.badge.OK{background:var(--green)}.badge.DEGRADED{background:var(--warn)}.badge.CRITICAL{background:var(--bad)}
.v-observing,.v-applying{color:var(--blue);font-weight:600}.v-stopped{color:var(--warn);font-weight:600}
`;

const SCRIPT = `
(() => {
  'use strict';
  const $ = (id) => document.getElementById(id);
  const el = (tag, cls, text) => { const e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = String(text); return e; };
  const NS = 'http://www.w3.org/2000/svg';
  const svgEl = (tag, attrs) => { const e = document.createElementNS(NS, tag); for (const k in attrs) e.setAttribute(k, String(attrs[k])); return e; };
  const pct = (x) => (x === null || x === undefined ? '–' : (x * 100).toFixed(x > 0 && x < 0.1 ? 2 : 1) + '%');
  const ms = (x) => (x === null || x === undefined ? '–' : Math.round(x) + ' ms');
  const time = (iso) => (iso ? new Date(iso).toLocaleTimeString() : '–');
  const secs = (a, b) => (a && b ? ((Date.parse(b) - Date.parse(a)) / 1000).toFixed(1) + ' s' : '');
  const fill = (node, children) => { node.replaceChildren(...children); };

  function chart(svg, d, cols) {
    const W = 1000, H = 200, L = 40, B = 16, from = d.chart.fromMs, to = d.chart.toMs;
    const series = cols.map((c) => d.chart.points.map((p) => [p[0], p[1] > 0 ? p[c.i] / (p[1] / 1000) : 0]));
    let max = 1;
    for (const s of series) for (const p of s) if (p[1] > max) max = p[1];
    max = Math.ceil(max * 1.1);
    const x = (t) => L + ((t - from) / (to - from)) * (W - L - 4);
    const y = (v) => H - B - (v / max) * (H - B - 6);
    const nodes = [];
    for (const f of [0, 0.5, 1]) {
      nodes.push(svgEl('line', { x1: L, x2: W - 4, y1: y(max * f), y2: y(max * f), class: 'grid' }));
      const t = svgEl('text', { x: 2, y: y(max * f) + 3 }); t.textContent = (max * f).toFixed(max * f < 10 ? 1 : 0); nodes.push(t);
    }
    const minutes = Math.round((to - from) / 60000);
    const t0 = svgEl('text', { x: L, y: H - 3 }); t0.textContent = '-' + minutes + ' min'; nodes.push(t0);
    const t1 = svgEl('text', { x: W - 24, y: H - 3 }); t1.textContent = 'now'; nodes.push(t1);
    series.forEach((s, k) => {
      if (s.length === 0) return;
      const points = s.map((p) => x(p[0]).toFixed(1) + ',' + y(p[1]).toFixed(1)).join(' ');
      nodes.push(svgEl('polyline', { points, fill: 'none', stroke: cols[k].color, 'stroke-width': 2, 'data-color': cols[k].name }));
    });
    fill(svg, nodes);
  }

  function render(d) {
    $('verdict').textContent = d.verdict.level;
    $('verdict').className = 'badge ' + d.verdict.level;
    $('verdict-why').textContent = d.verdict.level === 'OK' ? 'everything bgctl can see is fine' : d.verdict.reasons.filter((r) => r.code !== 'alert').map((r) => r.text).join(' · ');
    const o = d.observing;
    $('countdown').textContent = o
      ? 'step ' + o.step + ' (' + o.percent + '%) observing — ' + (o.remainingMs > 0 ? Math.ceil(o.remainingMs / 1000) + ' s left' : 'deciding (the window may be extended)')
      : '';
    const open = d.alerts.open.map((a) => el('div', 'alert ' + a.severity, a.severity.toUpperCase() + ' ' + a.state + ' since ' + time(a.startedAt) + ': ' + a.summary));
    fill($('top-alerts'), open.length ? open : [el('div', 'muted', 'no open alerts')]);
    $('active').textContent = d.active;
    $('active').className = 'big ' + d.active + '-t';
    $('stable').textContent = d.stable;
    $('nginx').textContent = d.nginx.up ? 'revision ' + d.nginx.revision + (d.drift ? ' (DRIFT from state.json)' : '') : 'NOT ANSWERING';
    for (const c of ['blue', 'green']) {
      $('seg-' + c).style.width = d.weights[c] + '%';
      $('w-' + c).textContent = c + ' ' + d.weights[c] + '%';
    }
    $('versions').textContent = 'versions: blue ' + (d.versions.blue || '?') + ' · green ' + (d.versions.green || '?');
    const t = d.traffic.colors;
    $('rates').textContent = d.traffic.readable
      ? 'last ' + d.traffic.windowSeconds + ' s — blue ' + t.blue.rps.toFixed(1) + ' req/s, 5xx ' + pct(t.blue.errorRate) + ', p95 ' + ms(t.blue.p95) +
        ' · green ' + t.green.rps.toFixed(1) + ' req/s, 5xx ' + pct(t.green.errorRate) + ', p95 ' + ms(t.green.p95)
      : 'access log unreadable';
    chart($('chart-req'), d, [{ i: 2, color: '#2f6fde', name: 'blue' }, { i: 4, color: '#23945a', name: 'green' }]);
    chart($('chart-err'), d, [{ i: 3, color: '#2f6fde', name: 'blue' }, { i: 5, color: '#23945a', name: 'green' }]);
    const m = d.migration;
    $('migration').textContent = m
      ? m.kind + ' ' + m.from + ' → ' + m.to + (m.version ? ' ' + m.version : '') + ': ' + m.status +
        (m.step ? ' — step ' + m.step + '/' + m.totalSteps : '') +
        (m.paused ? ' — PAUSED by ' + m.paused.by + ' since ' + m.paused.since : '') + (m.reason ? ' — ' + m.reason : '')
      : 'no migration yet';
    fill($('steps-body'), (m ? m.steps : []).map((s) => {
      const tr = el('tr');
      tr.append(el('td', '', s.n), el('td', '', 'blue ' + s.weights.blue + '% / green ' + s.weights.green + '%'),
        el('td', 'v-' + s.shown, s.shown), el('td', '', time(s.startedAt) + ' ' + secs(s.appliedAt, s.endedAt)),
        el('td', 'muted', s.reason || s.decision || ''));
      return tr;
    }));
    const health = [];
    for (const c of ['blue', 'green']) {
      const h = d.health.colors[c];
      health.push(el('div', c + '-t', c + (h.up ? ' — up' : ' — DOWN') + (h.version ? ' (' + h.version + ')' : '')));
      for (const s of h.servers) {
        const row = el('div', 'server');
        row.append(el('span', 'dot ' + (s.healthy ? 'up' : 'down')), el('span', '', s.server + ' '),
          el('span', 'muted', s.healthy ? 'HTTP ' + s.status + ', ' + Math.round(s.latencyMs) + ' ms' : (s.error || 'unhealthy')));
        health.push(row);
      }
    }
    health.push(el('div', 'muted', 'checked ' + time(d.health.checkedAt) +
      (d.host.cpuPercent !== null ? ' · host CPU ' + d.host.cpuPercent.toFixed(0) + '%' : '') +
      (d.host.memoryPercent !== null ? ' · memory ' + d.host.memoryPercent.toFixed(0) + '%' : '') +
      (d.host.diskPercent !== null ? ' · disk ' + d.host.diskPercent.toFixed(0) + '%' : '')));
    fill($('health'), health);
    const alerts = [el('div', 'muted', d.alerts.open.length + ' open (at the top of the page)')];
    for (const a of d.alerts.resolved.slice(0, 5)) alerts.push(el('div', 'muted', 'resolved ' + time(a.resolvedAt) + ': ' + a.summary));
    fill($('alerts'), alerts);
  }

  let failures = 0;
  async function poll() {
    try {
      const r = await fetch('/dashboard.json', { cache: 'no-store', headers: { accept: 'application/json' } });
      if (!r.ok) throw new Error('HTTP ' + r.status);
      const d = await r.json();
      render(d);
      failures = 0;
      $('conn').textContent = 'live · ' + time(d.now);
      $('conn').className = 'conn';
    } catch (e) {
      failures++;
      $('conn').textContent = 'disconnected (' + (e && e.message ? e.message : e) + '), retrying';
      $('conn').className = 'conn down';
    } finally {
      setTimeout(poll, failures > 5 ? 5000 : 1000);
    }
  }
  poll();
})();
`;

const BODY = `<header><h1>bgctl · blue/green traffic</h1><div id="conn" class="conn">connecting…</div></header>
<main>
<section class="card wide top" data-testid="overview">
  <div class="row"><span id="verdict" class="badge" data-testid="verdict">–</span><span id="countdown" data-testid="countdown"></span></div>
  <div id="verdict-why" data-testid="verdict-why"></div>
  <div id="top-alerts" data-testid="open-alerts"></div>
</section>
<section class="card wide">
  <div class="row">
    <div>active <span id="active" class="big" data-testid="active-color">–</span></div>
    <div>stable <strong id="stable">–</strong></div>
    <div>NGINX <strong id="nginx">–</strong></div>
    <div id="versions" class="muted"></div>
  </div>
  <div class="split" role="img" aria-label="traffic split">
    <div class="seg blue" id="seg-blue"><span id="w-blue" data-testid="weight-blue">–</span></div>
    <div class="seg green" id="seg-green"><span id="w-green" data-testid="weight-green">–</span></div>
  </div>
</section>
<section class="card wide">
  <h2>Requests per second</h2>
  <div class="legend"><span class="blue-t">■ blue</span><span class="green-t">■ green</span><span id="rates" class="muted"></span></div>
  <svg id="chart-req" viewBox="0 0 1000 200" aria-label="requests per second by color"></svg>
  <h2>5xx per second</h2>
  <svg id="chart-err" viewBox="0 0 1000 200" aria-label="5xx per second by color"></svg>
</section>
<section class="card"><h2>Migration</h2><div id="migration" data-testid="migration">–</div>
  <table><thead><tr><th>#</th><th>split</th><th>verdict</th><th>time</th><th>why</th></tr></thead><tbody id="steps-body"></tbody></table>
</section>
<section class="card"><h2>Health</h2><div id="health" data-testid="health"></div></section>
<section class="card"><h2>Alerts resolved</h2><div id="alerts" data-testid="alerts"></div></section>
</main>`;

const hash = (s: string): string => `'sha256-${createHash('sha256').update(s, 'utf8').digest('base64')}'`;

export interface Page {
  readonly html: string;
  readonly csp: string;
}

/** The page and its Content-Security-Policy (built once). */
export function dashboardPage(): Page {
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>bgctl dashboard</title><link rel="icon" href="data:,"><style>${STYLE}</style></head>
<body>${BODY}<script>${SCRIPT}</script></body></html>
`;
  const csp = [
    "default-src 'none'",
    `script-src ${hash(SCRIPT)}`,
    `style-src ${hash(STYLE)}`,
    "connect-src 'self'",
    'img-src data:',
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  return { html, csp };
}

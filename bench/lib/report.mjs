/**
 * Turns the results into tables: aligned text for the terminal, the same tables in Markdown for
 * bench/results/latest.md. Every section is { title, note, headers, rows } so both renderings agree;
 * the per-benchmark sections are in sections.mjs, the summary (headline figures next to their
 * same-run baselines) is here.
 */
import {
  applyLatencySection,
  coldStartSection,
  dataPlaneSection,
  dynamicSections,
  ft,
  num,
  pct,
  rollbackSection,
  splitSection,
  timeToRestoreRunsSection,
  timeToRestoreSection,
  times,
  zeroDowntimeKindsSection,
  zeroDowntimeSection,
} from './sections.mjs';
import { PAIRS, ratioKey } from './pairs.mjs';
import { summarize } from './stats.mjs';

const sec = (ms) => (ms === null || ms === undefined ? '-' : `${(ms / 1000).toFixed(2)} s`);
const range = (s, f) => (s?.min === null || s?.min === undefined ? '' : `${f(s.min)} – ${f(s.max)}`);
const ms = (x, digits = 0) => `${num(x, digits)} ms`;

function zeroDowntimeRows(z) {
  const versus = (ratioValue, mine) => (ratioValue !== null ? times(ratioValue) : mine === 0 ? 'both 0' : 'baseline 0');
  const rows = [
    [
      'failed requests, bgctl gradual 25/50/75/100 (all clients)',
      pct(z.bgctl.failRate.median),
      `${pct(z.bgctl.failRate.min)} – ${pct(z.bgctl.failRate.max)}`,
      `bare reloads ${pct(z.baseline.failRate.median)}`,
      versus(z.failRateRatio, z.bgctl.failRate.median),
    ],
    [
      '  same, all runs pooled',
      pct(z.bgctl.pooled.failRate),
      `${z.bgctl.pooled.failed}/${z.bgctl.pooled.total}`,
      `bare reloads ${pct(z.baseline.pooled.failRate)} (${z.baseline.pooled.failed}/${z.baseline.pooled.total})`,
      versus(z.pooledFailRateRatio, z.bgctl.pooled.failRate),
    ],
    [
      '  reloads that lost requests',
      `${z.bgctl.incidents} of ${z.bgctl.reloads}`,
      '',
      `bare reloads ${z.baseline.incidents} of ${z.baseline.reloads}`,
      '',
    ],
  ];
  for (const k of Object.values(z.kinds ?? {}))
    rows.push([
      `  ${k.label}, pooled`,
      pct(k.bgctl.pooled.failRate),
      ft(k.bgctl.pooled.failed, k.bgctl.pooled.total),
      `bare reloads ${pct(k.baseline.pooled.failRate)} (${ft(k.baseline.pooled.failed, k.baseline.pooled.total)})`,
      versus(k.pooledFailRateRatio, k.bgctl.pooled.failRate),
    ]);
  return rows;
}

function splitRows(sp) {
  const pts = (x) => (x === null || x === undefined || !Number.isFinite(x) ? '-' : `${(x * 100).toFixed(2)} pts`);
  return ['weighted', 'sticky'].map((strategy) => {
    // per run, the step whose share is furthest from its target (100% is trivially exact)
    const worst = summarize(
      sp.runs.map((r) =>
        Math.max(...r[strategy].steps.filter((st) => st.percent < 100 && st.error !== null).map((st) => Math.abs(st.error))),
      ),
    );
    const coin = Math.max(...sp.summary[strategy].filter((st) => st.percent < 100).map((st) => st.coinSd.median ?? 0));
    const what = strategy === 'weighted' ? 'requests' : `${sp.clients} clients keeping their cookie`;
    const mixed = sp.summary[strategy].reduce((a, st) => a + st.mixed, 0);
    const r = coin > 0 && worst.median !== null ? times(worst.median / coin) : '';
    return [
      `split, ${strategy}: worst step |share − target| (${what})`,
      pts(worst.median),
      worst.min === null ? '' : `${pts(worst.min)} – ${pts(worst.max)}`,
      `fair coin ±${pts(coin)}`,
      strategy === 'sticky' ? `${r}; mixed ${mixed}, moved back ${sp.summary.movedBack}` : r,
    ];
  });
}

function timeToRestoreRows(tr) {
  return tr.scenarios.map((sc) => {
    const label = `time to restore, ${sc.label}, ${sc.thresholds} thresholds`;
    if (sc.skip) return [label, sc.skip, '', `wait ${sc.waitS} s`, ''];
    const s = sc.summary;
    const extra = s.restoredMs.median === null ? '' : `bgctl +${((s.restoredMs.median - sc.waitS * 1000) / 1000).toFixed(2)} s`;
    return [
      label,
      sec(s.restoredMs.median),
      range(s.restoredMs, sec),
      `wait ${sc.waitS} s`,
      `${extra}; ${num(s.failed.median)} request${s.failed.median === 1 ? '' : 's'} failed`,
    ];
  });
}

function applyRows(al) {
  const s = al.summary;
  const hand = s.handReload.totalMs.median;
  const stepMedians = s.steps.map((st) => st.ms.median).filter((x) => x !== null);
  const stepMedian = stepMedians.length ? stepMedians.sort((a, b) => a - b)[Math.floor(stepMedians.length / 2)] : null;
  const mins = s.steps.map((st) => st.ms.min).filter((x) => x !== null);
  const maxes = s.steps.map((st) => st.ms.max).filter((x) => x !== null);
  return [
    [
      'apply a gradual step (render → confirmed; median step)',
      ms(stepMedian),
      mins.length ? `${ms(Math.min(...mins))} – ${ms(Math.max(...maxes))}` : '',
      `nginx -t + -s reload by hand (no confirmation) ${ms(hand)}`,
      hand ? times(stepMedian / hand) : '',
    ],
    [
      'apply the rollback',
      ms(s.rollback.ms.median),
      range(s.rollback.ms, (x) => ms(x)),
      `by hand ${ms(hand)}`,
      hand ? times(s.rollback.ms.median / hand) : '',
    ],
  ];
}

const MODE_OF = { reload: 'reload mode', dynamic: 'dynamic mode', dynamic08: 'dynamic mode, njs 0.8.9 (shared memory)' };

function dataPlaneRows(dp) {
  const s = dp.summary;
  return PAIRS.filter(([id, base]) => s[id] && s[base]).flatMap(([id, base]) => {
    const mode = MODE_OF[id];
    const direct = base === 'minimal' ? `, direct ${num(s.direct.rps.median)}` : '';
    return [
      [
        `throughput through bgctl's NGINX, ${mode} (wrk, 1 worker)`,
        `${num(s[id].rps.median)} req/s`,
        range(s[id].rps, (x) => num(x)),
        `${s[base].label} ${num(s[base].rps.median)}${direct}`,
        times(s.ratios[ratioKey('rps', id, base)]),
      ],
      [
        `NGINX CPU per request, ${mode}`,
        `${num(s[id].cpu.median, 1)} µs`,
        range(s[id].cpu, (x) => num(x, 1)),
        `${base} ${num(s[base].cpu.median, 1)} µs (ratio: ${base} / this)`,
        times(s.ratios[ratioKey('cpu', id, base)]),
      ],
      [
        `p99 latency through bgctl's NGINX, ${mode}`,
        ms(s[id].p99.median, 2),
        range(s[id].p99, (x) => num(x, 2)),
        `${base} ${ms(s[base].p99.median, 2)}`,
        times(s.ratios[ratioKey('p99', id, base)]),
      ],
    ];
  });
}

function dynamicRows(d) {
  const s = d.summary;
  const g = s.gradual;
  const pooled = (w) => `${pct(w.pooled.failRate)} (${ft(w.pooled.failed, w.pooled.total)})`;
  const t = s.throughput;
  const rb = s.rollback;
  return [
    [
      'failed requests, gradual in dynamic mode (all runs pooled)',
      pct(g.dynamic.pooled.failRate),
      ft(g.dynamic.pooled.failed, g.dynamic.pooled.total),
      `reload mode ${pooled(g.reload)}, bare reloads ${pooled(g.bare)}${g.haproxy ? `, haproxy ${pooled(g.haproxy)}` : ''}`,
      s.pooledFailRateRatio !== null
        ? times(s.pooledFailRateRatio)
        : g.dynamic.pooled.failed === 0
          ? g.reload.pooled.failed === 0
            ? 'both 0'
            : 'dynamic 0'
          : 'reload 0',
    ],
    [
      '  NGINX reloads during those migrations',
      `${g.dynamic.nginxReloads}`,
      `${d.gradual.length} migrations`,
      `reload mode ${g.reload.nginxReloads}, bare reloads ${g.bare.nginxReloads}`,
      '',
    ],
    [
      '  p99 latency during the migration, dynamic mode',
      ms(g.dynamic.p99.median, 1),
      range(g.dynamic.p99, (x) => num(x, 1)),
      `reload mode ${ms(g.reload.p99.median, 1)}, bare reloads ${ms(g.bare.p99.median, 1)}${g.haproxy ? `, haproxy ${ms(g.haproxy.p99.median, 1)}` : ''}`,
      times(s.p99Ratio),
    ],
    [
      'throughput at 50/50, dynamic mode (wrk)',
      `${num(t.dynamic.rps.median)} req/s`,
      range(t.dynamic.rps, (x) => num(x)),
      `reload mode (weighted upstream) ${num(t.reload.rps.median)}${t.haproxy ? `, haproxy ${num(t.haproxy.rps.median)}` : ''}`,
      times(t.rpsRatio),
    ],
    [
      '  njs pick, per request at saturation',
      `${num(t.pickUsFromMedians, 1)} µs`,
      range(t.pickUs, (x) => `${num(x, 1)} µs`),
      'from 1e6/req/s of each mode',
      '',
    ],
    [
      'rollback wall time from a held canary, dynamic mode',
      ms(rb.dynamic.wallMs.median),
      range(rb.dynamic.wallMs, (x) => num(x)),
      `reload mode ${ms(rb.reload.wallMs.median)} (applyMs ${num(rb.dynamic.applyMs.median)} vs ${num(rb.reload.applyMs.median)})`,
      times(rb.wallRatio),
    ],
    [
      '  dynamic rollback: wall time − its applyMs (CLI start and the rest)',
      rb.dynamic.wallMs.median === null || rb.dynamic.applyMs.median === null
        ? '-'
        : ms(rb.dynamic.wallMs.median - rb.dynamic.applyMs.median),
      '',
      'goal: ≤ 150 ms',
      '',
    ],
  ];
}

/** One line per headline figure with its baseline from the same run. */
function summarySection(results) {
  const rows = [];
  if (results.zeroDowntime) rows.push(...zeroDowntimeRows(results.zeroDowntime.summary));
  if (results.split) rows.push(...splitRows(results.split));
  if (results.timeToRestore) rows.push(...timeToRestoreRows(results.timeToRestore));
  if (results.applyLatency) rows.push(...applyRows(results.applyLatency));
  const rb = results.rollback?.summary;
  if (rb)
    rows.push([
      'rollback wall time',
      `${num(rb.wallMs.median)} ms`,
      `${num(rb.wallMs.min)} – ${num(rb.wallMs.max)} ms`,
      `applyMs ${num(rb.applyMs.median)} ms`,
      `CLI +${num(rb.overheadMs)} ms`,
    ]);
  const cs = results.coldStart?.summary;
  if (cs) {
    for (const id of ['status', 'version']) {
      rows.push([
        `cold start, ${cs[id].label}`,
        `${num(cs[id].ms.median)} ms`,
        `${num(cs[id].ms.min)} – ${num(cs[id].ms.max)} ms`,
        `node -e 0 ${num(cs.node.ms.median)} ms`,
        times(cs[id].vsNode),
      ]);
    }
  }
  if (results.dataPlane) rows.push(...dataPlaneRows(results.dataPlane));
  if (results.dynamic) rows.push(...dynamicRows(results.dynamic));
  return {
    title: 'Summary (medians; baselines from the same run)',
    note: '',
    headers: ['measure', 'median', 'min – max', 'baseline', 'ratio'],
    rows,
  };
}

export function sections(results) {
  const out = [summarySection(results)];
  if (results.zeroDowntime) out.push(zeroDowntimeSection(results.zeroDowntime), zeroDowntimeKindsSection(results.zeroDowntime));
  if (results.split) out.push(splitSection(results.split));
  if (results.timeToRestore) out.push(timeToRestoreSection(results.timeToRestore), timeToRestoreRunsSection(results.timeToRestore));
  if (results.applyLatency) out.push(applyLatencySection(results.applyLatency));
  if (results.rollback) out.push(rollbackSection(results.rollback));
  if (results.coldStart) out.push(coldStartSection(results.coldStart));
  if (results.dataPlane) out.push(dataPlaneSection(results.dataPlane));
  if (results.dynamic) out.push(...dynamicSections(results.dynamic));
  return out;
}

function textTable({ headers, rows }) {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) =>
    cells
      .map((c, i) => String(c).padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

const mdCell = (c) => String(c).replace(/\|/g, '\\|');
function mdTable({ headers, rows }) {
  return [
    `| ${headers.map(mdCell).join(' | ')} |`,
    `|${headers.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.map(mdCell).join(' | ')} |`),
  ].join('\n');
}

const machineLine = (m) =>
  `${m.cpu}, ${m.cores} cores, ${m.memoryGb} GB, ${m.kernel}, node ${m.node}, nginx ${m.nginx}, load average ${m.loadAverage.join(' ')}${m.commit ? `, commit ${m.commit}` : ''}`;

export function renderText(report) {
  const head = [
    `bgctl bench, ${report.date} (${report.mode}, ${Math.round(report.durationMs / 1000)} s)`,
    `machine: ${machineLine(report.machine)}`,
  ];
  const body = sections(report.results).map((s) => `${s.title}\n${s.note ? `${s.note}\n` : ''}\n${textTable(s)}`);
  const problems = report.problems.length > 0 ? [`PROBLEMS:\n${report.problems.map((p) => `- ${p}`).join('\n')}`] : [];
  return [...head, '', ...body.join('\n\n').split('\n'), ...(problems.length ? ['', ...problems] : [])].join('\n');
}

export function renderMarkdown(report) {
  const m = report.machine;
  const parts = [
    `# bgctl benchmarks`,
    `${report.date}, ${report.mode} run (${Math.round(report.durationMs / 1000)} s), \`${report.command}\``,
    `Machine: ${machineLine(m)}`,
    'Each figure is the median of several runs, with min and max; each baseline was measured in the same run on the same machine, so the ratios carry better than the absolute numbers.',
    ...sections(report.results).map((s) => `## ${s.title}\n\n${s.note ? `${s.note}\n\n` : ''}${mdTable(s)}`),
  ];
  const charts = report.charts ?? [];
  if (charts.length > 0)
    parts.push(
      `## Timelines\n\nThe first run of each time-to-restore scenario with immediate thresholds, drawn from the access log by bgctl's own chart code (\`bgctl history --chart\` draws any real migration the same way).\n\n${charts.map((c) => `![${c.title}](${c.file})`).join('\n\n')}`,
    );
  if (report.problems.length > 0) parts.push(`## Problems\n\n${report.problems.map((p) => `- ${p}`).join('\n')}`);
  return `${parts.join('\n\n')}\n`;
}

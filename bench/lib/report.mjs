/**
 * Turns the results into tables: aligned text for the terminal, the same tables in Markdown for
 * bench/results/latest.md. Every section is { title, note, headers, rows } so both renderings agree.
 */
const pct = (rate) => (rate === null || rate === undefined ? '-' : `${(rate * 100).toFixed(3)}%`);
const num = (x, digits = 0) => (x === null || x === undefined ? '-' : Number(x).toFixed(digits));
const times = (x) => (x === null || x === undefined ? '-' : `×${x.toFixed(2)}`);
const ft = (failed, total) => `${num(failed)}/${num(total)}`;

function zeroDowntimeSection(z) {
  const s = z.summary;
  // incidents: requests lost per burst, e.g. "19+1" (one reload cost 19, another 1); "-" for none
  const incidents = (w) => (w.bursts.length > 0 ? w.bursts.join('+') : '-');
  const side = (w) => [ft(w.failed, w.total), pct(w.failRate), incidents(w), num(w.reqPerSec)];
  const rows = z.runs.map((r) => [
    String(r.run),
    ...side(r.bgctl).map((c, i) => (i === 0 && !r.bgctl.ok ? `${c} (exit ${r.bgctl.exitCode}!)` : c)),
    num(r.bgctl.durationMs / 1000, 1),
    ...side(r.baseline),
    `${r.baseline.reloads}/${r.bgctl.offsetsMs.length}`,
    r.order,
  ]);
  const stat = (w, k) => [ft(w.failed[k], w.total[k]), pct(w.failRate[k]), '', num(w.reqPerSec[k])];
  for (const k of ['median', 'min', 'max'])
    rows.push([k, ...stat(s.bgctl, k), num(s.bgctl.durationMs[k] / 1000, 1), ...stat(s.baseline, k), '', '']);
  const pooled = (w) => [ft(w.pooled.failed, w.pooled.total), pct(w.pooled.failRate), `${w.incidents} of ${w.reloads}`, ''];
  rows.push(['pooled', ...pooled(s.bgctl), '', ...pooled(s.baseline), '', '']);
  return {
    title: `Zero-downtime: gradual ${z.load.steps.join(',')} @ ${z.load.stepSeconds} s vs bare reloads, ${z.load.connections} keep-alive connections`,
    note:
      'failed/total requests while `bgctl gradual` ran; baseline: the same NGINX, load and duration with one bare `nginx -s reload` when each step started. ' +
      'incidents: requests lost per burst (a reload resets the connections it catches all at once). ' +
      'median/min/max rows are per column; pooled = all runs added up, with how many reloads lost any request (failures are rare and bursty: the steadier figure).',
    headers: [
      'run',
      'bgctl failed/total',
      'fail %',
      'incidents',
      'req/s',
      'migration s',
      'baseline failed/total',
      'fail %',
      'incidents',
      'req/s',
      'reloads',
      'order',
    ],
    rows,
  };
}

function rollbackSection(rb) {
  const s = rb.summary;
  const rows = rb.runs.map((r) => [
    String(r.run),
    num(r.wallMs),
    num(r.applyMs),
    r.applyMs === null ? '-' : num(r.wallMs - r.applyMs),
    r.ok ? String(r.action) : `exit ${r.exitCode}!`,
  ]);
  for (const k of ['median', 'min', 'max']) rows.push([k, num(s.wallMs[k]), num(s.applyMs[k]), '', '']);
  return {
    title: 'Rollback: `bgctl rollback` after a completed migration (switch green → rollback)',
    note: 'wall: process start to exit; applyMs: from its --json output (nginx -t, swap, reload, confirmation on fresh connections).',
    headers: ['run', 'wall ms', 'applyMs', 'wall - apply ms', 'action'],
    rows,
  };
}

function coldStartSection(cs) {
  const rows = cs.commands.map(({ id }) => {
    const c = cs.summary[id];
    return [c.label, num(c.ms.median), num(c.ms.min), num(c.ms.max), String(c.ms.n), times(c.vsNode), String(c.failures)];
  });
  return {
    title: 'CLI cold start (interleaved, rotating order, one warm-up round discarded)',
    note: '`bgctl status` runs against the sandbox: config, state, live NGINX status, health probes of both colors.',
    headers: ['command', 'median ms', 'min ms', 'max ms', 'runs', 'vs node -e 0', 'non-zero exits'],
    rows,
  };
}

/** One line per headline figure with its baseline from the same run. */
function summarySection(results) {
  const rows = [];
  const z = results.zeroDowntime?.summary;
  if (z) {
    const versus = (ratioValue, mine) => (ratioValue !== null ? times(ratioValue) : mine === 0 ? 'both 0' : 'baseline 0');
    rows.push([
      'failed requests, bgctl gradual',
      pct(z.bgctl.failRate.median),
      `${pct(z.bgctl.failRate.min)} – ${pct(z.bgctl.failRate.max)}`,
      `bare reloads ${pct(z.baseline.failRate.median)}`,
      versus(z.failRateRatio, z.bgctl.failRate.median),
    ]);
    rows.push([
      '  same, all runs pooled',
      pct(z.bgctl.pooled.failRate),
      `${z.bgctl.pooled.failed}/${z.bgctl.pooled.total}`,
      `bare reloads ${pct(z.baseline.pooled.failRate)} (${z.baseline.pooled.failed}/${z.baseline.pooled.total})`,
      versus(z.pooledFailRateRatio, z.bgctl.pooled.failRate),
    ]);
    rows.push([
      '  reloads that lost requests',
      `${z.bgctl.incidents} of ${z.bgctl.reloads}`,
      '',
      `bare reloads ${z.baseline.incidents} of ${z.baseline.reloads}`,
      '',
    ]);
  }
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
  return {
    title: 'Summary (medians; baselines from the same run)',
    note: '',
    headers: ['measure', 'median', 'min – max', 'baseline', 'ratio'],
    rows,
  };
}

export function sections(results) {
  const out = [summarySection(results)];
  if (results.zeroDowntime) out.push(zeroDowntimeSection(results.zeroDowntime));
  if (results.rollback) out.push(rollbackSection(results.rollback));
  if (results.coldStart) out.push(coldStartSection(results.coldStart));
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
  if (report.problems.length > 0) parts.push(`## Problems\n\n${report.problems.map((p) => `- ${p}`).join('\n')}`);
  return `${parts.join('\n\n')}\n`;
}

/**
 * One table per benchmark, each { title, note, headers, rows }, rendered as text and Markdown by
 * report.mjs. The summary table (headline figures with their same-run baselines) is in report.mjs.
 */
import { PAIRS, ratioKey } from './pairs.mjs';

export const pct = (rate, digits = 3) => (rate === null || rate === undefined ? '-' : `${(rate * 100).toFixed(digits)}%`);
export const num = (x, digits = 0) => (x === null || x === undefined ? '-' : Number(x).toFixed(digits));
export const times = (x) => (x === null || x === undefined ? '-' : `×${x.toFixed(2)}`);
export const ft = (failed, total) => `${num(failed)}/${num(total)}`;
/** "median (min – max)" of a summarize() result */
export const mmm = (s, f = num) => (s?.median === null || s?.median === undefined ? '-' : `${f(s.median)} (${f(s.min)} – ${f(s.max)})`);
const pts = (x) => (x === null || x === undefined ? '-' : `${(x * 100).toFixed(2)}`);
const sec = (ms) => (ms === null || ms === undefined ? '-' : (Math.abs(ms) < 5 ? 0 : ms / 1000).toFixed(2));

export function zeroDowntimeSection(z) {
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
  const mix = Object.entries(z.load.kinds ?? {})
    .map(([k, n]) => `${n} ${k}`)
    .join(', ');
  return {
    title: `Zero-downtime: gradual ${z.load.steps.join(',')} @ ${z.load.stepSeconds} s vs bare reloads, ${z.load.connections} clients (${mix || 'keep-alive GET'})`,
    note:
      'failed/total requests (errors, resets, non-2xx) while `bgctl gradual` ran; baseline: the same NGINX, load and duration with one bare `nginx -s reload` when each step started. ' +
      'incidents: requests lost per burst (a reload resets the connections it catches all at once). ' +
      'median/min/max rows are per column; pooled = all runs added up, with how many reloads lost any request (failures are rare and bursty: the steadier figure). All client kinds together here; by kind below.',
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

export function zeroDowntimeKindsSection(z) {
  const rows = Object.entries(z.summary.kinds ?? {}).map(([, k]) => [
    k.label,
    ft(k.bgctl.pooled.failed, k.bgctl.pooled.total),
    pct(k.bgctl.pooled.failRate),
    mmm(k.bgctl.failRate, pct),
    ft(k.baseline.pooled.failed, k.baseline.pooled.total),
    pct(k.baseline.pooled.failRate),
    mmm(k.baseline.failRate, pct),
    k.pooledFailRateRatio === null ? (k.bgctl.pooled.failed === 0 ? 'both 0' : 'baseline 0') : times(k.pooledFailRateRatio),
  ]);
  return {
    title: 'Zero-downtime by client kind (all runs pooled)',
    note: 'keep-alive clients reuse one connection; new-connection clients send `Connection: close` and connect for every request. NGINX may retry a GET on another server, never a POST it already sent. per run: median (min – max) of the runs.',
    headers: ['clients', 'bgctl failed/total', 'fail %', 'per run', 'baseline failed/total', 'fail %', 'per run', 'ratio'],
    rows,
  };
}

export function splitSection(sp) {
  const rows = [];
  for (const strategy of ['weighted', 'sticky']) {
    for (const st of sp.summary[strategy]) {
      rows.push([
        strategy,
        `${st.percent}%`,
        mmm(st.share, (x) => pct(x, 2)),
        mmm(st.absError, pts),
        `±${pts(st.coinSd.median)}`,
        mmm(st.logShare, (x) => pct(x, 2)),
        strategy === 'sticky' ? `${num(st.clients.median)} clients, ${num(st.requests.median)} req` : `${num(st.requests.median)} req`,
        strategy === 'sticky' ? String(st.mixed) : '-',
        String(st.failed),
      ]);
    }
  }
  return {
    title: `Split accuracy: observed share of green at each step of a real gradual migration (${sp.stepSeconds} s steps)`,
    note:
      `weighted: share of requests; sticky: share of clients (${sp.clients} distinct clients, each keeping its bgctl_bucket cookie; a client counts for the color it got all step long). ` +
      "|error| in percentage points; coin: how far a fair random draw with as many requests (weighted) or clients (sticky) lands from the target, 1 standard deviation, same run. bgctl's view: the step's own figures in its history record, from the access log (attempts; they include requests still answered under the previous weights while the step was being applied). " +
      `mixed: clients that saw both colors within a step; moved back: clients on green in one step and on blue in the next (all runs): ${sp.summary.movedBack}. Both must be 0.`,
    headers: ['strategy', 'target', 'observed share', '|error| pts', 'coin ±1 sd', "bgctl's view", 'per step', 'mixed', 'failed'],
    rows,
  };
}

export function timeToRestoreSection(tr) {
  const rows = tr.scenarios.map((sc) => {
    if (sc.skip) return [sc.label, sc.thresholdsLabel, sc.skip, '', '', '', '', '', ''];
    const s = sc.summary;
    return [
      sc.label,
      sc.thresholdsLabel,
      mmm(s.restoredMs, sec),
      mmm(s.decidedMs, sec),
      mmm(s.detectMs, sec),
      mmm(s.lastGreenClientMs, sec),
      `${sc.waitS} s`,
      mmm(s.failed),
      `${sc.runs.length}${s.allRolledBack ? '' : ' (not all rolled back!)'}`,
    ];
  });
  return {
    title: `Time to restore: green fails at 75% of a gradual ${tr.steps.join(',')} (${tr.stepSeconds} s steps), under constant load`,
    note:
      'seconds from the moment green started failing (flaky: its first 5xx in the access log; slow: the start of its first slow request; killed: SIGKILL) to: ' +
      'restored = all traffic back on blue (bgctl confirmed the rollback on fresh connections), decided = rollback decided, seen = the first log read that showed green 5xx (bgctl timeline), ' +
      'last green = the last answer clients got from green (load generator). wait = what the thresholds ask for before acting (the baseline: the rest is bgctl). ' +
      'A killed green is caught by the health probes (every 1 s, the default) rather than by the error rate: after max_fails NGINX stops trying it, so few attempts fail. ' +
      `failed = client requests that failed from then on (load: ${tr.kinds}, each client pausing ${tr.pauseMs ?? 0} ms between requests). median (min – max).`,
    headers: ['green fails with', 'thresholds', 'restored s', 'decided s', 'seen s', 'last green s', 'wait', 'failed requests', 'runs'],
    rows,
  };
}

export function timeToRestoreRunsSection(tr) {
  const rows = [];
  for (const sc of tr.scenarios) {
    for (const r of sc.runs) {
      const kinds = Object.entries(r.failedByKind ?? {})
        .map(([k, n]) => `${k} ${n}`)
        .join(', ');
      rows.push([
        `${sc.failure}/${sc.thresholds}`,
        String(r.run),
        sec(r.restoredMs),
        sec(r.decidedMs),
        sec(r.detectMs),
        sec(r.lastGreenLogMs),
        sec(r.lastGreenClientMs),
        `${r.failed} (${kinds || '-'})`,
        r.ok ? (r.reason ?? '').slice(0, 90) : `exit ${r.exitCode}!`,
      ]);
    }
  }
  return {
    title: 'Time to restore, every run',
    note: 'last green (log): the last request green served, from the access log (bgctl timeline lastServedAt); (clients): as the load generator saw it.',
    headers: [
      'scenario',
      'run',
      'restored s',
      'decided s',
      'seen s',
      'last green (log) s',
      'last green (clients) s',
      'failed (by kind)',
      'reason',
    ],
    rows,
  };
}

export function applyLatencySection(al) {
  const s = al.summary;
  const stageCells = (row) => al.stages.map((st) => mmm(row.stages[st]));
  const rows = s.steps.map((st) => [`step ${st.percent}%`, num(al.renderMs, 2), ...stageCells(st), mmm(st.ms), mmm(st.stepMs), '']);
  rows.push(['rollback', num(al.renderMs, 2), ...stageCells(s.rollback), mmm(s.rollback.ms), '', mmm(s.rollback.wallMs)]);
  const h = s.handReload;
  rows.push(['by hand: nginx -t + -s reload', '', mmm(h.testMs), '', '', mmm(h.reloadMs), 'none', '', mmm(h.totalMs), '', '']);
  return {
    title: 'Apply latency: render → test → reload → confirmed, per step and for rollback (ms)',
    note:
      'stages from bgctl\'s own log line "nginx serves the new config": test = write the candidate + nginx -t; swap = atomic rename; reload = nginx -s reload; confirm = until old workers stopped accepting and fresh connections answer the new revision; other = the rest of the apply (finding the master, asking NGINX its live revision, listing its workers). ' +
      'render: renderConfig() in-process (median of 200). apply = the driver, test to confirm; step = the step record, startedAt → appliedAt (render, apply, state saved). wall: `bgctl rollback`, process start to exit. median (min – max).',
    headers: ['what', 'render', ...al.stages, 'apply', 'step', 'wall'],
    rows,
  };
}

export function rollbackSection(rb) {
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

export function coldStartSection(cs) {
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

export function dataPlaneSection(dp) {
  const s = dp.summary;
  const base = Object.fromEntries(PAIRS);
  const vs = (id) =>
    `vs ${base[id]}: ${times(s.ratios[ratioKey('rps', id, base[id])])} req/s, ${times(s.ratios[ratioKey('cpu', id, base[id])])} by CPU, ${times(s.ratios[ratioKey('p99', id, base[id])])} p99`;
  const rows = dp.targets.map(({ id }) => [
    s[id].label,
    mmm(s[id].rps),
    mmm(s[id].cpu, (x) => num(x, 1)),
    mmm(s[id].p50, (x) => num(x, 2)),
    mmm(s[id].p99, (x) => num(x, 2)),
    base[id]
      ? vs(id)
      : id === 'minimal'
        ? `vs direct: ${times(s.ratios.rpsMinimalVsDirect)} req/s, ${times(s.ratios.p99MinimalVsDirect)} p99`
        : '',
    String(s[id].errors),
  ]);
  return {
    title: `Data-plane overhead: wrk -t${dp.threads ?? 1} -c${dp.connections} -d${dp.seconds}s, the proxy as the bottleneck`,
    note: "Every proxy runs one worker; the backends are an NGINX answering `return 200` with two workers. minimal: a hand-written config, one upstream with keepalive and proxy_pass, default access log; reload / dynamic: bgctl's rendered config in that mode at 50/50 (copied from the sandbox: only the worker count, listen port and backend addresses changed); NGINX 1.22 / njs 0.7.9, where njs reads the weights file on every request. minimal08 / dynamic08: the same minimal config and dynamic copy on NGINX 1.26 / njs 0.8.9 (a container on the host's network and PIDs), the copy with the one line bgctl adds there (js_shared_dict_zone: the workers share the checked weights, no file read per request). CPU: the proxy workers' CPU time per request (by CPU = minimal's µs/req over this one's: the throughput ratio a CPU-bound proxy would see). Interleaved in rotating order, one warm-up round discarded. median (min – max).",
    headers: ['target', 'req/s', 'CPU µs/req', 'p50 ms', 'p99 ms', 'ratio', 'errors'],
    rows,
  };
}

const ftp = (failed, total) => `${ft(failed, total)} (${pct(total > 0 ? failed / total : null)})`;

/** Dynamic vs reload mode: three tables (gradual under load, throughput at 50/50, rollback). */
export function dynamicSections(d) {
  const s = d.summary;
  const sides = ['dynamic', 'reload', 'bare', ...(s.gradual.haproxy ? ['haproxy'] : [])];
  const gradualRows = d.gradual.map((r) => [
    String(r.run),
    ...sides.flatMap((side) => {
      const w = r[side];
      const bad = w.ok
        ? ''
        : side === 'bare'
          ? ` (${w.reloads}/${w.offsetsMs.length} sent!)`
          : side === 'haproxy'
            ? ` (${w.weightChanges}/${w.offsetsMs.length} weight changes!)`
            : ` (exit ${w.exitCode}!)`;
      return [`${ftp(w.failed, w.total)}${bad}`, num(w.latency?.p99, 1), String(w.nginxReloads)];
    }),
    r.order,
  ]);
  for (const k of ['median', 'min', 'max'])
    gradualRows.push([
      k,
      ...sides.flatMap((side) => {
        const g = s.gradual[side];
        return [ft(g.failed[k], g.total[k]), num(g.p99[k], 1), num(g.reloadsPerRun[k])];
      }),
      '',
    ]);
  gradualRows.push([
    'pooled',
    ...sides.flatMap((side) => {
      const g = s.gradual[side];
      return [ftp(g.pooled.failed, g.pooled.total), '', `${g.nginxReloads} in all`];
    }),
    '',
  ]);
  gradualRows.push([
    'window, req/s (medians)',
    ...sides.flatMap((side) => [
      `${num(s.gradual[side].durationMs.median / 1000, 1)} s, ${num(s.gradual[side].reqPerSec.median)} req/s`,
      '',
      '',
    ]),
    '',
  ]);
  gradualRows.push([
    'keep-alive clients, pooled',
    ...sides.flatMap((side) => [ftp(s.gradual[side].keepAlivePooled.failed, s.gradual[side].keepAlivePooled.total), '', '']),
    '',
  ]);
  const mix = d.load.kinds
    .split(',')
    .map((p) => p.split(':').reverse().join(' '))
    .join(', ');
  const njs =
    `In dynamic mode NGINX's njs, on every proxied request, reads conf.d/bgctl-weights.json (${d.weightsBytes ?? '~130'} bytes: revision, weights, growing and stable color, strategy) with fs.readFileSync, JSON.parse and validates it, ` +
    "then picks the color with a per-connection low-discrepancy sequence, frac(connection·0.7549 + request number·0.6180) × 100 < share (no state shared between requests or workers), and proxies to that color's own upstream; " +
    'a weight change is an atomic write of that file and NGINX never reloads. Reload mode renders the weights into a weighted upstream (smooth round-robin) and reloads for every change. ';
  const gradual = {
    title: `Dynamic vs reload mode: gradual ${d.load.steps.join(',')} @ ${d.load.stepSeconds} s under load (${mix}), failed requests, p99 and NGINX reloads`,
    note:
      njs +
      'Same NGINX master, backends and load, three ways per run in rotating order: `bgctl gradual` in dynamic mode, in reload mode, and bare `nginx -s reload`s (reload-mode config at blue 100%) at the step starts of the latest reload-mode migration. ' +
      'failed/total: errors, resets and non-2xx of the window; p99: ms, request created → response complete, answered requests of the window (load generator, all client kinds); ' +
      'reloads: the reloads NGINX actually did, counted as new generations of worker processes of the master (polled every 100 ms). Going back to blue and changing modes happen between windows, unmeasured. ' +
      'window: a dynamic-mode migration is shorter (its steps apply without a reload to confirm), the bare reloads replay the reload-mode duration; no bgctl process runs beside them, so their p99 lacks the CPU the CLI takes from the load on a small machine. ' +
      'median/min/max rows are per column; pooled = all runs added up. Keep-alive clients are the ones a reload can hurt; new-connection clients are the control. ' +
      `haproxy: the peer (${d.haproxy ?? 'HAProxy'}), in front of the same backends, one server per color, its weights changed through the runtime API (stats socket, \`set weight\`) at the same moments as the bare reloads; it never reloads.`,
    headers: [
      'run',
      'dynamic failed/total',
      'p99 ms',
      'reloads',
      'reload mode failed/total',
      'p99 ms',
      'reloads',
      'bare reloads failed/total',
      'p99 ms',
      'reloads',
      ...(sides.includes('haproxy') ? ['haproxy failed/total', 'p99 ms', 'reloads'] : []),
      'order',
    ],
    rows: gradualRows,
  };
  const t = s.throughput;
  const throughputRows = ['dynamic', 'reload'].map((m) => [
    m === 'dynamic' ? 'dynamic: njs pick per request' : 'reload: weighted upstream',
    mmm(t[m].rps),
    mmm(t[m].p50, (x) => num(x, 2)),
    mmm(t[m].p99, (x) => num(x, 2)),
    mmm(t[m].greenShare, (x) => pct(x, 1)),
    String(t[m].errors),
    m === 'dynamic' ? `${times(t.rpsRatio)} req/s` : '',
  ]);
  if (t.haproxy)
    throughputRows.push([
      'haproxy: weighted round robin (peer)',
      mmm(t.haproxy.rps),
      mmm(t.haproxy.p50, (x) => num(x, 2)),
      mmm(t.haproxy.p99, (x) => num(x, 2)),
      '-',
      String(t.haproxy.errors),
      `dynamic / haproxy: ${times(t.rpsDynamicVsHaproxy)} req/s`,
    ]);
  throughputRows.push([
    'dynamic pick, µs per request at saturation',
    `${num(t.pickUsFromMedians, 1)} µs (from the medians)`,
    '',
    '',
    '',
    '',
    `per run: ${mmm(t.pickUs, (x) => num(x, 1))} µs`,
  ]);
  const throughput = {
    title: `Dynamic vs reload mode: throughput at 50/50, wrk -t1 -c${d.wrk.connections} -d${d.wrk.seconds}s`,
    note:
      'The same NGINX at green 50% (`bgctl canary green 50`), switched between modes by rewriting nginx.mode and re-applying (one reload, not measured; one warm-up second after it, discarded); alternating order. ' +
      'green share: of the requests NGINX logged during the window (both modes must split 50/50). pick: 1e6/req/s (dynamic) − 1e6/req/s (reload), the extra wall time per request of the saturated machine ' +
      '(wrk, NGINX and both backends share the cores: the CPU time of the pick is up to that × the busy cores). median (min – max).',
    headers: ['mode', 'req/s', 'p50 ms', 'p99 ms', 'green share', 'errors', 'vs reload'],
    rows: throughputRows,
  };
  const rb = s.rollback;
  const rollbackRows = ['dynamic', 'reload'].map((m) => [
    m,
    mmm(rb[m].wallMs),
    mmm(rb[m].applyMs),
    rb[m].wallMs.median === null || rb[m].applyMs.median === null ? '-' : num(rb[m].wallMs.median - rb[m].applyMs.median),
    `${rb[m].nginxReloads} in ${rb[m].runs} rollbacks`,
    `${rb[m].reverted}/${rb[m].runs}`,
  ]);
  const rollback = {
    title: 'Dynamic vs reload mode: `bgctl rollback` from a held canary (green 50%)',
    note: 'wall: `bgctl rollback --json` from process start to exit; applyMs: from its output (dynamic: write the weights file + confirm on fresh connections; reload: nginx -t, swap, reload, confirm). reloads: counted as above while the rollback ran. Alternating order. median (min – max).',
    headers: ['mode', 'wall ms', 'applyMs', 'wall − apply ms (median)', 'NGINX reloads', 'reverted'],
    rows: rollbackRows,
  };
  return [gradual, throughput, rollback];
}

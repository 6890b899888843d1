/**
 * 4. Apply latency: what each step of a real `bgctl gradual green 2.1.0 --steps 25,50,75,100` costs
 *    from render to "confirmed" (fresh connections get the new revision), stage by stage, and the same
 *    for the `bgctl rollback` that reverts it. Under a light constant load (so steps are judged on
 *    traffic, as in production). Stages come from bgctl's own log line "nginx serves the new config"
 *    (--log-level info): test = write the candidate + `nginx -t`, backup, swap, reload = `nginx -s
 *    reload`, confirm = until old workers stopped accepting and fresh connections answer the new
 *    revision. render = renderConfig() timed in-process on the same config. step = the step record's
 *    startedAt → appliedAt (render, apply and saving state).
 *    Baseline in the same run: the same NGINX reloaded by hand, `nginx -t` then `nginx -s reload`
 *    (no confirmation: what a hand-run reload waits for).
 */
import path from 'node:path';
import { execa } from 'execa';
import { loadConfig } from '../../dist/config/load.js';
import { renderConfig } from '../../dist/render/render.js';
import { startLoad } from '../lib/load.mjs';
import { jsonOf, sleep, tail } from '../lib/proc.mjs';
import { NGINX_BIN, ensureOn, reloadNginx } from '../lib/sandbox.mjs';
import { summarize } from '../lib/stats.mjs';

const STEPS = [25, 50, 75, 100];
/** other: the rest of the driver's apply (finding the master, asking the live revision, listing the workers) */
const STAGES = ['test', 'backup', 'swap', 'reload', 'confirm', 'other'];

/** Adds `other`: the apply's time outside the named stages. */
function withOther(apply) {
  const named = Object.values(apply.stages).reduce((a, n) => a + n, 0);
  return { ...apply, stages: { ...apply.stages, other: apply.ms === null ? null : Math.max(0, apply.ms - named) } };
}

/** The driver's per-apply report from the JSON log lines on stderr: revision → { ms, stages }. */
function appliesOf(stderr) {
  const out = new Map();
  for (const line of stderr.split('\n')) {
    if (!line.includes('nginx serves the new config')) continue;
    try {
      const rec = JSON.parse(line);
      out.set(rec.revision, withOther({ ms: rec.ms, stages: rec.stages ?? {} }));
    } catch {
      // not a JSON log line
    }
  }
  return out;
}

/** renderConfig() on the sandbox's own config, timed in-process (median of many; it takes microseconds). */
async function renderMs(box) {
  const { config } = await loadConfig(path.join(box.dir, 'bgctl.yaml'));
  const req = { weights: { blue: 50, green: 50 }, revision: 99, stable: 'blue', growing: 'green', strategy: 'weighted' };
  for (let i = 0; i < 50; i++) renderConfig(config, req); // warm up the templates and the JIT
  const times = [];
  for (let i = 0; i < 200; i++) {
    const t = performance.now();
    renderConfig(config, { ...req, revision: 100 + i });
    times.push(performance.now() - t);
  }
  return summarize(times).median;
}

/** The baseline: `nginx -t` and `nginx -s reload` by hand on the same master. */
async function handReload(box) {
  const conf = path.join(box.nginxDir, 'nginx.conf');
  const t0 = performance.now();
  const test = await execa(NGINX_BIN, ['-t', '-q', '-p', box.nginxDir, '-c', conf, '-e', 'stderr'], {
    reject: false,
    stdin: 'ignore',
    timeout: 10_000,
  });
  const t1 = performance.now();
  const reload = await reloadNginx(box);
  const t2 = performance.now();
  return {
    testMs: Math.round(t1 - t0),
    reloadMs: Math.round(t2 - t1),
    totalMs: Math.round(t2 - t0),
    ok: test.exitCode === 0 && reload.exitCode === 0,
  };
}

async function oneRun(box, opts) {
  await ensureOn(box, 'blue');
  const load = await startLoad({ url: box.url, kinds: 'ka-get:4', pauseMs: 2, warmupMs: opts.warmupMs, maxSeconds: 120 });
  let g;
  let rb;
  try {
    g = await box.cli(
      ['gradual', 'green', '2.1.0', '--steps', STEPS.join(','), '--step-seconds', '0.5', '--json', '--log-level', 'info'],
      120_000,
    );
    await sleep(opts.settleMs);
    rb = await box.cli(['rollback', '--json', '--log-level', 'info'], 60_000);
  } finally {
    await load.stop();
  }
  const applies = appliesOf(g.stderr);
  const steps = (jsonOf(g)?.migration?.steps ?? []).map((s) => ({
    percent: s.percent,
    stepMs: s.appliedAt ? Date.parse(s.appliedAt) - Date.parse(s.startedAt) : null,
    ...(applies.get(s.revision) ?? { ms: null, stages: {} }),
  }));
  const rj = jsonOf(rb);
  const rbApply = [...appliesOf(rb.stderr).values()].at(-1) ?? { ms: null, stages: {} };
  const ok = g.exitCode === 0 && steps.length === STEPS.length && rb.exitCode === 0 && rj?.action === 'reverted';
  return {
    ok,
    steps,
    rollback: { wallMs: Math.round(rb.ms), applyMs: rj?.applyMs ?? null, ...rbApply },
    ...(ok ? {} : { output: tail(`${g.stderr}\n${rb.stderr}`) }),
  };
}

export async function benchApplyLatency(box, opts, log) {
  const render = await renderMs(box);
  const runs = [];
  const baseline = [];
  for (let i = 1; i <= opts.runs; i++) {
    const run = { run: i, ...(await oneRun(box, opts)) };
    runs.push(run);
    await sleep(opts.settleMs);
    baseline.push(await handReload(box));
    await sleep(opts.settleMs);
    log(
      `  run ${i}/${opts.runs}: steps ${run.steps.map((s) => `${s.percent}% ${s.ms} ms`).join(', ')}; rollback ${run.rollback.ms} ms${run.ok ? '' : ' (failed!)'}`,
    );
  }
  return { renderMs: render, stages: STAGES, runs, baseline, summary: summarizeRuns(runs, baseline) };
}

export function summarizeRuns(runs, baseline) {
  const row = (items) => ({
    ms: summarize(items.map((x) => x?.ms ?? null)),
    stepMs: summarize(items.map((x) => x?.stepMs ?? null)),
    stages: Object.fromEntries(STAGES.map((st) => [st, summarize(items.map((x) => x?.stages?.[st] ?? null))])),
  });
  return {
    steps: STEPS.map((percent, i) => ({ percent, ...row(runs.map((r) => r.steps[i]).filter((s) => s?.percent === percent)) })),
    rollback: { ...row(runs.map((r) => r.rollback)), wallMs: summarize(runs.map((r) => r.rollback.wallMs)) },
    handReload: {
      testMs: summarize(baseline.map((b) => b.testMs)),
      reloadMs: summarize(baseline.map((b) => b.reloadMs)),
      totalMs: summarize(baseline.map((b) => b.totalMs)),
      failures: baseline.filter((b) => !b.ok).length,
    },
    allOk: runs.every((r) => r.ok),
  };
}

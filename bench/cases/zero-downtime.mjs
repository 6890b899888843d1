/**
 * 1. Zero-downtime of a full migration. Under the same constant load, in the same run:
 *    bgctl: `bgctl gradual green 2.1.0 --steps 25,50,75,100 --step-seconds 1`, counting failed requests;
 *    baseline: the same NGINX, the same load, the same duration, 4 bare `nginx -s reload` at the moments
 *    bgctl's steps started. A reload makes old workers close idle keep-alive connections, so the
 *    baseline is the floor any reload-based tool pays; bgctl should add nothing on top of it.
 *    The load mixes four client kinds at once, counted apart: keep-alive and new-connection clients,
 *    GET and POST (a POST NGINX already sent is never retried, a GET may be).
 */
import { KINDS, parseKinds } from '../lib/load-worker.mjs';
import { startLoad } from '../lib/load.mjs';
import { jsonOf, sleep, tail } from '../lib/proc.mjs';
import { ensureOn, reloadNginx } from '../lib/sandbox.mjs';
import { ratio, summarize } from '../lib/stats.mjs';

export const STEPS = [25, 50, 75, 100];
export const GRADUAL = ['gradual', 'green', '2.1.0', '--steps', STEPS.join(','), '--step-seconds', '1', '--json'];

/**
 * Failure events closer than this are one incident: a reload resets the connections its old workers held
 * within a few ms, while the steps (and so the reloads) are more than a second apart.
 */
const BURST_GAP_MS = 250;

/** Groups [ms, count] failure events into incidents; returns the size of each. */
export function bursts(failureTimes) {
  const sizes = [];
  let last = -Infinity;
  for (const [ms, n] of failureTimes ?? []) {
    if (ms - last > BURST_GAP_MS) sizes.push(0);
    sizes[sizes.length - 1] += n;
    last = ms;
  }
  return sizes;
}

/** What one measured window of load saw; req/s shows how much CPU the load got meanwhile. */
export function measured(stats, durationMs, extra) {
  return {
    failed: stats.failed,
    total: stats.total,
    failRate: stats.total > 0 ? stats.failed / stats.total : null,
    reqPerSec: durationMs > 0 ? Math.round(stats.total / (durationMs / 1000)) : null,
    durationMs: Math.round(durationMs),
    byColor: stats.byColor,
    // e.g. [19, 1]: two incidents, one of which cost 19 requests
    bursts: bursts(stats.failureTimes),
    failureTimes: stats.failureTimes, // [ms after the window opened, failures], to line up with offsetsMs
    errors: stats.errors.slice(0, 3),
    // { n, p50, p99, max } ms, when the load was started with latency: true
    ...(stats.latency ? { latency: stats.latency } : {}),
    // per client kind (keep-alive GET, new connection POST...): failed, total
    kinds: Object.fromEntries(
      Object.entries(stats.kinds ?? {}).map(([k, v]) => [
        k,
        { failed: v.failed, total: v.total, failRate: v.total > 0 ? v.failed / v.total : null },
      ]),
    ),
    ...extra,
  };
}

/**
 * When each step started, in ms after the CLI was spawned, from the --json result. If the output cannot
 * be read (e.g. a failed run), the reloads are spread evenly over the duration instead.
 */
export function stepOffsets(result, durationMs) {
  const steps = jsonOf(result)?.migration?.steps;
  const offsets = Array.isArray(steps)
    ? steps.map((s) => Date.parse(s.startedAt) - result.startedAt).filter((ms) => ms >= 0 && ms <= durationMs)
    : [];
  if (offsets.length === STEPS.length) return { offsets, from: 'steps' };
  return { offsets: STEPS.map((_, i) => Math.round((durationMs * (i + 0.5)) / STEPS.length)), from: 'even' };
}

/** Runs fn while the load runs; returns fn's result and the load's stats for exactly that window. */
export async function underLoad(box, load, fn) {
  const traffic = await startLoad({ url: box.url, ...load });
  try {
    const result = await fn();
    return { result, stats: await traffic.stop() };
  } catch (error) {
    await traffic.stop().catch(() => undefined);
    throw error;
  }
}

async function migrateUnderLoad(box, load) {
  const { result: r, stats } = await underLoad(box, load, () => box.cli(GRADUAL, 120_000));
  const { offsets, from } = stepOffsets(r, r.ms);
  const ok = r.exitCode === 0 && jsonOf(r)?.weights?.green === 100;
  const failure = ok ? {} : { output: tail(r.stderr || r.stdout) };
  return measured(stats, r.ms, { exitCode: r.exitCode, ok, offsetsMs: offsets, offsetsFrom: from, ...failure });
}

/** The baseline: reloads fired at the given offsets while a timer runs for the same duration. */
export async function reloadsUnderLoad(box, load, durationMs, offsetsMs) {
  const { result, stats } = await underLoad(box, load, async () => {
    const t0 = performance.now();
    const reloads = await Promise.all(offsetsMs.map((ms) => sleep(ms).then(() => reloadNginx(box))));
    await sleep(durationMs - (performance.now() - t0));
    return { reloads, elapsed: performance.now() - t0 };
  });
  const sent = result.reloads.filter((r) => r.exitCode === 0).length;
  return measured(stats, result.elapsed, { reloads: sent, ok: sent === offsetsMs.length });
}

/**
 * Back to blue for the next repetition (not measured): a direct switch. A gradual migration without
 * load would wait for traffic to judge its steps on (minRequests) and roll back after maxExtendSeconds.
 */
async function migrateBack(box) {
  await ensureOn(box, 'blue');
}

/**
 * One repetition: the bgctl migration and its baseline, in alternating order (odd runs bgctl first,
 * even runs baseline first) so that a drift of the shared machine does not always favour the same side.
 * The baseline replays the timing of the latest bgctl run: same duration, reloads at its step starts.
 */
async function repetition(box, load, i, previous) {
  let bgctl;
  let baseline;
  if (i % 2 === 1 || previous === null) {
    bgctl = await migrateUnderLoad(box, load);
    baseline = await reloadsUnderLoad(box, load, bgctl.durationMs, bgctl.offsetsMs);
  } else {
    baseline = await reloadsUnderLoad(box, load, previous.durationMs, previous.offsetsMs);
    bgctl = await migrateUnderLoad(box, load);
  }
  return { run: i, order: i % 2 === 1 || previous === null ? 'bgctl first' : 'baseline first', bgctl, baseline };
}

export async function benchZeroDowntime(box, opts, log) {
  const load = { kinds: opts.kinds, pauseMs: opts.pauseMs, warmupMs: opts.warmupMs, maxSeconds: 180 };
  await ensureOn(box, 'blue');
  const runs = [];
  for (let i = 1; i <= opts.runs; i++) {
    const run = await repetition(box, load, i, runs.at(-1)?.bgctl ?? null);
    await migrateBack(box);
    await sleep(opts.settleMs); // old workers of the last reload finish before the next window
    runs.push(run);
    const { bgctl, baseline } = run;
    log(
      `  run ${i}/${opts.runs}: bgctl ${bgctl.failed}/${bgctl.total} failed${bgctl.ok ? '' : ` (exit ${bgctl.exitCode})`}, baseline ${baseline.failed}/${baseline.total} (${run.order})`,
    );
  }
  const mix = parseKinds(opts.kinds);
  const shown = {
    connections: mix.reduce((sum, [, n]) => sum + n, 0),
    kinds: Object.fromEntries(mix),
    pauseMs: load.pauseMs,
    warmupMs: load.warmupMs,
    steps: STEPS,
    stepSeconds: 1,
  };
  return { load: shown, runs, summary: summarizeRuns(runs) };
}

function summarizeSide(windows) {
  const sum = (key) => windows.reduce((acc, w) => acc + w[key], 0);
  return {
    failed: summarize(windows.map((w) => w.failed)),
    total: summarize(windows.map((w) => w.total)),
    failRate: summarize(windows.map((w) => w.failRate)),
    reqPerSec: summarize(windows.map((w) => w.reqPerSec)),
    durationMs: summarize(windows.map((w) => w.durationMs)),
    // failures are rare events (a handful per run): all runs pooled estimate the rate better than a median
    pooled: { failed: sum('failed'), total: sum('total'), failRate: sum('total') > 0 ? sum('failed') / sum('total') : null },
    // how many of the reloads cost any request at all, over all runs (4 reloads a run on both sides)
    incidents: windows.reduce((acc, w) => acc + w.bursts.length, 0),
    reloads: windows.length * STEPS.length,
  };
}

/** Per client kind: failure rate per run (median, min, max) and pooled, both sides. */
function summarizeKinds(runs) {
  const kinds = Object.keys(runs[0]?.bgctl.kinds ?? {});
  const side = (windows, kind) => {
    const rows = windows.map((w) => w.kinds[kind]).filter(Boolean);
    const failed = rows.reduce((acc, k) => acc + k.failed, 0);
    const total = rows.reduce((acc, k) => acc + k.total, 0);
    return { failRate: summarize(rows.map((k) => k.failRate)), pooled: { failed, total, failRate: total > 0 ? failed / total : null } };
  };
  return Object.fromEntries(
    kinds.map((kind) => {
      const bgctl = side(
        runs.map((r) => r.bgctl),
        kind,
      );
      const baseline = side(
        runs.map((r) => r.baseline),
        kind,
      );
      return [
        kind,
        { label: KINDS[kind]?.label ?? kind, bgctl, baseline, pooledFailRateRatio: ratio(bgctl.pooled.failRate, baseline.pooled.failRate) },
      ];
    }),
  );
}

export function summarizeRuns(runs) {
  const bgctl = summarizeSide(runs.map((r) => r.bgctl));
  const baseline = summarizeSide(runs.map((r) => r.baseline));
  return {
    bgctl,
    baseline,
    kinds: summarizeKinds(runs),
    allMigrationsCompleted: runs.every((r) => r.bgctl.ok),
    // > 1: bgctl loses more requests than bare reloads do; null when the baseline lost none
    failRateRatio: ratio(bgctl.failRate.median, baseline.failRate.median),
    pooledFailRateRatio: ratio(bgctl.pooled.failRate, baseline.pooled.failRate),
  };
}

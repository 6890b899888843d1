/**
 * 3. Time to restore: a real `bgctl gradual green 2.1.0 --steps 25,50,75,100` under constant load; once
 *    green carries 75%, the bench makes it fail: 500s (the demo's `flaky` version: every other request),
 *    +1.5 s latency (`slow`), or the process killed (SIGKILL). Measured from the moment green started
 *    failing (flaky: its first 5xx in the access log; slow: the start of its first slow request; killed:
 *    the kill) to the moment all traffic was back on blue (bgctl's `restoredAt`: the rollback confirmed
 *    on fresh connections), with bgctl's rollback timeline (`bgctl history --json`) and the load
 *    generator's own view (last answer from green, client requests that failed meanwhile).
 *    Two threshold settings: the defaults (errorRateForSeconds 60, latencyForSeconds 30, probes every
 *    1 s) and immediate ones (both *ForSeconds 0). Baseline in the same run: the wait the thresholds
 *    ask for; what is left on top of it is bgctl's own reaction time.
 */
import { logOffset, scanLog, writeTimeline } from '../lib/access-log.mjs';
import { startLoad } from '../lib/load.mjs';
import { jsonOf, sleep, tail } from '../lib/proc.mjs';
import { ensureOn } from '../lib/sandbox.mjs';
import { summarize } from '../lib/stats.mjs';

const STEPS = [25, 50, 75, 100];
/** green fails this long after its 75% step is live */
const INJECT_AFTER_MS = 500;

export const FAILURES = {
  flaky: { label: '500s (flaky)', inject: (box) => box.deploy('green', '2.1.0-flaky'), heal: (box) => box.deploy('green', '2.1.0') },
  slow: { label: '+1.5 s latency (slow)', inject: (box) => box.deploy('green', '2.1.0-slow'), heal: (box) => box.deploy('green', '2.1.0') },
  killed: { label: 'process killed', inject: (box) => box.kill('green'), heal: (box) => box.restart('green') },
};

/** Thresholds at their defaults (as the schema has them) or acting at once; probes at their defaults in both. */
export const THRESHOLDS = {
  immediate: {
    label: 'immediate (*ForSeconds 0)',
    waitS: { flaky: 0, slow: 0, killed: 0 },
    config: { errorRateForSeconds: 0, latencyForSeconds: 0 },
  },
  default: { label: 'defaults (60 s / 30 s)', waitS: { flaky: 60, slow: 30, killed: 0 }, config: {} },
};

/** Which (failure, thresholds) pairs run; --quick skips the two that wait 30-60 s by design. */
export function plan(quick) {
  const out = [];
  for (const t of Object.keys(THRESHOLDS))
    for (const f of Object.keys(FAILURES)) {
      const skip = quick && t === 'default' && f !== 'killed' ? `skipped in --quick: waits ${THRESHOLDS[t].waitS[f]} s by design` : null;
      out.push({ failure: f, thresholds: t, skip });
    }
  return out;
}

/** Polls NGINX until the new color has `percent` (what is live, on fresh connections). */
async function waitForGreen(box, percent, cli, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void cli.then(() => (exited = true));
  while (Date.now() < deadline && !exited) {
    if ((await box.live())?.green >= percent) return true;
    await sleep(25);
  }
  return false;
}

/** When green really started failing, from the log written after `offset`; null: the log shows nothing. */
async function failureStart(box, offset, failure, injectedAt) {
  if (failure === 'killed') return injectedAt;
  let at = null;
  await scanLog(box, offset, (l) => {
    if (l.atMs === null || l.atMs < injectedAt) return false;
    const g = l.attempts.find((a) => a.color === 'green');
    if (!g) return false;
    if (failure === 'flaky' && g.failed) at = l.atMs;
    // a slow answer is logged when it ends: it began its upstream time earlier
    if (failure === 'slow' && g.latencyMs !== null && g.latencyMs >= 1000) at = Math.round(l.atMs - g.latencyMs);
    return at !== null;
  });
  return at;
}

const since = (iso, t0) => (iso && t0 !== null ? Date.parse(iso) - t0 : null);
const countAfter = (times, resetAt, t0) => (times ?? []).reduce((acc, [ms, n]) => acc + (t0 !== null && resetAt + ms >= t0 ? n : 0), 0);

async function oneRun(box, item, opts, chartFile) {
  await box.configure({ thresholds: THRESHOLDS[item.thresholds].config, probe: { waitHealthySeconds: 10 } });
  await ensureOn(box, 'blue');
  const offset = await logOffset(box);
  const load = await startLoad({
    url: box.url,
    kinds: opts.restoreKinds,
    pauseMs: opts.restorePauseMs,
    warmupMs: opts.warmupMs,
    maxSeconds: 240,
  });
  let r;
  let stats;
  let injectedAt = null;
  try {
    const args = ['gradual', 'green', '2.1.0', '--steps', STEPS.join(','), '--step-seconds', String(opts.restoreStepSeconds), '--json'];
    const cli = box.cli(args, 200_000);
    if (await waitForGreen(box, 75, cli)) {
      await sleep(INJECT_AFTER_MS);
      injectedAt = Date.now();
      await FAILURES[item.failure].inject(box);
    }
    r = await cli;
    await sleep(2000); // slow requests already on green finish; their answers are part of the picture
  } finally {
    stats = await load.stop();
  }
  await FAILURES[item.failure].heal(box);
  const m = jsonOf(await box.cli(['history', '--json']))?.migrations?.[0] ?? null;
  const t = m?.timeline ?? null;
  const t0 = injectedAt === null ? null : ((await failureStart(box, offset, item.failure, injectedAt)) ?? injectedAt);
  const kinds = Object.fromEntries(Object.entries(stats.kinds ?? {}).map(([k, v]) => [k, countAfter(v.failureTimes, stats.resetAt, t0)]));
  const run = {
    ok: r.exitCode === 3 && m?.status === 'rolled_back' && t !== null,
    exitCode: r.exitCode,
    reason: m?.reason ?? null,
    // ms after green started failing
    detectMs: since(t?.firstErrorAt, t0),
    decidedMs: since(t?.decidedAt, t0),
    restoredMs: since(t?.restoredAt, t0),
    lastGreenLogMs: since(t?.lastServedAt, t0),
    lastGreenClientMs: stats.seen?.green?.lastAt && t0 !== null ? stats.seen.green.lastAt - t0 : null,
    failed: countAfter(stats.failureTimes, stats.resetAt, t0),
    failedByKind: kinds,
    total: stats.total,
    injectedAt,
    failedFrom: t0,
    ...(r.exitCode === 3 ? {} : { output: tail(r.stderr || r.stdout) }),
  };
  if (chartFile && m) {
    const marker = { atMs: t0 ?? injectedAt, label: `green starts failing (${item.failure})`, kind: 'failure' };
    run.chart = (await writeTimeline(box, m, chartFile, t0 === null ? [] : [marker])).file;
  }
  return run;
}

const ms = (x) => (x === null || x === undefined ? '-' : `${Math.round(x)} ms`);

export async function benchTimeToRestore(box, opts, log) {
  const items = plan(opts.quick);
  const results = [];
  try {
    for (const item of items) {
      const runs = [];
      if (!item.skip) {
        const n = item.thresholds === 'default' ? opts.restoreDefaultRuns : opts.runs;
        for (let i = 1; i <= n; i++) {
          const chart = i === 1 && item.thresholds === 'immediate' ? opts.chartFile(`timeline-${item.failure}.svg`) : null;
          const run = { run: i, ...(await oneRun(box, item, opts, chart)) };
          runs.push(run);
          log(
            `  ${item.failure}/${item.thresholds} run ${i}/${n}: restored ${ms(run.restoredMs)} after green failed (decided ${ms(run.decidedMs)}), ` +
              `${run.failed} client requests failed${run.ok ? '' : ` (exit ${run.exitCode}!)`}`,
          );
        }
      } else log(`  ${item.failure}/${item.thresholds}: ${item.skip}`);
      results.push({
        ...item,
        label: FAILURES[item.failure].label,
        thresholdsLabel: THRESHOLDS[item.thresholds].label,
        waitS: THRESHOLDS[item.thresholds].waitS[item.failure],
        runs,
        summary: summarizeRuns(runs),
      });
    }
  } finally {
    await box.configure(); // the bench's own thresholds again for the cases that follow
  }
  return { steps: STEPS, stepSeconds: opts.restoreStepSeconds, kinds: opts.restoreKinds, pauseMs: opts.restorePauseMs, scenarios: results };
}

export function summarizeRuns(runs) {
  const s = (key) => summarize(runs.map((r) => r[key]));
  return {
    restoredMs: s('restoredMs'),
    decidedMs: s('decidedMs'),
    detectMs: s('detectMs'),
    lastGreenClientMs: s('lastGreenClientMs'),
    failed: s('failed'),
    allRolledBack: runs.every((r) => r.ok),
  };
}

/**
 * 7. Dynamic apply mode (`nginx.mode: dynamic`) against reload mode, in the same run, on the same
 *    sandbox: the same NGINX master, the same backends, the same load. In dynamic mode NGINX's njs reads
 *    conf.d/bgctl-weights.json (one small JSON object) on every request and picks the color with a
 *    per-connection low-discrepancy sequence, frac(connection·α + request number·φ) < share; a weight
 *    change is an atomic write of that file, never a reload. Three measures:
 *    a) zero-downtime: `bgctl gradual green 2.1.0 --steps 25,50,75,100 --step-seconds 1` under constant
 *       load, three ways per run in rotating order: bgctl in dynamic mode, bgctl in reload mode, and bare
 *       reloads (the reload-mode config at blue 100%, 4 `nginx -s reload` at the step starts of the latest
 *       reload-mode migration, as zero-downtime's baseline). Failed requests, p99 latency of the window
 *       (load-worker --latency), and the reloads NGINX really did: new worker processes of the master,
 *       polled every 100 ms (a reload starts a new generation of workers; a weights-file write does not).
 *       The load is zero-downtime's mix (5 each of keep-alive GET/POST and new-connection GET/POST, no
 *       pause): the reload-mode and bare-reload figures cross-check that case, the keep-alive half is
 *       what a reload hurts (an old worker closes its idle connections), the new-connection half is a
 *       control that loses nothing either way, and POSTs are never retried. More connections would only
 *       starve NGINX and the CLI on a 2-core machine.
 *    b) throughput: wrk at 50/50 in each mode (dynamic: the njs pick; reload: the weighted upstream bgctl
 *       renders), alternating order, and the per-request cost of the dynamic pick at saturation:
 *       1e6/req/s (dynamic) − 1e6/req/s (reload), in µs. The green share of each wrk window, from the
 *       access log, shows both really split 50/50.
 *    c) rollback: `bgctl canary green 50`, then `bgctl rollback --json` timed from process start to exit,
 *       with the applyMs it reports and the reloads NGINX did meanwhile, both modes, alternating order.
 *    Switching modes (a config edit, then an apply that changes weights: one reload) is never measured.
 *    If bgctl does not resolve `nginx.mode: dynamic` to dynamic (njs module missing, prefix folder not
 *    enterable by NGINX's workers), the case fails rather than measuring reload mode twice.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { logOffset, scanLog } from '../lib/access-log.mjs';
import { startHaproxy } from '../lib/haproxy.mjs';
import { jsonOf, sleep, tail } from '../lib/proc.mjs';
import { childPids } from '../lib/sandbox.mjs';
import { ratio, summarize } from '../lib/stats.mjs';
import { wrk } from './data-plane.mjs';
import { GRADUAL, STEPS, measured, reloadsUnderLoad, stepOffsets, underLoad } from './zero-downtime.mjs';

export const MODES = ['dynamic', 'reload'];
const SIDES = ['dynamic', 'reload', 'bare', 'haproxy'];
/** what a window without NGINX reloads reports in their place (HAProxy's weight changes reload nothing) */
const NO_RELOADS = { reloads: 0, atMs: [], newWorkers: 0, workersKept: true };
const POLL_MS = 100;
/** New workers seen within this of the previous ones belong to the same reload (reloads are ≥ 1 s apart here). */
const SAME_RELOAD_MS = 400;

const rotate = (list, k) => list.map((_, i) => list[(i + k) % list.length]);

/** `bgctl status --json`; throws when it fails (setup, not a measure). */
async function status(box) {
  return JSON.parse((await box.cliOk(['status', '--json'], 30_000)).stdout);
}

/**
 * Counts the reloads NGINX does from now until stop(): every new generation of worker processes of
 * the master. stop() → { reloads, newWorkers, atMs: [ms after start of each reload], workersKept }.
 */
export async function watchReloads(box) {
  const master = await box.masterPid();
  if (master === null) throw new Error('no NGINX master (no pid in logs/nginx.pid)');
  const first = await childPids(master);
  const known = new Set(first.pids);
  let previous = first.all;
  const t0 = performance.now();
  const seen = []; // [ms, pid] of each new worker
  const poll = async () => {
    const { pids, all } = await childPids(master, previous);
    previous = all;
    const ms = Math.round(performance.now() - t0);
    for (const pid of pids)
      if (!known.has(pid)) {
        known.add(pid);
        seen.push([ms, pid]);
      }
  };
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      await sleep(POLL_MS);
      await poll();
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      await poll();
      const atMs = [];
      for (const [ms] of seen) if (atMs.length === 0 || ms - atMs.at(-1) > SAME_RELOAD_MS) atMs.push(ms);
      const now = (await childPids(master)).pids;
      return { reloads: atMs.length, newWorkers: seen.length, atMs, workersKept: first.pids.every((p) => now.includes(p)) };
    },
  };
}

/**
 * Puts NGINX in MODE at WANT ('blue': blue 100%; 'canary': green held at 50%), not measured. bgctl.yaml
 * gets nginx.mode; NGINX changes mode at the next apply that changes weights (switch, canary, rollback),
 * and a repeated command at the same weights is a no-op, so a wrong mode at the right weights takes a
 * round trip. Returns true when something was applied (NGINX may have reloaded).
 */
export async function enter(box, mode, want) {
  await box.configureMode(mode);
  let s = await status(box);
  if (s.mode?.resolved !== mode || s.mode?.ok !== true)
    throw new Error(`asked for nginx.mode: ${mode}, bgctl resolved ${s.mode?.resolved} (ok ${s.mode?.ok}): ${s.mode?.detail}`);
  const at = (st) => (want === 'blue' ? st.weights?.blue === 100 : st.weights?.green === 50 && st.migration?.status === 'holding');
  const live = (st) => st.mode?.live === mode;
  if (at(s) && live(s)) return false;
  if (s.weights?.blue !== 100) {
    // back to blue: a held canary or an interrupted migration is rolled back, a finished one switched back
    await box.cliOk(s.migration?.status?.match(/holding|running|interrupted/) ? ['rollback'] : ['switch', 'blue']);
    s = await status(box);
  }
  if (want === 'canary') await box.cliOk(['canary', 'green', '50']);
  else if (!live(s)) {
    await box.cliOk(['canary', 'green', '50']);
    await box.cliOk(['rollback']);
  }
  s = await status(box);
  if (!at(s) || !live(s))
    throw new Error(
      `could not bring NGINX to ${mode} mode at ${want}: live mode ${s.mode?.live}, weights ${JSON.stringify(s.weights)}, migration ${s.migration?.status}`,
    );
  return true;
}

/** Runs fn() while counting NGINX's reloads; returns [fn's result, the count], and throws fn's error after stopping. */
async function countingReloads(box, fn) {
  const watch = await watchReloads(box);
  const outcome = await fn().then(
    (value) => ({ value }),
    (error) => ({ error }),
  );
  const reloads = await watch.stop();
  if ('error' in outcome) throw outcome.error;
  return [outcome.value, reloads];
}

/** A measured window (zero-downtime's shape, latency included) with the reloads NGINX did meanwhile. */
function withReloads(w, reloads) {
  const ka = ['ka-get', 'ka-post'].map((k) => w.kinds?.[k] ?? { failed: 0, total: 0 });
  return {
    ...w,
    latency: w.latency ?? null,
    keepAlive: { failed: ka.reduce((a, k) => a + k.failed, 0), total: ka.reduce((a, k) => a + k.total, 0) },
    nginxReloads: reloads.reloads,
    nginxReloadsAtMs: reloads.atMs,
    newWorkers: reloads.newWorkers,
    workersKept: reloads.workersKept,
  };
}

/** One bgctl migration under load in the current mode. */
async function migrateWindow(box, load, mode) {
  const [{ result: r, stats }, reloads] = await countingReloads(box, () => underLoad(box, load, () => box.cli(GRADUAL, 120_000)));
  const { offsets, from } = stepOffsets(r, r.ms);
  const ok = r.exitCode === 0 && jsonOf(r)?.weights?.green === 100;
  const failure = ok ? {} : { output: tail(r.stderr || r.stdout) };
  return withReloads(measured(stats, r.ms, { mode, exitCode: r.exitCode, ok, offsetsMs: offsets, offsetsFrom: from, ...failure }), reloads);
}

/** The same NGINX, reload-mode config at blue 100%: bare `nginx -s reload`s at the given offsets. */
async function bareWindow(box, load, durationMs, offsetsMs) {
  const [w, reloads] = await countingReloads(box, () => reloadsUnderLoad(box, load, durationMs, offsetsMs));
  return withReloads({ ...w, mode: 'bare', offsetsMs }, reloads);
}

/**
 * The peer: HAProxy in front of the same backends, its weights changed through the runtime API at the
 * step starts of the latest reload-mode migration (same duration, same moments as bare reloads).
 */
async function haproxyWindow(hap, load, durationMs, offsetsMs) {
  if (!(await hap.setWeights(100, 0))) throw new Error('haproxy: could not set the weights to blue 100%');
  const { result, stats } = await underLoad({ url: hap.url }, load, async () => {
    const t0 = performance.now();
    const changes = await Promise.all(offsetsMs.map((ms, k) => sleep(ms).then(() => hap.setWeights(100 - STEPS[k], STEPS[k]))));
    await sleep(durationMs - (performance.now() - t0));
    return { changes, elapsed: performance.now() - t0 };
  });
  const sent = result.changes.filter(Boolean).length;
  const w = measured(stats, result.elapsed, { mode: 'haproxy', weightChanges: sent, ok: sent === offsetsMs.length, offsetsMs });
  return withReloads(w, NO_RELOADS);
}

async function zeroDowntimePart(box, opts, log, hap) {
  const load = { kinds: opts.kinds, pauseMs: opts.pauseMs, warmupMs: opts.warmupMs, maxSeconds: 180, latency: true };
  const runs = [];
  let timing = null; // the latest reload-mode migration: the bare reloads replay its duration and step starts
  for (let i = 1; i <= opts.runs; i++) {
    // run 1: dynamic, reload, bare; run 2: reload, bare, dynamic; run 3: bare, dynamic, reload...
    const order = rotate(SIDES, (i - 1) % SIDES.length);
    const run = { run: i, order: order.join(' → ') };
    for (const side of order) {
      if (side === 'haproxy') {
        // replays a reload-mode migration's timing: the first run's comes later in its order
        run.haproxy = timing === null ? null : await haproxyWindow(hap, load, timing.durationMs, timing.offsetsMs);
        continue;
      }
      await enter(box, side === 'bare' ? 'reload' : side, 'blue');
      await sleep(opts.settleMs); // old workers of the mode change finish before the window
      if (side === 'bare') run.bare = await bareWindow(box, load, timing.durationMs, timing.offsetsMs);
      else run[side] = await migrateWindow(box, load, side);
      if (side === 'reload') timing = run.reload;
    }
    if (run.haproxy === null) run.haproxy = await haproxyWindow(hap, load, timing.durationMs, timing.offsetsMs);
    runs.push(run);
    const show = (w) =>
      `${w.failed}/${w.total} failed, p99 ${w.latency?.p99 ?? '-'} ms, ${w.nginxReloads} reloads${w.ok ? '' : ` (not ok: exit ${w.exitCode ?? '-'})`}`;
    log(`  gradual run ${i}/${opts.runs}: ${SIDES.map((s) => `${s} ${show(run[s])}`).join('; ')} (${run.order})`);
  }
  return runs;
}

/** The share of green among the requests NGINX logged since `offset` (forced ones left out). */
async function greenShare(box, offset) {
  let green = 0;
  let total = 0;
  await scanLog(box, offset, (line) => {
    if (line.forced || line.color === null) return false;
    total++;
    if (line.color === 'green') green++;
    return false;
  });
  return total > 0 ? green / total : null;
}

async function throughputPart(box, opts, log, hap) {
  const runs = [];
  for (let i = 1; i <= opts.runs; i++) {
    const order = i % 2 === 1 ? MODES : [...MODES].reverse();
    const run = { run: i, order: order.join(' → ') };
    for (const mode of order) {
      // after a mode change (a reload): one warm-up second on the new workers, discarded
      if ((await enter(box, mode, 'canary')) || i === 1) await wrk(box.url, 1, opts.wrkConnections);
      await sleep(opts.settleMs);
      const offset = await logOffset(box);
      const w = await wrk(box.url, opts.wrkSeconds, opts.wrkConnections);
      run[mode] = { ...w, greenShare: await greenShare(box, offset) };
    }
    if (!(await hap.setWeights(50, 50))) throw new Error('haproxy: could not set the weights to 50/50');
    await wrk(hap.url, 1, opts.wrkConnections); // warm-up, discarded
    run.haproxy = await wrk(hap.url, opts.wrkSeconds, opts.wrkConnections);
    // the extra wall time per request of the saturated machine in dynamic mode
    run.pickUs = run.dynamic.rps && run.reload.rps ? 1e6 / run.dynamic.rps - 1e6 / run.reload.rps : null;
    runs.push(run);
    log(
      `  wrk run ${i}/${opts.runs}: ${MODES.map((m) => `${m} ${Math.round(run[m].rps)} req/s p99 ${run[m].p99?.toFixed(2)} ms green ${((run[m].greenShare ?? NaN) * 100).toFixed(1)}%`).join(', ')}; haproxy ${Math.round(run.haproxy.rps)} req/s p99 ${run.haproxy.p99?.toFixed(2)} ms; pick ${run.pickUs?.toFixed(1)} µs (${run.order})`,
    );
  }
  return runs;
}

async function rollbackPart(box, opts, log) {
  const runs = [];
  for (let i = 1; i <= opts.runs; i++) {
    const order = i % 2 === 1 ? MODES : [...MODES].reverse();
    const run = { run: i, order: order.join(' → ') };
    for (const mode of order) {
      await enter(box, mode, 'canary'); // green held at 50%: the migration to revert
      await sleep(opts.settleMs);
      const watch = await watchReloads(box);
      const r = await box.cli(['rollback', '--json'], 30_000);
      const reloads = await watch.stop();
      const j = jsonOf(r);
      run[mode] = {
        wallMs: Math.round(r.ms),
        applyMs: typeof j?.applyMs === 'number' ? j.applyMs : null,
        action: j?.action ?? null,
        exitCode: r.exitCode,
        ok: r.exitCode === 0 && j?.action === 'reverted' && j?.weights?.blue === 100,
        nginxReloads: reloads.reloads,
      };
    }
    runs.push(run);
    log(
      `  rollback run ${i}/${opts.runs}: ${MODES.map((m) => `${m} ${run[m].wallMs} ms (applyMs ${run[m].applyMs}, ${run[m].nginxReloads} reloads)${run[m].ok ? '' : ` exit ${run[m].exitCode}, ${run[m].action}!`}`).join(', ')}`,
    );
  }
  return runs;
}

export async function benchDynamic(box, opts, log) {
  const first = await status(box);
  let result;
  try {
    // fails here, before anything is measured, when dynamic mode is not available
    await enter(box, 'dynamic', 'blue');
    const dynamic = await status(box);
    const weightsFile = path.join(box.nginxDir, 'conf.d', 'bgctl-weights.json');
    const weightsBytes = (await stat(weightsFile).catch(() => null))?.size ?? null;
    const hap = await startHaproxy(box);
    log('  part 1/3: gradual under load, dynamic vs reload mode vs bare reloads');
    const gradual = await zeroDowntimePart(box, opts, log, hap);
    log('  part 2/3: wrk at 50/50, dynamic vs reload mode');
    const throughput = await throughputPart(box, opts, log, hap);
    log('  part 3/3: rollback from a held canary, dynamic vs reload mode');
    const rollback = await rollbackPart(box, opts, log);
    result = {
      modeDetail: dynamic.mode.detail,
      modeBefore: first.mode?.configured ?? null,
      weightsBytes,
      haproxy: hap.version,
      load: { kinds: opts.kinds, pauseMs: opts.pauseMs, warmupMs: opts.warmupMs, steps: STEPS, stepSeconds: 1 },
      wrk: { seconds: opts.wrkSeconds, connections: opts.wrkConnections },
      gradual,
      throughput,
      rollback,
    };
    result.summary = summarizeRuns(result);
  } finally {
    // leave the sandbox as the other cases expect it: reload mode, blue 100%
    await enter(box, 'reload', 'blue').catch((error) => log(`  could not restore reload mode: ${error?.message ?? error}`));
  }
  return result;
}

function summarizeGradualSide(windows) {
  const sum = (f) => windows.reduce((acc, w) => acc + f(w), 0);
  const pooled = (failed, total) => ({ failed, total, failRate: total > 0 ? failed / total : null });
  return {
    failed: summarize(windows.map((w) => w.failed)),
    total: summarize(windows.map((w) => w.total)),
    failRate: summarize(windows.map((w) => w.failRate)),
    pooled: pooled(
      sum((w) => w.failed),
      sum((w) => w.total),
    ),
    keepAlivePooled: pooled(
      sum((w) => w.keepAlive.failed),
      sum((w) => w.keepAlive.total),
    ),
    p99: summarize(windows.map((w) => w.latency?.p99 ?? null)),
    p50: summarize(windows.map((w) => w.latency?.p50 ?? null)),
    reqPerSec: summarize(windows.map((w) => w.reqPerSec)),
    durationMs: summarize(windows.map((w) => w.durationMs)),
    nginxReloads: sum((w) => w.nginxReloads),
    reloadsPerRun: summarize(windows.map((w) => w.nginxReloads)),
    incidents: sum((w) => w.bursts.length),
    allOk: windows.every((w) => w.ok),
  };
}

export function summarizeRuns(d) {
  const gradual = Object.fromEntries(SIDES.map((s) => [s, summarizeGradualSide(d.gradual.map((r) => r[s]))]));
  const throughput = Object.fromEntries(
    MODES.map((m) => [
      m,
      {
        rps: summarize(d.throughput.map((r) => r[m].rps)),
        p50: summarize(d.throughput.map((r) => r[m].p50)),
        p99: summarize(d.throughput.map((r) => r[m].p99)),
        greenShare: summarize(d.throughput.map((r) => r[m].greenShare)),
        errors: d.throughput.reduce((a, r) => a + r[m].errors, 0),
      },
    ]),
  );
  const rd = throughput.dynamic.rps.median;
  const rr = throughput.reload.rps.median;
  throughput.rpsRatio = ratio(rd, rr);
  throughput.haproxy = {
    rps: summarize(d.throughput.map((r) => r.haproxy?.rps ?? null)),
    p50: summarize(d.throughput.map((r) => r.haproxy?.p50 ?? null)),
    p99: summarize(d.throughput.map((r) => r.haproxy?.p99 ?? null)),
    greenShare: summarize([]),
    errors: d.throughput.reduce((a, r) => a + (r.haproxy?.errors ?? 0), 0),
  };
  throughput.rpsDynamicVsHaproxy = ratio(rd, throughput.haproxy.rps.median);
  // from the median req/s of each mode; pickUs: the same per run (paired), for its spread
  throughput.pickUsFromMedians = rd && rr ? 1e6 / rd - 1e6 / rr : null;
  throughput.pickUs = summarize(d.throughput.map((r) => r.pickUs));
  const rollback = Object.fromEntries(
    MODES.map((m) => [
      m,
      {
        wallMs: summarize(d.rollback.map((r) => r[m].wallMs)),
        applyMs: summarize(d.rollback.map((r) => r[m].applyMs)),
        nginxReloads: d.rollback.reduce((a, r) => a + r[m].nginxReloads, 0),
        reverted: d.rollback.filter((r) => r[m].ok).length,
        runs: d.rollback.length,
      },
    ]),
  );
  rollback.wallRatio = ratio(rollback.dynamic.wallMs.median, rollback.reload.wallMs.median);
  return {
    gradual,
    pooledFailRateRatio: ratio(gradual.dynamic.pooled.failRate, gradual.reload.pooled.failRate),
    p99Ratio: ratio(gradual.dynamic.p99.median, gradual.reload.p99.median),
    throughput,
    rollback,
  };
}

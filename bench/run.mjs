#!/usr/bin/env node
/**
 * bgctl benchmarks against a real NGINX and real HTTP backends on loopback, each figure next to a
 * baseline measured in the same run:
 *   zero-downtime    failed requests during `bgctl gradual` under constant load (keep-alive and new-connection
 *                    clients, GET and POST) vs bare nginx reloads
 *   split            observed share vs target at each step, weighted and sticky (many clients keeping cookies)
 *   time-to-restore  green starts failing (500s, latency, killed) → all traffic back on blue, default and
 *                    immediate thresholds, and the client requests that failed meanwhile; draws the timelines
 *   apply-latency    render → test → reload → confirmed per step and for rollback vs a reload by hand
 *   rollback         `bgctl rollback` wall time end to end, and the applyMs it reports
 *   cold-start       `bgctl status` and `bgctl --version` vs `node -e 0`
 *   data-plane       wrk throughput and p99 through bgctl's NGINX vs a minimal proxy_pass config vs direct
 *   dynamic          nginx.mode dynamic vs reload on the same NGINX: failed requests, p99 and reloads during
 *                    gradual (and bare reloads), wrk throughput at 50/50 and the njs pick's cost, rollback time
 *
 *   npm run build && node bench/run.mjs [--only NAME[,NAME...]] [--quick] [--runs N] [--out DIR]
 *
 * Prints tables to stdout (progress goes to stderr) and writes DIR/latest.{json,md} and the timeline
 * SVGs (DIR defaults to bench/results). A full run of every case into bench/results also rewrites the
 * README's "Performance" section from latest.md (bench/readme.mjs). Exits 0 when every run did what it
 * should, 1 when something went wrong (listed under PROBLEMS), 2 on bad usage. All traffic stays on
 * 127.0.0.1; everything started is stopped, even on error.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { benchApplyLatency } from './cases/apply-latency.mjs';
import { benchColdStart } from './cases/cold-start.mjs';
import { benchDataPlane } from './cases/data-plane.mjs';
import { benchDynamic } from './cases/dynamic.mjs';
import { benchRollback } from './cases/rollback.mjs';
import { benchSplit } from './cases/split.mjs';
import { benchTimeToRestore } from './cases/time-to-restore.mjs';
import { benchZeroDowntime } from './cases/zero-downtime.mjs';
import { cleanupAll, guard } from './lib/cleanup.mjs';
import { machineInfo } from './lib/machine.mjs';
import { REPO_ROOT } from './lib/proc.mjs';
import { renderMarkdown, renderText } from './lib/report.mjs';
import { makeSandbox } from './lib/sandbox.mjs';
import { problemsOf } from './lib/problems.mjs';
import { README, updateReadme } from './readme.mjs';

const RESULTS_DIR = path.join(REPO_ROOT, 'bench', 'results');

/**
 * Repetitions per case (odd, so the median is a real run), the pauses around the measures, and the
 * sizes that --quick shrinks. restoreDefault: runs of the time-to-restore cases with default thresholds
 * (each waits 30-60 s by design).
 */
const PROFILES = {
  full: {
    runs: { zeroDowntime: 7, split: 3, timeToRestore: 5, applyLatency: 5, rollback: 9, coldStart: 15, dataPlane: 5, dynamic: 7 },
    restoreDefaultRuns: 3,
    warmupMs: 1000,
    settleMs: 500,
    clients: 2000,
    stepSeconds: 4,
    restoreStepSeconds: 4,
    wrkSeconds: 5,
  },
  quick: {
    runs: { zeroDowntime: 3, split: 1, timeToRestore: 3, applyLatency: 3, rollback: 5, coldStart: 7, dataPlane: 3, dynamic: 3 },
    restoreDefaultRuns: 1,
    warmupMs: 500,
    settleMs: 250,
    clients: 500,
    stepSeconds: 2,
    restoreStepSeconds: 3,
    wrkSeconds: 2,
  },
};
/** The zero-downtime load: four client kinds at once, 20 connections, each sending back to back. */
const LOAD = { kinds: 'ka-get:5,ka-post:5,close-get:5,close-post:5', pauseMs: 0 };
/**
 * While green fails: 64 clients, each pausing 40 ms between requests (users with think time, not a
 * saturating loop): a slow release must not starve the load of the very requests that show it.
 */
const RESTORE_LOAD = { kinds: 'ka-get:24,ka-post:24,close-get:8,close-post:8', pauseMs: 40 };

/** budget: seconds one run may take, for the global deadline (generous: a busy machine is slow). */
const CASES = {
  'zero-downtime': { key: 'zeroDowntime', run: benchZeroDowntime, budget: () => 90 },
  split: { key: 'split', run: benchSplit, budget: (o) => 2 * (4 * o.profile.stepSeconds + 40) },
  'time-to-restore': {
    key: 'timeToRestore',
    run: benchTimeToRestore,
    budget: (o) => 3 * 45 + (o.profile.restoreDefaultRuns * 200) / runsFor(o, 'time-to-restore'),
  },
  'apply-latency': { key: 'applyLatency', run: benchApplyLatency, budget: () => 40 },
  rollback: { key: 'rollback', run: benchRollback, budget: () => 30 },
  'cold-start': { key: 'coldStart', run: benchColdStart, budget: () => 15 },
  // six targets a run (two of them in containers, when the engine has the njs 0.8 image)
  'data-plane': { key: 'dataPlane', run: benchDataPlane, budget: (o) => 30 + 6 * (o.profile.wrkSeconds + 2) },
  // a run: 3 migrations under load, 2 wrk windows, 2 canary + rollback, and the mode changes between them
  dynamic: { key: 'dynamic', run: benchDynamic, budget: (o) => 150 + 4 * o.profile.wrkSeconds },
};

const USAGE = `usage: node bench/run.mjs [--only ${Object.keys(CASES).join('|')}] [--quick] [--runs N] [--out DIR]`;

function usageError(message) {
  process.stderr.write(`bench: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function parseOptions(argv) {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        only: { type: 'string', multiple: true },
        quick: { type: 'boolean', default: false },
        runs: { type: 'string' },
        out: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    usageError(error.message);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  // --only accepts a comma list or repeats: --only rollback,cold-start
  const only = (values.only ?? Object.keys(CASES)).flatMap((v) => v.split(',')).map((v) => v.trim());
  for (const name of only) if (!(name in CASES)) usageError(`--only: unknown case ${JSON.stringify(name)}`);
  const runs = values.runs === undefined ? null : Number(values.runs);
  if (runs !== null && !(Number.isInteger(runs) && runs >= 1 && runs <= 50)) usageError('--runs: a whole number 1-50');
  const mode = values.quick ? 'quick' : 'full';
  const outDir = path.resolve(values.out ?? RESULTS_DIR);
  return { mode, cases: Object.keys(CASES).filter((name) => only.includes(name)), runsOverride: runs, profile: PROFILES[mode], outDir };
}

function runsFor(opts, name) {
  return opts.runsOverride ?? opts.profile.runs[CASES[name].key];
}
const log = (line) => process.stderr.write(`${line}\n`);

/** Atomic writes (temp file, rename): a reader never sees half a result; *.tmp is git-ignored. */
async function writeAtomic(file, text) {
  await writeFile(`${file}.tmp`, text);
  await rename(`${file}.tmp`, file);
}

function caseOptions(opts, name, charts) {
  const p = opts.profile;
  return {
    runs: runsFor(opts, name),
    quick: opts.mode === 'quick',
    warmupMs: p.warmupMs,
    settleMs: p.settleMs,
    ...LOAD,
    // split
    clients: p.clients,
    splitConnections: 8,
    stepSeconds: p.stepSeconds,
    // time to restore
    restoreKinds: RESTORE_LOAD.kinds,
    restorePauseMs: RESTORE_LOAD.pauseMs,
    restoreStepSeconds: p.restoreStepSeconds,
    restoreDefaultRuns: opts.runsOverride ?? p.restoreDefaultRuns,
    chartFile: (file) => {
      charts.push({ file, title: file.replace(/\.svg$/, '') });
      return path.join(opts.outDir, file);
    },
    // data plane
    wrkSeconds: p.wrkSeconds,
    wrkConnections: 16,
  };
}

async function runCases(opts, results, errors, charts) {
  log('bench: starting the sandbox (two demo backends, NGINX via bgctl start)');
  const box = await makeSandbox();
  for (const name of opts.cases) {
    const caseOpts = caseOptions(opts, name, charts);
    log(`bench: ${name} (${caseOpts.runs} runs)`);
    try {
      results[CASES[name].key] = await CASES[name].run(box, caseOpts, log);
    } catch (error) {
      // one broken case must not cost the others their figures
      errors.push(`${name}: ${error?.message ?? error}`);
      log(`bench: ${name} failed: ${error?.stack ?? error}`);
    }
  }
}

async function main() {
  const opts = parseOptions(process.argv.slice(2));
  if (!existsSync(path.join(REPO_ROOT, 'dist', 'main.js'))) usageError('dist/ is missing: run `npm run build` first');
  const budgetS = 180 + opts.cases.reduce((sum, name) => sum + runsFor(opts, name) * CASES[name].budget(opts), 0);
  const disarm = guard(budgetS * 1000);
  const started = performance.now();
  const date = new Date().toISOString();
  const machine = await machineInfo();
  const results = {};
  const errors = [];
  const charts = [];
  await mkdir(opts.outDir, { recursive: true });
  try {
    await runCases(opts, results, errors, charts);
  } catch (error) {
    errors.push(`setup: ${error?.message ?? error}`);
  } finally {
    log('bench: cleaning up');
    await cleanupAll();
    disarm();
  }
  const command = ['node bench/run.mjs', ...process.argv.slice(2)].join(' ');
  const report = {
    date,
    mode: opts.mode,
    command,
    durationMs: Math.round(performance.now() - started),
    machine,
    options: {
      cases: opts.cases,
      runs: Object.fromEntries(opts.cases.map((n) => [n, runsFor(opts, n)])),
      profile: opts.profile,
      load: LOAD,
      restoreLoad: RESTORE_LOAD,
    },
    results,
    charts: charts.filter((c) => existsSync(path.join(opts.outDir, c.file))),
    problems: [...errors, ...problemsOf(results)],
  };
  const md = renderMarkdown(report);
  await writeAtomic(path.join(opts.outDir, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  await writeAtomic(path.join(opts.outDir, 'latest.md'), md);
  const written = [
    path.join(opts.outDir, 'latest.json'),
    path.join(opts.outDir, 'latest.md'),
    ...report.charts.map((c) => path.join(opts.outDir, c.file)),
  ];
  // README shows the full run of everything only: a quick or partial run must not replace it
  if (opts.outDir === RESULTS_DIR && opts.mode === 'full' && opts.cases.length === Object.keys(CASES).length) {
    await writeAtomic(README, await updateReadme(await readFile(README, 'utf8'), md));
    written.push(README);
  }
  process.stdout.write(`\n${renderText(report)}\n\nwritten: ${written.map((f) => path.relative(REPO_ROOT, f) || f).join(', ')}\n`);
  return report.problems.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  async (error) => {
    process.stderr.write(`bench: ${error?.stack ?? error}\n`);
    await cleanupAll();
    process.exit(1);
  },
);

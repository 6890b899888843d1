#!/usr/bin/env node
/**
 * bgctl benchmarks against a real NGINX, each figure next to a baseline measured in the same run:
 *   1. zero-downtime  failed requests during `bgctl gradual` under keep-alive load vs bare nginx reloads
 *   2. rollback       `bgctl rollback` wall time end to end, and the applyMs it reports
 *   3. cold-start     `bgctl status` and `bgctl --version` vs `node -e 0`
 *
 *   npm run build && node bench/run.mjs [--only zero-downtime|rollback|cold-start] [--quick] [--runs N]
 *
 * Prints tables to stdout (progress goes to stderr) and writes bench/results/latest.{json,md}.
 * Exits 0 when every run did what it should, 1 when something went wrong (listed under PROBLEMS),
 * 2 on bad usage. All traffic stays on 127.0.0.1; everything started is stopped, even on error.
 */
import { existsSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { benchColdStart } from './cases/cold-start.mjs';
import { benchRollback } from './cases/rollback.mjs';
import { benchZeroDowntime } from './cases/zero-downtime.mjs';
import { cleanupAll, guard } from './lib/cleanup.mjs';
import { machineInfo } from './lib/machine.mjs';
import { REPO_ROOT } from './lib/proc.mjs';
import { renderMarkdown, renderText } from './lib/report.mjs';
import { makeSandbox } from './lib/sandbox.mjs';

const RESULTS_DIR = path.join(REPO_ROOT, 'bench', 'results');

/** Repetitions per case (odd, so the median is a real run) and the pauses around the measures. */
const PROFILES = {
  full: { runs: { zeroDowntime: 7, rollback: 9, coldStart: 15 }, warmupMs: 1000, settleMs: 500 },
  quick: { runs: { zeroDowntime: 3, rollback: 5, coldStart: 7 }, warmupMs: 500, settleMs: 250 },
};
/** The load of the zero-downtime case: 20 keep-alive connections, each sending back to back. */
const LOAD = { connections: 20, pauseMs: 0 };

const CASES = {
  'zero-downtime': { key: 'zeroDowntime', run: benchZeroDowntime, budgetPerRunS: 90 },
  rollback: { key: 'rollback', run: benchRollback, budgetPerRunS: 30 },
  'cold-start': { key: 'coldStart', run: benchColdStart, budgetPerRunS: 15 },
};

const USAGE = `usage: node bench/run.mjs [--only ${Object.keys(CASES).join('|')}] [--quick] [--runs N]`;

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
  return { mode, cases: Object.keys(CASES).filter((name) => only.includes(name)), runsOverride: runs, profile: PROFILES[mode] };
}

const runsFor = (opts, name) => opts.runsOverride ?? opts.profile.runs[CASES[name].key];
const log = (line) => process.stderr.write(`${line}\n`);

/** Problems worth a non-zero exit: a migration that did not complete, a rollback that did not revert... */
function problemsOf(results) {
  const problems = [];
  for (const r of results.zeroDowntime?.runs ?? []) {
    if (!r.bgctl.ok) problems.push(`zero-downtime run ${r.run}: bgctl gradual exited ${r.bgctl.exitCode}: ${r.bgctl.output ?? ''}`);
    if (!r.baseline.ok) problems.push(`zero-downtime run ${r.run}: only ${r.baseline.reloads} baseline reloads were sent`);
    if (r.bgctl.offsetsFrom !== 'steps')
      problems.push(`zero-downtime run ${r.run}: step times not in the --json output; baseline reloads spread evenly`);
  }
  for (const r of results.rollback?.runs ?? []) if (!r.ok) problems.push(`rollback run ${r.run}: exit ${r.exitCode}, action ${r.action}`);
  for (const c of Object.values(results.coldStart?.summary ?? {}))
    if (c.failures > 0) problems.push(`cold start: ${c.label} exited non-zero ${c.failures} times`);
  return problems;
}

/** Atomic writes (temp file, rename): a reader never sees half a result; *.tmp is git-ignored. */
async function writeAtomic(file, text) {
  await writeFile(`${file}.tmp`, text);
  await rename(`${file}.tmp`, file);
}

async function runCases(opts, results, errors) {
  log('bench: starting the sandbox (two demo backends, NGINX via bgctl start)');
  const box = await makeSandbox();
  for (const name of opts.cases) {
    const caseOpts = { runs: runsFor(opts, name), warmupMs: opts.profile.warmupMs, settleMs: opts.profile.settleMs, ...LOAD };
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
  const budgetS = 120 + opts.cases.reduce((sum, name) => sum + runsFor(opts, name) * CASES[name].budgetPerRunS, 0);
  const disarm = guard(budgetS * 1000);
  const started = performance.now();
  const date = new Date().toISOString();
  const machine = await machineInfo();
  const results = {};
  const errors = [];
  try {
    await runCases(opts, results, errors);
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
      warmupMs: opts.profile.warmupMs,
      settleMs: opts.profile.settleMs,
      load: LOAD,
    },
    results,
    problems: [...errors, ...problemsOf(results)],
  };
  await mkdir(RESULTS_DIR, { recursive: true });
  await writeAtomic(path.join(RESULTS_DIR, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  await writeAtomic(path.join(RESULTS_DIR, 'latest.md'), renderMarkdown(report));
  process.stdout.write(`\n${renderText(report)}\n\nwritten: bench/results/latest.json, bench/results/latest.md\n`);
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

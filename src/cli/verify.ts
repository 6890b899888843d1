import { createRequire } from 'node:module';
import type * as Readline from 'node:readline/promises';
import { Argument, type Command } from 'commander';
import { otherColor } from '../core/color.js';
import { InterruptedError, UsageError } from '../core/errors.js';
import { parseSteps } from '../core/plan.js';
import {
  consent,
  failureOf,
  runVerify,
  SUITES,
  type Row,
  type Suite,
  type Tolerance,
  type VerifyOptions,
  type VerifyReport,
} from '../app/verify.js';
import type { AppContext } from '../app/context.js';
import { makeRun, type CliDeps } from './run.js';

export interface VerifyFlags {
  readonly yes: boolean;
  readonly apiPort: string;
  readonly monitorPort: string;
  readonly requireServe: boolean;
  readonly path: string;
  readonly probeSeconds: string;
  readonly probeConnections: string;
  readonly steps: string;
  readonly stepSeconds: string;
  readonly cycles: string;
  readonly stressConnections: string;
  readonly maxFailed: string;
}

const number = (flag: string, text: string, min: number, max: number, int = true): number => {
  const ok = (int ? /^\d{1,9}$/ : /^\d{1,9}(\.\d{1,3})?$/).test(text) && Number(text) >= min && Number(text) <= max;
  if (!ok) throw new UsageError(`${flag}: ${JSON.stringify(text)} is not a ${int ? 'whole ' : ''}number ${min}-${max}`);
  return Number(text);
};

/** `--max-failed 3` (requests) or `--max-failed 0.1%` (of all requests). */
function tolerance(text: string): Tolerance {
  const rate = /^(\d{1,3}(\.\d{1,4})?)%$/.exec(text);
  if (rate && Number(rate[1]) <= 100) return { rate: Number(rate[1]) / 100 };
  return { count: number('--max-failed', text, 0, 1_000_000) };
}

/** Pure: flags (strings) → the options of the suite, or a UsageError (exit 2) naming the flag. */
export function parseVerifyFlags(suite: Suite, f: VerifyFlags, frontUrl: string): VerifyOptions {
  if (!/^\/[A-Za-z0-9._~/?=&%-]{0,200}$/.test(f.path))
    throw new UsageError(`--path: ${JSON.stringify(f.path)} is not a URL path (starts with /)`);
  const steps = parseSteps(f.steps);
  if ('error' in steps) throw new UsageError(`--steps: ${steps.error}`);
  const apiPort = number('--api-port', f.apiPort, 1, 65535);
  const monitorPort = number('--monitor-port', f.monitorPort, 1, 65535);
  return {
    suite,
    frontUrl,
    path: f.path,
    serve: { apiUrl: `http://127.0.0.1:${apiPort}`, monitorUrl: `http://127.0.0.1:${monitorPort}`, required: f.requireServe },
    probe: {
      seconds: number('--probe-seconds', f.probeSeconds, 0, 60, false),
      connections: number('--probe-connections', f.probeConnections, 1, 64),
    },
    migration: { steps: steps.steps, stepSeconds: number('--step-seconds', f.stepSeconds, 0, 600, false) },
    stress: { cycles: number('--cycles', f.cycles, 1, 100), connections: number('--stress-connections', f.stressConnections, 1, 256) },
    maxFailed: tolerance(f.maxFailed),
  };
}

const duration = (ms: number): string => (ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`);

/** The table: one row per check, then the verdict with its exit code. */
export function formatTable(report: VerifyReport): string[] {
  const width = Math.max(5, ...report.rows.map((r: Row) => r.name.length));
  const head = `${'CHECK'.padEnd(width)}  RESULT  ${'TIME'.padStart(8)}  DETAIL`;
  const lines = report.rows.map(
    (r) => `${r.name.padEnd(width)}  ${r.result.padEnd(6)}  ${duration(r.durationMs).padStart(8)}  ${r.detail}`,
  );
  const s = report.summary;
  const verdict = `${report.result}${report.exitCode ? ` (exit ${report.exitCode})` : ''}: ${s.passed} passed, ${s.failed} failed, ${s.skipped} skipped in ${duration(report.durationMs)}`;
  return [head, ...lines, '', verdict];
}

async function ask(question: string, deps: CliDeps, signal: AbortSignal): Promise<boolean> {
  // only when asking: quick start; `require`, not import(): V8-cached code (bin/bgctl.cjs) has no dynamic-import hook
  const { createInterface } = createRequire(import.meta.url)('node:readline/promises') as typeof Readline;
  const rl = createInterface({ input: process.stdin, output: deps.streams.stderr });
  try {
    const answer = await rl.question(question, { signal });
    return /^y(es)?$/i.test(answer.trim());
  } catch (e) {
    if (signal.aborted) throw new InterruptedError('verify: interrupted at the confirmation; nothing was changed');
    throw e;
  } finally {
    rl.close();
  }
}

export function registerVerify(program: Command, deps: CliDeps): void {
  program
    .command('verify')
    .description('the system validation suite: a PASS/FAIL table, non-zero exit on any failure')
    .addArgument(new Argument('<suite>', 'validate (read-only) | test | stress | full (all three)').choices(SUITES))
    .option('-y, --yes', 'test, stress, full: move live traffic without asking', false)
    .option('--api-port <port>', 'where `bgctl serve` answers its control API (GET /status)', '9000')
    .option('--monitor-port <port>', 'where `bgctl serve` answers its monitoring (GET /health)', '8090')
    .option('--require-serve', 'bgctl serve not running is a FAIL (default: SKIP)', false)
    .option('--path <path>', 'URL path requested through NGINX by the probe load and the cycles; must answer 2xx', '/')
    .option('--probe-seconds <n>', 'length of the performance probe load (0: skip it)', '3')
    .option('--probe-connections <n>', 'keep-alive connections of the probe load (and of the test cycle)', '4')
    .option('--steps <list>', 'test, stress: steps of every migration', '50,100')
    .option('--step-seconds <n>', 'test, stress: observation time per step', '2')
    .option('--cycles <n>', 'stress: round trips (there and back)', '3')
    .option('--stress-connections <n>', 'stress: keep-alive connections of the load', '8')
    .option('--max-failed <n|p%>', 'stress: failed client requests tolerated, a count or a share (0.1%)', '0')
    .addHelpText(
      'after',
      `
validate only reads (plus a short probe load through NGINX). test migrates to the other color and
back under a light load (its failed requests are judged on thresholds.errorRate); stress does that
--cycles times under a heavier load and fails on more failed requests than --max-failed. Both move
live traffic, so they ask first in a terminal and need --yes anywhere else. Every check is a row:
PASS, FAIL, or SKIP (could not run or not wanted; never counted as a pass, never a failure).

Exit codes: 0 no check failed, 2 bad usage or not confirmed (nothing changed), 3 a test migration
failed its checks and was rolled back (traffic is where verify found it), 4 traffic did not end
where verify found it (a human must decide), 5 the lock is held, 6 a check failed (traffic is where
verify found it), 130 interrupted.
--json prints the table as one JSON document; when a check failed it is the error document, with
the table under error.details.

Examples:
  $ bgctl verify validate
  $ bgctl verify validate --require-serve --api-port 9000 --monitor-port 8090
  $ bgctl verify test --yes --step-seconds 5
  $ bgctl verify stress --yes --cycles 5 --max-failed 0.1%
  $ bgctl verify full --yes --json | jq '.rows // .error.details.rows'`,
    )
    .action(async (suite: Suite, flags: VerifyFlags, cmd: Command) => {
      const run = makeRun(cmd, deps);
      const ctx = await run.context();
      const { createVerifyProbes, frontUrl } = await import('../adapters/verify-probes.js');
      const cfg = ctx.loaded.config;
      const options = parseVerifyFlags(suite, flags, frontUrl(cfg));
      const decision = consent(suite, { yes: flags.yes, tty: Boolean(process.stdin.isTTY) });
      if (decision !== 'go') await confirm(decision, suite, deps, ctx);
      const probes = createVerifyProbes(cfg);
      run.out.line(`bgctl verify ${suite} (${ctx.loaded.file})`);
      const report = await runVerify(ctx, probes, options);
      const failure = failureOf(report);
      if (run.out.json && failure) throw failure; // one JSON document: the error, with the table in it
      run.out.result(report, () => {
        run.out.line('');
        for (const line of formatTable(report)) run.out.line(line);
      });
      if (failure) throw failure;
    });
}

/** test and stress move live traffic: refuse without a terminal, else ask (nothing happens before the answer). */
async function confirm(decision: 'ask' | 'refuse', suite: Suite, deps: CliDeps, ctx: AppContext): Promise<void> {
  const stable = await ctx.store.load().then(
    (s) => s.stable,
    () => null,
  );
  const route = stable ? ` (${stable} → ${otherColor(stable)} → ${stable})` : '';
  const what = `verify ${suite} moves live traffic${route} through real migrations`;
  if (decision === 'refuse') throw new UsageError(`${what}: pass --yes to run it without a terminal; nothing was changed`);
  if (!(await ask(`${what}. Continue? [y/N] `, deps, ctx.signal)))
    throw new UsageError(`verify ${suite}: not confirmed; nothing was changed`);
}

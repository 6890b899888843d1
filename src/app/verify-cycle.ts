import { otherColor, type Color } from '../core/color.js';
import { BgctlError, ExitCode } from '../core/errors.js';
import { isActive, type State } from '../core/state.js';
import { formatWeights } from '../core/weights.js';
import type { AppContext } from './context.js';
import { driftCheck } from './preflight.js';
import { gradual } from './traffic-commands.js';
import {
  allowedFailures,
  describeTolerance,
  fail,
  pass,
  rowOf,
  skipped,
  timed,
  type LoadStats,
  type Outcome,
  type Row,
  type Tolerance,
  type VerifyOptions,
  type VerifyProbes,
} from './verify-model.js';

/**
 * `verify test` and `verify stress`: real gradual migrations to the other color and back, under a
 * bounded load through NGINX, checked on what clients see (X-Bgctl-Color of real answers).
 */

/** Fresh-connection requests sampled after every migration: all must come from the new color. */
const SAMPLES = 10;

/** Where the system must be for a cycle: the stable color at 100%, nothing in progress or holding. */
export function startingPoint(state: State): Outcome {
  const m = state.migration;
  if (isActive(m))
    return fail(
      `${m.status === 'holding' ? `a canary holds ${m.to} at ${state.weights[m.to]}%` : `a migration to ${m.to} is ${m.status}`}: ` +
        'the cycle starts from the stable color at 100%; finish it (`bgctl gradual`) or revert it (`bgctl rollback`) first',
    );
  if (state.weights[state.stable] !== 100)
    return fail(`${state.stable} is stable but carries ${state.weights[state.stable]}%: run \`bgctl rollback\` first`);
  return pass(
    `${state.stable} stable at 100%${state.versions[state.stable] ? ` (${state.versions[state.stable]})` : ''}, ${otherColor(state.stable)} idle`,
  );
}

/** One gradual migration to `color` (with the version it reports), confirmed by fresh requests through NGINX. */
async function migrateTo(ctx: AppContext, probes: VerifyProbes, o: VerifyOptions, color: Color): Promise<Outcome> {
  const [h, state] = await Promise.all([ctx.prober.color(color), ctx.store.load()]);
  // with a deploy hook, a version the probe cannot confirm would make gradual redeploy it: never guess then
  const version = h.version ?? (ctx.deploy ? null : state.versions[color]);
  if (!version)
    return fail(
      `${color} reports no version in its health answer${ctx.deploy ? ' and a deploy hook is configured' : ' and state.json knows none'}: cannot migrate to it without one`,
    );
  const t0 = ctx.clock.now();
  try {
    const r = await gradual(ctx, { color, version, steps: o.migration.steps, stepSeconds: o.migration.stepSeconds });
    if (r.outcome !== 'completed')
      return fail(`gradual ${color} ${version}: ${r.outcome}, ${formatWeights(r.state.weights)}`, ExitCode.UNKNOWN_STATE);
  } catch (e) {
    if (e instanceof BgctlError) return fail(e.message, e.exitCode);
    throw e;
  }
  const took = ((ctx.clock.now() - t0) / 1000).toFixed(1);
  const seen = await sample(probes, o, ctx.loaded.config.probe.timeoutMs);
  const served = seen.filter((c) => c === color).length;
  const what = `gradual ${color} ${version} (steps ${o.migration.steps.join(', ')}%) completed in ${took} s; ${served}/${SAMPLES} fresh requests served by ${color}`;
  // NGINX confirmed the config, yet clients land elsewhere: nobody knows where traffic really goes
  return served === SAMPLES ? pass(what) : fail(`${what} (others: ${seen.filter((c) => c !== color).join(', ')})`, ExitCode.UNKNOWN_STATE);
}

async function sample(probes: VerifyProbes, o: VerifyOptions, timeoutMs: number): Promise<string[]> {
  const colors: string[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const a = await probes.get(o.frontUrl + o.path, timeoutMs);
    colors.push(a.error ? `error (${a.error})` : (a.color ?? `HTTP ${a.status ?? '?'} without a color`));
  }
  return colors;
}

/** Back where verify found it: same stable color at 100%, NGINX serving what state.json says, clients there. */
async function endsWhereItStarted(ctx: AppContext, probes: VerifyProbes, o: VerifyOptions, start: Color): Promise<Outcome> {
  const [state, live] = await Promise.all([ctx.store.load(), ctx.nginx.live()]);
  const seen = await sample(probes, o, ctx.loaded.config.probe.timeoutMs);
  const served = seen.filter((c) => c === start).length;
  const where = `${formatWeights(state.weights)}, stable ${state.stable}, NGINX ${live ? `serving revision ${live.revision}` : 'not answering'}, ${served}/${SAMPLES} fresh requests served by ${start}`;
  const back =
    state.stable === start &&
    state.weights[start] === 100 &&
    !isActive(state.migration) &&
    driftCheck(state, live).ok &&
    served === SAMPLES;
  if (back) return pass(where);
  const version = state.versions[start] ?? 'VERSION';
  // Ctrl-C: traffic is on the stable color of the migration it stopped, maybe not where verify started
  const code = ctx.signal.aborted ? ExitCode.INTERRUPTED : ExitCode.UNKNOWN_STATE;
  return fail(`${where}; verify started on ${start} at 100%: decide, then e.g. \`bgctl gradual ${start} ${version}\``, code);
}

function loadOutcome(stats: LoadStats, tolerance: Tolerance, colors: readonly Color[]): Outcome {
  const figures = `${stats.total} requests, blue ${stats.byColor.blue} / green ${stats.byColor.green}${stats.byColor.other ? ` / no color ${stats.byColor.other}` : ''}, ${stats.failed} failed (${describeTolerance(tolerance, stats.total)})`;
  const first = stats.errors.length ? `; first failures: ${stats.errors.slice(0, 3).join('; ')}` : '';
  const silent = colors.filter((c) => stats.byColor[c] === 0);
  if (silent.length) return fail(`${figures}: ${silent.join(' and ')} served none of them${first}`);
  if (stats.failed > allowedFailures(tolerance, stats.total)) return fail(`${figures}${first}`);
  return pass(`${figures}${first}`);
}

/** Upper bound of a cycle's load: it stops by itself even if nobody stops it. */
function loadSeconds(ctx: AppContext, o: VerifyOptions, migrations: number): number {
  const perStep = o.migration.stepSeconds + ctx.loaded.config.migration.maxExtendSeconds + 30;
  return Math.min(6 * 3600, migrations * o.migration.steps.length * perStep + 60);
}

/** `verify test`: one complete deployment cycle S → O → S under a light load. */
export async function deploymentCycle(ctx: AppContext, probes: VerifyProbes, o: VerifyOptions): Promise<Row[]> {
  const state = await ctx.store.load();
  const start = state.stable;
  const other = otherColor(start);
  const first = await timed(ctx, 'cycle: starting point', () => Promise.resolve(startingPoint(state)));
  if (first.result !== 'PASS') return [first];
  const loadT0 = ctx.clock.now();
  const load = probes.load({ url: o.frontUrl + o.path, connections: o.probe.connections, maxSeconds: loadSeconds(ctx, o, 2) });
  const rows: Row[] = [first];
  try {
    rows.push(await timed(ctx, `cycle: ${start} → ${other}`, () => migrateTo(ctx, probes, o, other)));
    if (rows.at(-1)?.result !== 'PASS') rows.push(skipped(`cycle: ${other} → ${start}`, 'not run: the first migration failed'));
    else if (ctx.signal.aborted) rows.push(skipped(`cycle: ${other} → ${start}`, 'not run: interrupted'));
    else rows.push(await timed(ctx, `cycle: ${other} → ${start}`, () => migrateTo(ctx, probes, o, start)));
  } finally {
    const stats = await load.stop();
    rows.push(
      rowOf(
        'cycle: traffic moved',
        loadOutcome(stats, { rate: ctx.loaded.config.thresholds.errorRate, label: 'thresholds.errorRate' }, [start, other]),
        ctx.clock.now() - loadT0,
      ),
    );
  }
  rows.push(await timed(ctx, `cycle: ends on ${start}`, () => endsWhereItStarted(ctx, probes, o, start)));
  return rows;
}

/** `verify stress`: rapid round trips under a heavier load; every failed client request is counted. */
export async function stressCycles(ctx: AppContext, probes: VerifyProbes, o: VerifyOptions): Promise<Row[]> {
  const state = await ctx.store.load();
  const start = state.stable;
  const other = otherColor(start);
  const first = await timed(ctx, 'stress: starting point', () => Promise.resolve(startingPoint(state)));
  if (first.result !== 'PASS') return [first];
  const total = 2 * o.stress.cycles;
  const loadT0 = ctx.clock.now();
  const load = probes.load({ url: o.frontUrl + o.path, connections: o.stress.connections, maxSeconds: loadSeconds(ctx, o, total) });
  const rows: Row[] = [first];
  try {
    rows.push(
      await timed(ctx, 'stress: migrations', async () => {
        const took: number[] = [];
        for (let i = 0; i < total; i++) {
          if (ctx.signal.aborted) return fail(`interrupted after ${i} of ${total} migrations`, ExitCode.INTERRUPTED);
          const t0 = ctx.clock.now();
          const r = await migrateTo(ctx, probes, o, i % 2 === 0 ? other : start);
          if (r.result !== 'PASS') return { ...r, detail: `migration ${i + 1} of ${total} failed: ${r.detail}` };
          took.push((ctx.clock.now() - t0) / 1000);
        }
        const range = `${Math.min(...took).toFixed(1)}–${Math.max(...took).toFixed(1)} s each`;
        return pass(
          `${total} migrations (${o.stress.cycles} round trips ${start} → ${other} → ${start}), ${range}, every one confirmed by fresh requests`,
        );
      }),
    );
  } finally {
    const stats = await load.stop();
    const outcome = loadOutcome(stats, o.maxFailed, [start, other]);
    rows.push(
      rowOf(
        'stress: failed requests',
        { ...outcome, detail: `${o.stress.connections} keep-alive connections: ${outcome.detail}` },
        ctx.clock.now() - loadT0,
      ),
    );
  }
  rows.push(await timed(ctx, `stress: ends on ${start}`, () => endsWhereItStarted(ctx, probes, o, start)));
  return rows;
}

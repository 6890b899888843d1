import { PreflightError } from '../core/errors.js';
import { applied } from '../core/migration.js';
import type { Migration } from '../core/state.js';
import { weightsFor, type Weights } from '../core/weights.js';
import type { Color } from '../core/color.js';
import { fallbackFor, withLock } from './apply.js';
import { nowIso, renderRequestFor, type AppContext } from './context.js';
import type { LiveNginx, RenderedConfig } from './ports.js';
import { configTestCheck, driftCheck, enforce, healthCheck, modeCheck, type CheckResult } from './preflight.js';

/** Before the first `bgctl start` there is nothing to run yet; after it, NGINX must answer. */
function nginxRunningCheck(revision: number, running: boolean, live: LiveNginx | null): CheckResult {
  if (running && live) return { check: 'NGINX running', ok: true, detail: `serving revision ${live.revision}` };
  if (running) return { check: 'NGINX running', ok: false, detail: 'running but its status location does not answer' };
  if (revision === 0) return { check: 'NGINX running', ok: true, detail: 'not started yet (`bgctl start` when ready)' };
  return { check: 'NGINX running', ok: false, detail: 'not running (`bgctl start`)' };
}

/** Pre-flight of the whole system; changes nothing. Throws PreflightError (exit 6) listing failures. */
export async function validate(ctx: AppContext): Promise<CheckResult[]> {
  await ctx.checkTls?.();
  const state = await ctx.store.load();
  const [blue, green, live, running] = await Promise.all([
    ctx.prober.color('blue'),
    ctx.prober.color('green'),
    ctx.nginx.live(),
    ctx.nginx.isRunning(),
  ]);
  const results: CheckResult[] = [
    { check: 'config valid', ok: true, detail: ctx.loaded.file },
    modeCheck(ctx),
    await configTestCheck(ctx, renderRequestFor(state)),
    nginxRunningCheck(state.revision, running, live),
    healthCheck(blue, state.stable === 'blue' ? 'stable' : 'inactive'),
    healthCheck(green, state.stable === 'green' ? 'stable' : 'inactive'),
  ];
  if (live) results.push(driftCheck(state, live));
  const failed = results.filter((r) => !r.ok);
  if (failed.length > 0) {
    throw new PreflightError(
      `validate: ${failed.length} check${failed.length > 1 ? 's' : ''} failed: ${failed.map((f) => f.check).join(', ')}`,
      { details: { checks: results } },
    );
  }
  return results;
}

/** The config a step would produce, without applying it. Defaults to what the state says is live. */
export async function renderStep(ctx: AppContext, step?: { color: Color; percent: number }): Promise<RenderedConfig> {
  const state = await ctx.store.load();
  const weights: Weights = step ? weightsFor(step.color, step.percent) : state.weights;
  const req = renderRequestFor(state, weights, step ? state.revision + 1 : state.revision);
  // the growing color keeps the front of the split whatever its share, so sticky clients stay nested
  return ctx.render(step && step.color !== state.stable ? { ...req, growing: step.color } : req);
}

/**
 * Starts NGINX on what the state says is live (a fresh install: blue at 100%), in the apply mode this
 * process resolved (`nginx.mode: dynamic` without the njs module: exit 6, nothing started).
 */
export async function start(ctx: AppContext): Promise<{
  revision: number;
  weights: Weights;
  alreadyRunning: boolean;
  running: boolean;
  mode: 'dynamic' | 'reload';
  modeDetail: string;
}> {
  // a bad certificate or key: exit 2 before anything is written (not even the lock)
  await ctx.checkTls?.();
  return withLock(ctx, 'start', async () => {
    enforce(ctx, [modeCheck(ctx)], 'start');
    const state = await ctx.store.load();
    const alreadyRunning = await ctx.nginx.isRunning();
    const revision = state.revision + 1;
    // nginx.fallback: the idle color backs up the live one when it answers its probe now
    const req = { ...renderRequestFor(state, state.weights, revision), backup: await fallbackFor(ctx, state.weights) };
    await ctx.nginx.start(ctx.render(req));
    await ctx.store.save(applied(state, state.weights, revision, nowIso(ctx), req.backup));
    // an NGINX bgctl does not start (system driver) may be stopped: the files are ready for its own start
    const running = alreadyRunning || (await ctx.nginx.isRunning());
    return { revision, weights: state.weights, alreadyRunning, running, mode: ctx.mode.mode, modeDetail: ctx.mode.detail };
  });
}

/** `note`: an NGINX bgctl does not stop (system driver): what to do instead. */
export function stop(ctx: AppContext): Promise<{ wasRunning: boolean; note?: string }> {
  return withLock(ctx, 'stop', async () => {
    const wasRunning = await ctx.nginx.isRunning();
    await ctx.nginx.stop();
    const note = ctx.nginx.stopHint ?? null;
    return note === null ? { wasRunning } : { wasRunning, note };
  });
}

/** Past migrations, newest first, plus the current one if it is still active. */
export async function history(ctx: AppContext, limit = 20): Promise<Migration[]> {
  const state = await ctx.store.load();
  const all = [...state.history];
  if (state.migration && !all.some((m) => m.id === state.migration?.id)) all.push(state.migration);
  return all.reverse().slice(0, limit);
}

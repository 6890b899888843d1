import type { Color } from '../core/color.js';
import { UnknownStateError } from '../core/errors.js';
import { applied } from '../core/migration.js';
import type { State } from '../core/state.js';
import { idleColor, type Weights } from '../core/weights.js';
import { nowIso, type AppContext } from './context.js';
import type { ApplyReport, RenderedConfig } from './ports.js';

export interface ApplyOptions {
  /**
   * Whether the idle color (the one at 0% when the other gets 100%) passed its last probe; it is probed
   * now when not given. Decides the fallback NGINX keeps (nginx.fallback).
   */
  readonly idleHealthy?: boolean | undefined;
  /**
   * What else the saved state records once NGINX confirmed (a rollback: the migration reverted): one
   * write instead of two, each of them synced to disk.
   */
  readonly finish?: ((state: State) => State) | undefined;
}

/**
 * nginx.fallback: while one color carries 100%, the other backs it up inside NGINX, but only when it
 * was healthy at the last check (a dead or unknown fallback is worse than none: it hides the failure).
 */
export async function fallbackFor(ctx: AppContext, weights: Weights, idleHealthy?: boolean): Promise<Color | null> {
  const idle = idleColor(weights);
  if (idle === null || !ctx.loaded.config.nginx.fallback) return null;
  const healthy = idleHealthy ?? (await ctx.prober.color(idle)).healthy;
  if (!healthy) ctx.logger.info('no fallback armed: the idle color fails its health probe', { color: idle });
  return healthy ? idle : null;
}

/**
 * Applies weights through the driver's safe sequence (candidate, nginx -t, swap, reload, confirm,
 * restore on failure) and saves the confirmed result. The state changes only after NGINX confirmed.
 */
export function applyWeights(
  ctx: AppContext,
  state: State,
  weights: Weights,
  growing: Color,
  opts: ApplyOptions = {},
): Promise<{ state: State; report: ApplyReport }> {
  return changeNginx(ctx, state, weights, growing, opts, async (config) => {
    ctx.logger.debug('applying', { revision: config.revision, blue: weights.blue, green: weights.green });
    const report = await ctx.nginx.apply(config);
    ctx.logger.info('applied', { revision: config.revision, blue: weights.blue, green: weights.green, ms: Math.round(report.ms) });
    return report;
  });
}

/**
 * applyWeights, or, when NGINX is not running (its master died), starting it with those weights: bgctl
 * owns it, and a dark site is worse than a restart. Workers left by a killed master refuse the start (exit 6).
 */
export async function applyOrStart(
  ctx: AppContext,
  state: State,
  weights: Weights,
  growing: Color,
  opts: ApplyOptions = {},
): Promise<{ state: State; report: ApplyReport }> {
  if (await ctx.nginx.isRunning()) return applyWeights(ctx, state, weights, growing, opts);
  return changeNginx(ctx, state, weights, growing, opts, async (config) => {
    ctx.logger.warn('NGINX is not running; starting it', { revision: config.revision, blue: weights.blue, green: weights.green });
    const t0 = ctx.clock.now();
    await ctx.nginx.start(config);
    // an NGINX bgctl does not start (system driver) only got its files: nothing serves them yet
    if (!(await ctx.nginx.isRunning())) {
      throw new UnknownStateError(
        `NGINX is not running and bgctl does not start it: its files now hold blue ${weights.blue}% / green ${weights.green}% (revision ${config.revision}) for its next start`,
        { hint: 'start NGINX as you always do (e.g. `systemctl start nginx`), then run `bgctl status`' },
      );
    }
    return { revision: config.revision, ms: ctx.clock.now() - t0, stages: {} };
  });
}

/** Renders the next revision (with the fallback it may arm), lets `change` put it live, then saves what NGINX confirmed. */
async function changeNginx(
  ctx: AppContext,
  state: State,
  weights: Weights,
  growing: Color,
  opts: ApplyOptions,
  change: (config: RenderedConfig) => Promise<ApplyReport>,
): Promise<{ state: State; report: ApplyReport }> {
  const revision = state.revision + 1;
  const backup = await fallbackFor(ctx, weights, opts.idleHealthy);
  const report = await change(ctx.render({ weights, revision, stable: state.stable, growing, strategy: state.strategy, backup }));
  const confirmed = applied(state, weights, revision, nowIso(ctx), backup);
  const next = opts.finish ? opts.finish(confirmed) : confirmed;
  await ctx.store.save(next);
  return { state: next, report };
}

/** Runs fn while holding the lock; the lock is always released. A failure to release never hides fn's own error. */
export async function withLock<T>(ctx: AppContext, command: string, fn: () => Promise<T>): Promise<T> {
  const handle = await ctx.lock.acquire(command);
  let result: T;
  try {
    result = await fn();
  } catch (e) {
    await handle.release().catch((r: unknown) => {
      ctx.logger.warn('could not release the lock', { error: r instanceof Error ? r.message : String(r) });
    });
    throw e;
  }
  await handle.release();
  return result;
}

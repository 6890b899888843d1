import type { Color } from '../core/color.js';
import { applied } from '../core/migration.js';
import type { State } from '../core/state.js';
import type { Weights } from '../core/weights.js';
import { nowIso, type AppContext } from './context.js';
import type { ApplyReport } from './ports.js';

export interface ApplyOptions {
  /**
   * Whether the idle color (the one at 0% when the other gets 100%) passed its last probe; it is probed
   * now when not given. Decides the fallback NGINX keeps (nginx.fallback).
   */
  readonly idleHealthy?: boolean | undefined;
}

/** The color at 0% while the other carries 100%; null mid-split. */
export function idleColor(weights: Weights): Color | null {
  if (weights.blue === 100 && weights.green === 0) return 'green';
  if (weights.green === 100 && weights.blue === 0) return 'blue';
  return null;
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
export async function applyWeights(
  ctx: AppContext,
  state: State,
  weights: Weights,
  growing: Color,
  opts: ApplyOptions = {},
): Promise<{ state: State; report: ApplyReport }> {
  const revision = state.revision + 1;
  const backup = await fallbackFor(ctx, weights, opts.idleHealthy);
  const config = ctx.render({ weights, revision, stable: state.stable, growing, strategy: state.strategy, backup });
  ctx.logger.debug('applying', { revision, blue: weights.blue, green: weights.green, backup });
  const report = await ctx.nginx.apply(config);
  ctx.logger.info('applied', { revision, blue: weights.blue, green: weights.green, ms: Math.round(report.ms) });
  const next = applied(state, weights, revision, nowIso(ctx), backup);
  await ctx.store.save(next);
  return { state: next, report };
}

/** Runs fn while holding the lock; the lock is always released. */
export async function withLock<T>(ctx: AppContext, command: string, fn: () => Promise<T>): Promise<T> {
  const handle = await ctx.lock.acquire(command);
  try {
    return await fn();
  } finally {
    await handle.release();
  }
}

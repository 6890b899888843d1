import { LockHeldError, UnknownStateError } from '../core/errors.js';
import { rolledBack } from '../core/migration.js';
import type { Migration, State } from '../core/state.js';
import { allOn, sameWeights } from '../core/weights.js';
import { applyWeights, withLock } from './apply.js';
import { nowIso, type AppContext } from './context.js';

export interface RollbackResult {
  /** reverted: a migration was undone now; reasserted: nothing to undo, the stable color was (re)applied */
  readonly action: 'reverted' | 'reasserted';
  readonly color: State['stable'];
  readonly migration: Migration | null;
  readonly state: State;
  readonly applyMs: number;
}

/**
 * Emergency rollback: needs no metrics and no health checks. The latest migration, in progress or
 * completed, is reverted so the color stable before it gets 100%. A migration already reverted is never
 * reverted again (no flip-flop): a repeated rollback re-asserts the stable color and succeeds.
 */
export async function rollback(ctx: AppContext): Promise<RollbackResult> {
  try {
    return await rollbackLocked(ctx);
  } catch (e) {
    if (!(e instanceof LockHeldError)) throw e;
    // A migration in progress owns the traffic; it returns it to the stable color on SIGTERM/SIGINT.
    const holder = e.details?.['holder'] as { pid?: number; command?: string } | undefined;
    throw new LockHeldError(`rollback: ${e.message}`, {
      details: e.details,
      hint: holder?.pid
        ? `a running \`${holder.command ?? 'bgctl'}\` rolls back by itself when stopped: press Ctrl-C in its terminal or run \`kill -TERM ${holder.pid}\` (it exits 130 with traffic on the stable color), then \`bgctl rollback\` reverts what is left`
        : e.hint,
    });
  }
}

function rollbackLocked(ctx: AppContext): Promise<RollbackResult> {
  return withLock(ctx, 'rollback', async () => {
    let state = await ctx.store.load();
    const m = state.migration;
    const revert = m !== null && m.status !== 'rolled_back';
    const color = revert ? m.from : state.stable;
    const weights = allOn(color);
    const live = await ctx.nginx.live();
    let applyMs = 0;
    const base: State = { ...state, stable: color };
    if (!live) {
      // NGINX is down: bring it up on the stable color rather than leave the site dark.
      ctx.logger.warn('NGINX is not running; starting it on the stable color', { color });
      const revision = state.revision + 1;
      const t0 = ctx.clock.now();
      try {
        await ctx.nginx.start(ctx.render({ weights, revision, stable: color, growing: color, strategy: state.strategy }));
      } catch (e) {
        throw new UnknownStateError(
          `rollback: NGINX is down and could not be started on ${color}: ${e instanceof Error ? e.message : String(e)}`,
          { cause: e },
        );
      }
      applyMs = ctx.clock.now() - t0;
      state = { ...base, weights, revision, updatedAt: nowIso(ctx) };
    } else if (revert || !sameWeights(live.weights, weights) || live.revision !== state.revision) {
      try {
        const r = await applyWeights(ctx, { ...base, revision: Math.max(state.revision, live.revision) }, weights, color);
        state = r.state;
        applyMs = r.report.ms;
      } catch (e) {
        throw new UnknownStateError(
          `rollback to ${color} failed: ${e instanceof Error ? e.message : String(e)}. A human must look: run \`bgctl status\``,
          { cause: e },
        );
      }
    } else {
      state = base;
    }
    if (revert) state = rolledBack(state, 'manual rollback', nowIso(ctx), 'rolled back by operator');
    await ctx.store.save(state);
    return { action: revert ? 'reverted' : 'reasserted', color, migration: state.migration, state, applyMs };
  });
}

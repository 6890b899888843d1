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
  /** a migration in progress that this rollback stopped first */
  readonly preempted?: { readonly pid: number; readonly command: string } | null;
}

/**
 * Emergency rollback: needs no metrics and no health checks. The latest migration, in progress or
 * completed, is reverted so the color stable before it gets 100%. A migration already reverted is never
 * reverted again (no flip-flop): a repeated rollback re-asserts the stable color and succeeds.
 */
/** Commands that move traffic: a rollback may stop them, since they return traffic on SIGTERM. */
const MIGRATING = /^(gradual|deploy|canary|switch) /;
const PREEMPT_WAIT_MS = 30_000;

export async function rollback(ctx: AppContext): Promise<RollbackResult> {
  const preempted = await preemptMigration(ctx);
  try {
    return { ...(await rollbackLocked(ctx)), preempted };
  } catch (e) {
    if (!(e instanceof LockHeldError)) throw e;
    throw new LockHeldError(`rollback: ${e.message}`, { details: e.details, hint: lockHint(await ctx.lock.holder().catch(() => null)) });
  }
}

/**
 * "Reverts the latest migration, in progress or completed": a migration in progress on this host is
 * asked to stop (SIGTERM). It returns traffic to its stable color itself, saves that and exits 130;
 * once its lock is free, this rollback re-asserts the stable color.
 */
async function preemptMigration(ctx: AppContext): Promise<RollbackResult['preempted']> {
  const holder = await ctx.lock.holder();
  if (!holder?.alive || holder.host !== ctx.host || !MIGRATING.test(holder.command)) return null;
  ctx.logger.warn('stopping the migration in progress; it returns traffic to the stable color', {
    pid: holder.pid,
    command: holder.command,
  });
  if (!(await ctx.lock.interrupt(holder))) return null;
  const deadline = ctx.clock.now() + PREEMPT_WAIT_MS;
  for (;;) {
    const now = await ctx.lock.holder();
    if (!now || now.pid !== holder.pid || !now.alive) return { pid: holder.pid, command: holder.command };
    if (ctx.clock.now() >= deadline) {
      throw new UnknownStateError(`rollback: \`${holder.command}\` (pid ${holder.pid}) did not stop within ${PREEMPT_WAIT_MS / 1000} s`, {
        hint: `run \`bgctl status\`; if it hangs, \`kill -9 ${holder.pid}\` and run \`bgctl rollback\` again`,
      });
    }
    await ctx.clock.sleep(100);
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
    // an emergency is no time for a pre-flight: without njs the rollback takes the reload path
    if (!ctx.mode.ok) ctx.logger.warn('rolling back by reload', { why: ctx.mode.detail });
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
      state = { ...base, weights }; // NGINX serves exactly these: state.json says so too
    }
    if (revert) state = rolledBack(state, 'manual rollback', nowIso(ctx), 'rolled back by operator');
    await ctx.store.save(state);
    return { action: revert ? 'reverted' : 'reasserted', color, migration: state.migration, state, applyMs };
  });
}

/** What to do about the lock's holder: another rollback is already doing the job; anything else must be stopped first. */
function lockHint(holder: { command: string; pid: number } | null): string {
  if (holder?.command === 'rollback') {
    return `another \`bgctl rollback\` (pid ${holder.pid}) is returning traffic to the stable color already: wait for it, then check \`bgctl status\``;
  }
  return 'a migration on another host, or another kind of operation, holds the lock: stop it there, then run `bgctl rollback` again';
}

import { otherColor, type Color } from '../core/color.js';
import { LockHeldError, PreflightError, UnknownStateError, UnsafePathError } from '../core/errors.js';
import { rolledBack } from '../core/migration.js';
import type { Migration, State } from '../core/state.js';
import { allOn, sameWeights } from '../core/weights.js';
import { applyWeights, fallbackFor, withLock } from './apply.js';
import { nowIso, type AppContext } from './context.js';
import type { ColorHealth, LiveNginx } from './ports.js';
import { describeHealth } from './preflight.js';

export interface RollbackResult {
  /** reverted: a migration was undone now; reasserted: nothing to undo, the stable color was (re)applied */
  readonly action: 'reverted' | 'reasserted';
  readonly color: State['stable'];
  readonly migration: Migration | null;
  readonly state: State;
  readonly applyMs: number;
  /** a migration in progress that this rollback stopped first */
  readonly preempted?: { readonly pid: number; readonly command: string } | null;
  /** --force moved traffic onto a color that failed its health probe: what the probe said */
  readonly forced?: string | null;
  /** nginx.fallback: the idle color NGINX now falls back to (null: none armed) */
  readonly backup?: State['stable'] | null;
}

export interface RollbackOptions {
  /** move traffic even onto a color that fails its health probe (the operator's call) */
  readonly force?: boolean;
  /** stops a migration this very process runs (`bgctl serve`), once the target passed its probe */
  readonly stopOwn?: () => Promise<void>;
}

/** Commands that move traffic: a rollback may stop them, since they return traffic on SIGTERM. */
const MIGRATING = /^(gradual|deploy|canary|switch) /;
const PREEMPT_WAIT_MS = 30_000;

/**
 * Emergency rollback: needs no metrics, only one health probe of the color it moves traffic onto. The
 * latest migration, in progress or completed, is reverted so the color stable before it gets 100%. A
 * migration already reverted is never reverted again (no flip-flop): a repeated rollback re-asserts the
 * stable color and succeeds. A target that fails its probe is refused (exit 6, nothing changed), unless
 * --force.
 */
export async function rollback(ctx: AppContext, opts: RollbackOptions = {}): Promise<RollbackResult> {
  // before anything is stopped: a migration in progress keeps running when its stable color is down.
  // The state, what NGINX serves and both colors' probes are read at once: none needs another.
  const [state, live, health, holder] = await Promise.all([ctx.store.load(), ctx.nginx.live(), probeBoth(ctx), ctx.lock.holder()]);
  const probed = judgeTarget(ctx, state, opts, live, health);
  await opts.stopOwn?.();
  // stopping our own migration freed the lock: whoever holds it now is asked again
  const preempted = await preemptMigration(ctx, opts.stopOwn ? await ctx.lock.holder() : holder);
  try {
    // a migration stopped meanwhile changed NGINX: ask it again
    return { ...(await rollbackLocked(ctx, opts, probed, preempted ? null : { state, live })), preempted };
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
async function preemptMigration(
  ctx: AppContext,
  holder: Awaited<ReturnType<AppContext['lock']['holder']>>,
): Promise<RollbackResult['preempted']> {
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

/** The color a rollback gives 100% to: the one stable before the latest migration not yet reverted. */
function targetOf(state: State): { color: Color; revert: boolean } {
  const m = state.migration;
  const revert = m !== null && m.status !== 'rolled_back';
  return { color: revert ? m.from : state.stable, revert };
}

interface Probed {
  readonly color: Color;
  readonly health: ColorHealth;
  /** the other color's probe, which decides the fallback */
  readonly idle: ColorHealth;
  readonly forced: string | null;
}

/** Both colors' health probes: the rollback's target, and the other color for the fallback. */
async function probeBoth(ctx: AppContext): Promise<Record<Color, ColorHealth>> {
  const [blue, green] = await Promise.all([ctx.prober.color('blue'), ctx.prober.color('green')]);
  return { blue, green };
}

/**
 * The rollback's target and its probe. A target that fails is refused with exit 6 naming its servers,
 * unless --force, which goes on and says so.
 */
function judgeTarget(
  ctx: AppContext,
  state: State,
  opts: RollbackOptions,
  live: LiveNginx | null,
  probes: Record<Color, ColorHealth>,
): Probed {
  const { color } = targetOf(state);
  const health = probes[color];
  const idle = probes[otherColor(color)];
  if (health.healthy) return { color, health, idle, forced: null };
  const detail = describeHealth(health);
  if (live && sameWeights(live.weights, allOn(color))) {
    // nothing moves: the color already has all traffic; say so rather than refuse the re-assertion
    ctx.logger.warn('the stable color carries all traffic and fails its health probe', { color, servers: detail });
    return {
      color,
      health,
      idle,
      forced: `${color} already carries all traffic and fails its health probe (${detail}): a human must look`,
    };
  }
  if (opts.force) {
    ctx.logger.warn('--force: rolling back onto a color that fails its health probe', { color, servers: detail });
    return { color, health, idle, forced: `${color} failed its health probe (${detail}); traffic was moved onto it because of --force` };
  }
  throw new PreflightError(`rollback: ${color} is not healthy (${detail}); nothing was changed`, {
    details: { color, health },
    hint: `traffic stays where it is (run \`bgctl status\`). Bring ${color} back, or move traffic onto it anyway with \`bgctl rollback --force\``,
  });
}

/** The state and NGINX's answer, read together before the lock. */
interface Seen {
  readonly state: State;
  readonly live: LiveNginx | null;
}

/**
 * NGINX's answer read before the lock still holds while the state is the one read with it: every
 * command that changes NGINX saves the state before it lets go of the lock.
 */
async function liveUnderLock(ctx: AppContext, loaded: State, seen: Seen | null): Promise<LiveNginx | null> {
  const same = seen !== null && loaded.revision === seen.state.revision && loaded.updatedAt === seen.state.updatedAt;
  return same ? seen.live : ctx.nginx.live();
}

function rollbackLocked(ctx: AppContext, opts: RollbackOptions, before: Probed, seen: Seen | null): Promise<RollbackResult> {
  return withLock(ctx, 'rollback', async () => {
    const loaded = await ctx.store.load();
    const live = await liveUnderLock(ctx, loaded, seen);
    let state = loaded;
    const { color, revert } = targetOf(state);
    const weights = allOn(color);
    // the state moved on while a migration was being stopped: probe the color this rollback now targets
    const probed = color === before.color ? before : judgeTarget(ctx, state, opts, live, await probeBoth(ctx));
    // an emergency is no time for a pre-flight: without njs the rollback takes the reload path
    if (!ctx.mode.ok) ctx.logger.warn('rolling back by reload', { why: ctx.mode.detail });
    let applyMs = 0;
    let saved = false;
    const base: State = { ...state, stable: color };
    // a reverted migration is written with the weights NGINX confirmed, in the same save
    const finish = (s: State): State => (revert ? rolledBack(s, 'manual rollback', nowIso(ctx), 'rolled back by operator') : s);
    const backup = await fallbackFor(ctx, weights, probed.idle.healthy);
    if (!live) {
      // NGINX is down: bring it up on the stable color rather than leave the site dark.
      ctx.logger.warn('NGINX is not running; starting it on the stable color', { color });
      const revision = state.revision + 1;
      const t0 = ctx.clock.now();
      try {
        await ctx.nginx.start(ctx.render({ weights, revision, stable: color, growing: color, strategy: state.strategy, backup }));
      } catch (e) {
        throw new UnknownStateError(
          `rollback: NGINX is down and could not be started on ${color}: ${e instanceof Error ? e.message : String(e)}`,
          { cause: e },
        );
      }
      applyMs = ctx.clock.now() - t0;
      state = { ...base, weights, revision, backup, updatedAt: nowIso(ctx) };
    } else if (revert || !sameWeights(live.weights, weights) || live.revision !== state.revision || (live.backup ?? null) !== backup) {
      try {
        const r = await applyWeights(ctx, { ...base, revision: Math.max(state.revision, live.revision) }, weights, color, {
          idleHealthy: probed.idle.healthy,
          finish,
        });
        state = r.state;
        applyMs = r.report.ms;
        saved = true;
      } catch (e) {
        if (e instanceof UnsafePathError) throw e; // refused before anything changed: exit 6, naming the path
        throw new UnknownStateError(
          `rollback to ${color} failed: ${e instanceof Error ? e.message : String(e)}. A human must look: run \`bgctl status\``,
          { cause: e },
        );
      }
    } else {
      state = { ...base, weights }; // NGINX serves exactly these: state.json says so too
    }
    if (!saved) {
      state = finish(state);
      await ctx.store.save(state);
    }
    return {
      action: revert ? 'reverted' : 'reasserted',
      color,
      migration: state.migration,
      state,
      applyMs,
      forced: probed.forced,
      backup: state.backup ?? null,
    };
  });
}

/** What to do about the lock's holder: another rollback is already doing the job; anything else must be stopped first. */
function lockHint(holder: { command: string; pid: number } | null): string {
  if (holder?.command === 'rollback') {
    return `another \`bgctl rollback\` (pid ${holder.pid}) is returning traffic to the stable color already: wait for it, then check \`bgctl status\``;
  }
  return 'a migration on another host, or another kind of operation, holds the lock: stop it there, then run `bgctl rollback` again';
}

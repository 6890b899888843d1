import type { Color } from '../core/color.js';
import { otherColor } from '../core/color.js';
import type { Outcome } from '../core/engine.js';
import { InterruptedError, PreflightError, RolledBackError, StateWriteError, UnknownStateError } from '../core/errors.js';
import { beginMigration, completed, holding, rollbackFailed, rolledBack, stoppedForHuman, timelineRecorded } from '../core/migration.js';
import { formatWeights } from '../core/weights.js';
import type { StepPlan } from '../core/plan.js';
import { isActive, type Migration, type MigrationKind, type State } from '../core/state.js';
import type { Strategy } from '../core/strategy.js';
import { withLock } from './apply.js';
import { nowIso, type AppContext } from './context.js';
import { runDeployHook } from './deploy-hook.js';
import type { RenderedConfig, RenderRequest } from './ports.js';
import { configTestCheck, driftCheck, enforce, healthCheck, modeCheck, throughNginxCheck, type CheckResult } from './preflight.js';
import { runEngine, type EngineRun } from './run-engine.js';
import { returnUnsaved } from './unsaved.js';

export interface MigrationRequest {
  readonly kind: MigrationKind;
  readonly to: Color;
  readonly version: string | null;
  /**
   * The steps to take, planned from the state as it is under the lock (after an interrupted run was
   * adopted from what NGINX really serves), so a resumed migration never skips or reverses a step.
   */
  readonly plan: (state: State) => readonly StepPlan[];
  readonly stepSeconds: number;
  /** judge every step on real traffic too (thresholds, minRequests, extension); false: health probes only (switch, canary) */
  readonly judgeTraffic: boolean;
  readonly strategy: Strategy;
  readonly dryRun: boolean;
  /** canary: keep the final weight and hold instead of completing */
  readonly hold: boolean;
  /** run the deploy hook on `to` first (deploy), or only when its version differs (gradual) */
  readonly deploy: 'always' | 'if-needed' | 'never';
  readonly command: string;
}

export interface MigrationResult {
  readonly outcome: Outcome | 'holding' | 'noop';
  readonly migration: Migration | null;
  readonly state: State;
  readonly checks: readonly CheckResult[];
  readonly plan?: readonly { step: StepPlan; config: RenderedConfig }[];
}

export async function migrate(ctx: AppContext, req: MigrationRequest): Promise<MigrationResult> {
  // a bad certificate or key: exit 2 before anything is written (not even the lock)
  await ctx.checkTls?.();
  return withLock(ctx, req.command, async () => {
    let state = await ctx.store.load();
    state = await adoptInterrupted(ctx, state, req);
    const steps = req.plan(state);
    if (steps.length === 0) {
      // nothing to do per state.json: only true when NGINX serves exactly that (live beats remembered)
      const drift = driftCheck(state, await ctx.nginx.live());
      if (!drift.ok) enforce(ctx, [drift], req.command);
      return { outcome: 'noop', migration: state.migration, state, checks: [] };
    }
    if (req.deploy !== 'never' && !req.dryRun) await maybeDeploy(ctx, state, req);
    const first = steps[0] as StepPlan;
    const checks = await preflight(ctx, state, req, {
      weights: first.weights,
      revision: state.revision + 1,
      stable: state.stable,
      growing: req.to,
      strategy: req.strategy,
    });
    if (req.dryRun) {
      let revision = state.revision;
      const plan = steps.map((step) => ({
        step,
        config: ctx.render({ weights: step.weights, revision: ++revision, stable: state.stable, growing: req.to, strategy: req.strategy }),
      }));
      return { outcome: 'noop', migration: null, state, checks, plan };
    }
    if (ctx.signal.aborted) throw new InterruptedError(`${req.command}: interrupted before the first step; nothing was changed`);
    ctx.reporter.event({ type: 'plan', migration: req.kind, from: otherColor(req.to), to: req.to, steps: steps.map((s) => s.percent) });
    state = beginMigration(
      { ...state, strategy: req.strategy },
      {
        id: ctx.newId(),
        kind: req.kind,
        to: req.to,
        version: req.version,
        strategy: req.strategy,
        plannedSteps: steps.map((s) => s.percent),
        pid: ctx.pid,
        host: ctx.host,
        nowIso: nowIso(ctx),
        ...(ctx.actor ? { by: ctx.actor } : {}),
      },
    );
    await ctx.store.save(state);
    if (ctx.signal.aborted) {
      // recorded as over, never left `running` with no step
      await ctx.store.save(rolledBack(state, 'interrupted before the first step', nowIso(ctx), 'interrupted, rolled back'));
      throw new InterruptedError(`${req.command}: interrupted before the first step; nothing was changed`);
    }
    const begun = state;
    // a quiet service: warmup requests to the new color while it is judged (forced, marked, counted apart)
    const warm = req.judgeTraffic && ctx.warmup ? ctx.warmup.start(req.to) : null;
    if (warm) ctx.reporter.event({ type: 'notice', message: `warmup: sending requests forced to ${req.to} (migration.warmup)` });
    let run: EngineRun;
    try {
      run = await runEngine(ctx, state, req, steps).catch(async (e: unknown) => {
        throw e instanceof StateWriteError ? await returnUnsaved(ctx, begun, req, e) : e;
      });
    } finally {
      const sent = await warm?.stop();
      if (sent) ctx.reporter.event({ type: 'notice', message: `warmup: ${sent.sent} requests sent to ${req.to}, ${sent.failed} failed` });
    }
    return finish(ctx, run, req, checks);
  });
}

/**
 * Refuses a second migration while one is active. An interrupted one (its process is gone: we hold the
 * lock) toward the same color is continued from what NGINX really serves; live beats remembered.
 */
async function adoptInterrupted(ctx: AppContext, state: State, req: MigrationRequest): Promise<State> {
  const m = state.migration;
  if (isActive(m) && m.to !== req.to) {
    const what = m.status === 'holding' ? `a canary holds ${m.to} at ${state.weights[m.to]}%` : `a migration to ${m.to} was interrupted`;
    throw new PreflightError(`${req.command}: ${what}; run \`bgctl rollback\` first (or continue it with \`bgctl gradual ${m.to} ...\`)`);
  }
  const live = await ctx.nginx.live();
  if (isActive(m) && m.status === 'running' && live && live.revision !== state.revision) {
    ctx.logger.warn('adopting what NGINX serves after an interrupted migration', {
      revision: live.revision,
      blue: live.weights.blue,
      green: live.weights.green,
    });
    return { ...state, revision: live.revision, weights: live.weights };
  }
  return state;
}

async function maybeDeploy(ctx: AppContext, state: State, req: MigrationRequest): Promise<void> {
  if (!req.version) return;
  if (req.deploy === 'if-needed') {
    if (!ctx.deploy) return;
    const h = await ctx.prober.color(req.to);
    if (h.healthy && h.version === req.version) return;
  }
  if (state.weights[req.to] > 0) {
    throw new PreflightError(
      `${req.command}: ${req.to} carries ${state.weights[req.to]}% of traffic; a version is only deployed onto the inactive color`,
    );
  }
  await runDeployHook(ctx, req.to, req.version);
}

async function preflight(ctx: AppContext, state: State, req: MigrationRequest, first: RenderRequest): Promise<CheckResult[]> {
  const stable = otherColor(req.to);
  const [target, stableHealth, live] = await Promise.all([ctx.prober.color(req.to), ctx.prober.color(stable), ctx.nginx.live()]);
  // a step that gives the target no traffic (a withdrawn canary) must work even when the target is sick
  const withdrawing = first.weights[req.to] === 0;
  const results: CheckResult[] = [modeCheck(ctx), driftCheck(state, live)];
  if (!withdrawing) results.push(healthCheck(target, 'target', req.version));
  results.push(healthCheck(stableHealth, 'stable, needed for rollback'), await configTestCheck(ctx, first));
  if (live && !withdrawing) results.push(await throughNginxCheck(ctx, req.to));
  enforce(ctx, results, req.command);
  return results;
}

async function finish(ctx: AppContext, run: EngineRun, req: MigrationRequest, checks: readonly CheckResult[]): Promise<MigrationResult> {
  const at = nowIso(ctx);
  let state = run.state;
  switch (run.outcome) {
    case 'completed': {
      if (state.weights[req.to] === 0) {
        // a canary taken back to 0%: the stable color never changed
        state = rolledBack(state, 'canary withdrawn', at, 'canary withdrawn');
        await ctx.store.save(state);
        ctx.reporter.event({ type: 'done', outcome: 'withdrawn' });
        return { outcome: 'completed', migration: state.migration, state, checks };
      }
      const hold = req.hold && state.weights[req.to] < 100;
      state = hold ? holding(state, at) : completed(state, `${req.to} at 100%`, at);
      await ctx.store.save(state);
      ctx.reporter.event({ type: 'done', outcome: hold ? 'holding' : 'completed' });
      return { outcome: hold ? 'holding' : 'completed', migration: state.migration, state, checks };
    }
    case 'rolled_back':
    case 'interrupted': {
      const reason = run.reason ?? run.outcome;
      const how =
        run.outcome === 'interrupted'
          ? 'interrupted, rolled back'
          : reason.startsWith('aborted by ')
            ? 'aborted, rolled back'
            : 'rolled back automatically';
      state = rolledBack(state, reason, at, how);
      if (run.timeline) state = timelineRecorded(state, run.timeline, at);
      await ctx.store.save(state);
      ctx.reporter.event({ type: 'done', outcome: run.outcome });
      const details = { migration: state.migration, state };
      if (run.outcome === 'interrupted')
        throw new InterruptedError(`${req.command}: ${reason}; traffic is back on ${state.stable}`, { details });
      throw new RolledBackError(`${req.command}: ${reason}; traffic is back on ${state.stable} (100%)`, { details });
    }
    case 'stopped': {
      const reason = run.reason ?? 'stopped';
      state = stoppedForHuman(state, reason, at);
      await ctx.store.save(state);
      ctx.reporter.event({ type: 'done', outcome: 'stopped' });
      throw new UnknownStateError(
        `${req.command}: ${reason}. Traffic: ${formatWeights(state.weights)}. A human must look: bring the stable color back, then run \`bgctl status\``,
        { details: { migration: state.migration, state } },
      );
    }
    case 'rollback_failed': {
      const reason = run.reason ?? 'rollback failed';
      state = rollbackFailed(state, reason, at);
      await ctx.store.save(state);
      ctx.reporter.event({ type: 'done', outcome: 'rollback_failed' });
      throw new UnknownStateError(`${req.command}: ${reason}. A human must look: run \`bgctl status\``, {
        details: { migration: state.migration },
      });
    }
  }
}

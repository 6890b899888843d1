import { otherColor } from '../core/color.js';
import { nextTransition, startEngine, type EngineConfig, type EngineEvent, type Outcome } from '../core/engine.js';
import { UnknownStateError } from '../core/errors.js';
import { probeRecorded, stepEnded, stepStarting } from '../core/migration.js';
import type { StepPlan } from '../core/plan.js';
import type { State, StepRecord } from '../core/state.js';
import { allOn } from '../core/weights.js';
import { applyWeights } from './apply.js';
import { nowIso, type AppContext } from './context.js';
import type { MigrationRequest } from './migrate.js';
import type { TrafficCursor, TrafficSample } from './ports.js';

/**
 * Drives the pure engine (core/engine.ts): carries out its one command at a time (apply a step,
 * probe, wait, roll back) through the ports and feeds back what happened. Every step is recorded in
 * the state before NGINX is touched and after NGINX confirmed, so a killed process leaves the truth.
 */
export interface EngineRun {
  readonly state: State;
  readonly outcome: Outcome;
  readonly reason: string | null;
}

const ZERO: TrafficSample = { requests: { blue: 0, green: 0 }, errors: { blue: 0, green: 0 }, readable: true };

const toObserved = (s: TrafficSample): StepRecord['observed'] => ({
  blue: s.requests.blue,
  green: s.requests.green,
  errors: { ...s.errors },
});

export async function runEngine(ctx: AppContext, initial: State, req: MigrationRequest, steps: readonly StepPlan[]): Promise<EngineRun> {
  const stable = otherColor(req.to);
  const cfg: EngineConfig = {
    steps,
    stableWeights: allOn(stable),
    stepMs: req.stepSeconds * 1000,
    probeIntervalMs: ctx.loaded.config.probe.intervalMs,
    failuresBeforeRollback: ctx.loaded.config.probe.failuresBeforeRollback,
  };
  let state = initial;
  let cursor: TrafficCursor | null = null;
  let observed = ZERO;
  let stepStartedAt = 0;
  const save = async (s: State): Promise<State> => {
    await ctx.store.save(s);
    return s;
  };
  for (let t = startEngine(cfg); ;) {
    if (t.passedStep !== undefined) {
      state = await save(stepEnded(state, 'passed', null, toObserved(observed), nowIso(ctx)));
      const step = steps[t.passedStep];
      if (step) ctx.reporter.event({ type: 'step', index: t.passedStep, total: steps.length, weights: step.weights, phase: 'passed' });
    }
    const cmd = t.command;
    if (cmd.type === 'finish') return { state, outcome: cmd.outcome, reason: cmd.reason };
    let event: EngineEvent;
    switch (cmd.type) {
      case 'apply': {
        state = await save(stepStarting(state, cmd.step, nowIso(ctx)));
        cursor = null;
        observed = ZERO;
        ctx.reporter.event({ type: 'step', index: cmd.step.index, total: steps.length, weights: cmd.step.weights, phase: 'applying' });
        try {
          ({ state } = await applyWeights(ctx, state, cmd.step.weights, req.to));
          cursor = await ctx.traffic.mark();
          stepStartedAt = ctx.clock.now();
          ctx.reporter.event({ type: 'step', index: cmd.step.index, total: steps.length, weights: cmd.step.weights, phase: 'applied' });
          event = { type: 'applied', now: ctx.clock.now() };
        } catch (e) {
          if (e instanceof UnknownStateError) throw e;
          event = { type: 'apply_failed', now: ctx.clock.now(), error: e instanceof Error ? e.message : String(e) };
        }
        break;
      }
      case 'probe': {
        // a step that takes all traffic away from the target (a withdrawn canary) has nothing to judge there
        const health = state.weights[req.to] === 0 ? { healthy: true, servers: [] } : await ctx.prober.color(req.to);
        if (cursor) observed = await cursor.read(); // cumulative since the step was applied
        const detail = health.healthy
          ? 'healthy'
          : health.servers
              .filter((s) => !s.healthy)
              .map((s) => `${s.server}: ${s.error ?? 'unhealthy'}`)
              .join('; ');
        state = await save(probeRecorded(state, health.healthy, nowIso(ctx)));
        ctx.reporter.event({
          type: 'observe',
          index: cmd.step,
          elapsedMs: ctx.clock.now() - stepStartedAt,
          totalMs: cfg.stepMs,
          health: health.healthy,
          observed: cursor ? observed : null,
        });
        event = { type: 'probe', now: ctx.clock.now(), healthy: health.healthy, detail };
        break;
      }
      case 'wait':
        await ctx.clock.sleep(Math.max(0, cmd.until - ctx.clock.now()), ctx.signal);
        event = { type: 'tick', now: ctx.clock.now() };
        break;
      case 'rollback': {
        ctx.reporter.event({ type: 'rollback', reason: cmd.reason, weights: cmd.weights });
        state = await save(stepEnded(state, 'failed', cmd.reason, cursor ? toObserved(observed) : null, nowIso(ctx)));
        try {
          ({ state } = await applyWeights(ctx, state, cmd.weights, stable));
          event = { type: 'rolled_back', now: ctx.clock.now() };
        } catch (e) {
          event = { type: 'rollback_failed', now: ctx.clock.now(), error: e instanceof Error ? e.message : String(e) };
        }
        break;
      }
    }
    if (ctx.signal.aborted && cmd.type !== 'rollback') {
      event = { type: 'interrupt', now: ctx.clock.now(), signal: signalName(ctx.signal) };
    }
    t = nextTransition(cfg, t.state, event);
  }
}

function signalName(signal: AbortSignal): string {
  const r: unknown = signal.reason;
  return typeof r === 'string' ? r : 'a signal';
}

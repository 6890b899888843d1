import {
  analyze,
  beginStep,
  exposure,
  judgeStep,
  policyFromThresholds,
  startAnalysis,
  stepFigures,
  type Analysis,
} from '../core/analysis.js';
import { otherColor } from '../core/color.js';
import { nextTransition, startEngine, type EngineConfig, type EngineEvent, type Judgement, type Outcome } from '../core/engine.js';
import { UnknownStateError } from '../core/errors.js';
import type { WindowFigures } from '../core/metrics.js';
import { probeRecorded, stepEnded, stepStarting } from '../core/migration.js';
import type { StepPlan } from '../core/plan.js';
import type { RollbackTimeline, State } from '../core/state.js';
import { allOn } from '../core/weights.js';
import { pauseCleared } from '../core/control-record.js';
import { applyOrStart, applyWeights } from './apply.js';
import { describeHealth } from './preflight.js';
import { answerControl } from './control.js';
import { isoAt, nowIso, type AppContext } from './context.js';
import type { MigrationRequest } from './migrate.js';
import type { TrafficTail } from './ports.js';

/**
 * Drives the pure engine (core/engine.ts): carries out its one command at a time (apply a step,
 * observe, wait, roll back) through the ports and feeds back what happened. Observing reads the
 * access log every `thresholds.checkIntervalMs` and runs the pure analysis (core/analysis.ts) on it,
 * so a failing color is caught mid-step; health is probed every `probe.intervalMs`. Every step is
 * recorded in the state before NGINX is touched and after NGINX confirmed, so a killed process
 * leaves the truth.
 */
export interface EngineRun {
  readonly state: State;
  readonly outcome: Outcome;
  readonly reason: string | null;
  /** set when the migration rolled back on its own: how long the failing color served, how fast it was pulled */
  readonly timeline: RollbackTimeline | null;
}

/** After a rollback, requests already in flight on the failing color still finish: wait this long before the last read. */
const SETTLE_MS = 300;

export async function runEngine(ctx: AppContext, initial: State, req: MigrationRequest, steps: readonly StepPlan[]): Promise<EngineRun> {
  const { config } = ctx.loaded;
  const stable = otherColor(req.to);
  const cfg: EngineConfig = {
    steps,
    stableWeights: allOn(stable),
    targetWeights: allOn(req.to),
    stepMs: req.stepSeconds * 1000,
    probeIntervalMs: config.probe.intervalMs,
    failuresBeforeRollback: config.probe.failuresBeforeRollback,
    checkIntervalMs: config.thresholds.checkIntervalMs,
    maxExtendMs: req.judgeTraffic ? config.migration.maxExtendSeconds * 1000 : 0,
    stepOffset: initial.migration?.steps.length ?? 0,
  };
  // progress numbers steps as the record (and history) does: a continued canary's step comes first
  const offset = cfg.stepOffset ?? 0;
  const total = offset + steps.length;
  let state = initial;
  let tail: TrafficTail | null = null;
  let analysis: Analysis = startAnalysis(policyFromThresholds(config.thresholds), req.to, ctx.clock.now());
  let stepStartedAt = 0;
  let firstErrorAt: number | null = null;
  let lastJudgement: Judgement | null = null;
  let lastHealthy: boolean | null = null;
  /** the stable color at its last probe (both colors are probed): decides the fallback armed at 100% */
  let stableHealthy: boolean | null = null;
  let nginxDown = 0;
  const save = async (s: State): Promise<State> => {
    await ctx.store.save(s);
    return s;
  };
  /** Reads what the log gained since the last read into the analysis; returns the verdict. */
  const readTraffic = async () => {
    if (!tail) return null;
    const read = await tail.read();
    const now = ctx.clock.now();
    if (firstErrorAt === null && read.delta.colors[req.to].errors > 0) firstErrorAt = now;
    const r = analyze(analysis, now, read);
    analysis = r.analysis;
    return r.verdict;
  };
  /** false between a step's apply and its confirmation: a step never applied has no traffic of its own */
  let stepBegun = false;
  const figuresNow = (): WindowFigures | null => (tail && stepBegun ? stepFigures(analysis, ctx.clock.now()) : null);

  for (let t = startEngine(cfg); ;) {
    if (t.notice) {
      ctx.logger.warn(t.notice);
      ctx.reporter.event({ type: 'notice', message: t.notice });
    }
    if (t.passedStep !== undefined) {
      const decision = t.decision ?? lastJudgement?.reason ?? null;
      state = await save(stepEnded(state, { verdict: 'passed', reason: null, decision, figures: figuresNow() }, nowIso(ctx)));
      const step = steps[t.passedStep];
      if (step)
        ctx.reporter.event({
          type: 'step',
          index: offset + t.passedStep,
          total,
          weights: step.weights,
          phase: 'passed',
          ...(decision ? { reason: decision } : {}),
        });
    }
    if (t.command.type === 'wait') {
      // pause, resume, promote, abort from another terminal or the API, taken at every check tick
      const c = await answerControl(ctx, state, t, (cur, request) =>
        nextTransition(cfg, cur.state, { type: 'control', now: ctx.clock.now(), request }),
      );
      state = c.state;
      if (c.t !== t) {
        t = c.t;
        continue;
      }
    }
    const cmd = t.command;
    if (cmd.type === 'finish') {
      return { state: pauseCleared(state), outcome: cmd.outcome, reason: cmd.reason, timeline: null };
    }
    let event: EngineEvent;
    switch (cmd.type) {
      case 'apply': {
        state = await save(stepStarting(state, cmd.step, nowIso(ctx)));
        ctx.reporter.event({ type: 'step', index: offset + cmd.step.index, total, weights: cmd.step.weights, phase: 'applying' });
        // what was logged under the previous weights belongs to the previous step
        await readTraffic();
        stepBegun = false;
        try {
          ({ state } = await applyWeights(ctx, state, cmd.step.weights, req.to, { idleHealthy: stableHealthy ?? undefined }));
          tail ??= await ctx.traffic.tail();
          stepStartedAt = ctx.clock.now();
          analysis = beginStep(analysis, stepStartedAt);
          stepBegun = true;
          lastJudgement = null;
          ctx.reporter.event({ type: 'step', index: offset + cmd.step.index, total, weights: cmd.step.weights, phase: 'applied' });
          event = { type: 'applied', now: ctx.clock.now() };
        } catch (e) {
          if (e instanceof UnknownStateError) throw e;
          event = { type: 'apply_failed', now: ctx.clock.now(), error: e instanceof Error ? e.message : String(e) };
        }
        break;
      }
      case 'observe': {
        // a step that takes all traffic away from the target (a withdrawn canary) has nothing to judge there
        const withdrawn = state.weights[req.to] === 0;
        const verdict = await readTraffic();
        let health: { healthy: boolean; detail: string } | null = null;
        let stableHealth: { healthy: boolean; detail: string } | null = null;
        if (cmd.probe) {
          // both colors: the stable one is where a rollback would go, and the fallback at 100%
          const [h, s] = await Promise.all([
            withdrawn ? { color: req.to, healthy: true, servers: [], version: null } : ctx.prober.color(req.to),
            ctx.prober.color(stable),
          ]);
          health = { healthy: h.healthy, detail: h.healthy ? 'healthy' : describeHealth(h) };
          stableHealth = { healthy: s.healthy, detail: s.healthy ? 'healthy' : `${stable}: ${describeHealth(s)}` };
          lastHealthy = h.healthy;
          stableHealthy = s.healthy;
          state = await save(probeRecorded(state, h.healthy, nowIso(ctx)));
        }
        const now = ctx.clock.now();
        let judgement: Judgement | null = null;
        if (cmd.judge) {
          judgement = !req.judgeTraffic || withdrawn ? { promote: true, reason: 'judged on health probes only' } : judgeStep(analysis, now);
          lastJudgement = judgement;
        }
        // NGINX gone (its master died; seen twice in a row, so one slow `docker top` is not enough) is a
        // rollback now, not at the next step boundary
        if (cmd.probe) nginxDown = (await ctx.nginx.isRunning()) ? 0 : nginxDown + 1;
        const down = nginxDown >= 2 ? 'NGINX stopped running (its master process is gone)' : null;
        const breach = down ?? (!withdrawn && verdict?.kind === 'breach' ? verdict.breach.explanation : null);
        ctx.reporter.event({
          type: 'observe',
          index: offset + cmd.step,
          elapsedMs: now - stepStartedAt,
          totalMs: cfg.stepMs,
          health: lastHealthy,
          figures: verdict?.figures ?? null,
          verdict: verdict?.kind ?? null,
          note:
            verdict?.kind === 'insufficient'
              ? verdict.reason
              : verdict?.kind === 'watching'
                ? verdict.breaches.map((b) => b.explanation).join('; ')
                : null,
        });
        event = { type: 'observed', now, health, stableHealth, breach, judgement };
        break;
      }
      case 'wait':
        await ctx.clock.sleep(Math.max(0, cmd.until - ctx.clock.now()), ctx.signal);
        event = { type: 'tick', now: ctx.clock.now() };
        break;
      case 'rollback': {
        const decidedAt = ctx.clock.now();
        ctx.reporter.event({ type: 'rollback', reason: cmd.reason, weights: cmd.weights });
        // never back onto a dead color: the stable color is probed right before traffic moves to it,
        // while the failed step is saved
        const [ended, stableNow] = await Promise.all([
          save(stepEnded(state, { verdict: 'failed', reason: cmd.reason, decision: cmd.reason, figures: figuresNow() }, nowIso(ctx))),
          ctx.prober.color(stable),
        ]);
        state = ended;
        if (!stableNow.healthy) {
          const targetNow = await ctx.prober.color(req.to);
          ctx.logger.warn('the stable color is down: not rolling back onto it', { color: stable, servers: describeHealth(stableNow) });
          event = {
            type: 'stable_down',
            now: ctx.clock.now(),
            detail: `${stable}: ${describeHealth(stableNow)}`,
            targetHealthy: targetNow.healthy,
          };
          break;
        }
        try {
          ({ state } = await applyOrStart(ctx, state, cmd.weights, stable, { idleHealthy: lastHealthy ?? undefined }));
          const restoredAt = ctx.clock.now();
          const outcome = nextTransition(cfg, t.state, { type: 'rolled_back', now: restoredAt });
          if (outcome.command.type === 'finish' && outcome.command.outcome === 'rolled_back') {
            return {
              state: pauseCleared(state),
              outcome: 'rolled_back',
              reason: outcome.command.reason,
              timeline: await timeline(decidedAt, restoredAt),
            };
          }
          event = { type: 'rolled_back', now: restoredAt };
        } catch (e) {
          if (e instanceof UnknownStateError) throw e; // e.g. the state cannot be saved: the caller returns traffic itself
          event = { type: 'rollback_failed', now: ctx.clock.now(), error: e instanceof Error ? e.message : String(e) };
        }
        break;
      }
      case 'divert': {
        ctx.reporter.event({ type: 'notice', message: `${cmd.reason}: moving all traffic to ${req.to}, which answers its health probe` });
        try {
          // the stable color is down: no fallback onto it
          ({ state } = await applyWeights(ctx, state, cmd.weights, req.to, { idleHealthy: false }));
          event = { type: 'diverted', now: ctx.clock.now() };
        } catch (e) {
          event = { type: 'divert_failed', now: ctx.clock.now(), error: e instanceof Error ? e.message : String(e) };
        }
        break;
      }
    }
    if (ctx.signal.aborted && cmd.type !== 'rollback' && cmd.type !== 'divert' && event.type !== 'stable_down') {
      event = { type: 'interrupt', now: ctx.clock.now(), signal: signalName(ctx.signal) };
    }
    t = nextTransition(cfg, t.state, event);
  }

  /** How long the failing color served: one last read once requests in flight have finished. */
  async function timeline(decidedAt: number, restoredAt: number): Promise<RollbackTimeline> {
    if (tail) {
      await ctx.clock.sleep(SETTLE_MS);
      await readTraffic();
    }
    const served = exposure(analysis, req.to);
    const iso = (ms: number | null): string | null => (ms === null ? null : isoAt(ms));
    return {
      color: req.to,
      firstErrorAt: iso(firstErrorAt),
      decidedAt: isoAt(decidedAt),
      restoredAt: isoAt(restoredAt),
      firstServedAt: iso(served.firstAt),
      lastServedAt: iso(served.lastAt),
      servedSeconds: served.firstAt !== null && served.lastAt !== null ? (served.lastAt - served.firstAt) / 1000 : null,
    };
  }
}

function signalName(signal: AbortSignal): string {
  const r: unknown = signal.reason;
  return typeof r === 'string' ? r : 'a signal';
}

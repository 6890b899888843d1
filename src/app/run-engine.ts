import { policyFromThresholds } from '../core/analysis.js';
import { otherColor } from '../core/color.js';
import { pauseCleared } from '../core/control-record.js';
import {
  nextTransition,
  startEngine,
  type EngineCommand,
  type EngineConfig,
  type EngineEvent,
  type Outcome,
  type Transition,
} from '../core/engine.js';
import { stepEnded } from '../core/migration.js';
import type { StepPlan } from '../core/plan.js';
import { rollbackTimeline, startRun, stepFiguresAt } from '../core/run-data.js';
import type { RollbackTimeline, State } from '../core/state.js';
import { allOn } from '../core/weights.js';
import { isoAt, nowIso, type AppContext } from './context.js';
import { answerControl } from './control.js';
import { carryOut, readTraffic, save, type Drive } from './engine-commands.js';
import type { MigrationRequest } from './migrate.js';

export interface EngineRun {
  readonly state: State;
  readonly outcome: Outcome;
  readonly reason: string | null;
  /** set when the migration rolled back on its own: how long the failing color served, how fast it was pulled */
  readonly timeline: RollbackTimeline | null;
}

/** After a rollback, requests already in flight on the failing color still finish: wait this long before the last read. */
const SETTLE_MS = 300;

/**
 * Drives the pure engine (core/engine.ts): carries out its one command at a time (apply a step,
 * observe, wait, roll back, divert; app/engine-commands.ts) and feeds back what happened, until the
 * engine says the migration is over. Operators' requests are taken while it waits.
 */
export async function runEngine(ctx: AppContext, initial: State, req: MigrationRequest, steps: readonly StepPlan[]): Promise<EngineRun> {
  const d = startDrive(ctx, initial, req, steps);
  try {
    for (let t = startEngine(d.cfg); ;) {
      await announce(d, t);
      if (t.command.type === 'wait') {
        const answered = await takeControl(d, t);
        if (answered !== t) {
          t = answered;
          continue;
        }
      }
      const cmd = t.command;
      if (cmd.type === 'finish') return await finish(d, cmd.outcome, cmd.reason);
      t = nextTransition(d.cfg, t.state, interrupted(d, cmd, await carryOut(d, cmd)));
    }
  } finally {
    // a long-lived process (`bgctl serve`) runs many migrations: each lets go of its log reader
    await d.tail?.close?.().catch(() => undefined);
  }
}

function startDrive(ctx: AppContext, initial: State, req: MigrationRequest, steps: readonly StepPlan[]): Drive {
  const { config } = ctx.loaded;
  const stable = otherColor(req.to);
  const offset = initial.migration?.steps.length ?? 0;
  const cfg: EngineConfig = {
    steps,
    stableWeights: allOn(stable),
    targetWeights: allOn(req.to),
    stepMs: req.stepSeconds * 1000,
    probeIntervalMs: config.probe.intervalMs,
    failuresBeforeRollback: config.probe.failuresBeforeRollback,
    checkIntervalMs: config.thresholds.checkIntervalMs,
    maxExtendMs: req.judgeTraffic ? config.migration.maxExtendSeconds * 1000 : 0,
    stepOffset: offset,
  };
  const run = startRun(policyFromThresholds(config.thresholds), req.to, ctx.clock.now());
  return { ctx, req, cfg, stable, offset, total: offset + steps.length, state: initial, tail: null, run };
}

/** What a transition tells besides its command: a notice for the operator, a step that passed (recorded). */
async function announce(d: Drive, t: Transition): Promise<void> {
  const { ctx } = d;
  if (t.notice) {
    ctx.logger.warn(t.notice);
    ctx.reporter.event({ type: 'notice', message: t.notice });
  }
  if (t.passedStep === undefined) return;
  const decision = t.decision ?? d.run.lastJudgement?.reason ?? null;
  const figures = stepFiguresAt(d.run, ctx.clock.now());
  await save(d, stepEnded(d.state, { verdict: 'passed', reason: null, decision, figures }, nowIso(ctx)));
  const step = d.cfg.steps[t.passedStep];
  if (!step) return;
  const index = d.offset + t.passedStep;
  ctx.reporter.event({
    type: 'step',
    index,
    total: d.total,
    weights: step.weights,
    phase: 'passed',
    ...(decision ? { reason: decision } : {}),
  });
}

/** Pause, resume, promote, abort from another terminal or the API, taken at every check tick and fed to the engine. */
async function takeControl(d: Drive, t: Transition): Promise<Transition> {
  const { ctx, cfg } = d;
  const c = await answerControl(ctx, d.state, t, (cur, request) =>
    nextTransition(cfg, cur.state, { type: 'control', now: ctx.clock.now(), request }),
  );
  d.state = c.state;
  return c.t;
}

/** A signal turns what happened into an interrupt, except while traffic is being moved to safety. */
function interrupted(d: Drive, cmd: EngineCommand, event: EngineEvent): EngineEvent {
  const { signal, clock } = d.ctx;
  if (!signal.aborted || cmd.type === 'rollback' || cmd.type === 'divert') return event;
  const r: unknown = signal.reason;
  return { type: 'interrupt', now: clock.now(), signal: typeof r === 'string' ? r : 'a signal' };
}

/** The engine's last word; a rollback it ended with is timed from one last read, once requests in flight finished. */
async function finish(d: Drive, outcome: Outcome, reason: string | null): Promise<EngineRun> {
  const state = pauseCleared(d.state);
  if (outcome !== 'rolled_back') return { state, outcome, reason, timeline: null };
  if (d.tail) {
    await d.ctx.clock.sleep(SETTLE_MS);
    await readTraffic(d);
  }
  return { state, outcome, reason, timeline: rollbackTimeline(d.run, isoAt) };
}

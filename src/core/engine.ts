import type { StepPlan } from './plan.js';
import type { Weights } from './weights.js';

/**
 * The migration state machine. Pure: it is fed events (with the time they happened) and answers
 * with the next state and exactly one command for the app layer to carry out. It never touches
 * NGINX, the network or the clock itself, so tests drive it tick by tick.
 */
export interface EngineConfig {
  readonly steps: readonly StepPlan[];
  /** weights that put all traffic back on the stable color */
  readonly stableWeights: Weights;
  readonly stepMs: number;
  readonly probeIntervalMs: number;
  /** consecutive unhealthy probe rounds that trigger a rollback */
  readonly failuresBeforeRollback: number;
}

export interface Observation {
  readonly step: number;
  readonly startedAt: number;
  readonly until: number;
  readonly nextProbeAt: number;
  readonly consecutiveFailures: number;
  readonly rounds: number;
  readonly unhealthy: number;
}

export type Outcome = 'completed' | 'rolled_back' | 'interrupted' | 'rollback_failed';

export type EngineState =
  | { readonly phase: 'applying'; readonly step: number }
  | ({ readonly phase: 'observing' } & Observation)
  | { readonly phase: 'rolling_back'; readonly reason: string; readonly outcome: 'rolled_back' | 'interrupted' }
  | { readonly phase: 'done'; readonly outcome: Outcome; readonly reason: string | null };

export type EngineEvent =
  | { readonly type: 'applied'; readonly now: number }
  | { readonly type: 'apply_failed'; readonly now: number; readonly error: string }
  | { readonly type: 'probe'; readonly now: number; readonly healthy: boolean; readonly detail: string }
  | { readonly type: 'tick'; readonly now: number }
  | { readonly type: 'interrupt'; readonly now: number; readonly signal: string }
  | { readonly type: 'rolled_back'; readonly now: number }
  | { readonly type: 'rollback_failed'; readonly now: number; readonly error: string };

export type EngineCommand =
  | { readonly type: 'apply'; readonly step: StepPlan }
  | { readonly type: 'probe'; readonly step: number }
  | { readonly type: 'wait'; readonly until: number }
  | { readonly type: 'rollback'; readonly weights: Weights; readonly reason: string }
  | { readonly type: 'finish'; readonly outcome: Outcome; readonly reason: string | null };

export interface Transition {
  readonly state: EngineState;
  readonly command: EngineCommand;
  /** set when this transition closed a step that held for its whole window */
  readonly passedStep?: number;
}

export function startEngine(cfg: EngineConfig): Transition {
  const first = cfg.steps[0];
  if (!first) return done('completed', null);
  return { state: { phase: 'applying', step: 0 }, command: { type: 'apply', step: first } };
}

export function nextTransition(cfg: EngineConfig, state: EngineState, event: EngineEvent): Transition {
  if (state.phase === 'done') return { state, command: { type: 'finish', outcome: state.outcome, reason: state.reason } };

  if (event.type === 'interrupt' && state.phase !== 'rolling_back') {
    return rollback(cfg, `interrupted by ${event.signal}`, 'interrupted');
  }

  switch (state.phase) {
    case 'applying':
      if (event.type === 'applied') return observe(cfg, state.step, event.now);
      if (event.type === 'apply_failed') return rollback(cfg, `step ${state.step + 1} could not be applied: ${event.error}`, 'rolled_back');
      return unexpected(state, event);
    case 'observing':
      if (event.type === 'probe') return afterProbe(cfg, state, event);
      if (event.type === 'tick') {
        if (event.now >= state.nextProbeAt || event.now >= state.until) return { state, command: { type: 'probe', step: state.step } };
        return { state, command: { type: 'wait', until: Math.min(state.nextProbeAt, state.until) } };
      }
      return unexpected(state, event);
    case 'rolling_back':
      if (event.type === 'rolled_back') return done(state.outcome, state.reason);
      if (event.type === 'rollback_failed') return done('rollback_failed', `${state.reason}; rollback failed: ${event.error}`);
      return unexpected(state, event);
  }
}

function observe(cfg: EngineConfig, step: number, now: number): Transition {
  const obs: Observation = {
    step,
    startedAt: now,
    until: now + cfg.stepMs,
    nextProbeAt: now,
    consecutiveFailures: 0,
    rounds: 0,
    unhealthy: 0,
  };
  return { state: { phase: 'observing', ...obs }, command: { type: 'probe', step } };
}

function afterProbe(cfg: EngineConfig, obs: Observation, event: Extract<EngineEvent, { type: 'probe' }>): Transition {
  const consecutiveFailures = event.healthy ? 0 : obs.consecutiveFailures + 1;
  const next: Observation = {
    ...obs,
    consecutiveFailures,
    rounds: obs.rounds + 1,
    unhealthy: obs.unhealthy + (event.healthy ? 0 : 1),
    nextProbeAt: event.now + cfg.probeIntervalMs,
  };
  if (consecutiveFailures >= cfg.failuresBeforeRollback) {
    return rollback(cfg, `step ${obs.step + 1}: target failed its health checks (${event.detail})`, 'rolled_back');
  }
  if (event.now < next.until) {
    return { state: { phase: 'observing', ...next }, command: { type: 'wait', until: Math.min(next.nextProbeAt, next.until) } };
  }
  // The step held for its whole window: move on, or finish after the last step.
  const following = cfg.steps[obs.step + 1];
  const moved = following
    ? { state: { phase: 'applying', step: obs.step + 1 } as const, command: { type: 'apply', step: following } as const }
    : done('completed', null);
  return { ...moved, passedStep: obs.step };
}

function rollback(cfg: EngineConfig, reason: string, outcome: 'rolled_back' | 'interrupted'): Transition {
  return { state: { phase: 'rolling_back', reason, outcome }, command: { type: 'rollback', weights: cfg.stableWeights, reason } };
}

function done(outcome: Outcome, reason: string | null): Transition {
  return { state: { phase: 'done', outcome, reason }, command: { type: 'finish', outcome, reason } };
}

function unexpected(state: EngineState, event: EngineEvent): never {
  throw new Error(`engine: event ${event.type} is not expected in phase ${state.phase}`);
}

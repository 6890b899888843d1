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
  /** how often real traffic is checked against the thresholds during a step */
  readonly checkIntervalMs: number;
  /** how long a step that cannot be promoted yet (too little traffic, a breach in progress) is extended before rolling back */
  readonly maxExtendMs: number;
  /** steps the migration's record already holds (a continued canary or interrupted run): reasons number steps as history does */
  readonly stepOffset?: number;
}

export interface Observation {
  readonly step: number;
  readonly startedAt: number;
  readonly until: number;
  readonly nextProbeAt: number;
  readonly nextCheckAt: number;
  readonly consecutiveFailures: number;
  readonly rounds: number;
  readonly unhealthy: number;
  /** set once the step ran past `until` because it could not be promoted yet */
  readonly extended: boolean;
}

export type Outcome = 'completed' | 'rolled_back' | 'interrupted' | 'rollback_failed';

export type EngineState =
  | { readonly phase: 'applying'; readonly step: number }
  | ({ readonly phase: 'observing' } & Observation)
  | { readonly phase: 'rolling_back'; readonly reason: string; readonly outcome: 'rolled_back' | 'interrupted' }
  | { readonly phase: 'done'; readonly outcome: Outcome; readonly reason: string | null };

/** Whether the step as a whole may be promoted (from the traffic analysis); asked for once the step's time is up. */
export interface Judgement {
  readonly promote: boolean;
  readonly reason: string;
}

export type EngineEvent =
  | { readonly type: 'applied'; readonly now: number }
  | { readonly type: 'apply_failed'; readonly now: number; readonly error: string }
  | {
      readonly type: 'observed';
      readonly now: number;
      /** null when this round did not probe */
      readonly health: { readonly healthy: boolean; readonly detail: string } | null;
      /** a sustained threshold breach, explained ("error rate 0.31 > 0.05 for 0.0 s over 214 requests"); null: none */
      readonly breach: string | null;
      /** null when not asked for (`judge: false`) */
      readonly judgement: Judgement | null;
    }
  | { readonly type: 'tick'; readonly now: number }
  | { readonly type: 'interrupt'; readonly now: number; readonly signal: string }
  | { readonly type: 'rolled_back'; readonly now: number }
  | { readonly type: 'rollback_failed'; readonly now: number; readonly error: string };

export type EngineCommand =
  | { readonly type: 'apply'; readonly step: StepPlan }
  /** read the traffic and check thresholds; also probe health when `probe`; judge the whole step when `judge` */
  | { readonly type: 'observe'; readonly step: number; readonly probe: boolean; readonly judge: boolean }
  | { readonly type: 'wait'; readonly until: number }
  | { readonly type: 'rollback'; readonly weights: Weights; readonly reason: string }
  | { readonly type: 'finish'; readonly outcome: Outcome; readonly reason: string | null };

export interface Transition {
  readonly state: EngineState;
  readonly command: EngineCommand;
  /** set when this transition closed a step that held for its whole window */
  readonly passedStep?: number;
  /** something the operator should be told (a step extended, and why) */
  readonly notice?: string;
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
      if (event.type === 'apply_failed')
        return rollback(cfg, `step ${(cfg.stepOffset ?? 0) + state.step + 1} could not be applied: ${event.error}`, 'rolled_back');
      return unexpected(state, event);
    case 'observing':
      if (event.type === 'observed') return afterObserved(cfg, state, event);
      if (event.type === 'tick') return due(state, event.now) ?? waitNext(state);
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
    nextCheckAt: now,
    consecutiveFailures: 0,
    rounds: 0,
    unhealthy: 0,
    extended: false,
  };
  return { state: { phase: 'observing', ...obs }, command: observeCommand(obs, now) };
}

const observeCommand = (obs: Observation, now: number): EngineCommand => ({
  type: 'observe',
  step: obs.step,
  probe: now >= obs.nextProbeAt,
  judge: now >= obs.until,
});

/** The observe command when something is due at `now`, else null. */
function due(obs: Observation, now: number): Transition | null {
  if (now >= obs.nextProbeAt || now >= obs.nextCheckAt || (now >= obs.until && !obs.extended)) {
    return { state: { phase: 'observing', ...obs }, command: observeCommand(obs, now) };
  }
  return null;
}

function waitNext(obs: Observation): Transition {
  const until = Math.min(obs.nextProbeAt, obs.nextCheckAt, obs.extended ? Infinity : obs.until);
  return { state: { phase: 'observing', ...obs }, command: { type: 'wait', until } };
}

const seconds = (ms: number): string => `${Number((ms / 1000).toFixed(1))} s`;

function afterObserved(cfg: EngineConfig, obs: Observation, event: Extract<EngineEvent, { type: 'observed' }>): Transition {
  const label = `step ${(cfg.stepOffset ?? 0) + obs.step + 1}`;
  let next: Observation = { ...obs, nextCheckAt: event.now + cfg.checkIntervalMs };
  if (event.health) {
    const consecutiveFailures = event.health.healthy ? 0 : obs.consecutiveFailures + 1;
    next = {
      ...next,
      consecutiveFailures,
      rounds: obs.rounds + 1,
      unhealthy: obs.unhealthy + (event.health.healthy ? 0 : 1),
      nextProbeAt: event.now + cfg.probeIntervalMs,
    };
    if (consecutiveFailures >= cfg.failuresBeforeRollback) {
      return rollback(cfg, `${label}: target failed its health checks (${event.health.detail})`, 'rolled_back');
    }
  }
  if (event.breach !== null) return rollback(cfg, `${label}: ${event.breach}`, 'rolled_back');
  if (event.now < obs.until || event.judgement === null) return waitNext(next);

  if (event.judgement.promote) {
    // The step held for its whole window: move on, or finish after the last step.
    const following = cfg.steps[obs.step + 1];
    const moved = following
      ? { state: { phase: 'applying', step: obs.step + 1 } as const, command: { type: 'apply', step: following } as const }
      : done('completed', null);
    return { ...moved, passedStep: obs.step };
  }
  if (event.now >= obs.until + cfg.maxExtendMs) {
    const extra = cfg.maxExtendMs > 0 ? ` after ${seconds(event.now - obs.until)} of extra time` : '';
    return rollback(cfg, `${label} could not be judged${extra}: ${event.judgement.reason}`, 'rolled_back');
  }
  // Not promoted blind: keep observing (judging at every check) until it can be, or time runs out.
  const notice = obs.extended ? undefined : `${label} extended (up to ${seconds(cfg.maxExtendMs)}): ${event.judgement.reason}`;
  const t = waitNext({ ...next, extended: true });
  return notice === undefined ? t : { ...t, notice };
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

import type { StepPlan } from './plan.js';
import type { Weights } from './weights.js';
import type { ControlAck, ControlRequest } from './control.js';

/**
 * The migration state machine. Pure: it is fed events (with the time they happened) and answers
 * with the next state and exactly one command for the app layer to carry out. It never touches
 * NGINX, the network or the clock itself, so tests drive it tick by tick.
 */
export interface EngineConfig {
  readonly steps: readonly StepPlan[];
  /** weights that put all traffic back on the stable color */
  readonly stableWeights: Weights;
  /** weights that put all traffic on the new color: where traffic goes when the stable color is down and the new one healthy */
  readonly targetWeights: Weights;
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
  /** the stable color failed its last probe (bgctl will not roll back onto it while it is down) */
  readonly stableDown: boolean;
  /** held by an operator: the step timer stands still (probes and traffic checks go on) */
  readonly paused: { readonly by: string; readonly since: number } | null;
  /** an operator asked to end the step now; `until` is the step's own end, restored if the promotion is refused */
  readonly promoting: { readonly by: string; readonly full: boolean; readonly until: number } | null;
}

/** stopped: a rollback was due but the stable color was down; traffic is on the healthy color (or left as it was) for a human. */
export type Outcome = 'completed' | 'rolled_back' | 'interrupted' | 'rollback_failed' | 'stopped';

export type EngineState =
  /** `final`: a full promotion (who decided it), the migration completes once this step is confirmed */
  | { readonly phase: 'applying'; readonly step: number; readonly final?: string }
  | ({ readonly phase: 'observing' } & Observation)
  | { readonly phase: 'rolling_back'; readonly reason: string; readonly outcome: 'rolled_back' | 'interrupted' }
  /** the stable color was down when a rollback was due: all traffic goes to the new color, which was just seen healthy */
  | { readonly phase: 'diverting'; readonly reason: string }
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
      /** the stable color's probe of this round (both colors are probed); null or absent: not probed */
      readonly stableHealth?: { readonly healthy: boolean; readonly detail: string } | null;
      /** a sustained threshold breach, explained ("error rate 0.31 > 0.05 for 0.0 s over 214 requests"); null: none */
      readonly breach: string | null;
      /** null when not asked for (`judge: false`) */
      readonly judgement: Judgement | null;
    }
  | { readonly type: 'tick'; readonly now: number }
  /** an operator's request (pause, resume, promote, abort), fed only while a step is observed */
  | { readonly type: 'control'; readonly now: number; readonly request: ControlRequest }
  | { readonly type: 'interrupt'; readonly now: number; readonly signal: string }
  | { readonly type: 'rolled_back'; readonly now: number }
  | { readonly type: 'rollback_failed'; readonly now: number; readonly error: string }
  /** the rollback was not applied: the stable color fails its probe right now; `targetHealthy`: the new color passes its own */
  | { readonly type: 'stable_down'; readonly now: number; readonly detail: string; readonly targetHealthy: boolean }
  | { readonly type: 'diverted'; readonly now: number }
  | { readonly type: 'divert_failed'; readonly now: number; readonly error: string };

export type EngineCommand =
  | { readonly type: 'apply'; readonly step: StepPlan }
  /** read the traffic and check thresholds; also probe health when `probe`; judge the whole step when `judge` */
  | { readonly type: 'observe'; readonly step: number; readonly probe: boolean; readonly judge: boolean }
  | { readonly type: 'wait'; readonly until: number }
  | { readonly type: 'rollback'; readonly weights: Weights; readonly reason: string }
  /** put all traffic on the healthy new color (the stable one is down): never a rollback onto a dead color */
  | { readonly type: 'divert'; readonly weights: Weights; readonly reason: string }
  | { readonly type: 'finish'; readonly outcome: Outcome; readonly reason: string | null };

export interface Transition {
  readonly state: EngineState;
  readonly command: EngineCommand;
  /** set when this transition closed a step that held for its whole window */
  readonly passedStep?: number;
  /** something the operator should be told (a step extended, and why) */
  readonly notice?: string;
  /** why a step passed when it was not judged on its own (an operator promoted it) */
  readonly decision?: string;
  /** the answer to a control request */
  readonly ack?: ControlAck;
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
      if (event.type === 'applied' && state.final !== undefined)
        return { ...done('completed', null), passedStep: state.step, decision: state.final };
      if (event.type === 'applied') return observe(cfg, state.step, event.now);
      if (event.type === 'apply_failed')
        return rollback(cfg, `step ${(cfg.stepOffset ?? 0) + state.step + 1} could not be applied: ${event.error}`, 'rolled_back');
      return unexpected(state, event);
    case 'observing':
      if (event.type === 'observed') return afterObserved(cfg, state, event);
      if (event.type === 'tick') return due(state, event.now) ?? waitNext(state);
      if (event.type === 'control') return onControl(cfg, state, event.now, event.request);
      return unexpected(state, event);
    case 'rolling_back':
      if (event.type === 'rolled_back') return done(state.outcome, state.reason);
      if (event.type === 'rollback_failed') return done('rollback_failed', `${state.reason}; rollback failed: ${event.error}`);
      if (event.type === 'stable_down') {
        const why = `${state.reason}; the stable color is down (${event.detail}), so traffic was not moved back onto it`;
        if (!event.targetHealthy) return done('stopped', `${why}, and the new color fails its probe too: traffic left as it was`);
        return {
          state: { phase: 'diverting', reason: why },
          command: { type: 'divert', weights: cfg.targetWeights, reason: why },
        };
      }
      return unexpected(state, event);
    case 'diverting':
      if (event.type === 'diverted') return done('stopped', `${state.reason}; the new color, healthy, carries all traffic`);
      if (event.type === 'divert_failed')
        return done('rollback_failed', `${state.reason}; moving traffic to the new color failed: ${event.error}`);
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
    stableDown: false,
    paused: null,
    promoting: null,
  };
  return { state: { phase: 'observing', ...obs }, command: observeCommand(obs, now) };
}

const observeCommand = (obs: Observation, now: number): EngineCommand => ({
  type: 'observe',
  step: obs.step,
  probe: now >= obs.nextProbeAt,
  judge: now >= obs.until && obs.paused === null,
});

/** The observe command when something is due at `now`, else null. */
function due(obs: Observation, now: number): Transition | null {
  if (now >= obs.nextProbeAt || now >= obs.nextCheckAt || (now >= obs.until && !obs.extended && obs.paused === null)) {
    return { state: { phase: 'observing', ...obs }, command: observeCommand(obs, now) };
  }
  return null;
}

function waitNext(obs: Observation): Transition {
  const until = Math.min(obs.nextProbeAt, obs.nextCheckAt, obs.extended || obs.paused ? Infinity : obs.until);
  return { state: { phase: 'observing', ...obs }, command: { type: 'wait', until } };
}

const seconds = (ms: number): string => `${Number((ms / 1000).toFixed(1))} s`;

function afterObserved(cfg: EngineConfig, obs: Observation, event: Extract<EngineEvent, { type: 'observed' }>): Transition {
  let next: Observation = { ...obs, nextCheckAt: event.now + cfg.checkIntervalMs };
  // the stable color is probed too: the operator hears when it goes down (and comes back), once each way
  let notice: string | undefined;
  const stable = event.stableHealth;
  if (stable && stable.healthy === obs.stableDown) {
    next = { ...next, stableDown: !stable.healthy };
    notice = stable.healthy
      ? `step ${(cfg.stepOffset ?? 0) + obs.step + 1}: the stable color answers its health probe again`
      : `step ${(cfg.stepOffset ?? 0) + obs.step + 1}: the stable color fails its health probe (${stable.detail}); the migration goes on, and bgctl will not roll back onto it while it is down`;
  }
  const t = decide(cfg, obs, next, event);
  return notice === undefined ? t : { ...t, notice: t.notice === undefined ? notice : `${notice}; ${t.notice}` };
}

function decide(cfg: EngineConfig, obs: Observation, base: Observation, event: Extract<EngineEvent, { type: 'observed' }>): Transition {
  const label = `step ${(cfg.stepOffset ?? 0) + obs.step + 1}`;
  let next = base;
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
  if (obs.promoting) return promoted(cfg, next, obs.promoting, event.health);
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

/**
 * An operator's request while a step is observed. Pause stops the step timer (probes and traffic checks
 * go on, and still roll back); resume moves the step's end by the time it stood still; promote ends the
 * step after one more health probe; abort rolls back.
 */
function onControl(cfg: EngineConfig, obs: Observation, now: number, req: ControlRequest): Transition {
  const label = `step ${(cfg.stepOffset ?? 0) + obs.step + 1}`;
  const ack = (changed: boolean, message: string): ControlAck => ({ action: req.action, by: req.by, changed, message });
  const go = (o: Observation): Transition => due(o, now) ?? waitNext(o);
  switch (req.action) {
    case 'pause':
      if (obs.paused) return { ...go(obs), ack: ack(false, `already paused by ${obs.paused.by}`) };
      return { ...go({ ...obs, paused: { by: req.by, since: now } }), ack: ack(true, `paused at ${label}; weights held`) };
    case 'resume': {
      if (!obs.paused) return { ...go(obs), ack: ack(false, `${label} was not paused`) };
      const held = now - obs.paused.since;
      const o: Observation = { ...obs, paused: null, until: obs.until + held };
      return { ...go(o), ack: ack(true, `resumed ${label} after ${seconds(held)} paused`) };
    }
    case 'promote': {
      const o: Observation = {
        ...obs,
        paused: null,
        until: now,
        nextProbeAt: now,
        promoting: { by: req.by, full: req.full, until: obs.promoting?.until ?? obs.until },
      };
      const where = req.full ? 'straight to the last step' : 'to the next step';
      return {
        state: { phase: 'observing', ...o },
        command: observeCommand(o, now),
        ack: ack(true, `promoting ${label} ${where} after a health probe`),
      };
    }
    case 'abort':
      return {
        ...rollback(cfg, `aborted by ${req.by}`, 'rolled_back'),
        ack: ack(true, `aborting at ${label}: traffic goes back to the stable color`),
      };
  }
}

/** After the probe a promotion waits for: move on when the target is healthy, else keep observing the step. */
function promoted(
  cfg: EngineConfig,
  obs: Observation,
  p: NonNullable<Observation['promoting']>,
  health: Extract<EngineEvent, { type: 'observed' }>['health'],
): Transition {
  const label = `step ${(cfg.stepOffset ?? 0) + obs.step + 1}`;
  if (health === null || !health.healthy) {
    const why = health ? health.detail : 'no health probe';
    return { ...waitNext({ ...obs, until: p.until, promoting: null }), notice: `promotion of ${label} by ${p.by} refused: ${why}` };
  }
  const last = cfg.steps.length - 1;
  const target = p.full ? last : obs.step + 1;
  const following = cfg.steps[target];
  const decision = `promoted by ${p.by}${p.full ? ' (full)' : ''}`;
  if (!following || target <= obs.step) return { ...done('completed', null), passedStep: obs.step, decision };
  return {
    state: { phase: 'applying', step: target, ...(p.full ? { final: decision } : {}) },
    command: { type: 'apply', step: following },
    passedStep: obs.step,
    decision,
  };
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

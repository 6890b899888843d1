import type { Color } from './color.js';
import type { StepPlan } from './plan.js';
import type { Strategy } from './strategy.js';
import { archive, type Migration, type MigrationKind, type RollbackTimeline, type State, type StepRecord } from './state.js';
import { sameWeights, type Weights } from './weights.js';

/**
 * Pure bookkeeping of a migration record inside the state. Every function returns a new State; the
 * app saves it before and after each NGINX change so a killed process leaves the truth behind.
 */
export interface MigrationStart {
  readonly id: string;
  readonly kind: MigrationKind;
  readonly to: Color;
  readonly version: string | null;
  readonly strategy: Strategy;
  readonly plannedSteps: readonly number[];
  readonly pid: number;
  readonly host: string;
  readonly nowIso: string;
  /** who started it (user@host, or the CI job); kept from the first run when a migration is continued */
  readonly by?: string;
}

export function beginMigration(state: State, s: MigrationStart): State {
  const current = state.migration;
  // A held canary (or an interrupted run) toward the same color is continued, not restarted.
  if (current && (current.status === 'holding' || current.status === 'running') && current.to === s.to) {
    const continued: Migration = {
      ...current,
      kind: s.kind === 'canary' && current.kind !== 'canary' ? current.kind : s.kind,
      version: s.version ?? current.version,
      strategy: s.strategy,
      plannedSteps: [...s.plannedSteps],
      status: 'running',
      pid: s.pid,
      host: s.host,
    };
    return { ...state, migration: continued, updatedAt: s.nowIso };
  }
  const migration: Migration = {
    id: s.id,
    kind: s.kind,
    from: state.stable,
    to: s.to,
    version: s.version,
    strategy: s.strategy,
    plannedSteps: [...s.plannedSteps],
    status: 'running',
    startedAt: s.nowIso,
    endedAt: null,
    outcome: null,
    reason: null,
    pid: s.pid,
    host: s.host,
    steps: [],
    rolledBackAt: null,
    ...(s.by ? { by: s.by } : {}),
  };
  const base = current && current.status !== 'running' && current.status !== 'holding' ? archive(state, current) : state;
  return { ...base, migration, updatedAt: s.nowIso };
}

function mapMigration(state: State, nowIso: string, f: (m: Migration) => Migration): State {
  if (!state.migration) return state;
  return { ...state, migration: f(state.migration), updatedAt: nowIso };
}

function mapLastStep(m: Migration, f: (s: StepRecord) => StepRecord): Migration {
  const last = m.steps.at(-1);
  return last ? { ...m, steps: [...m.steps.slice(0, -1), f(last)] } : m;
}

/** Recorded before NGINX is touched: if the process dies now, status knows which step was under way. */
export function stepStarting(state: State, step: StepPlan, nowIso: string): State {
  return mapMigration(state, nowIso, (m) => ({
    ...m,
    steps: [
      ...m.steps,
      {
        index: m.steps.length,
        percent: step.percent,
        weights: step.weights,
        revision: null,
        startedAt: nowIso,
        appliedAt: null,
        endedAt: null,
        verdict: 'pending',
        reason: null,
        probes: { rounds: 0, healthy: 0, unhealthy: 0 },
        observed: null,
      },
    ],
  }));
}

/** NGINX confirmed it serves `weights` at `revision`. */
export function applied(state: State, weights: Weights, revision: number, nowIso: string, backup: Color | null = null): State {
  const next = { ...state, weights, revision, backup, updatedAt: nowIso };
  // only the step being applied is marked: a rollback applied after a rejected step is not that step
  const isThisStep = (s: StepRecord): boolean => s.verdict === 'pending' && s.appliedAt === null && sameWeights(s.weights, weights);
  return mapMigration(next, nowIso, (m) => mapLastStep(m, (s) => (isThisStep(s) ? { ...s, revision, appliedAt: nowIso } : s)));
}

export function probeRecorded(state: State, healthy: boolean, nowIso: string): State {
  return mapMigration(state, nowIso, (m) =>
    mapLastStep(m, (s) => ({
      ...s,
      probes: {
        rounds: s.probes.rounds + 1,
        healthy: s.probes.healthy + (healthy ? 1 : 0),
        unhealthy: s.probes.unhealthy + (healthy ? 0 : 1),
      },
    })),
  );
}

export interface StepOutcome {
  readonly verdict: 'passed' | 'failed';
  /** why it failed; null for a passed step */
  readonly reason: string | null;
  /** why it was promoted (or the figures at the time it failed) */
  readonly decision: string | null;
  readonly figures: StepRecord['figures'];
}

export function stepEnded(state: State, o: StepOutcome, nowIso: string): State {
  const observed = (f: NonNullable<StepRecord['figures']>): StepRecord['observed'] => ({
    blue: f.colors.blue.requests,
    green: f.colors.green.requests,
    errors: { blue: f.colors.blue.errors, green: f.colors.green.errors },
  });
  return mapMigration(state, nowIso, (m) =>
    mapLastStep(m, (s) => ({
      ...s,
      verdict: o.verdict,
      reason: o.reason,
      decision: o.decision,
      figures: o.figures ?? s.figures ?? null,
      observed: o.figures ? observed(o.figures) : s.observed,
      endedAt: nowIso,
    })),
  );
}

/** How long the failing color served traffic and how fast it was pulled. */
export function timelineRecorded(state: State, timeline: RollbackTimeline, nowIso: string): State {
  const m = state.migration;
  if (!m) return state;
  const withTimeline: Migration = { ...m, timeline };
  // rolledBack() already archived the migration: keep the history copy in step
  const history = state.history.map((h) => (h.id === m.id ? withTimeline : h));
  return { ...state, migration: withTimeline, history, updatedAt: nowIso };
}

/** The migration reached its last step: the growing color is now the stable one. */
export function completed(state: State, outcome: string, nowIso: string): State {
  const m = state.migration;
  if (!m) return state;
  const done: Migration = { ...m, status: 'completed', endedAt: nowIso, outcome };
  const versions = m.version ? { ...state.versions, [m.to]: m.version } : state.versions;
  return { ...archive(state, done), stable: m.to, versions, migration: done, updatedAt: nowIso };
}

/** A canary stays at its weight; the stable color does not change. */
export function holding(state: State, nowIso: string): State {
  return mapMigration(state, nowIso, (m) => ({ ...m, status: 'holding', outcome: `holding ${m.to} at ${state.weights[m.to]}%` }));
}

/**
 * Traffic is back on the color that was stable before the migration. `failed` marks a migration that
 * failed its checks; a manual rollback of a completed migration reverts it the same way.
 */
export function rolledBack(state: State, reason: string, nowIso: string, outcome = 'rolled back'): State {
  const m = state.migration;
  if (!m) return state;
  const closeSteps = m.steps.map((s) =>
    s.verdict === 'pending' ? { ...s, verdict: 'failed' as const, reason: s.reason ?? reason, endedAt: nowIso } : s,
  );
  const reverted: Migration = {
    ...m,
    steps: closeSteps,
    status: 'rolled_back',
    endedAt: m.endedAt ?? nowIso,
    outcome,
    reason: m.reason ?? reason,
    rolledBackAt: nowIso,
  };
  return { ...archive(state, reverted), stable: m.from, weights: state.weights, migration: reverted, updatedAt: nowIso };
}

/** Rollback itself failed: a human must look. The record says so. */
export function rollbackFailed(state: State, reason: string, nowIso: string): State {
  return mapMigration(state, nowIso, (m) => ({ ...m, status: 'failed', endedAt: nowIso, outcome: 'rollback failed', reason }));
}

/**
 * A rollback was due but the stable color was down, so traffic was not moved back onto it: it stays
 * where it was, or went to the new color when that one was healthy (then the new color is the one safe
 * to return to). A human must look; the record says why.
 */
export function stoppedForHuman(state: State, reason: string, nowIso: string): State {
  const m = state.migration;
  if (!m) return state;
  const steps = m.steps.map((s) =>
    s.verdict === 'pending' ? { ...s, verdict: 'failed' as const, reason: s.reason ?? reason, endedAt: nowIso } : s,
  );
  const stopped: Migration = { ...m, steps, status: 'failed', endedAt: nowIso, outcome: 'stopped: the stable color was down', reason };
  const onNew = state.weights[m.to] === 100;
  const versions = onNew && m.version ? { ...state.versions, [m.to]: m.version } : state.versions;
  return { ...archive(state, stopped), stable: onNew ? m.to : state.stable, versions, migration: stopped, updatedAt: nowIso };
}

import { applied, beginMigration, stepEnded, stepStarting } from '../../src/core/migration.js';
import { initialState, type State } from '../../src/core/state.js';
import type { Color } from '../../src/core/color.js';
import { weightsFor, type Weights } from '../../src/core/weights.js';

const AT = '2025-01-01T00:00:00.000Z';

/** After `bgctl start`: blue stable at 100%, revision 1, versions known. */
export function startedState(): State {
  return { ...initialState(AT), revision: 1, versions: { blue: '2.0.0', green: null } };
}

/**
 * A gradual migration to `to` whose process died: the `passed` percentages were applied and passed,
 * then `pending` was recorded as starting (not applied, as far as the state knows). Built with the
 * core's own bookkeeping, so it is exactly what a killed bgctl leaves behind.
 */
export function interruptedState(o: { to?: Color; passed: number[]; pending?: number; pid?: number; steps?: number[] }): State {
  const to = o.to ?? 'green';
  const planned = o.steps ?? [25, 50, 75, 100];
  let s = beginMigration(startedState(), {
    id: 'dead1',
    kind: 'gradual',
    to,
    version: '2.1.0',
    strategy: 'weighted',
    plannedSteps: planned,
    pid: o.pid ?? 999,
    host: 'test-host',
    nowIso: AT,
  });
  for (const percent of o.passed) {
    const weights = weightsFor(to, percent);
    s = stepStarting(s, { index: s.migration?.steps.length ?? 0, percent, weights }, AT);
    s = applied(s, weights, s.revision + 1, AT);
    s = stepEnded(s, { verdict: 'passed', reason: null, decision: null, figures: null }, AT);
  }
  if (o.pending !== undefined) s = stepStarting(s, { index: o.passed.length, percent: o.pending, weights: weightsFor(to, o.pending) }, AT);
  return s;
}

export const green = (percent: number): Weights => weightsFor('green', percent);
export const blue = (percent: number): Weights => weightsFor('blue', percent);

import type { Color } from '../core/color.js';
import { otherColor } from '../core/color.js';
import { PreflightError } from '../core/errors.js';
import { planSteps, type StepPlan } from '../core/plan.js';
import { isActive, type State } from '../core/state.js';
import type { Strategy } from '../core/strategy.js';
import { sameWeights, weightsFor } from '../core/weights.js';
import type { AppContext } from './context.js';
import { migrate, type MigrationResult } from './migrate.js';

/** The four commands that move traffic, each a MigrationRequest for the one engine. */

export interface GradualOptions {
  readonly color: Color;
  readonly version: string;
  readonly steps?: readonly number[];
  readonly stepSeconds?: number;
  readonly strategy?: Strategy;
  readonly dryRun?: boolean;
}

/** The state, and whether NGINX really serves what it says (live beats remembered). */
async function peekState(ctx: AppContext): Promise<{ state: State; servedAsSaid: boolean }> {
  const [state, live] = await Promise.all([ctx.store.load(), ctx.nginx.live()]);
  return { state, servedAsSaid: live !== null && live.revision === state.revision && sameWeights(live.weights, state.weights) };
}

/**
 * Already fully on the target with nothing active, per state.json AND per what NGINX answers: only then
 * is there nothing to do. NGINX serving something else (changed behind bgctl's back, or not answering)
 * goes through the migration's pre-flight, which names the drift.
 */
function alreadyLive({ state, servedAsSaid }: { state: State; servedAsSaid: boolean }, color: Color): boolean {
  return servedAsSaid && state.stable === color && state.weights[color] === 100 && !isActive(state.migration);
}

export async function gradual(ctx: AppContext, o: GradualOptions): Promise<MigrationResult> {
  const cfg = ctx.loaded.config.migration;
  const peeked = await peekState(ctx);
  const { state } = peeked;
  const command = `gradual ${o.color} ${o.version}`;
  if (alreadyLive(peeked, o.color)) return alreadyOn(ctx, state, o.color, o.version, command);
  return migrate(ctx, {
    kind: 'gradual',
    to: o.color,
    version: o.version,
    plan: (s) => planSteps(s.weights, o.color, o.steps ?? cfg.steps),
    stepSeconds: o.stepSeconds ?? cfg.stepSeconds,
    judgeTraffic: true,
    strategy: o.strategy ?? cfg.strategy,
    dryRun: o.dryRun ?? false,
    hold: false,
    deploy: 'if-needed',
    command,
  });
}

export async function deploy(ctx: AppContext, o: { color: Color; version: string; dryRun?: boolean }): Promise<MigrationResult> {
  const peeked = await peekState(ctx);
  const { state } = peeked;
  const command = `deploy ${o.color} ${o.version}`;
  if (state.weights[o.color] > 0) {
    throw new PreflightError(
      `${command}: ${o.color} carries ${state.weights[o.color]}% of traffic; deploy targets the inactive color (${otherColor(o.color)} is... try \`bgctl deploy ${otherColor(o.color)} ${o.version}\`)`,
    );
  }
  return migrate(ctx, {
    kind: 'deploy',
    to: o.color,
    version: o.version,
    plan: (s) => planSteps(s.weights, o.color, [100]),
    stepSeconds: ctx.loaded.config.migration.stepSeconds,
    judgeTraffic: true,
    strategy: ctx.loaded.config.migration.strategy,
    dryRun: o.dryRun ?? false,
    hold: false,
    deploy: 'always',
    command,
  });
}

export async function switchTo(ctx: AppContext, o: { color: Color; dryRun?: boolean }): Promise<MigrationResult> {
  const peeked = await peekState(ctx);
  const { state } = peeked;
  const command = `switch ${o.color}`;
  if (alreadyLive(peeked, o.color)) return alreadyOn(ctx, state, o.color, null, command);
  return migrate(ctx, {
    kind: 'switch',
    to: o.color,
    version: null,
    plan: (s) => planSteps(s.weights, o.color, [100]),
    stepSeconds: 0,
    judgeTraffic: false,
    strategy: state.strategy,
    dryRun: o.dryRun ?? false,
    hold: false,
    deploy: 'never',
    command,
  });
}

/**
 * Sets and holds COLOR at PERCENT. Asking the stable color for P% is the same as giving the other
 * color 100-P%. A canary can move down as well as up; 0% withdraws it, 100% completes it.
 */
export async function canary(ctx: AppContext, o: { color: Color; percent: number; dryRun?: boolean }): Promise<MigrationResult> {
  const peeked = await peekState(ctx);
  const { state } = peeked;
  const active = isActive(state.migration) ? state.migration : null;
  const growing = active ? active.to : state.stable === o.color ? otherColor(o.color) : o.color;
  const percent = growing === o.color ? o.percent : 100 - o.percent;
  const step: StepPlan = { index: 0, percent, weights: weightsFor(growing, percent) };
  const command = `canary ${o.color} ${o.percent}`;
  if (percent === 0 && !active && peeked.servedAsSaid && state.weights[state.stable] === 100)
    return alreadyOn(ctx, state, state.stable, null, command);
  return migrate(ctx, {
    kind: 'canary',
    to: growing,
    version: null,
    plan: (s) => (s.weights[growing] === percent && isActive(s.migration) ? [] : [step]),
    stepSeconds: 0,
    judgeTraffic: false,
    strategy: state.strategy,
    dryRun: o.dryRun ?? false,
    hold: percent > 0,
    deploy: 'never',
    command,
  });
}

function alreadyOn(ctx: AppContext, state: State, color: Color, version: string | null, command: string): MigrationResult {
  const v = state.versions[color];
  if (version && v && v !== version) {
    throw new PreflightError(
      `${command}: ${color} is live at 100% with version ${v}; deploy ${version} onto ${otherColor(color)} and migrate there instead`,
    );
  }
  ctx.logger.info(`${color} already carries all traffic; nothing to do`, { command });
  return { outcome: 'noop', migration: state.migration, state, checks: [] };
}

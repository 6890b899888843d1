import type { ApplyReport, LiveNginx, Logger, NginxTargetStatus, NjsSupport, RenderedConfig } from '../../app/ports.js';
import { ApplyError, UnknownStateError } from '../../core/errors.js';
import { msg, stageOf, timed, type Stages } from './steps.js';

/**
 * The one way a change reaches NGINX, for a single instance (a fleet of one) and for a fleet alike:
 *
 *   1. prepare: candidate + `nginx -t` on every target; one refusal and nothing live changed anywhere;
 *   2. commit: only then swap + reload every target;
 *   3. confirm: every target serves the new revision on fresh connections;
 *   on any failure in 2 or 3: restore every target that was touched to its previous files and revision,
 *   confirmed, and report the failure (exit 3); a restore that fails too is an unknown state (exit 4).
 *
 * Targets run each phase in parallel, so a step costs about as long as the slowest target, not the sum.
 * Between phase 2 and a restore, a target that already reloaded serves the new step for that long.
 * dynamic mode: a target that already runs the step's structure only gets the new weights file in phase 2
 * (no nginx -t in 1, no reload), and a restore puts its previous weights file back.
 */

/** One step of one target between the phases. */
export interface Prepared {
  readonly revision: number;
  /** the revision served before, restored on failure (null: unknown) */
  readonly previous: number | null;
  readonly master: number;
  /** reload: new config files, tested, swapped in, reloaded; weights: the structure runs already, only the weights file changes */
  readonly kind: 'reload' | 'weights';
  /** dynamic mode: the weights file's new content (null: reload mode) */
  readonly weights: string | null;
  /** dynamic mode: the njs module is one of the config files (swapped and restored with them) */
  readonly js: boolean;
  /** set once the live files were touched: only then does a failure need a restore */
  swapped: boolean;
}

/** What a restore puts back: the config files (and the njs module), the weights file, or both. */
export type RestoreScope = Pick<Prepared, 'kind' | 'weights' | 'js'>;

/** Taken *before* a reload: what "the reload took effect" is measured against. */
export interface Generation {
  readonly master: number;
  readonly oldWorkers: ReadonlySet<number>;
  readonly logOffset: number;
}

export interface Committed {
  readonly prepared: Prepared;
  readonly gen: Generation;
}

/** One NGINX, phase by phase (StagedNginx is one). `stages`: where a lone target records its own stages. */
export interface PhasedTarget {
  readonly name: string;
  prepare(cfg: RenderedConfig, stages?: Stages): Promise<Prepared>;
  commit(p: Prepared, stages?: Stages): Promise<Committed>;
  confirm(c: Committed, stages?: Stages): Promise<void>;
  restore(previous: number | null, scope?: RestoreScope): Promise<void>;
  /** what an operator looks at when a restore failed (its error log, its config) */
  readonly restoreHint?: string;
}

/** What a fleet needs of each of its targets besides the phases (StagedNginx is one). */
export interface FleetMember extends PhasedTarget {
  readonly accessLog: string;
  test(cfg: RenderedConfig): Promise<string>;
  start(cfg: RenderedConfig): Promise<void>;
  stop(): Promise<void>;
  isRunning(): Promise<boolean>;
  live(): Promise<LiveNginx | null>;
  targets(): Promise<readonly NginxTargetStatus[]>;
  njs(): Promise<Readonly<Record<string, NjsSupport>>>;
}

/** A restore after `start`/`apply` of `cfg` whose path is unknown (the reload path covers both). */
export const restoreScopeOf = (cfg: RenderedConfig): RestoreScope => ({
  kind: 'reload',
  weights: cfg.weightsFile ?? null,
  js: cfg.js !== undefined,
});

/**
 * Applies cfg to every target, all or nothing. A lone target's report has its fine stages (compare,
 * test, backup, swap, weights, reload, confirm); a fleet's has one per phase (test, reload, confirm).
 */
export async function applyInPhases(targets: readonly PhasedTarget[], cfg: RenderedConfig, logger?: Logger): Promise<ApplyReport> {
  if (targets.length === 0) throw new Error('no NGINX target to apply to');
  const t0 = performance.now();
  const stages: Stages = {};
  const lone = targets.length === 1 ? stages : undefined;
  const phase = <T>(name: string, fn: () => Promise<T>): Promise<T> => (lone ? fn() : timed(stages, name, fn));
  // a refusal here changed nothing live on any target (candidates only)
  const prepared = await phase('test', () => every(targets, (t) => t.prepare(cfg, lone))).catch(rethrowNamed);
  try {
    const commits = await phase('reload', () => every(targets, (t, i) => t.commit(at(prepared, i), lone)));
    await phase('confirm', () => every(targets, (t, i) => t.confirm(at(commits, i), lone)));
  } catch (error) {
    return restoreAll(targets, cfg.revision, prepared, error, stages, logger);
  }
  const report = {
    revision: cfg.revision,
    ms: Math.round(performance.now() - t0),
    stages,
    reloaded: prepared.some((p) => p.kind === 'reload'),
  };
  // one message for both paths and every size (scripts and the benchmarks read it); `reloaded` and the stages tell them apart
  logger?.info('nginx serves the new config', { ...who(targets), ...report });
  return report;
}

/** A failure during commit/confirm: every touched target back to its previous revision, then the report. */
async function restoreAll(
  targets: readonly PhasedTarget[],
  revision: number,
  prepared: readonly Prepared[],
  error: unknown,
  stages: Stages,
  logger?: Logger,
): Promise<never> {
  const failure = error instanceof TargetFailure ? error : new TargetFailure(targets, 0, error);
  if (!prepared.some((p) => p.swapped)) rethrowNamed(error); // nothing live was touched: nothing to restore
  const { target, reason } = failure;
  const stage = stageOf(reason, 'swap');
  const lone = targets.length === 1;
  logger?.warn('nginx apply failed, restoring the previous config', { revision, target, stage, error: msg(reason) });
  const t = performance.now();
  const restores = await Promise.allSettled(
    targets.map((m, i) => {
      const p = at(prepared, i);
      return p.swapped ? m.restore(p.previous, p) : Promise.resolve();
    }),
  );
  stages.restore = Math.round(performance.now() - t);
  const failed = (lone ? '' : ` on target ${target}`) + ` at ${stage} (${msg(reason)})`;
  const lost = restores.flatMap((r, i) => (r.status === 'rejected' ? [{ t: at(targets, i), why: msg(r.reason) }] : []));
  if (lost.length > 0) {
    const what = lone
      ? `restoring the previous config failed: ${lost.map((l) => l.why).join('; ')}`
      : `restoring failed on ${lost.map((l) => `${l.t.name}: ${l.why}`).join('; ')}`;
    const hints = lost.map((l) => l.t.restoreHint).filter((h) => h !== undefined);
    throw new UnknownStateError(`revision ${revision} failed${failed} and ${what}`, {
      cause: error,
      details: { stage, stages, target },
      ...(hints.length > 0 ? { hint: hints.join('; ') } : {}),
    });
  }
  const previous = [...new Set(prepared.map((p) => p.previous))];
  const restoredRevision = previous.length === 1 ? (previous[0] ?? null) : null;
  const to = restoredRevision === null ? 'the previous config' : `revision ${restoredRevision}`;
  throw new ApplyError(
    `revision ${revision} was not applied: ${lone ? 'nginx' : `target ${target}`} failed at ${stage} (${msg(reason)}); ${lone ? 'nginx' : 'every target'} restored to ${to} and confirmed`,
    stage,
    { cause: reason, details: { stages, target, restoredRevision } },
  );
}

const who = (targets: readonly PhasedTarget[]): Record<string, unknown> =>
  targets.length === 1 ? { target: targets[0]?.name } : { targets: targets.length };

/**
 * Runs fn on every target in parallel and waits for all; the first failure (in target order) is
 * thrown as a TargetFailure. A lone target's failure is its own error, unwrapped.
 */
export async function every<T, M extends { readonly name: string }>(
  targets: readonly M[],
  fn: (t: M, i: number) => Promise<T>,
): Promise<T[]> {
  const results = await Promise.allSettled(targets.map((t, i) => fn(t, i)));
  const failed = results.findIndex((r) => r.status === 'rejected');
  if (failed >= 0) {
    const reason = (results[failed] as PromiseRejectedResult).reason as unknown;
    throw targets.length === 1 ? reason : new TargetFailure(targets, failed, reason);
  }
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}

/** Which target failed, and how: what leaves is the target's own error (its class keeps its exit code and stage), named. */
export class TargetFailure extends Error {
  readonly target: string;
  constructor(
    targets: readonly { readonly name: string }[],
    index: number,
    readonly reason: unknown,
  ) {
    const target = targets[index]?.name ?? `#${index}`;
    super(`target ${target}: ${msg(reason)}`);
    this.target = target;
  }

  /** The target's own error, its message prefixed with the target's name. */
  named(): Error {
    if (!(this.reason instanceof Error)) return new Error(this.message);
    this.reason.message = this.message;
    return this.reason;
  }
}

/** The target's own error for a TargetFailure (see `every`); anything else as it is. */
export function rethrowNamed(e: unknown): never {
  throw e instanceof TargetFailure ? e.named() : e;
}

export function at<T>(list: readonly T[], i: number): T {
  const v = list[i];
  if (v === undefined) throw new Error(`no entry ${i}`);
  return v;
}

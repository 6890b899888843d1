import type { ApplyReport, LiveNginx, Logger, NginxDriver, NginxTargetStatus, NjsSupport, RenderedConfig } from '../../app/ports.js';
import { ApplyError, UnknownStateError } from '../../core/errors.js';
import { sameWeights } from '../../core/weights.js';
import { msg, restoreScopeOf, stageOf, timed, type Committed, type FleetMember, type Prepared } from './sequence.js';

/**
 * Several NGINX instances (local or docker, any mix) that every change is applied to as one:
 *
 *   1. candidate + `nginx -t` on every target; one refusal and nothing live changed anywhere;
 *   2. only then swap + reload every target;
 *   3. confirm every target serves the new revision;
 *   on any failure in 2 or 3: restore every target that was touched to its previous files and revision.
 *
 * Targets run each phase in parallel, so a step costs about as long as the slowest target, not the sum.
 * Between phase 2 and a restore, a target that already reloaded serves the new step for that long.
 * dynamic mode: a target that already runs the step's structure only gets the new weights file in phase 2
 * (no nginx -t in 1, no reload), and a restore puts its previous weights file back.
 */
export class FleetDriver implements NginxDriver {
  readonly kind = 'fleet' as const;
  readonly accessLog: string;

  constructor(
    readonly members: readonly FleetMember[],
    private readonly logger?: Logger,
  ) {
    const first = members[0];
    if (first === undefined) throw new Error('a fleet needs at least one target');
    this.accessLog = first.accessLog;
  }

  async test(cfg: RenderedConfig): Promise<string> {
    const outputs = await this.every((m) => m.test(cfg)).catch(rethrowNamed);
    return outputs.map((o, i) => `${this.nameOf(i)}: ${o}`).join('\n');
  }

  async apply(cfg: RenderedConfig): Promise<ApplyReport> {
    const t0 = performance.now();
    const stages: Record<string, number> = {};
    const phase = <T>(name: string, fn: () => Promise<T>): Promise<T> => timed(stages, name, fn);
    // a refusal here changed nothing live on any target (candidates only)
    const prepared = await phase('test', () => this.every((m) => m.prepare(cfg))).catch(rethrowNamed);
    try {
      const commits: Committed[] = await phase('reload', () => this.every((m, i) => m.commit(at(prepared, i))));
      await phase('confirm', () => this.every((m, i) => m.confirm(at(commits, i))));
    } catch (error) {
      return this.restoreAll(cfg.revision, prepared, error, stages);
    }
    const reloaded = prepared.some((p) => p.kind === 'reload');
    const report = { revision: cfg.revision, ms: Math.round(performance.now() - t0), stages, reloaded };
    this.logger?.info('every target serves the new config', { targets: this.members.length, ...report });
    return report;
  }

  /** Tested on every target first; then each one running is applied to and each one stopped is started. */
  async start(cfg: RenderedConfig): Promise<void> {
    const before = await Promise.all(this.members.map(async (m) => ({ running: await m.isRunning(), live: await m.live() })));
    await this.every((m) => m.test(cfg)).catch(rethrowNamed);
    const results = await Promise.allSettled(this.members.map((m) => m.start(cfg)));
    const failed = results.findIndex((r) => r.status === 'rejected');
    if (failed < 0) return;
    // undo the targets that made it: a restarted fleet is all on the new revision or all as before
    const undo = await Promise.allSettled(
      this.members.map((m, i) => {
        if (results[i]?.status !== 'fulfilled') return Promise.resolve();
        const was = at(before, i);
        return was.running ? m.restore(was.live?.revision ?? null, restoreScopeOf(cfg)) : m.stop();
      }),
    );
    const cause = (results[failed] as PromiseRejectedResult).reason as unknown;
    const lost = undo.findIndex((u) => u.status === 'rejected');
    if (lost >= 0) {
      throw new UnknownStateError(
        `target ${this.nameOf(failed)} did not start (${msg(cause)}) and undoing target ${this.nameOf(lost)} failed: ${msg((undo[lost] as PromiseRejectedResult).reason)}`,
        { cause },
      );
    }
    throw new ApplyError(`target ${this.nameOf(failed)}: ${msg(cause)}; every other target is back as it was`, stageOf(cause, 'confirm'), {
      cause,
    });
  }

  async stop(): Promise<void> {
    await this.every((m) => m.stop()).catch(rethrowNamed);
  }

  async isRunning(): Promise<boolean> {
    return (await Promise.all(this.members.map((m) => m.isRunning()))).some(Boolean);
  }

  /** The fleet answers as one or not at all: null unless every target serves the same revision and weights. */
  async live(): Promise<LiveNginx | null> {
    const all = await Promise.all(this.members.map((m) => m.live()));
    const [first] = all;
    if (!first) return null;
    const same = (l: LiveNginx | null): boolean =>
      l !== null &&
      l.revision === first.revision &&
      sameWeights(l.weights, first.weights) &&
      l.stable === first.stable &&
      l.strategy === first.strategy;
    if (all.every(same)) return first;
    const each = all.map(
      (l, i) => `${this.nameOf(i)}: ${l ? `revision ${l.revision} (blue ${l.weights.blue}% / green ${l.weights.green}%)` : 'no answer'}`,
    );
    this.logger?.warn('the fleet does not serve one config', { targets: each.join('; ') });
    return null;
  }

  async targets(): Promise<readonly NginxTargetStatus[]> {
    return (await Promise.all(this.members.map((m) => m.targets()))).flat();
  }

  async njs(): Promise<Readonly<Record<string, NjsSupport>>> {
    return Object.assign({}, ...(await Promise.all(this.members.map((m) => m.njs())))) as Record<string, NjsSupport>;
  }

  /** A failure during commit/confirm: every touched target back to its previous revision, then report. */
  private async restoreAll(
    revision: number,
    prepared: readonly Prepared[],
    cause: unknown,
    stages: Record<string, number>,
  ): Promise<never> {
    const who = cause instanceof TargetFailure ? cause.target : 'fleet';
    const reason = cause instanceof TargetFailure ? cause.error : cause;
    const stage = stageOf(reason, 'reload');
    this.logger?.warn('a target failed, restoring every target', { revision, target: who, stage, error: msg(reason) });
    const t = performance.now();
    const restores = await Promise.allSettled(
      this.members.map((m, i) => {
        const p = at(prepared, i);
        return p.swapped ? m.restore(p.previous, p) : Promise.resolve();
      }),
    );
    stages.restore = Math.round(performance.now() - t);
    const lost = restores.map((r, i) => (r.status === 'rejected' ? `${this.nameOf(i)}: ${msg(r.reason)}` : null)).filter((x) => x !== null);
    if (lost.length > 0) {
      throw new UnknownStateError(
        `revision ${revision} failed on target ${who} at ${stage} (${msg(reason)}) and restoring failed on ${lost.join('; ')}`,
        { cause, details: { stage, stages, target: who } },
      );
    }
    const previous = [...new Set(prepared.map((p) => p.previous))];
    const restored = previous.length === 1 && previous[0] !== null ? `revision ${previous[0]}` : 'their previous configs';
    throw new ApplyError(
      `revision ${revision} was not applied: target ${who} failed at ${stage} (${msg(reason)}); every target restored to ${restored} and confirmed`,
      stage,
      { cause: reason, details: { stages, target: who, restoredRevision: previous.length === 1 ? previous[0] : null } },
    );
  }

  /** Runs fn on every target in parallel and waits for all; the first failure (in target order) is thrown, named. */
  private async every<T>(fn: (m: FleetMember, i: number) => Promise<T>): Promise<T[]> {
    const results = await Promise.allSettled(this.members.map((m, i) => fn(m, i)));
    const failed = results.findIndex((r) => r.status === 'rejected');
    if (failed >= 0) throw new TargetFailure(this.nameOf(failed), (results[failed] as PromiseRejectedResult).reason);
    return results.map((r) => (r as PromiseFulfilledResult<T>).value);
  }

  private nameOf(i: number): string {
    return this.members[i]?.name ?? `#${i}`;
  }
}

/** Which target failed, and how (internal: what leaves the fleet is the target's own error, named). */
class TargetFailure extends Error {
  constructor(
    readonly target: string,
    readonly error: unknown,
  ) {
    super(`target ${target}: ${msg(error)}`);
  }
}

/** The target's own error (its class keeps its exit code and stage), its message prefixed with the target. */
function rethrowNamed(e: unknown): never {
  if (!(e instanceof TargetFailure)) throw e;
  if (e.error instanceof Error) {
    e.error.message = `target ${e.target}: ${e.error.message}`;
    throw e.error;
  }
  throw new Error(e.message);
}

function at<T>(list: readonly T[], i: number): T {
  const v = list[i];
  if (v === undefined) throw new Error(`fleet: no entry ${i}`);
  return v;
}

import type { ApplyReport, LiveNginx, Logger, NginxDriver, NginxTargetStatus, NjsSupport, RenderedConfig } from '../../app/ports.js';
import { ApplyError, UnknownStateError } from '../../core/errors.js';
import { sameWeights } from '../../core/weights.js';
import { applyInPhases, at, every, restoreScopeOf, rethrowNamed, type FleetMember } from './phases.js';
import { msg, stageOf } from './steps.js';

/**
 * Several NGINX instances (local or docker, any mix) that every change is applied to as one, through
 * the phases of phases.ts (the very sequence a single instance takes): tested on every target before
 * any is touched, all on the new revision or all restored. Start, stop and the live answer as one too.
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
    const outputs = await this.every((m) => m.test(cfg));
    return outputs.map((o, i) => `${this.nameOf(i)}: ${o}`).join('\n');
  }

  /** The phases of phases.ts on every target: all of them serve the new revision, or all are restored. */
  apply(cfg: RenderedConfig): Promise<ApplyReport> {
    return applyInPhases(this.members, cfg, this.logger);
  }

  /** Tested on every target first; then each one running is applied to and each one stopped is started. */
  async start(cfg: RenderedConfig): Promise<void> {
    const before = await Promise.all(this.members.map(async (m) => ({ running: await m.isRunning(), live: await m.live() })));
    await this.every((m) => m.test(cfg));
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
    await this.every((m) => m.stop());
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

  /** Runs fn on every target in parallel and waits for all; the first failure (in target order) is thrown, named. */
  private every<T>(fn: (m: FleetMember, i: number) => Promise<T>): Promise<T[]> {
    return every(this.members, fn).catch(rethrowNamed);
  }

  private nameOf(i: number): string {
    return this.members[i]?.name ?? `#${i}`;
  }
}

import { setTimeout as sleep } from 'node:timers/promises';
import type { ApplyReport, LiveNginx, Logger, NginxDriver, NginxFiles, NginxTargetStatus, RenderedConfig } from '../../app/ports.js';
import { isColor } from '../../core/color.js';
import { ApplyError, UnknownStateError } from '../../core/errors.js';
import type { NginxLayout } from './files.js';
import { backupLive, fileSize, promoteCandidate, readSince, restorePrevious, writeCandidate } from './files.js';
import type { WorkerInfo } from './workers.js';

/**
 * The one safe way to change what an NGINX serves (STYLE rule 3), shared by the local and the docker
 * driver and split into phases so a fleet can run each phase on every instance before the next:
 *
 *   prepare: write the candidate tree, `nginx -t` it               (nothing live changes)
 *   commit:  keep the live files as `.prev`, rename the candidate over them, reload
 *   confirm: every old worker gone or shutting down, and fresh connections answer the new revision
 *   restore: put the `.prev` files back, reload, confirm the previous revision
 *
 * What differs between a master on this machine and one in a container (how nginx is run, how its
 * processes are seen, how its status location is asked) is an NginxRuntime.
 */

/** The master and its worker processes (titles tell whether a worker is shutting down). */
export interface NginxProcesses {
  readonly master: number;
  readonly workers: readonly WorkerInfo[];
}

export interface NginxRuntime {
  readonly kind: 'local' | 'docker';
  /** the files bgctl owns, as paths on this machine */
  readonly layout: NginxLayout;
  /** where it lives, for status and messages: the prefix folder or `container NAME` */
  readonly where: string;
  /** `nginx -t` of the candidate tree (already written); never touches the live files */
  testCandidate(): Promise<{ ok: boolean; output: string }>;
  /** null: no master runs */
  processes(): Promise<NginxProcesses | null>;
  /** Sends the reload signal; throws ApplyError('reload') when it could not be sent. Proves nothing else. */
  reload(): Promise<void>;
  /** Starts NGINX on the live files; resolves once its master runs (throws ApplyError). */
  boot(): Promise<NginxProcesses>;
  /** Undoes a boot whose config was not confirmed. */
  abortBoot(): Promise<void>;
  /** Stops NGINX, gracefully first. */
  halt(): Promise<void>;
  /** GET /__bgctl/status on a brand-new connection; null: no (valid) answer. */
  live(): Promise<LiveNginx | null>;
  /** why it did not answer last time, when the runtime knows (docker's own error) */
  problem(): string | null;
}

/** Taken *before* a reload: what "the reload took effect" is measured against. */
export interface Generation {
  readonly master: number;
  readonly oldWorkers: ReadonlySet<number>;
  readonly logOffset: number;
}

/** One step of one instance between the phases. */
export interface Prepared {
  readonly revision: number;
  /** the revision served before, restored on failure (null: unknown) */
  readonly previous: number | null;
  readonly master: number;
  /** set once the live files were touched: only then does a failure need a restore */
  swapped: boolean;
}

export interface Committed {
  readonly prepared: Prepared;
  readonly gen: Generation;
}

/** What a fleet needs of each of its targets: the driver, phase by phase (StagedNginx is one). */
export interface FleetMember {
  readonly name: string;
  readonly accessLog: string;
  test(cfg: RenderedConfig): Promise<string>;
  prepare(cfg: RenderedConfig): Promise<Prepared>;
  commit(p: Prepared): Promise<Committed>;
  confirm(c: Committed): Promise<void>;
  restore(previous: number | null): Promise<void>;
  start(cfg: RenderedConfig): Promise<void>;
  stop(): Promise<void>;
  isRunning(): Promise<boolean>;
  live(): Promise<LiveNginx | null>;
  targets(): Promise<readonly NginxTargetStatus[]>;
}

export interface StagedOptions {
  /** the target's name (fleets); `nginx` for a single instance */
  readonly name: string;
  readonly confirmTimeoutMs?: number;
  readonly logger?: Logger;
}

export type Stage = ApplyError['stage'];
type Stages = Record<string, number>;
const FRESH_ANSWERS = 3; // consecutive fresh connections that must carry the expected revision
const POLL_MS = 20;
/** After a failed bind nginx retries for ~2.5 s before it handles the restore reload: never wait less. */
const RESTORE_MIN_MS = 6000;

export class StagedNginx implements NginxDriver, FleetMember {
  readonly kind: 'local' | 'docker';
  readonly name: string;
  readonly accessLog: string;
  protected readonly confirmMs: number;
  protected readonly logger: Logger | undefined;

  constructor(
    protected readonly runtime: NginxRuntime,
    opts: StagedOptions,
  ) {
    this.kind = runtime.kind;
    this.name = opts.name;
    this.accessLog = runtime.layout.accessLog;
    this.confirmMs = opts.confirmTimeoutMs ?? 10_000;
    this.logger = opts.logger;
  }

  /** This instance's files: its own variant in a fleet whose targets listen differently. */
  filesOf(cfg: RenderedConfig): NginxFiles {
    return cfg.byTarget?.[this.name] ?? cfg;
  }

  async test(cfg: RenderedConfig): Promise<string> {
    const files = this.filesOf(cfg);
    const pid = /^\s*pid\s+(\S+?)\s*;/m.exec(files.main)?.[1];
    if (pid !== 'logs/nginx.pid' && pid !== this.runtime.layout.pidFile) {
      // else nginx uses the compiled-in /run/nginx.pid: we would lose (or clash with) the master
      throw new ApplyError('nginx.conf must contain "pid logs/nginx.pid;"', 'test');
    }
    await writeCandidate(this.runtime.layout, files.main, files.site);
    const r = await this.runtime.testCandidate();
    if (!r.ok) {
      const why = r.output
        .split('\n')
        .filter((l) => l && !l.includes('test failed'))
        .join('; ');
      throw new ApplyError(`nginx -t rejected revision ${cfg.revision}: ${why || 'no reason given'}`, 'test');
    }
    return r.output.trim();
  }

  /** Phase 1: candidate + `nginx -t`; also checks NGINX runs and notes what it serves now. */
  async prepare(cfg: RenderedConfig, stages: Stages = {}): Promise<Prepared> {
    await timed(stages, 'test', () => this.test(cfg));
    const procs = await this.runtime.processes();
    if (procs === null) throw new ApplyError('nginx is not running', 'reload', { hint: 'start it with `bgctl start`' });
    const previous = (await this.live())?.revision ?? null;
    return { revision: cfg.revision, previous, master: procs.master, swapped: false };
  }

  /** Phase 2: `.prev` backup, atomic swap, reload. A failure before the swap changed nothing live. */
  async commit(p: Prepared, stages: Stages = {}): Promise<Committed> {
    await timed(stages, 'backup', () =>
      backupLive(this.runtime.layout).catch((e: unknown) => {
        throw new ApplyError(`could not back up the live config: ${msg(e)}`, 'swap', { cause: e });
      }),
    );
    p.swapped = true;
    await timed(stages, 'swap', () => asStage('swap', () => promoteCandidate(this.runtime.layout)));
    const gen = await asStage('reload', () => this.generation(p.master));
    await timed(stages, 'reload', () => this.runtime.reload());
    return { prepared: p, gen };
  }

  /** Phase 3: the new revision is what fresh connections get. */
  async confirm(c: Committed, stages: Stages = {}): Promise<void> {
    await timed(stages, 'confirm', () => this.confirmRevision(c.prepared.revision, c.gen, true));
  }

  /** Puts the `.prev` files back, reloads and confirms the previous revision; throws what went wrong. */
  async restore(previous: number | null): Promise<void> {
    await restorePrevious(this.runtime.layout);
    const procs = await this.runtime.processes();
    if (procs === null) throw new Error('the nginx master is gone');
    const gen = await this.generation(procs.master);
    await this.runtime.reload();
    // no [emerg] fail-fast here: the failed reload may still be logging its bind() retries (~2.5 s)
    await this.confirmRevision(previous, gen, false, Math.max(this.confirmMs, RESTORE_MIN_MS));
  }

  async apply(cfg: RenderedConfig): Promise<ApplyReport> {
    const t0 = performance.now();
    const stages: Stages = {};
    const p = await this.prepare(cfg, stages);
    try {
      await this.confirm(await this.commit(p, stages), stages);
    } catch (error) {
      if (!p.swapped) throw error;
      return this.rollback(p, stageOf(error, 'swap'), error, stages);
    }
    const report = { revision: cfg.revision, ms: Math.round(performance.now() - t0), stages };
    this.logger?.info('nginx serves the new config', { target: this.name, ...report });
    return report;
  }

  async start(cfg: RenderedConfig): Promise<void> {
    if (await this.isRunning()) {
      await this.apply(cfg);
      return;
    }
    await this.test(cfg);
    await backupLive(this.runtime.layout).catch((e: unknown) => {
      throw new ApplyError(`could not back up the live config: ${msg(e)}`, 'swap', { cause: e });
    });
    const logOffset = await fileSize(this.runtime.layout.errorLog);
    try {
      await promoteCandidate(this.runtime.layout);
      const procs = await this.runtime.boot();
      await this.confirmRevision(cfg.revision, { master: procs.master, oldWorkers: new Set(), logOffset }, true);
    } catch (error) {
      await this.runtime.abortBoot().catch(() => undefined); // never leave a half-started NGINX behind
      await restorePrevious(this.runtime.layout).catch(() => undefined);
      throw error instanceof ApplyError ? error : new ApplyError(`nginx did not start: ${msg(error)}`, 'confirm', { cause: error });
    }
    this.logger?.info('nginx started', { target: this.name, revision: cfg.revision, where: this.runtime.where });
  }

  stop(): Promise<void> {
    return this.runtime.halt();
  }

  async isRunning(): Promise<boolean> {
    return (await this.runtime.processes()) !== null;
  }

  live(): Promise<LiveNginx | null> {
    return this.runtime.live();
  }

  async targets(): Promise<readonly NginxTargetStatus[]> {
    const [running, live] = await Promise.all([this.isRunning(), this.live()]);
    const problem = live === null ? this.runtime.problem() : null;
    return [{ name: this.name, kind: this.kind, where: this.runtime.where, running, live, problem }];
  }

  /** Restore after a failed commit/confirm, then report the original failure (ApplyError) or a lost one (exit 4). */
  private async rollback(p: Prepared, stage: Stage, cause: unknown, stages: Stages): Promise<never> {
    this.logger?.warn('nginx apply failed, restoring the previous config', {
      target: this.name,
      revision: p.revision,
      stage,
      error: msg(cause),
    });
    const t = performance.now();
    try {
      await this.restore(p.previous);
    } catch (error) {
      throw new UnknownStateError(
        `revision ${p.revision} failed at ${stage} (${msg(cause)}) and restoring the previous config failed: ${msg(error)}`,
        {
          cause: error,
          details: { stage, stages },
          hint: `inspect ${this.runtime.layout.errorLog} and run nginx -t on ${this.runtime.layout.main}`,
        },
      );
    }
    stages.restore = Math.round(performance.now() - t);
    const restored = p.previous === null ? 'previous config restored' : `revision ${p.previous} restored and confirmed`;
    throw new ApplyError(`revision ${p.revision} was not applied (${stage}: ${msg(cause)}); ${restored}`, stage, {
      cause,
      details: { stages, restoredRevision: p.previous },
    });
  }

  /**
   * STYLE rule 3. Applied = every old-generation worker exited or retitled "is shutting down" (it closed
   * the listen socket) AND FRESH_ANSWERS fresh connections in a row answer `revision` (null: any answer).
   * An [emerg] logged since the reload means nginx kept the old config (e.g. a taken port): fail fast.
   */
  private async confirmRevision(revision: number | null, gen: Generation, failOnEmerg: boolean, timeoutMs = this.confirmMs): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    let streak = 0;
    let why = 'old workers still accept connections';
    while (performance.now() < deadline) {
      if (failOnEmerg) {
        const emerg = (await readSince(this.runtime.layout.errorLog, gen.logOffset)).find((l) => l.includes('[emerg]'));
        if (emerg !== undefined) throw new ApplyError(`nginx rejected the config: ${emerg}`, 'reload');
      }
      const procs = await this.runtime.processes();
      if (procs === null || procs.master !== gen.master) throw new ApplyError('the nginx master exited', 'confirm');
      const active = procs.workers.filter((w) => !w.shuttingDown);
      if (active.length > 0 && active.every((w) => !gen.oldWorkers.has(w.pid))) {
        const live = await this.live();
        if (live !== null && (revision === null || live.revision === revision)) {
          if (++streak >= FRESH_ANSWERS) return;
          continue;
        }
        why = live === null ? 'the status location does not answer' : `still serving revision ${live.revision}`;
      }
      streak = 0;
      await sleep(POLL_MS);
    }
    throw new ApplyError(`revision ${revision ?? '(previous)'} not confirmed within ${timeoutMs} ms: ${why}`, 'confirm');
  }

  private async generation(master: number): Promise<Generation> {
    const procs = await this.runtime.processes();
    if (procs === null || procs.master !== master) throw new ApplyError('the nginx master exited', 'reload');
    const active = procs.workers.filter((w) => !w.shuttingDown);
    return { master, oldWorkers: new Set(active.map((w) => w.pid)), logOffset: await fileSize(this.runtime.layout.errorLog) };
  }
}

/** The status JSON (`/__bgctl/status`) as LiveNginx, or null when it is not one. */
export function parseStatus(text: string): LiveNginx | null {
  try {
    const { revision, blue, green, strategy, stable } = JSON.parse(text) as Record<string, unknown>;
    if (typeof revision !== 'number' || !Number.isInteger(revision) || typeof blue !== 'number' || typeof green !== 'number') return null;
    if (typeof strategy !== 'string' || !isColor(stable)) return null;
    return { revision, weights: { blue, green }, strategy, stable };
  } catch {
    return null;
  }
}

async function timed<T>(stages: Stages, name: string, fn: () => Promise<T>): Promise<T> {
  const t = performance.now();
  try {
    return await fn();
  } finally {
    stages[name] = Math.round(performance.now() - t);
  }
}

/** Any failure of fn becomes an ApplyError of `stage` (an ApplyError keeps its own). */
async function asStage<T>(stage: Stage, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw error instanceof ApplyError ? error : new ApplyError(msg(error), stage, { cause: error });
  }
}

export const stageOf = (error: unknown, fallback: Stage): Stage => (error instanceof ApplyError ? error.stage : fallback);

export const msg = (e: unknown): string => (e instanceof Error ? e.message : String(e));

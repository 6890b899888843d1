import type {
  ApplyReport,
  LiveNginx,
  Logger,
  NginxDriver,
  NginxFiles,
  NginxTargetStatus,
  NjsSupport,
  RenderedConfig,
} from '../../app/ports.js';
import { ApplyError } from '../../core/errors.js';
import { configIdOf } from '../../render/dynamic.js';
import type { NginxLayout } from './files.js';
import { confirmRevision } from './confirm.js';
import type { NginxFileStore, NginxRuntime } from './runtime.js';
import {
  applyInPhases,
  restoreScopeOf,
  type Committed,
  type FleetMember,
  type Generation,
  type Prepared,
  type RestoreScope,
} from './phases.js';
import { asStage, msg, orphansError, testRefused, timed, withOwnPid, type NginxProcesses, type Stages } from './steps.js';

/**
 * One NGINX, phase by phase (the phases and their restore are phases.ts's, a fleet's too): never an
 * untested config, never a reload trusted on its exit code.
 *
 *   prepare: write the candidate tree, `nginx -t` it               (nothing live changes)
 *   commit:  keep the live files as `.prev`, rename the candidate over them, reload
 *   confirm: every old worker gone or shutting down, and fresh connections answer the new revision
 *   restore: put the `.prev` files back, reload, confirm the previous revision
 *
 * dynamic mode, when NGINX already runs the step's structure (the id it answers, and the live files
 * match): prepare only checks that, commit writes the weights file (the old one kept as `.prev`),
 * confirm waits for fresh connections to answer the new revision, restore puts the old file back.
 * What differs from one NGINX to the next (local, container, system service) is its NginxRuntime.
 */

/** A reload-mode apply's restore: the `.prev` config files, reload, confirm. */
const RELOAD_RESTORE: RestoreScope = { kind: 'reload', weights: null, js: false };

export interface StagedOptions {
  /** the target's name (fleets); `nginx` for a single instance */
  readonly name: string;
  readonly confirmTimeoutMs?: number;
  readonly logger?: Logger;
}

/** After a failed bind nginx retries for ~2.5 s before it handles the restore reload: never wait less. */
const RESTORE_MIN_MS = 6000;

export class StagedNginx implements NginxDriver, FleetMember {
  readonly kind: 'local' | 'docker' | 'system';
  readonly name: string;
  readonly accessLog: string;
  /** the files bgctl owns for this instance (the runtime's) */
  readonly layout: NginxLayout;
  protected readonly files: NginxFileStore;
  protected readonly confirmMs: number;
  protected readonly logger: Logger | undefined;

  constructor(
    protected readonly runtime: NginxRuntime,
    opts: StagedOptions,
  ) {
    this.kind = runtime.kind;
    this.name = opts.name;
    this.layout = runtime.layout;
    this.files = runtime.files;
    this.accessLog = runtime.layout.accessLog;
    this.confirmMs = opts.confirmTimeoutMs ?? 10_000;
    this.logger = opts.logger;
  }

  /** What to look at when a restore failed too. */
  get restoreHint(): string {
    const log = this.layout.errorLog ?? "NGINX's error log";
    const inside = this.kind === 'docker' ? ` in ${this.runtime.where}` : '';
    return `inspect ${log} and run nginx -t on ${this.layout.main}${inside}`;
  }

  /** This instance's files: its own variant in a fleet whose targets listen differently. */
  filesOf(cfg: RenderedConfig): NginxFiles {
    return cfg.byTarget?.[this.name] ?? cfg;
  }

  /**
   * `nginx -t` of cfg in a private folder of its own (`.validate-XXXXXX` in nginx.dir, removed after):
   * never the candidate tree a migration is using, so `validate` needs no lock. A link or special file
   * where bgctl writes is refused here too (exit 6, naming it).
   */
  async test(cfg: RenderedConfig): Promise<string> {
    const files = this.checkedFiles(cfg);
    await this.files.check();
    return this.files.withScratchTree(files, (sub) => this.runTest(cfg, sub));
  }

  /** The candidate tree written and `nginx -t`-ed: what prepare and start swap in. */
  private async testCandidate(cfg: RenderedConfig): Promise<string> {
    const files = this.checkedFiles(cfg);
    await this.files.writeCandidate(files);
    return this.runTest(cfg, 'candidate');
  }

  private checkedFiles(cfg: RenderedConfig): NginxFiles {
    return withOwnPid(this.filesOf(cfg), this.layout.pidFile);
  }

  private async runTest(cfg: RenderedConfig, sub: string): Promise<string> {
    const r = await this.runtime.testCandidate(sub);
    if (!r.ok) throw testRefused(cfg.revision, r.output);
    return r.output.trim();
  }

  /**
   * Phase 1: candidate + `nginx -t`; also checks NGINX runs and notes what it serves now. dynamic mode
   * with the structure already running: nothing to test, only the weights file will change.
   */
  async prepare(cfg: RenderedConfig, stages: Stages = {}): Promise<Prepared> {
    const files = this.filesOf(cfg);
    await this.files.check(); // a link where bgctl writes: refused (exit 6) before anything changes
    const scope = { weights: cfg.weightsFile ?? null, js: files.js !== undefined };
    const running = scope.weights === null ? null : await timed(stages, 'compare', () => this.runningStructure(files));
    if (running !== null) return { revision: cfg.revision, ...running, kind: 'weights', ...scope, swapped: false };
    await timed(stages, 'test', () => this.testCandidate(cfg));
    const procs = await this.runtime.processes();
    if (procs === null) throw new ApplyError('nginx is not running', 'reload', { hint: 'start it with `bgctl start`' });
    const previous = (await this.live())?.revision ?? null;
    return { revision: cfg.revision, previous, master: procs.master, kind: 'reload', ...scope, swapped: false };
  }

  /**
   * Phase 2: `.prev` backup, atomic swap, reload. A failure before the swap changed nothing live.
   * Weights only: the backup (so `.prev` is always the config before the last apply), then the weights file.
   */
  async commit(p: Prepared, stages: Stages = {}): Promise<Committed> {
    await timed(stages, 'backup', () => this.backup(p.js));
    p.swapped = true;
    if (p.kind === 'reload') await timed(stages, 'swap', () => asStage('swap', () => this.files.promote(p.js)));
    // before the reload: the new workers' first request already reads this step's weights
    const weights = p.weights;
    if (weights !== null) await timed(stages, 'weights', () => asStage('swap', () => this.files.writeWeights(weights)));
    if (p.kind === 'weights') return { prepared: p, gen: { master: p.master, oldWorkers: new Set(), logOffset: 0 } };
    const gen = await asStage('reload', () => this.generation(p.master));
    await timed(stages, 'reload', () => this.runtime.reload());
    return { prepared: p, gen };
  }

  /** Phase 3: the new revision is what fresh connections get (weights only: no reload, so no old workers). */
  async confirm(c: Committed, stages: Stages = {}): Promise<void> {
    await timed(stages, 'confirm', () =>
      confirmRevision(this.runtime, c.prepared.revision, c.gen, c.prepared.kind === 'reload', this.confirmMs),
    );
  }

  /**
   * Puts the `.prev` files back, reloads and confirms the previous revision; throws what went wrong.
   * Weights only: puts the previous weights file back and confirms, without a reload.
   */
  async restore(previous: number | null, scope: RestoreScope = RELOAD_RESTORE): Promise<void> {
    if (scope.weights !== null) await this.files.restoreWeights();
    if (scope.kind === 'reload') await this.files.restore(scope.js);
    const procs = await this.runtime.processes();
    if (procs === null) throw new Error('the nginx master is gone');
    if (scope.kind === 'weights') {
      await confirmRevision(this.runtime, previous, { master: procs.master, oldWorkers: new Set(), logOffset: 0 }, false, this.confirmMs);
      return;
    }
    const gen = await this.generationOf(procs);
    const reloadFailed = await this.runtime.reload().then(
      () => null,
      (e: unknown) => e,
    );
    if (reloadFailed !== null) {
      // no reload happened now; if none happened before either (a reload command that fails), the
      // running workers still serve the previous revision: confirmed, that is restored
      const unchanged = { master: procs.master, oldWorkers: new Set<number>(), logOffset: 0 };
      await confirmRevision(this.runtime, previous, unchanged, false, this.confirmMs).catch(() => {
        throw reloadFailed instanceof Error ? reloadFailed : new Error('the reload failed');
      });
      return;
    }
    // no [emerg] fail-fast here: the failed reload may still be logging its bind() retries (~2.5 s)
    await confirmRevision(this.runtime, previous, gen, false, Math.max(this.confirmMs, RESTORE_MIN_MS));
  }

  /** A fleet of one: the phases of phases.ts, with their restore and messages. */
  apply(cfg: RenderedConfig): Promise<ApplyReport> {
    return applyInPhases([this], cfg, this.logger);
  }

  async start(cfg: RenderedConfig): Promise<void> {
    if (await this.isRunning()) {
      await this.apply(cfg);
      return;
    }
    const orphans = (await this.runtime.orphans?.()) ?? [];
    if (orphans.length > 0) throw orphansError(this.runtime.where, orphans);
    await this.testCandidate(cfg);
    const scope = restoreScopeOf(this.withFiles(cfg));
    await this.backup(scope.js);
    if (this.runtime.startHint !== undefined) {
      // an NGINX bgctl does not start (system driver): the tested files in place, for its own start
      await this.files.promote(scope.js);
      if (scope.weights !== null) await this.files.writeWeights(scope.weights);
      this.logger?.warn(`NGINX is not running: the files are tested and in place; ${this.runtime.startHint}`, {
        where: this.runtime.where,
      });
      return;
    }
    const logOffset = await this.files.errorLogSize();
    try {
      await this.files.promote(scope.js);
      if (scope.weights !== null) await this.files.writeWeights(scope.weights);
      const procs = await this.runtime.boot();
      await confirmRevision(this.runtime, cfg.revision, { master: procs.master, oldWorkers: new Set(), logOffset }, true, this.confirmMs);
    } catch (error) {
      await this.runtime.abortBoot().catch(() => undefined); // never leave a half-started NGINX behind
      await this.files.restore(scope.js).catch(() => undefined);
      if (scope.weights !== null) await this.files.restoreWeights().catch(() => undefined);
      throw error instanceof ApplyError ? error : new ApplyError(`nginx did not start: ${msg(error)}`, 'confirm', { cause: error });
    }
    this.logger?.info('nginx started', { target: this.name, revision: cfg.revision, where: this.runtime.where });
  }

  stop(): Promise<void> {
    return this.runtime.halt();
  }

  get stopHint(): string | null {
    return this.runtime.stopHint ?? null;
  }

  async isRunning(): Promise<boolean> {
    return (await this.runtime.processes()) !== null;
  }

  live(): Promise<LiveNginx | null> {
    return this.runtime.live();
  }

  async targets(): Promise<readonly NginxTargetStatus[]> {
    const [running, live, orphans] = await Promise.all([this.isRunning(), this.live(), this.runtime.orphans?.() ?? []]);
    const problem = live === null ? this.runtime.problem() : null;
    return [{ name: this.name, kind: this.kind, where: this.runtime.where, running, live, problem, orphans }];
  }

  async njs(): Promise<Readonly<Record<string, NjsSupport>>> {
    return { [this.name]: await this.runtime.njs() };
  }

  /** The live files as `.prev` (a failure here changed nothing live). */
  private backup(js: boolean): Promise<void> {
    return this.files.backup(js).catch((e: unknown) => {
      throw new ApplyError(`could not back up the live config: ${msg(e)}`, 'swap', { cause: e });
    });
  }

  /** cfg with this instance's own files (a fleet's target) on top. */
  private withFiles(cfg: RenderedConfig): RenderedConfig {
    return { ...cfg, ...this.filesOf(cfg) };
  }

  /**
   * dynamic mode: the live answer and master when NGINX runs exactly this structure (the id it answers)
   * and the live files hold it too (a later reload or restart keeps it); else null: take the reload path.
   */
  private async runningStructure(files: NginxFiles): Promise<{ previous: number; master: number } | null> {
    if (files.configId === undefined) return null;
    const [live, procs, onDisk] = await Promise.all([this.live(), this.runtime.processes(), this.files.readLive()]);
    if (live?.mode !== 'dynamic' || live.config !== files.configId || procs === null || onDisk === null) return null;
    return configIdOf(onDisk) === files.configId ? { previous: live.revision, master: procs.master } : null;
  }

  private async generation(master: number): Promise<Generation> {
    const procs = await this.runtime.processes();
    if (procs === null || procs.master !== master) throw new ApplyError('the nginx master exited', 'reload');
    return this.generationOf(procs);
  }

  /** The workers of `procs` that accept connections now, and where the error log ends. */
  private async generationOf(procs: NginxProcesses): Promise<Generation> {
    const { master } = procs;
    const active = procs.workers.filter((w) => !w.shuttingDown);
    return { master, oldWorkers: new Set(active.map((w) => w.pid)), logOffset: await this.files.errorLogSize() };
  }
}

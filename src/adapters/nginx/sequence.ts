import { mkdtemp, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
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
import { isColor } from '../../core/color.js';
import { ApplyError, PreflightError, UnknownStateError } from '../../core/errors.js';
import { configIdOf } from '../../render/dynamic.js';
import type { NginxLayout } from './files.js';
import {
  backupLive,
  checkTree,
  ensureTree,
  fileSize,
  promoteCandidate,
  readLive,
  readSince,
  restorePrevious,
  restoreWeights,
  writeCandidate,
  writeTree,
  writeWeights,
} from './files.js';
import type { WorkerInfo } from './workers.js';

/**
 * The one safe way to change what an NGINX serves (never an untested config, never a reload trusted on its exit code), shared by the local and the docker
 * driver and split into phases so a fleet can run each phase on every instance before the next:
 *
 *   prepare: write the candidate tree, `nginx -t` it               (nothing live changes)
 *   commit:  keep the live files as `.prev`, rename the candidate over them, reload
 *   confirm: every old worker gone or shutting down, and fresh connections answer the new revision
 *   restore: put the `.prev` files back, reload, confirm the previous revision
 *
 * dynamic mode (nginx.mode), when the running config already has the step's structure (its id, answered
 * on the status location, and the live files match): no nginx -t and no reload. prepare only checks
 * that; commit writes the weights file (atomically, the old one kept as `.prev`); confirm waits until
 * fresh connections answer the new revision, which njs reads from that very file; restore puts the old
 * weights file back and confirms. Any other change takes the reload path, weights file included.
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
  /** `nginx -t` of the tree (already written) in the folder `sub` of nginx.dir (`candidate`); never touches the live files */
  testCandidate(sub: string): Promise<{ ok: boolean; output: string }>;
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
  /** workers left serving after their master died (SIGKILL), by pid; absent: the runtime cannot tell */
  orphans?(): Promise<readonly number[]>;
  /** Whether this NGINX has the njs module dynamic mode needs (never throws: not found is an answer). */
  njs(): Promise<NjsSupport>;
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

/** A reload-mode apply's restore: the `.prev` config files, reload, confirm. */
const RELOAD_RESTORE: RestoreScope = { kind: 'reload', weights: null, js: false };

/** A restore after `start`/`apply` of `cfg` whose path is unknown (the reload path covers both). */
export const restoreScopeOf = (cfg: RenderedConfig): RestoreScope => ({
  kind: 'reload',
  weights: cfg.weightsFile ?? null,
  js: cfg.js !== undefined,
});

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
  restore(previous: number | null, scope?: RestoreScope): Promise<void>;
  start(cfg: RenderedConfig): Promise<void>;
  stop(): Promise<void>;
  isRunning(): Promise<boolean>;
  live(): Promise<LiveNginx | null>;
  targets(): Promise<readonly NginxTargetStatus[]>;
  njs(): Promise<Readonly<Record<string, NjsSupport>>>;
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
  /** the files bgctl owns for this instance (the runtime's) */
  readonly layout: NginxLayout;
  protected readonly confirmMs: number;
  protected readonly logger: Logger | undefined;

  constructor(
    protected readonly runtime: NginxRuntime,
    opts: StagedOptions,
  ) {
    this.kind = runtime.kind;
    this.name = opts.name;
    this.layout = runtime.layout;
    this.accessLog = runtime.layout.accessLog;
    this.confirmMs = opts.confirmTimeoutMs ?? 10_000;
    this.logger = opts.logger;
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
    await checkTree(this.layout);
    await ensureTree(this.layout); // nginx -t opens logs/ under the prefix
    const dir = await mkdtemp(join(this.layout.dir, '.validate-'));
    try {
      await writeTree(dir, files.main, files.site, files.js);
      return await this.runTest(cfg, basename(dir));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** The candidate tree written and `nginx -t`-ed: what prepare and start swap in. */
  private async testCandidate(cfg: RenderedConfig): Promise<string> {
    const files = this.checkedFiles(cfg);
    await writeCandidate(this.layout, files.main, files.site, files.js);
    return this.runTest(cfg, 'candidate');
  }

  private checkedFiles(cfg: RenderedConfig): NginxFiles {
    const files = this.filesOf(cfg);
    const pid = /^\s*pid\s+(\S+?)\s*;/m.exec(files.main)?.[1];
    if (pid !== 'logs/nginx.pid' && pid !== this.layout.pidFile) {
      // else nginx uses the compiled-in /run/nginx.pid: we would lose (or clash with) the master
      throw new ApplyError('nginx.conf must contain "pid logs/nginx.pid;"', 'test');
    }
    return files;
  }

  private async runTest(cfg: RenderedConfig, sub: string): Promise<string> {
    const r = await this.runtime.testCandidate(sub);
    if (!r.ok) {
      const why = r.output
        .split('\n')
        .filter((l) => l && !l.includes('test failed'))
        .join('; ');
      throw new ApplyError(`nginx -t rejected revision ${cfg.revision}: ${why || 'no reason given'}`, 'test');
    }
    return r.output.trim();
  }

  /**
   * Phase 1: candidate + `nginx -t`; also checks NGINX runs and notes what it serves now. dynamic mode
   * with the structure already running: nothing to test, only the weights file will change.
   */
  async prepare(cfg: RenderedConfig, stages: Stages = {}): Promise<Prepared> {
    const files = this.filesOf(cfg);
    await checkTree(this.layout); // a link where bgctl writes: refused (exit 6) before anything changes
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
    const layout = this.layout;
    await timed(stages, 'backup', () => this.backup(p.js));
    p.swapped = true;
    if (p.kind === 'reload') await timed(stages, 'swap', () => asStage('swap', () => promoteCandidate(layout, p.js)));
    // before the reload: the new workers' first request already reads this step's weights
    const weights = p.weights;
    if (weights !== null) await timed(stages, 'weights', () => asStage('swap', () => writeWeights(layout, weights)));
    if (p.kind === 'weights') return { prepared: p, gen: { master: p.master, oldWorkers: new Set(), logOffset: 0 } };
    const gen = await asStage('reload', () => this.generation(p.master));
    await timed(stages, 'reload', () => this.runtime.reload());
    return { prepared: p, gen };
  }

  /** Phase 3: the new revision is what fresh connections get (weights only: no reload, so no old workers). */
  async confirm(c: Committed, stages: Stages = {}): Promise<void> {
    await timed(stages, 'confirm', () => this.confirmRevision(c.prepared.revision, c.gen, c.prepared.kind === 'reload'));
  }

  /**
   * Puts the `.prev` files back, reloads and confirms the previous revision; throws what went wrong.
   * Weights only: puts the previous weights file back and confirms, without a reload.
   */
  async restore(previous: number | null, scope: RestoreScope = RELOAD_RESTORE): Promise<void> {
    if (scope.weights !== null) await restoreWeights(this.layout);
    if (scope.kind === 'reload') await restorePrevious(this.layout, scope.js);
    const procs = await this.runtime.processes();
    if (procs === null) throw new Error('the nginx master is gone');
    if (scope.kind === 'weights') {
      await this.confirmRevision(previous, { master: procs.master, oldWorkers: new Set(), logOffset: 0 }, false);
      return;
    }
    const gen = await this.generationOf(procs);
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
    const report = { revision: cfg.revision, ms: Math.round(performance.now() - t0), stages, reloaded: p.kind === 'reload' };
    // one message for both paths (scripts and the benchmarks read it); `reloaded` and the stages tell them apart
    this.logger?.info('nginx serves the new config', { target: this.name, ...report });
    return report;
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
    const logOffset = await fileSize(this.layout.errorLog);
    try {
      await promoteCandidate(this.layout, scope.js);
      if (scope.weights !== null) await writeWeights(this.layout, scope.weights);
      const procs = await this.runtime.boot();
      await this.confirmRevision(cfg.revision, { master: procs.master, oldWorkers: new Set(), logOffset }, true);
    } catch (error) {
      await this.runtime.abortBoot().catch(() => undefined); // never leave a half-started NGINX behind
      await restorePrevious(this.layout, scope.js).catch(() => undefined);
      if (scope.weights !== null) await restoreWeights(this.layout).catch(() => undefined);
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
    const [running, live, orphans] = await Promise.all([this.isRunning(), this.live(), this.runtime.orphans?.() ?? []]);
    const problem = live === null ? this.runtime.problem() : null;
    return [{ name: this.name, kind: this.kind, where: this.runtime.where, running, live, problem, orphans }];
  }

  async njs(): Promise<Readonly<Record<string, NjsSupport>>> {
    return { [this.name]: await this.runtime.njs() };
  }

  /** The live files as `.prev` (a failure here changed nothing live). */
  private backup(js: boolean): Promise<void> {
    return backupLive(this.layout, js).catch((e: unknown) => {
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
    const [live, procs, onDisk] = await Promise.all([this.live(), this.runtime.processes(), readLive(this.layout)]);
    if (live?.mode !== 'dynamic' || live.config !== files.configId || procs === null || onDisk === null) return null;
    return configIdOf(onDisk) === files.configId ? { previous: live.revision, master: procs.master } : null;
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
      await this.restore(p.previous, p);
    } catch (error) {
      throw new UnknownStateError(
        `revision ${p.revision} failed at ${stage} (${msg(cause)}) and restoring the previous config failed: ${msg(error)}`,
        {
          cause: error,
          details: { stage, stages },
          hint: `inspect ${this.layout.errorLog} and run nginx -t on ${this.layout.main}`,
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
   * Applied = every old-generation worker exited or retitled "is shutting down" (it closed
   * the listen socket) AND FRESH_ANSWERS fresh connections in a row answer `revision` (null: any answer).
   * An [emerg] logged since the reload means nginx kept the old config (e.g. a taken port): fail fast.
   */
  private async confirmRevision(revision: number | null, gen: Generation, failOnEmerg: boolean, timeoutMs = this.confirmMs): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    let streak = 0;
    let why = 'old workers still accept connections';
    while (performance.now() < deadline) {
      if (failOnEmerg) {
        const emerg = (await readSince(this.layout.errorLog, gen.logOffset)).find((l) => l.includes('[emerg]'));
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
        why =
          live === null
            ? 'the status location does not answer'
            : `still serving revision ${live.revision}${live.problem ? ` (${live.problem})` : ''}`;
      }
      streak = 0;
      await sleep(POLL_MS);
    }
    throw new ApplyError(`revision ${revision ?? '(previous)'} not confirmed within ${timeoutMs} ms: ${why}`, 'confirm');
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
    return { master, oldWorkers: new Set(active.map((w) => w.pid)), logOffset: await fileSize(this.layout.errorLog) };
  }
}

/** Polls `processes` until a master runs (a runtime's boot: nginx may answer before its master is up); `timedOut` after `timeoutMs`. */
export async function waitForMaster(
  processes: () => Promise<NginxProcesses | null>,
  o: { timeoutMs: number; pollMs: number; timedOut: () => Error },
): Promise<NginxProcesses> {
  const deadline = performance.now() + o.timeoutMs;
  for (;;) {
    const procs = await processes();
    if (procs !== null) return procs;
    if (performance.now() > deadline) throw o.timedOut();
    await sleep(o.pollMs);
  }
}

/** The status JSON (`/__bgctl/status`) as LiveNginx, or null when it is not one. Dynamic mode adds mode, source, config, problem. */
export function parseStatus(text: string): LiveNginx | null {
  try {
    const { revision, blue, green, strategy, stable, mode, source, problem, config, backup } = JSON.parse(text) as Record<string, unknown>;
    // a revision bgctl could never have written (negative, beyond 2^53 - 1) is no answer
    if (typeof revision !== 'number' || !Number.isSafeInteger(revision) || revision < 0) return null;
    if (typeof blue !== 'number' || typeof green !== 'number') return null;
    if (typeof strategy !== 'string' || !isColor(stable)) return null;
    const live: LiveNginx = { revision, weights: { blue, green }, strategy, stable, ...(isColor(backup) ? { backup } : {}) };
    if (mode !== 'dynamic') return live;
    return {
      ...live,
      mode: 'dynamic',
      ...(source === 'file' || source === 'prev' || source === 'config' ? { source } : {}),
      ...(typeof problem === 'string' ? { problem: problem.slice(0, 500) } : {}),
      ...(typeof config === 'string' ? { config } : {}),
    };
  } catch {
    return null;
  }
}

/** Runs fn and records how long it took (ms) as `stages[name]`, also when it throws. */
export async function timed<T>(stages: Stages, name: string, fn: () => Promise<T>): Promise<T> {
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

/** Refuses a new master on top of workers whose master is gone: they hold the listen socket and serve an old config. */
export function orphansError(where: string, pids: readonly number[]): PreflightError {
  const list = pids.join(' ');
  return new PreflightError(
    `NGINX worker processes without a master still run for ${where} (pids ${pids.join(', ')}): they hold the listen socket and serve the last config; bgctl will not start another NGINX on top of them: stop them with \`kill ${list}\``,
    { details: { orphans: pids }, hint: `\`kill -9 ${list}\` if they linger, then run \`bgctl start\`` },
  );
}

import { isAbsolute } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { Client } from 'undici';
import type { ApplyReport, LiveNginx, Logger, NginxDriver, RenderedConfig } from '../../app/ports.js';
import { isColor } from '../../core/color.js';
import { ApplyError, UnknownStateError } from '../../core/errors.js';
import { quitCommand, reloadCommand, startCommand, testCommand } from './commands.js';
import type { NginxTarget } from './commands.js';
import type { NginxLayout } from './files.js';
import { backupLive, fileSize, nginxLayout, promoteCandidate, readSince, restorePrevious, writeCandidate } from './files.js';
import { escalateStop, isPidAlive, listWorkers, runningMaster, sendSignal } from './workers.js';

export interface LocalNginxOptions {
  readonly dir: string; // absolute NGINX prefix that bgctl owns
  readonly binary?: string; // default 'nginx'
  readonly listenHost?: string; // where the status location is asked; default '127.0.0.1'
  readonly listenPort: number;
  readonly confirmTimeoutMs?: number; // bound on confirming a reload/start, and the restore; default 10 000
  readonly stopTimeoutMs?: number; // graceful quit before SIGTERM; default 10 000
  readonly logger?: Logger;
}

/** Taken *before* a reload: what "the reload took effect" is measured against. */
interface Generation {
  readonly master: number;
  readonly oldWorkers: ReadonlySet<number>;
  readonly logOffset: number;
}

type Stage = ApplyError['stage'];
const FRESH_ANSWERS = 3; // consecutive fresh connections that must carry the expected revision
const POLL_MS = 20;
/** After a failed bind nginx retries for ~2.5 s before it handles the restore reload: never wait less. */
const RESTORE_MIN_MS = 6000;

/** Drives one NGINX master under `dir` on this machine; every change follows STYLE rule 3. */
export class LocalNginxDriver implements NginxDriver {
  readonly kind = 'local' as const;
  readonly layout: NginxLayout;
  readonly accessLog: string;
  private readonly origin: string;
  private readonly confirmMs: number;

  constructor(private readonly opts: LocalNginxOptions) {
    if (!isAbsolute(opts.dir)) throw new Error(`nginx dir must be absolute, got ${opts.dir}`);
    this.layout = nginxLayout(opts.dir);
    this.accessLog = this.layout.accessLog;
    const host = opts.listenHost ?? '127.0.0.1';
    this.origin = `http://${host.includes(':') ? `[${host}]` : host}:${opts.listenPort}`;
    this.confirmMs = opts.confirmTimeoutMs ?? 10_000;
  }

  async test(cfg: RenderedConfig): Promise<string> {
    const pid = /^\s*pid\s+(\S+?)\s*;/m.exec(cfg.main)?.[1];
    if (pid !== 'logs/nginx.pid' && pid !== this.layout.pidFile) {
      // else nginx uses the compiled-in /run/nginx.pid: we would lose (or clash with) the master
      throw new ApplyError('nginx.conf must contain "pid logs/nginx.pid;"', 'test');
    }
    await writeCandidate(this.layout, cfg.main, cfg.site);
    // -e stderr: a rejected candidate must not put [emerg] lines into the live error log
    const r = await this.nginx(testCommand({ prefix: this.opts.dir, conf: this.layout.candidateMain, errorLog: 'stderr' }));
    if (r.exitCode !== 0) {
      const why = r.stderr
        .split('\n')
        .filter((l) => l && !l.includes('test failed'))
        .join('; ');
      throw new ApplyError(`nginx -t rejected revision ${cfg.revision}: ${why || r.message}`, 'test');
    }
    return r.stderr.trim();
  }

  async apply(cfg: RenderedConfig): Promise<ApplyReport> {
    const t0 = performance.now();
    const stages: Record<string, number> = {};
    const timed = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
      const t = performance.now();
      try {
        return await fn();
      } finally {
        stages[name] = Math.round(performance.now() - t);
      }
    };
    await timed('test', () => this.test(cfg)); // writes the candidate tree first
    const master = await runningMaster(this.layout.pidFile);
    if (master === null) throw new ApplyError('nginx is not running', 'reload', { hint: 'start it with `bgctl start`' });
    const previous = (await this.live())?.revision ?? null;
    await timed('backup', () => this.backup());
    let stage: Stage = 'swap';
    try {
      await timed('swap', () => promoteCandidate(this.layout));
      const gen = await this.generation(master);
      stage = 'reload';
      await timed('reload', () => this.reload());
      stage = 'confirm';
      await timed('confirm', () => this.confirm(cfg.revision, gen, true));
    } catch (error) {
      return this.rollback(cfg.revision, error instanceof ApplyError ? error.stage : stage, error, previous, stages);
    }
    const report = { revision: cfg.revision, ms: Math.round(performance.now() - t0), stages };
    this.opts.logger?.info('nginx serves the new config', { ...report });
    return report;
  }

  async start(cfg: RenderedConfig): Promise<void> {
    if (await this.isRunning()) {
      await this.apply(cfg);
      return;
    }
    await this.test(cfg);
    await this.backup();
    const logOffset = await fileSize(this.layout.errorLog);
    try {
      await promoteCandidate(this.layout);
      const r = await this.nginx(startCommand(this.liveTarget()));
      if (r.exitCode !== 0) throw new ApplyError(`nginx failed to start: ${r.stderr.trim() || r.message}`, 'reload');
      const master = await this.waitForMaster();
      await this.confirm(cfg.revision, { master, oldWorkers: new Set(), logOffset }, true);
    } catch (error) {
      await this.stop().catch(() => undefined); // never leave a half-started master behind
      await restorePrevious(this.layout).catch(() => undefined);
      throw error instanceof ApplyError ? error : new ApplyError(`nginx did not start: ${msg(error)}`, 'confirm', { cause: error });
    }
    this.opts.logger?.info('nginx started', { revision: cfg.revision, port: this.opts.listenPort });
  }

  async stop(): Promise<void> {
    const master = await runningMaster(this.layout.pidFile);
    if (master === null) return;
    const workers = (await listWorkers(master)).map((w) => w.pid);
    const r = await this.nginx(quitCommand(this.liveTarget()));
    if (r.exitCode !== 0) sendSignal(master, 'SIGQUIT'); // live config unreadable: signal the pid directly
    const how = await escalateStop(master, workers, this.opts.stopTimeoutMs ?? 10_000);
    if (how !== 'quit') this.opts.logger?.warn('nginx did not quit gracefully', { pid: master, signal: how });
  }

  async isRunning(): Promise<boolean> {
    return (await runningMaster(this.layout.pidFile)) !== null;
  }

  /** GET /__bgctl/status on a brand-new TCP connection (new Client, reset): a pooled keep-alive
   * socket may still be served by an old-generation worker and report the old revision. */
  async live(): Promise<LiveNginx | null> {
    const client = new Client(this.origin, { connect: { timeout: 1000 } });
    try {
      const res = await client.request({ path: '/__bgctl/status', method: 'GET', reset: true, headersTimeout: 1000, bodyTimeout: 1000 });
      const text = await res.body.text();
      return res.statusCode === 200 ? parseStatus(text) : null;
    } catch {
      return null;
    } finally {
      await client.destroy().catch(() => undefined);
    }
  }

  /** Restore `.prev`, reload, confirm the previous revision; then report the original failure. */
  private async rollback(
    revision: number,
    stage: Stage,
    cause: unknown,
    previous: number | null,
    stages: Record<string, number>,
  ): Promise<never> {
    this.opts.logger?.warn('nginx apply failed, restoring the previous config', { revision, stage, error: msg(cause) });
    const t = performance.now();
    try {
      await restorePrevious(this.layout);
      const master = await runningMaster(this.layout.pidFile);
      if (master === null) throw new Error('the nginx master is gone');
      const gen = await this.generation(master);
      await this.reload();
      // no [emerg] fail-fast here: the failed reload may still be logging its bind() retries (~2.5 s)
      await this.confirm(previous, gen, false, Math.max(this.confirmMs, RESTORE_MIN_MS));
    } catch (error) {
      throw new UnknownStateError(
        `revision ${revision} failed at ${stage} (${msg(cause)}) and restoring the previous config failed: ${msg(error)}`,
        {
          cause: error,
          details: { stage, stages },
          hint: `inspect ${this.layout.errorLog} and run nginx -t on ${this.layout.main}`,
        },
      );
    }
    stages.restore = Math.round(performance.now() - t);
    const restored = previous === null ? 'previous config restored' : `revision ${previous} restored and confirmed`;
    throw new ApplyError(`revision ${revision} was not applied (${stage}: ${msg(cause)}); ${restored}`, stage, {
      cause,
      details: { stages, restoredRevision: previous },
    });
  }

  /**
   * STYLE rule 3. Applied = every old-generation worker exited or retitled "is shutting down" (it closed
   * the listen socket) AND FRESH_ANSWERS fresh connections in a row answer `revision` (null: any answer).
   * An [emerg] logged since the reload means nginx kept the old config (e.g. a taken port): fail fast.
   */
  private async confirm(revision: number | null, gen: Generation, failOnEmerg: boolean, timeoutMs = this.confirmMs): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    let streak = 0;
    let why = 'old workers still accept connections';
    while (performance.now() < deadline) {
      if (failOnEmerg) {
        const emerg = (await readSince(this.layout.errorLog, gen.logOffset)).find((l) => l.includes('[emerg]'));
        if (emerg !== undefined) throw new ApplyError(`nginx rejected the config: ${emerg}`, 'reload');
      }
      if (!isPidAlive(gen.master)) throw new ApplyError('the nginx master exited', 'confirm');
      const active = (await listWorkers(gen.master)).filter((w) => !w.shuttingDown);
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
    const active = (await listWorkers(master)).filter((w) => !w.shuttingDown);
    return { master, oldWorkers: new Set(active.map((w) => w.pid)), logOffset: await fileSize(this.layout.errorLog) };
  }

  private async backup(): Promise<void> {
    await backupLive(this.layout).catch((e: unknown) => {
      throw new ApplyError(`could not back up the live config: ${msg(e)}`, 'swap', { cause: e });
    });
  }

  /** The exit code only says the signal was sent (STYLE rule 3); confirm() decides. */
  private async reload(): Promise<void> {
    const r = await this.nginx(reloadCommand(this.liveTarget()));
    if (r.exitCode !== 0) throw new ApplyError(`nginx -s reload failed: ${r.stderr.trim() || r.message}`, 'reload');
  }

  /** nginx daemonizes: the start command may return before the master wrote its pid file. */
  private async waitForMaster(): Promise<number> {
    const deadline = performance.now() + this.confirmMs;
    for (;;) {
      const pid = await runningMaster(this.layout.pidFile);
      if (pid !== null) return pid;
      if (performance.now() > deadline) throw new ApplyError('the nginx master did not come up', 'confirm');
      await sleep(POLL_MS);
    }
  }

  /** The live config: what start, reload and quit use (nginx finds the pid file through it). */
  private liveTarget(): NginxTarget {
    return { prefix: this.opts.dir, conf: this.layout.main, errorLog: this.layout.errorLog };
  }

  private nginx(argv: readonly string[]) {
    return execa(this.opts.binary ?? 'nginx', argv, { reject: false, timeout: 15_000, stdin: 'ignore' });
  }
}

function parseStatus(text: string): LiveNginx | null {
  try {
    const { revision, blue, green, strategy, stable } = JSON.parse(text) as Record<string, unknown>;
    if (typeof revision !== 'number' || !Number.isInteger(revision) || typeof blue !== 'number' || typeof green !== 'number') return null;
    if (typeof strategy !== 'string' || !isColor(stable)) return null;
    return { revision, weights: { blue, green }, strategy, stable };
  } catch {
    return null;
  }
}

const msg = (e: unknown): string => (e instanceof Error ? e.message : String(e));

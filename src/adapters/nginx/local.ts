import { isAbsolute } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { Client } from 'undici';
import type { ApplyReport, LiveNginx, Logger, NginxDriver, RenderedConfig } from '../../app/ports.js';
import { isColor } from '../../core/color.js';
import { ApplyError, UnknownStateError } from '../../core/errors.js';
import type { NginxTarget } from './commands.js';
import { quitCommand, reloadCommand, startCommand, testCommand } from './commands.js';
import type { NginxLayout } from './files.js';
import { backupLive, fileSize, nginxLayout, promoteCandidate, readSince, restorePrevious, writeCandidate } from './files.js';
import { isNginxMaster, isPidAlive, listWorkers, readMasterPid } from './workers.js';

export interface LocalNginxOptions {
  /** absolute NGINX prefix folder that bgctl owns */
  readonly dir: string;
  readonly binary?: string; // default 'nginx'
  readonly listenHost?: string; // default '127.0.0.1'
  readonly listenPort: number;
  /** bound on waiting for a reload/start to be really applied (and for the restore) */
  readonly confirmTimeoutMs?: number; // default 10 000
  readonly stopTimeoutMs?: number; // graceful quit before SIGTERM, default 10 000
  readonly logger?: Logger;
}

/** Old-generation facts taken *before* a reload: what "the reload took effect" is measured against. */
interface Generation {
  readonly master: number;
  readonly oldWorkers: ReadonlySet<number>;
  readonly logOffset: number;
}

type Stage = ApplyError['stage'];
const FRESH_ANSWERS = 3; // consecutive fresh connections that must carry the new revision
const POLL_MS = 20;

/** Drives one NGINX master under `dir` on this machine, following STYLE rule 3 for every change. */
export class LocalNginxDriver implements NginxDriver {
  readonly kind = 'local' as const;
  readonly accessLog: string;
  readonly layout: NginxLayout;
  private readonly binary: string;
  private readonly origin: string;
  private readonly confirmTimeoutMs: number;
  private readonly stopTimeoutMs: number;

  constructor(private readonly opts: LocalNginxOptions) {
    if (!isAbsolute(opts.dir)) throw new Error(`nginx dir must be absolute, got ${opts.dir}`);
    this.layout = nginxLayout(opts.dir);
    this.accessLog = this.layout.accessLog;
    this.binary = opts.binary ?? 'nginx';
    const host = opts.listenHost ?? '127.0.0.1';
    this.origin = `http://${host.includes(':') ? `[${host}]` : host}:${opts.listenPort}`;
    this.confirmTimeoutMs = opts.confirmTimeoutMs ?? 10_000;
    this.stopTimeoutMs = opts.stopTimeoutMs ?? 10_000;
  }

  async test(cfg: RenderedConfig): Promise<string> {
    const pid = /^\s*pid\s+(\S+?)\s*;/m.exec(cfg.main)?.[1];
    if (pid !== 'logs/nginx.pid' && pid !== this.layout.pidFile) {
      // without it nginx uses the compiled-in /run/nginx.pid: we could not find (or would clash with) the master
      throw new ApplyError('nginx.conf must contain "pid logs/nginx.pid;"', 'test');
    }
    await writeCandidate(this.layout, cfg.main, cfg.site);
    // -e stderr: a rejected candidate must not write [emerg] lines into the live error log
    const r = await this.run(testCommand(this.target(this.layout.candidateMain, 'stderr')));
    if (r.exitCode !== 0) {
      const why = r.stderr.split('\n').filter((l) => l && !l.includes('test failed')).join('; ');
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
    await timed('test', () => this.test(cfg)); // writes the candidate too
    const master = await this.masterPid();
    if (master === null) throw new ApplyError('nginx is not running', 'reload', { hint: 'start it with `bgctl start`' });
    const previous = (await this.live())?.revision ?? null;
    await timed('backup', () => backupLive(this.layout)).catch((e: unknown) => {
      throw new ApplyError(`could not back up the live config: ${msg(e)}`, 'swap', { cause: e });
    });
    let stage: Stage = 'swap';
    try {
      await timed('swap', () => promoteCandidate(this.layout));
      const gen = await this.generation(master);
      stage = 'reload';
      const r = await timed('reload', () => this.run(reloadCommand(this.target(this.layout.main, this.layout.errorLog))));
      if (r.exitCode !== 0) throw new Error(`nginx -s reload failed: ${r.stderr.trim() || r.message}`);
      stage = 'confirm';
      await timed('confirm', () => this.confirm(cfg.revision, gen, true));
    } catch (error) {
      const failedAt = error instanceof ApplyError ? error.stage : stage;
      return this.rollback(cfg.revision, failedAt, error, previous, stages);
    }
    const report = { revision: cfg.revision, ms: Math.round(performance.now() - t0), stages };
    this.opts.logger?.info('nginx applied the new config', { ...report });
    return report;
  }

  async start(cfg: RenderedConfig): Promise<void> {
    if (await this.isRunning()) {
      await this.apply(cfg);
      return;
    }
    await this.test(cfg);
    await backupLive(this.layout).catch((e: unknown) => {
      throw new ApplyError(`could not back up the live config: ${msg(e)}`, 'swap', { cause: e });
    });
    const logOffset = await fileSize(this.layout.errorLog);
    try {
      await promoteCandidate(this.layout);
      const r = await this.run(startCommand(this.target(this.layout.main, this.layout.errorLog)));
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
    const master = await this.masterPid();
    if (master === null) return;
    const workers = (await listWorkers(master)).map((w) => w.pid);
    const r = await this.run(quitCommand(this.target(this.layout.main, this.layout.errorLog)));
    if (r.exitCode !== 0) signal(master, 'SIGQUIT'); // live config unreadable: signal the pid directly
    if (!(await waitExit(master, this.stopTimeoutMs))) {
      this.opts.logger?.warn('nginx did not quit gracefully, terminating', { pid: master });
      signal(master, 'SIGTERM');
      if (!(await waitExit(master, 3000))) signal(master, 'SIGKILL');
      await waitExit(master, 2000);
    }
    // workers outlive a SIGKILLed master (they hold the listen socket): make sure none is left
    for (const pid of workers) if (isPidAlive(pid)) signal(pid, 'SIGKILL');
  }

  async isRunning(): Promise<boolean> {
    return (await this.masterPid()) !== null;
  }

  /** GET /__bgctl/status on a brand-new TCP connection (new Client, reset): a pooled keep-alive socket
   * could still be served by an old-generation worker and report the old revision. */
  async live(): Promise<LiveNginx | null> {
    const client = new Client(this.origin, { connect: { timeout: 1000 } });
    try {
      const res = await client.request({
        path: '/__bgctl/status', method: 'GET', reset: true,
        headersTimeout: 1000, bodyTimeout: 1000, signal: AbortSignal.timeout(1500),
      });
      const text = await res.body.text();
      return res.statusCode === 200 ? parseStatus(text) : null;
    } catch {
      return null;
    } finally {
      await client.destroy().catch(() => undefined);
    }
  }

  /** Restore `.prev`, reload, confirm the previous revision; then report the original failure. */
  private async rollback(revision: number, stage: Stage, cause: unknown, previous: number | null,
    stages: Record<string, number>): Promise<never> {
    this.opts.logger?.warn('nginx apply failed, restoring the previous config', { revision, stage, error: msg(cause) });
    const t = performance.now();
    try {
      await restorePrevious(this.layout);
      const master = await this.masterPid();
      if (master === null) throw new Error('the nginx master is gone');
      const gen = await this.generation(master);
      const r = await this.run(reloadCommand(this.target(this.layout.main, this.layout.errorLog)));
      if (r.exitCode !== 0) throw new Error(`nginx -s reload failed: ${r.stderr.trim() || r.message}`);
      // no [emerg] fail-fast here: a failed reload can still be logging its bind() retries (~2.5 s)
      await this.confirm(previous, gen, false);
    } catch (error) {
      throw new UnknownStateError(
        `revision ${revision} failed at ${stage} (${msg(cause)}) and restoring the previous config failed: ${msg(error)}`,
        { cause: error, details: { stage, stages }, hint: `inspect ${this.layout.errorLog} and run nginx -t on ${this.layout.main}` },
      );
    }
    stages.restore = Math.round(performance.now() - t);
    const restored = previous === null ? 'previous config restored' : `revision ${previous} restored and confirmed`;
    throw new ApplyError(`revision ${revision} was not applied (${stage}: ${msg(cause)}); ${restored}`, stage, {
      cause, details: { stages, restoredRevision: previous },
    });
  }

  /**
   * STYLE rule 3. Applied = every old-generation worker exited or retitled "is shutting down" (it has
   * closed the listen socket) AND FRESH_ANSWERS fresh connections in a row answer `revision`
   * (null = any answer). An [emerg] logged since the reload means nginx kept the old config: fail fast.
   */
  private async confirm(revision: number | null, gen: Generation, failOnEmerg: boolean): Promise<void> {
    const deadline = performance.now() + this.confirmTimeoutMs;
    let streak = 0;
    let why = 'old workers still accepting';
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
        why = live === null ? 'status location does not answer' : `still serving revision ${live.revision}`;
      }
      streak = 0;
      await sleep(POLL_MS);
    }
    throw new ApplyError(`revision ${revision ?? '(previous)'} not confirmed within ${this.confirmTimeoutMs} ms: ${why}`, 'confirm');
  }

  private async generation(master: number): Promise<Generation> {
    const workers = await listWorkers(master);
    const oldWorkers = new Set(workers.filter((w) => !w.shuttingDown).map((w) => w.pid));
    return { master, oldWorkers, logOffset: await fileSize(this.layout.errorLog) };
  }

  /** The master pid if the pid file names a live nginx master (a stale file with a reused pid is ignored). */
  private async masterPid(): Promise<number | null> {
    const pid = await readMasterPid(this.layout.pidFile);
    return pid !== null && (await isNginxMaster(pid)) ? pid : null;
  }

  /** nginx daemonizes: the start command may return before the master wrote its pid file. */
  private async waitForMaster(): Promise<number> {
    const deadline = performance.now() + this.confirmTimeoutMs;
    for (;;) {
      const pid = await this.masterPid();
      if (pid !== null) return pid;
      if (performance.now() > deadline) throw new ApplyError('nginx master did not come up', 'confirm');
      await sleep(POLL_MS);
    }
  }

  private target(conf: string, errorLog: string): NginxTarget {
    return { prefix: this.opts.dir, conf, errorLog };
  }

  private run(argv: readonly string[]) {
    return execa(this.binary, argv, { reject: false, timeout: 15_000, stdin: 'ignore' });
  }
}

function parseStatus(text: string): LiveNginx | null {
  try {
    const v = JSON.parse(text) as Record<string, unknown>;
    const { revision, blue, green, strategy, stable } = v;
    if (!Number.isInteger(revision) || typeof blue !== 'number' || typeof green !== 'number') return null;
    if (typeof strategy !== 'string' || !isColor(stable)) return null;
    return { revision: revision as number, weights: { blue, green }, strategy, stable };
  } catch {
    return null;
  }
}

async function waitExit(pid: number, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (isPidAlive(pid)) {
    if (performance.now() > deadline) return false;
    await sleep(POLL_MS);
  }
  return true;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

const msg = (e: unknown): string => (e instanceof Error ? e.message : String(e));

import { stat } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import type { LiveNginx, Logger, NjsSupport } from '../../app/ports.js';
import { OWN_LAYOUT } from '../../render/layout.js';
import { ApplyError } from '../../core/errors.js';
import { httpGet } from '../http-get.js';
import { quitCommand, reloadCommand, startCommand, testCommand } from './commands.js';
import type { NginxTarget } from './commands.js';
import type { NginxLayout } from './files.js';
import { HostFileStore, nginxLayout } from './files.js';
import { INSTALL_HINT, blockedBy, njsCandidate, notAvailable, sharedDictIn, versionCommand, workersBlocked } from './njs.js';
import { cachedVersionText } from './version-cache.js';
import type { NginxRuntime } from './runtime.js';
import { StagedNginx } from './sequence.js';
import { parseStatus } from './status-parse.js';
import { waitForMaster, type NginxProcesses } from './steps.js';
import { escalateStop, listWorkers, orphanedWorkers, runningMaster, sendSignal } from './workers.js';
import { SECRET_HEADER } from '../force-secret.js';

export interface LocalNginxOptions {
  readonly dir: string; // absolute NGINX prefix that bgctl owns
  readonly binary?: string; // default 'nginx'
  readonly listenHost?: string; // where the status location is asked; default '127.0.0.1'
  readonly listenPort: number;
  /** tls: the listen port speaks HTTPS (bgctl's own loopback connection does not check the certificate's name) */
  readonly tls?: boolean;
  /** sent as X-Bgctl-Secret on `/__bgctl/status` (routing.forceSecret or bgctl's own) */
  readonly secret?: string | null;
  readonly confirmTimeoutMs?: number; // bound on confirming a reload/start, and the restore; default 10 000
  readonly stopTimeoutMs?: number; // graceful quit before SIGTERM; default 10 000
  readonly logger?: Logger;
  /** the target's name in a fleet; default `nginx` */
  readonly name?: string;
  /** dynamic mode: the njs module; null/absent: found from `nginx -V` */
  readonly njsModule?: string | null;
  /** nginx.weightsDir (absolute): the folder of the weights file; null/absent: conf.d under the prefix */
  readonly weightsDir?: string | null;
  /** where `nginx -V`'s answer is remembered between commands (keyed on the binary); absent: always ask */
  readonly versionCache?: string;
}

const POLL_MS = 20;

/** Drives one NGINX master under `dir` on this machine; every change takes the tested, confirmed sequence of sequence.ts. */
export class LocalNginxDriver extends StagedNginx {
  constructor(opts: LocalNginxOptions) {
    super(new LocalRuntime(opts), { name: opts.name ?? 'nginx', confirmTimeoutMs: opts.confirmTimeoutMs, logger: opts.logger });
  }
}

/** A master this process starts itself (`nginx -p DIR -c DIR/nginx.conf`), seen through its pid file and /proc. */
class LocalRuntime implements NginxRuntime {
  readonly kind = 'local' as const;
  readonly layout: NginxLayout;
  readonly files: HostFileStore;
  readonly where: string;
  private readonly origin: string;
  private readonly pidFile: string;

  constructor(private readonly opts: LocalNginxOptions) {
    if (!isAbsolute(opts.dir)) throw new Error(`nginx dir must be absolute, got ${opts.dir}`);
    this.layout = nginxLayout(opts.dir, opts.weightsDir ?? null);
    this.files = new HostFileStore(this.layout);
    this.where = opts.dir;
    this.pidFile = join(opts.dir, OWN_LAYOUT.pid);
    const host = opts.listenHost ?? '127.0.0.1';
    this.origin = `${opts.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${opts.listenPort}`;
  }

  async testCandidate(sub: string): Promise<{ ok: boolean; output: string }> {
    // -e stderr: a rejected candidate must not put [emerg] lines into the live error log
    const r = await this.nginx(testCommand({ prefix: this.opts.dir, conf: join(this.opts.dir, sub, OWN_LAYOUT.main), errorLog: 'stderr' }));
    return { ok: r.exitCode === 0, output: r.stderr || (r.message ?? '') };
  }

  async processes(): Promise<NginxProcesses | null> {
    const master = await runningMaster(this.pidFile);
    return master === null ? null : { master, workers: await listWorkers(master) };
  }

  /** The exit code only says the signal was sent; the sequence's confirm decides. */
  async reload(): Promise<void> {
    const r = await this.nginx(reloadCommand(this.liveTarget()));
    if (r.exitCode !== 0) throw new ApplyError(`nginx -s reload failed: ${r.stderr.trim() || r.message}`, 'reload');
  }

  async boot(): Promise<NginxProcesses> {
    const r = await this.nginx(startCommand(this.liveTarget()));
    if (r.exitCode !== 0) throw new ApplyError(`nginx failed to start: ${r.stderr.trim() || r.message}`, 'reload');
    // nginx daemonizes: the start command may return before the master wrote its pid file
    return waitForMaster(() => this.processes(), {
      timeoutMs: this.opts.confirmTimeoutMs ?? 10_000,
      pollMs: POLL_MS,
      timedOut: () => new ApplyError('the nginx master did not come up', 'confirm'),
    });
  }

  abortBoot(): Promise<void> {
    return this.halt();
  }

  async halt(): Promise<void> {
    const master = await runningMaster(this.pidFile);
    if (master === null) return;
    const workers = (await listWorkers(master)).map((w) => w.pid);
    const r = await this.nginx(quitCommand(this.liveTarget()));
    if (r.exitCode !== 0) sendSignal(master, 'SIGQUIT'); // live config unreadable: signal the pid directly
    const how = await escalateStop(master, workers, this.opts.stopTimeoutMs ?? 10_000);
    if (how !== 'quit') this.opts.logger?.warn('nginx did not quit gracefully', { pid: master, signal: how });
  }

  /** GET /__bgctl/status on a brand-new TCP connection: a pooled keep-alive socket may still be
   * served by an old-generation worker and report the old revision. */
  async live(): Promise<LiveNginx | null> {
    try {
      const headers: Record<string, string> = this.opts.secret ? { [SECRET_HEADER]: this.opts.secret } : {};
      const res = await httpGet(`${this.origin}/__bgctl/status`, { headers, timeoutMs: 2000, maxBytes: 64 * 1024, insecure: true });
      return res.statusCode === 200 && res.body !== null ? parseStatus(res.body) : null;
    } catch {
      return null;
    }
  }

  problem(): string | null {
    return null;
  }

  /** Workers under this prefix whose master is gone (only looked for while no master runs). */
  async orphans(): Promise<readonly number[]> {
    return (await runningMaster(this.pidFile)) === null ? orphanedWorkers(this.opts.dir) : [];
  }

  /** nginx.njsModule, or `<--modules-path>/ngx_http_js_module.so` from `nginx -V` (or njs compiled in); and readable by the workers. */
  async njs(): Promise<NjsSupport> {
    const found = await this.findNjs();
    if (!found.available) return found;
    const blocked = await workersBlocked(this.opts.dir, process.getuid?.() === 0, undefined, this.opts.weightsDir ?? null);
    return blocked ? blockedBy(blocked) : found;
  }

  private async findNjs(): Promise<NjsSupport> {
    const found = await njsCandidate(
      this.opts.njsModule,
      () =>
        cachedVersionText(this.opts.binary ?? 'nginx', this.opts.versionCache, async () => {
          const r = await this.nginx(versionCommand());
          if (r.exitCode === 0) return `${r.stderr}\n${r.stdout}`;
          return notAvailable(`cannot run ${this.opts.binary ?? 'nginx'} -V: ${(r.stderr || r.message || '').trim().slice(0, 200)}`);
        }),
      'njs is built into nginx',
    );
    if (!('how' in found)) return found;
    const { module, how } = found;
    const file = await stat(module).catch(() => null);
    if (!file?.isFile()) return notAvailable(`no njs module at ${module} (${how}; ${INSTALL_HINT})`);
    const sharedDict = await sharedDictIn(module, this.opts.versionCache);
    return { available: true, module, detail: `njs module ${module}`, sharedDict };
  }

  /** The live config: what start, reload and quit use (nginx finds the pid file through it). */
  private liveTarget(): NginxTarget {
    return { prefix: this.opts.dir, conf: this.layout.main, errorLog: join(this.opts.dir, OWN_LAYOUT.errorLog) };
  }

  /** execa loads on first use: a weights-only step or a status needs no process at all. */
  private async nginx(argv: readonly string[]) {
    const { execa } = await import('execa');
    return execa(this.opts.binary ?? 'nginx', argv, { reject: false, timeout: 15_000, stdin: 'ignore' });
  }
}

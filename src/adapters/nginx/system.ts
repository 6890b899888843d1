import path from 'node:path';
import type { LiveNginx, Logger, NjsSupport } from '../../app/ports.js';
import { ApplyError, PreflightError } from '../../core/errors.js';
import { SYSTEM_LAYOUT } from '../../render/layout.js';
import { SECRET_HEADER } from '../force-secret.js';
import { httpGet } from '../http-get.js';
import { HostFileStore, nginxLayout, type NginxLayout } from './files.js';
import { INSTALL_HINT, blockedBy, loadModuleFile, modulesOf, notAvailable, sharedDictIn, versionCommand, workersBlocked } from './njs.js';
import { ConfSyntaxError, inspectConf, readConf, type Directive, type OperatorConf } from './operator-conf.js';
import type { NginxRuntime } from './runtime.js';
import { StagedNginx } from './sequence.js';
import { parseStatus } from './status-parse.js';
import type { NginxProcesses } from './steps.js';
import { cachedVersionText } from './version-cache.js';
import { listWorkers, runningMaster } from './workers.js';

export interface SystemNginxOptions {
  /** nginx.dir (absolute): the only folder bgctl writes; http.conf and server.conf live there */
  readonly dir: string;
  /** nginx.weightsDir (absolute); null/absent: nginx.dir */
  readonly weightsDir?: string | null;
  /** nginx.conf (absolute): that NGINX's main config */
  readonly conf: string;
  /** nginx.reload: the argv that makes it reload */
  readonly reload: readonly string[];
  /** nginx.binary: for `nginx -t` and `nginx -V` */
  readonly binary?: string;
  /** `listen`: the port of the server block that includes server.conf */
  readonly listenPort: number;
  /** nginx.listenTls: that port speaks HTTPS */
  readonly tls: boolean;
  /** nginx.serverName: the Host and SNI bgctl sends there */
  readonly serverName: string | null;
  readonly secret?: string | null;
  readonly confirmTimeoutMs?: number;
  readonly logger?: Logger;
  readonly versionCache?: string;
}

/**
 * An NGINX that bgctl did not start and never starts or stops (a system service: Debian's nginx under
 * systemd, its own nginx.conf, other sites, its own TLS), driven through two files it includes:
 * `http.conf` in its `http {}` and `server.conf` in the server block that fronts the application.
 * Every change takes the sequence of sequence.ts: the candidate files are tested with the operator's
 * whole config (`nginx -t -c CONF`, seeing the candidates where the live files are, in a private mount
 * namespace, so the live files are untouched until the test passed), swapped in, `nginx.reload` run,
 * and the new revision confirmed on the operator's own listen (HTTP or HTTPS with SNI).
 */
export class SystemNginxDriver extends StagedNginx {
  constructor(opts: SystemNginxOptions) {
    super(new SystemRuntime(opts), { name: 'nginx', confirmTimeoutMs: opts.confirmTimeoutMs, logger: opts.logger });
  }
}

const NGINX_DEFAULT_PID = '/run/nginx.pid';

class SystemRuntime implements NginxRuntime {
  readonly kind = 'system' as const;
  readonly layout: NginxLayout;
  readonly files: HostFileStore;
  readonly where: string;
  readonly startHint: string;
  readonly stopHint: string;
  private readonly origin: string;
  private pid: Promise<string> | undefined;

  constructor(private readonly opts: SystemNginxOptions) {
    if (!path.isAbsolute(opts.dir) || !path.isAbsolute(opts.conf)) throw new Error('system NGINX: dir and conf must be absolute');
    this.layout = nginxLayout(opts.dir, opts.weightsDir ?? null, SYSTEM_LAYOUT);
    this.files = new HostFileStore(this.layout);
    this.where = `the NGINX of ${opts.conf}`;
    this.origin = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${opts.listenPort}`;
    this.startHint = `start NGINX as you always do (e.g. \`systemctl start nginx\`), then run \`bgctl status\``;
    this.stopHint =
      `bgctl does not stop an NGINX it did not start. To take bgctl out of it: remove \`include ${this.layout.main};\` and ` +
      `\`include ${this.layout.site};\` from ${opts.conf} (or the file that holds them), route \`location /\` yourself, then reload NGINX`;
  }

  /**
   * The operator's whole config, tested with the candidate tree (the folder `sub` of nginx.dir) seen
   * at nginx.dir: a bind mount in a private mount namespace (`unshare`), so no live file changes and no
   * other process sees it. A failure outside bgctl's files is the operator's config failing on its own.
   */
  async testCandidate(sub: string): Promise<{ ok: boolean; output: string }> {
    await this.checkIncludes();
    const script = 'mount --bind "$1" "$2" && exec "$3" -t -c "$4"';
    const argv = [
      '--mount',
      '--propagation',
      'private',
      '--',
      'sh',
      '-c',
      script,
      'bgctl-test',
      path.join(this.opts.dir, sub),
      this.opts.dir,
    ];
    const r = await run('unshare', [...argv, this.opts.binary ?? 'nginx', this.opts.conf]);
    const output = (r.stderr || r.message || '').trim();
    if (r.exitCode === 0) return { ok: true, output };
    if (/unshare failed|mount: .*(permission denied|must be superuser)|Operation not permitted/i.test(output)) {
      return {
        ok: false,
        output: `cannot test ${this.opts.conf} with the new files in place: that needs a private mount namespace (run bgctl as root): ${output}`,
      };
    }
    const mine = output.includes(this.opts.dir);
    return {
      ok: false,
      output: mine ? output : `${this.opts.conf} fails nginx -t on its own (not in bgctl's files; nothing was changed): ${output}`,
    };
  }

  async processes(): Promise<NginxProcesses | null> {
    const master = await runningMaster(await this.pidFile());
    return master === null ? null : { master, workers: await listWorkers(master) };
  }

  /** nginx.reload; its exit code only says it ran: the sequence's confirm decides. */
  async reload(): Promise<void> {
    const [cmd, ...args] = this.opts.reload;
    if (cmd === undefined) throw new ApplyError('nginx.reload is empty', 'reload');
    const r = await run(cmd, args);
    if (r.exitCode !== 0) {
      throw new ApplyError(`${this.opts.reload.join(' ')} failed: ${(r.stderr || r.message || '').trim().slice(0, 500)}`, 'reload');
    }
  }

  boot(): Promise<NginxProcesses> {
    return Promise.reject(new ApplyError(`bgctl does not start ${this.where}: ${this.startHint}`, 'reload'));
  }

  async abortBoot(): Promise<void> {}

  async halt(): Promise<void> {}

  /** GET /__bgctl/status on the operator's listen, on loopback, with its server name as Host and SNI. */
  async live(): Promise<LiveNginx | null> {
    try {
      const headers: Record<string, string> = this.opts.secret ? { [SECRET_HEADER]: this.opts.secret } : {};
      const res = await httpGet(`${this.origin}/__bgctl/status`, {
        headers,
        timeoutMs: 2000,
        maxBytes: 64 * 1024,
        insecure: true,
        ...(this.opts.serverName ? { serverName: this.opts.serverName } : {}),
      });
      return res.statusCode === 200 && res.body !== null ? parseStatus(res.body) : null;
    } catch {
      return null;
    }
  }

  problem(): string | null {
    return null;
  }

  /** Loaded by the operator's config (`load_module`, e.g. Debian's /etc/nginx/modules-enabled), or compiled in; and readable by its workers. */
  async njs(): Promise<NjsSupport> {
    const conf = await this.inspect().catch(() => null);
    if (conf === null) return notAvailable(`cannot read ${this.opts.conf}`);
    let found: NjsSupport;
    if (conf.njs !== null) {
      // Debian: `load_module modules/ngx_http_js_module.so;`, relative to the prefix
      const file = loadModuleFile(conf.njs.args[0] ?? '', await this.versionText());
      const sharedDict = await sharedDictIn(file, this.opts.versionCache);
      found = { available: true, module: null, detail: `njs module loaded by ${where(conf.njs)}`, sharedDict };
    } else if (modulesOf(await this.versionText()).builtIn) {
      found = { available: true, module: null, detail: 'njs is built into nginx' };
    } else {
      return notAvailable(
        `${this.opts.conf} does not load the njs module: add \`load_module modules/ngx_http_js_module.so;\` at its top (${INSTALL_HINT}; the package adds it in /etc/nginx/modules-enabled)`,
      );
    }
    const blocked = await workersBlocked(this.opts.dir, process.getuid?.() === 0, undefined, this.opts.weightsDir ?? this.opts.dir);
    return blocked ? blockedBy(blocked) : found;
  }

  /**
   * The two include lines, each where it must be; else exit 6 naming the missing line and the file
   * (and line) it belongs in. Nothing is written before this passed.
   */
  private async checkIncludes(): Promise<void> {
    const conf = await this.inspect();
    const problems = includeProblems(conf, this.opts.conf, { http: this.layout.main, server: this.layout.site }, this.opts.listenPort);
    if (problems.length === 0) return;
    throw new PreflightError(`${this.opts.conf} does not include bgctl's files: ${problems.join('; ')}`, {
      hint: `the two lines: \`include ${this.layout.main};\` inside http { }, \`include ${this.layout.site};\` inside the server { } that listens on ${this.opts.listenPort}`,
    });
  }

  private async inspect(): Promise<OperatorConf> {
    try {
      const tree = await readConf(this.opts.conf);
      return inspectConf(tree, { http: this.layout.main, server: this.layout.site }, this.opts.listenPort, path.dirname(this.opts.conf));
    } catch (error) {
      if (error instanceof ConfSyntaxError) throw new PreflightError(`cannot read ${this.opts.conf}: ${error.message}`, { cause: error });
      throw error;
    }
  }

  /**
   * `pid` of the operator's config; else the compiled-in one (`nginx -V` --pid-path); else Debian's.
   * Found once per process: the confirmation asks for the processes every few milliseconds.
   */
  private pidFile(): Promise<string> {
    this.pid ??= this.findPidFile();
    return this.pid;
  }

  private async findPidFile(): Promise<string> {
    const conf = await this.inspect().catch(() => null);
    if (conf?.pid) return conf.pid;
    const compiled = /--pid-path=(\S+)/.exec(await this.versionText())?.[1];
    return compiled ?? NGINX_DEFAULT_PID;
  }

  private versionText(): Promise<string> {
    const binary = this.opts.binary ?? 'nginx';
    return cachedVersionText(binary, this.opts.versionCache, async () => {
      const r = await run(binary, versionCommand());
      return `${r.stderr}\n${r.stdout}`;
    }).then((t) => (typeof t === 'string' ? t : ''));
  }
}

/** Pure: which of the two include lines is missing or misplaced, in words that name the file and line. */
export function includeProblems(conf: OperatorConf, main: string, files: { http: string; server: string }, port: number): string[] {
  const out: string[] = [];
  if (conf.http === null) return [`${main} has no http { } block`];
  if (conf.httpInclude === null) out.push(`\`include ${files.http};\` is missing inside http { } (${where(conf.http)})`);
  const si = conf.serverInclude;
  if (si?.onPort) return out;
  const [first] = conf.servers;
  if (si !== null) {
    out.push(`\`include ${files.server};\` is in the server block at ${where(si.server)}, which does not listen on ${port} (listen)`);
  } else if (first !== undefined) {
    out.push(`\`include ${files.server};\` is missing inside the server block that listens on ${port} (${where(first)})`);
  } else {
    out.push(
      `no server block listens on ${port} (listen): add \`include ${files.server};\` inside the server { } that fronts the application`,
    );
  }
  return out;
}

const where = (d: Directive): string => `${d.file}:${d.line}`;

/** execa loads on first use: a weights-only step or a status needs no process at all. */
async function run(cmd: string, args: readonly string[]) {
  const { execa } = await import('execa');
  return execa(cmd, args, { reject: false, timeout: 30_000, stdin: 'ignore' });
}

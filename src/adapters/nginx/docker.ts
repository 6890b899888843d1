import { isAbsolute, posix } from 'node:path';
import type { LiveNginx, Logger, NjsSupport } from '../../app/ports.js';
import { OWN_LAYOUT } from '../../render/layout.js';
import { ApplyError, UsageError } from '../../core/errors.js';
import { reloadCommand, testCommand } from './commands.js';
import {
  composeDownCommand,
  composeRunCommand,
  composeRunNginxCommand,
  composeStopCommand,
  composeUpCommand,
  containerTargets,
  curlCommand,
  execCommand,
  parseTop,
  topCommand,
} from './docker-commands.js';
import { SECRET_HEADER } from '../force-secret.js';
import { HostFileStore, nginxLayout, type NginxLayout } from './files.js';
import { INSTALL_HINT, SHARED_DICT_DIRECTIVE, njsCandidate, notAvailable, versionCommand } from './njs.js';
import type { NginxRuntime } from './runtime.js';
import { StagedNginx } from './sequence.js';
import { parseStatus } from './status-parse.js';
import { waitForMaster, type NginxProcesses } from './steps.js';

export interface DockerNginxOptions {
  /** absolute host folder bgctl owns, bind-mounted (as a folder) at containerDir */
  readonly dir: string;
  /** nginx.weightsDir: a host folder inside `dir` holding the weights file; null/absent: conf.d */
  readonly weightsDir?: string | null;
  readonly container: string;
  /** where `dir` is mounted inside the container; default /etc/nginx/bgctl */
  readonly containerDir?: string;
  /** absolute compose file `start`/`stop` bring up and down; null: start only applies, stop is refused */
  readonly composeFile: string | null;
  /** the compose service of the NGINX container; default nginx */
  readonly service?: string;
  /** the listen port inside the container */
  readonly listenPort: number;
  /** tls: the listen port speaks HTTPS */
  readonly tls?: boolean;
  /** sent as X-Bgctl-Secret on `/__bgctl/status` (routing.forceSecret or bgctl's own) */
  readonly secret?: string | null;
  /** the docker client; default 'docker' (found on PATH) */
  readonly docker?: string;
  readonly confirmTimeoutMs?: number;
  readonly logger?: Logger;
  /** the target's name in a fleet; default `nginx` */
  readonly name?: string;
  /** dynamic mode: the njs module's path inside the container; null/absent: found from `nginx -V` there */
  readonly njsModule?: string | null;
}

/**
 * NGINX in a container, driven through the docker client with the very sequence of the local driver
 * (sequence.ts): bgctl writes the candidate into the host folder, `docker exec C nginx -t` tests it with
 * container paths, the rename happens on the host (seen inside: the folder is bind-mounted), `docker
 * exec C nginx -s reload`, and the confirmation asks from inside the container (`docker top` for the
 * worker generations, `docker exec C curl` for the revision on fresh connections).
 */
export class DockerNginxDriver extends StagedNginx {
  constructor(opts: DockerNginxOptions) {
    super(new DockerRuntime(opts), { name: opts.name ?? 'nginx', confirmTimeoutMs: opts.confirmTimeoutMs, logger: opts.logger });
  }
}

const POLL_MS = 50;
const DOCKER_TIMEOUT_MS = 60_000;

class DockerRuntime implements NginxRuntime {
  readonly kind = 'docker' as const;
  readonly layout: NginxLayout;
  readonly files: HostFileStore;
  readonly where: string;
  private readonly inside: ReturnType<typeof containerTargets>;
  private lastProblem: string | null = null;
  private warned: string | null = null;

  constructor(private readonly opts: DockerNginxOptions) {
    if (!isAbsolute(opts.dir)) throw new Error(`nginx dir must be absolute, got ${opts.dir}`);
    this.layout = nginxLayout(opts.dir, opts.weightsDir ?? null);
    this.files = new HostFileStore(this.layout);
    this.where = `container ${opts.container}`;
    this.inside = containerTargets(opts.containerDir ?? '/etc/nginx/bgctl');
  }

  /** In the running container; before its first start, in a one-off container of the compose service. */
  async testCandidate(sub: string): Promise<{ ok: boolean; output: string }> {
    const argv = testCommand({ ...this.inside.candidate, conf: posix.join(this.inside.live.prefix, sub, OWN_LAYOUT.main) });
    const running = (await this.processes()) !== null;
    const file = this.opts.composeFile;
    if (!running && file === null) {
      return { ok: false, output: `cannot run nginx -t: ${this.notRunning()}` };
    }
    const r = await this.docker(
      running || file === null ? execCommand(this.opts.container, ['nginx', ...argv]) : composeRunNginxCommand(file, this.service, argv),
    );
    const output = r.stderr || (r.message ?? '');
    if (r.exitCode !== 0 && /host not found in upstream/.test(output) && !running) {
      return {
        ok: false,
        output: `${output}\n(the apps must be running for their names to resolve: start them first, or give the servers fixed addresses)`,
      };
    }
    return { ok: r.exitCode === 0, output };
  }

  async processes(): Promise<NginxProcesses | null> {
    const r = await this.docker(topCommand(this.opts.container));
    if (r.exitCode !== 0) {
      this.note(r.stderr.trim() || (r.message ?? 'docker failed'));
      return null;
    }
    const procs = parseTop(r.stdout);
    if (procs === null) this.note(`no nginx master process in container ${this.opts.container}`);
    return procs;
  }

  async reload(): Promise<void> {
    const r = await this.docker(execCommand(this.opts.container, ['nginx', ...reloadCommand(this.inside.live)]));
    if (r.exitCode !== 0) {
      throw new ApplyError(`docker exec ${this.opts.container} nginx -s reload failed: ${oneLine(r.stderr) || r.message}`, 'reload');
    }
  }

  async boot(): Promise<NginxProcesses> {
    const file = this.requireCompose('start');
    await this.files.ensure(); // the bind-mount source must exist, owned by us, before docker creates it as root
    const r = await this.docker(composeUpCommand(file));
    if (r.exitCode !== 0) throw new ApplyError(`docker compose up failed: ${oneLine(r.stderr) || r.message}`, 'reload');
    return waitForMaster(() => this.processes(), {
      timeoutMs: this.opts.confirmTimeoutMs ?? 10_000,
      pollMs: POLL_MS,
      timedOut: () =>
        new ApplyError(`container ${this.opts.container} did not run an nginx master: ${this.lastProblem ?? 'no answer'}`, 'confirm', {
          hint: `docker compose -f ${file} logs ${this.service}`,
        }),
    });
  }

  /** Only the NGINX service: the apps may have been running before and keep running. */
  async abortBoot(): Promise<void> {
    if (this.opts.composeFile !== null) await this.docker(composeStopCommand(this.opts.composeFile, this.service));
  }

  async halt(): Promise<void> {
    const r = await this.docker(composeDownCommand(this.requireCompose('stop')));
    if (r.exitCode !== 0) throw new ApplyError(`docker compose down failed: ${oneLine(r.stderr) || r.message}`, 'reload');
  }

  /** curl inside the container: a new process, so a new connection, from the container's loopback;
   * X-Bgctl-Secret on stdin (never in the process list), so curl prints the headers too (`-i`). */
  async live(): Promise<LiveNginx | null> {
    const url = `${this.opts.tls ? 'https' : 'http'}://127.0.0.1:${this.opts.listenPort}/__bgctl/status`;
    const secret = this.opts.secret ?? null;
    const argv = curlCommand(this.opts.container, url, {
      timeoutSeconds: 2,
      headersOnStdin: secret !== null,
      insecure: this.opts.tls === true,
    });
    const r = await this.docker(argv, 10_000, secret === null ? undefined : `${SECRET_HEADER}: ${secret}\n`);
    if (r.exitCode !== 0) {
      // curl's own failures (refused, timeout) are routine while NGINX restarts; docker's are news
      this.note(r.stderr.trim() || (r.message ?? 'docker failed'), !/^curl: /.test(r.stderr.trim()));
      return null;
    }
    if (secret === null) return parseStatus(r.stdout);
    const cut = r.stdout.search(/\r?\n\r?\n/);
    return /^HTTP\/\S+ 200\b/.test(r.stdout) && cut >= 0 ? parseStatus(r.stdout.slice(cut).trim()) : null;
  }

  problem(): string | null {
    return this.lastProblem;
  }

  /**
   * Looked for inside the container (a one-off container of the service before its first start):
   * nginx.njsModule or `<--modules-path>/ngx_http_js_module.so` from `nginx -V`, then `test -f` on it.
   * The official image ships /usr/lib/nginx/modules/ngx_http_js_module.so.
   */
  async njs(): Promise<NjsSupport> {
    // asked once: both programs run in the same place (the running container or a one-off one)
    const running = (await this.processes()) !== null;
    const found = await njsCandidate(
      this.opts.njsModule,
      async () => {
        const r = await this.inContainer(running, ['nginx', ...versionCommand()]);
        if (r === null) return notAvailable(`cannot look into the container: ${this.notRunning()}`);
        if (r.exitCode === 0) return `${r.stderr}\n${r.stdout}`;
        return notAvailable(`nginx -V in container ${this.opts.container} failed: ${oneLine(r.stderr || r.message || '')}`);
      },
      `njs is built into nginx (container ${this.opts.container})`,
    );
    if (!('how' in found)) return found;
    const { module, how } = found;
    // one run: 3 no module file; 0 it has js_shared_dict_zone (njs 0.8+); otherwise it has not
    const script = `test -f "$1" || exit 3; grep -q -F -e ${SHARED_DICT_DIRECTIVE} "$1"`;
    const t = await this.inContainer(running, ['sh', '-c', script, 'sh', module]);
    if (t === null) return notAvailable(`cannot look into the container: ${this.notRunning()}`);
    if (t.exitCode === 3) return notAvailable(`no njs module at ${module} in container ${this.opts.container} (${how}; ${INSTALL_HINT})`);
    return { available: true, module, detail: `njs module ${module} (container ${this.opts.container})`, sharedDict: t.exitCode === 0 };
  }

  /** A program in the running container, else in a one-off container of the compose service; null: neither. */
  private async inContainer(running: boolean, argv: readonly [string, ...string[]]) {
    if (running) return this.docker(execCommand(this.opts.container, argv));
    const file = this.opts.composeFile;
    return file === null ? null : this.docker(composeRunCommand(file, this.service, argv));
  }

  private get service(): string {
    return this.opts.service ?? 'nginx';
  }

  private requireCompose(what: 'start' | 'stop'): string {
    if (this.opts.composeFile !== null) return this.opts.composeFile;
    throw new UsageError(
      `bgctl ${what} with the docker driver brings the compose stack ${what === 'start' ? 'up' : 'down'}, and nginx.composeFile is not set` +
        (what === 'start' ? `; ${this.notRunning()}` : ''),
      { hint: `set nginx.composeFile, or ${what} container ${this.opts.container} yourself` },
    );
  }

  private notRunning(): string {
    return `container ${this.opts.container} is not running${this.lastProblem ? ` (${this.lastProblem})` : ''}`;
  }

  /** Remembers docker's own words for status; `warn`: says them once (a stopped container is polled often). */
  private note(problem: string, warn = false): void {
    const text = oneLine(problem).slice(0, 300);
    if (warn && text !== this.warned) {
      this.opts.logger?.warn('the nginx container does not answer', { container: this.opts.container, error: text });
      this.warned = text;
    }
    this.lastProblem = text;
  }

  private async docker(argv: readonly string[], timeout = DOCKER_TIMEOUT_MS, input?: string) {
    this.opts.logger?.debug('docker', { argv: argv.join(' ') });
    const { execa } = await import('execa'); // loaded on first use: CLI start stays quick
    const stdin = input === undefined ? { stdin: 'ignore' as const } : { input };
    return execa(this.opts.docker ?? 'docker', argv, { reject: false, timeout, ...stdin });
  }
}

const oneLine = (s: string): string => s.trim().replace(/\s*\n\s*/g, '; ');

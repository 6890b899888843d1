import { posix } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LiveNginx, Logger, NjsSupport } from '../../app/ports.js';
import { ApplyError } from '../../core/errors.js';
import { OWN_LAYOUT } from '../../render/layout.js';
import { SECRET_HEADER } from '../force-secret.js';
import { quitCommand, reloadCommand, signalCommand, startCommand, testCommand } from './commands.js';
import { ContainerFileStore } from './container-files.js';
import { httpInside } from './container-http.js';
import { parsePs } from './container-ops.js';
import type { ContainerShell } from './container-shell.js';
import { clientWords } from './docker-client.js';
import { containerTargets, execCommand } from './docker-commands.js';
import { nginxLayout, type NginxLayout } from './files.js';
import { INSTALL_HINT, SHARED_DICT_DIRECTIVE, njsCandidate, notAvailable, versionCommand } from './njs.js';
import type { NginxRuntime } from './runtime.js';
import { StagedNginx } from './sequence.js';
import { parseStatus } from './status-parse.js';
import { waitForMaster, type NginxProcesses } from './steps.js';

/**
 * NGINX in a container on an engine reached with DOCKER_HOST (nginx.dockerHost), with no folder shared
 * with this machine: the files live in the container under nginx.containerDir (render/layout.ts's
 * names), written, renamed and read through the container's session (container-shell.ts), which also
 * runs `nginx -t`, the reload, curl for the status location and the process list (/proc there). The
 * same sequence as every other NGINX (sequence.ts); only `start` differs: the container is brought up
 * with that engine's own tools (compose, systemd, `docker run --init IMAGE sleep infinity`), and bgctl
 * starts NGINX inside it with `docker exec C nginx -p DIR -c DIR/nginx.conf` (it daemonizes).
 */
export interface RemoteDockerOptions {
  readonly shell: ContainerShell;
  readonly containerDir: string;
  /** the listen port inside the container */
  readonly listenPort: number;
  /** tls: the listen port speaks HTTPS */
  readonly tls?: boolean;
  /** sent as X-Bgctl-Secret on `/__bgctl/status` */
  readonly secret?: string | null;
  readonly confirmTimeoutMs?: number;
  readonly logger?: Logger;
  /** dynamic mode: the njs module's path inside the container; null/absent: found from `nginx -V` there */
  readonly njsModule?: string | null;
}

const POLL_MS = 50;

/** The target's name in a fleet (default `nginx`) with the runtime's options. */
export class RemoteDockerNginxDriver extends StagedNginx {
  constructor(opts: RemoteDockerOptions & { readonly name?: string }) {
    super(new RemoteDockerRuntime(opts), { name: opts.name ?? 'nginx', confirmTimeoutMs: opts.confirmTimeoutMs, logger: opts.logger });
  }
}

export class RemoteDockerRuntime implements NginxRuntime {
  readonly kind = 'docker' as const;
  readonly layout: NginxLayout;
  readonly files: ContainerFileStore;
  readonly where: string;
  private readonly inside: ReturnType<typeof containerTargets>;
  private readonly shell: ContainerShell;
  private lastProblem: string | null = null;
  private warned: string | null = null;

  constructor(private readonly opts: RemoteDockerOptions) {
    this.shell = opts.shell;
    this.inside = containerTargets(opts.containerDir);
    this.layout = nginxLayout(this.inside.live.prefix);
    this.files = new ContainerFileStore(this.shell, this.layout);
    this.where = `container ${this.container} (${opts.shell.client.engine})`;
  }

  private get container(): string {
    return this.shell.container;
  }

  async testCandidate(sub: string): Promise<{ ok: boolean; output: string }> {
    const conf = posix.join(this.inside.live.prefix, sub, OWN_LAYOUT.main);
    try {
      const r = await this.nginx(testCommand({ ...this.inside.candidate, conf }));
      return { ok: r.code === 0, output: r.output };
    } catch (e) {
      return { ok: false, output: `cannot run nginx -t in container ${this.container}: ${message(e)}` };
    }
  }

  async processes(): Promise<NginxProcesses | null> {
    try {
      const [r] = await this.shell.run([{ op: 'ps' }]);
      const procs = parsePs(r?.data.toString('utf8') ?? '', this.inside.live.conf);
      if (procs === null) this.note(`no nginx master process in container ${this.container}`);
      return procs;
    } catch (e) {
      this.note(message(e), true);
      return null;
    }
  }

  async reload(): Promise<void> {
    const r = await this.nginx(reloadCommand(this.inside.live)).catch((e: unknown) => ({ code: -1, output: message(e) }));
    if (r.code !== 0) throw new ApplyError(`nginx -s reload in container ${this.container} failed: ${oneLine(r.output)}`, 'reload');
  }

  /** nginx daemonizes inside the running container; its master's parent is the container's init. */
  async boot(): Promise<NginxProcesses> {
    const r = await this.shell.client.run(execCommand(this.container, ['nginx', ...startCommand(this.inside.live)]), { timeoutMs: 30_000 });
    if (r.exitCode !== 0) {
      throw new ApplyError(
        `nginx did not start in container ${this.container}: ${clientWords(r.stderr) || r.failure || `exit ${r.exitCode}`}`,
        'reload',
        {
          hint: `is container ${this.container} running on ${this.opts.shell.client.engine}? \`docker ps\` there`,
        },
      );
    }
    return waitForMaster(() => this.processes(), {
      timeoutMs: this.opts.confirmTimeoutMs ?? 10_000,
      pollMs: POLL_MS,
      timedOut: () =>
        new ApplyError(`container ${this.container} did not run an nginx master: ${this.lastProblem ?? 'no answer'}`, 'confirm'),
    });
  }

  async abortBoot(): Promise<void> {
    await this.nginx(signalCommand(this.inside.live, 'stop')).catch(() => undefined);
  }

  /** `nginx -s quit` (workers finish their requests), then waits for the master to go; the container keeps running. */
  async halt(): Promise<void> {
    const r = await this.nginx(quitCommand(this.inside.live));
    if (r.code !== 0 && (await this.processes()) !== null) {
      throw new ApplyError(`nginx -s quit in container ${this.container} failed: ${oneLine(r.output)}`, 'reload');
    }
    const deadline = performance.now() + (this.opts.confirmTimeoutMs ?? 10_000);
    while ((await this.processes()) !== null) {
      if (performance.now() > deadline) throw new ApplyError(`nginx in container ${this.container} did not stop`, 'reload');
      await sleep(POLL_MS);
    }
  }

  /** curl inside the container: a new connection from its loopback, the secret on curl's stdin. */
  async live(): Promise<LiveNginx | null> {
    const url = `${this.opts.tls ? 'https' : 'http'}://127.0.0.1:${this.opts.listenPort}/__bgctl/status`;
    const secret = this.opts.secret ?? null;
    try {
      const r = await httpInside(this.shell, url, {
        headers: secret === null ? [] : [`${SECRET_HEADER}: ${secret}`],
        timeoutMs: 2000,
        insecure: this.opts.tls === true,
      });
      if (r.code !== 0) {
        this.note(oneLine(r.text) || `curl exit ${r.code}`);
        return null;
      }
      const cut = r.text.search(/\r?\n\r?\n/);
      return /^HTTP\/\S+ 200\b/.test(r.text) && cut >= 0 ? parseStatus(r.text.slice(cut).trim()) : null;
    } catch (e) {
      this.note(message(e), true);
      return null;
    }
  }

  problem(): string | null {
    return this.lastProblem;
  }

  async njs(): Promise<NjsSupport> {
    const unreachable = (e: unknown): NjsSupport => notAvailable(`cannot look into container ${this.container}: ${message(e)}`);
    let found;
    try {
      found = await njsCandidate(
        this.opts.njsModule,
        async () => {
          const r = await this.nginx(versionCommand());
          return r.code === 0 ? r.output : notAvailable(`nginx -V in container ${this.container} failed: ${oneLine(r.output)}`);
        },
        `njs is built into nginx (container ${this.container})`,
      );
    } catch (e) {
      return unreachable(e);
    }
    if (!('how' in found)) return found;
    const { module, how } = found;
    try {
      const [r] = await this.shell.run([{ op: 'holds', path: module, text: SHARED_DICT_DIRECTIVE }]);
      const answer = r?.words[0];
      if (answer !== 'yes' && answer !== 'no')
        return notAvailable(`no njs module at ${module} in container ${this.container} (${how}; ${INSTALL_HINT})`);
      return { available: true, module, detail: `njs module ${module} (container ${this.container})`, sharedDict: answer === 'yes' };
    } catch (e) {
      return unreachable(e);
    }
  }

  /** nginx inside the container: its exit code and what it printed (stdout and stderr). */
  private async nginx(argv: readonly string[]): Promise<{ code: number; output: string }> {
    const [r] = await this.shell.run([{ op: 'nginx', argv }], 60_000);
    return { code: Number(r?.words[0] ?? -1), output: r?.data.toString('utf8') ?? '' };
  }

  /** Remembers the words for status; `warn`: the engine's own failure, said once. */
  private note(problem: string, warn = false): void {
    const text = oneLine(problem).slice(0, 400);
    if (warn && text !== this.warned) {
      this.opts.logger?.warn('the nginx container does not answer', {
        container: this.container,
        engine: this.shell.client.engine,
        error: text,
      });
      this.warned = text;
    }
    this.lastProblem = text;
  }
}

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));
const oneLine = (s: string): string => s.trim().replace(/\s*\n\s*/g, '; ');

import type { Logger } from '../../app/ports.js';

/**
 * The docker client for one engine: every call gets DOCKER_HOST (nginx.dockerHost, or a target's own)
 * in its environment, so one bgctl can drive containers on several engines at once. Without a host the
 * client's own default applies (its DOCKER_HOST, context or /var/run/docker.sock).
 */
export interface DockerClientOptions {
  /** a DOCKER_HOST value; null: the client's default */
  readonly host: string | null;
  /** the client binary; default `docker` (found on PATH) */
  readonly binary?: string;
  readonly logger?: Logger;
}

export interface DockerRun {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  /** why the client could not run or was stopped (not found, timed out); null otherwise */
  readonly failure: string | null;
}

/** A client process that keeps running (a session or a stream): its pipes, and how it ended. */
export interface DockerProcess {
  readonly stdin: NodeJS.WritableStream & { end(): void };
  readonly stdout: NodeJS.ReadableStream;
  readonly stderr: NodeJS.ReadableStream;
  /** resolves when the client exited, with what it said last on stderr */
  readonly exited: Promise<{ exitCode: number | null; stderr: string }>;
  /** false once it exited */
  alive(): boolean;
  kill(): void;
  /** an idle process does not keep bgctl running; ref() while waiting for its answer */
  ref(): void;
  unref(): void;
}

const STDERR_KEPT = 2000;

/**
 * Pure: what the docker client said, shortest first. Through ssh its message is mostly boilerplate
 * ("error during connect: ... command [ssh ...] has exited with exit status 255, make sure the URL is
 * valid ...: stderr=Host key verification failed."): ssh's own words lead then.
 */
export function clientWords(stderr: string): string {
  const text = stderr.trim();
  const flat = (s: string): string => s.trim().replace(/\s*\n\s*/g, '; ');
  const ssh = /command \[ssh [^\]]*\] has exited with exit status (\d+)[^\n]*?stderr=([\s\S]*)$/.exec(text);
  if (!ssh) return flat(text);
  // ssh ends with its verdict ("Host key verification failed.", "Permission denied (publickey).") after any banner
  const said = (ssh[2] ?? '')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('@'));
  const changed = /REMOTE HOST IDENTIFICATION HAS CHANGED/.test(text) ? ' (the host key is not the one in known_hosts)' : '';
  return `ssh to the docker engine failed (exit ${ssh[1]}): ${said.at(-1) ?? 'no reason given'}${changed}`;
}

export class DockerClient {
  readonly host: string | null;
  private readonly binary: string;

  constructor(private readonly o: DockerClientOptions) {
    this.host = o.host;
    this.binary = o.binary ?? 'docker';
  }

  /** For messages: `DOCKER_HOST=...` or the client's default. */
  get engine(): string {
    return this.host === null ? 'the default docker engine' : `DOCKER_HOST=${this.host}`;
  }

  private get env(): Record<string, string> {
    return this.host === null ? {} : { DOCKER_HOST: this.host };
  }

  /** Runs the client to completion; never throws on a non-zero exit. */
  async run(argv: readonly string[], o: { timeoutMs?: number; input?: string } = {}): Promise<DockerRun> {
    this.o.logger?.debug('docker', { argv: argv.join(' '), ...(this.host ? { host: this.host } : {}) });
    const { execa } = await import('execa'); // loaded on first use: CLI start stays quick
    const r = await execa(this.binary, argv, {
      reject: false,
      timeout: o.timeoutMs ?? 60_000,
      env: this.env,
      ...(o.input === undefined ? { stdin: 'ignore' as const } : { input: o.input }),
    });
    const failed = r.failed && (r.exitCode === undefined || r.timedOut || r.isTerminated);
    return {
      exitCode: r.exitCode ?? -1,
      stdout: String(r.stdout),
      stderr: String(r.stderr),
      failure: failed ? (r.timedOut ? `timed out after ${o.timeoutMs ?? 60_000} ms` : (r.shortMessage ?? r.message ?? 'failed')) : null,
    };
  }

  /** Starts the client with open pipes; it is stopped when bgctl exits, however it exits (its stdin closes). */
  async spawn(argv: readonly string[]): Promise<DockerProcess> {
    this.o.logger?.debug('docker (kept running)', { argv: argv.join(' ').slice(0, 200), ...(this.host ? { host: this.host } : {}) });
    const { execa } = await import('execa');
    const child = execa(this.binary, argv, {
      reject: false,
      buffer: false,
      env: this.env,
      stdin: 'pipe',
      stdout: 'pipe',
      stderr: 'pipe',
      cleanup: true,
    });
    let said = '';
    let done = false;
    child.stderr.on('data', (chunk: Buffer) => {
      said = (said + chunk.toString('utf8')).slice(-STDERR_KEPT);
    });
    // a write after the client died must not crash bgctl: the exit is reported through `exited`
    child.stdin.on('error', () => undefined);
    const exited = child.then(
      (r) => ({ exitCode: r.exitCode ?? null, stderr: said.trim() || (r.failed ? (r.shortMessage ?? '') : '') }),
      (e: unknown) => ({ exitCode: null, stderr: e instanceof Error ? e.message : String(e) }),
    );
    void exited.then(() => {
      done = true;
    });
    const streams = [child.stdin, child.stdout, child.stderr] as unknown as { ref?: () => void; unref?: () => void }[];
    return {
      stdin: child.stdin,
      stdout: child.stdout,
      stderr: child.stderr,
      exited,
      alive: () => !done,
      kill: () => {
        child.stdin.end();
        child.kill();
      },
      ref: () => {
        child.ref();
        for (const s of streams) s.ref?.();
      },
      unref: () => {
        child.unref();
        for (const s of streams) s.unref?.();
      },
    };
  }
}

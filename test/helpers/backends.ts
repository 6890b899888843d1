import { existsSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { REPO_ROOT } from './cli.js';

/** The built demo backend; tests that use it need `npm run build` first (npm test does it). */
export const BACKEND_SCRIPT = path.join(REPO_ROOT, 'dist', 'demo', 'backend-main.js');

export interface BackendProcessOptions {
  readonly color: 'blue' | 'green';
  readonly version: string;
  /** 0 (default) lets the kernel choose; the real port is read from the "listening" line */
  readonly port?: number;
  readonly latencyMs?: number;
  /** another build of backend-main.js (tests that compile it themselves) */
  readonly script?: string;
  readonly startTimeoutMs?: number;
}

export interface BackendProcess {
  readonly port: number;
  readonly pid: number;
  readonly url: string;
  /** sends a signal right away (SIGKILL by default: a crash, not a shutdown) */
  kill(signal?: NodeJS.Signals): void;
  /** SIGTERM, then SIGKILL after 3 s; resolves once the process is gone */
  stop(): Promise<void>;
}

const running = new Set<BackendProcess>();

/** A demo backend as a real child process, so a test can kill -9 it like a crashing app. */
export async function startBackendProcess(opts: BackendProcessOptions): Promise<BackendProcess> {
  const script = opts.script ?? BACKEND_SCRIPT;
  if (!existsSync(script)) throw new Error(`${script} does not exist: run \`npm run build\` first`);
  const args = [script, '--color', opts.color, '--version', opts.version, '--port', String(opts.port ?? 0)];
  if (opts.latencyMs !== undefined) args.push('--latency-ms', String(opts.latencyMs));
  // cleanup (execa's default) kills it if the test process dies; reject: false so a kill is not an error
  const child = execa(process.execPath, args, { reject: false, stdin: 'ignore', forceKillAfterDelay: 3000 });
  const exited = child.then(() => undefined);

  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    let settled = false;
    const onData = (chunk: Buffer): void => {
      out += chunk.toString();
      const m = /^listening http:\/\/\S+:(\d+) /m.exec(out);
      if (m) done(null, Number(m[1]));
    };
    const timer = setTimeout(
      () => done(new Error(`backend ${opts.color} did not start within the timeout: ${out}`)),
      opts.startTimeoutMs ?? 10_000,
    );
    const done = (error: Error | null, value = 0): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.stdout.off('data', onData);
      if (error) {
        child.kill('SIGKILL');
        reject(error);
      } else resolve(value);
    };
    child.stdout.on('data', onData);
    void exited.then(async () => done(new Error(`backend ${opts.color} exited before listening: ${(await child).stderr}`)));
  });

  const backend: BackendProcess = {
    port,
    pid: child.pid ?? -1,
    url: `http://127.0.0.1:${port}`,
    kill(signal = 'SIGKILL') {
      child.kill(signal);
    },
    async stop() {
      child.kill('SIGTERM'); // forceKillAfterDelay sends SIGKILL if it lingers
      await exited;
      running.delete(backend);
    },
  };
  running.add(backend);
  void exited.then(() => running.delete(backend));
  return backend;
}

/** Stops every backend process this test file started; call it in afterAll. */
export async function stopAllBackends(): Promise<void> {
  await Promise.all([...running].map((b) => b.stop()));
}

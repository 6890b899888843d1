import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';

/** Runs the real CLI (`node bin/bgctl.cjs`, which loads dist/: `npm run build` first) as a child process. */
export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BGCTL_BIN = path.join(REPO_ROOT, 'bin', 'bgctl.cjs');

export interface CliOptions {
  readonly cwd: string;
  /** added to a clean environment: inherited BGCTL_* variables are removed so tests stay hermetic */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly timeoutMs?: number;
  /** text for stdin; without it stdin is /dev/null (the CLI must never wait for a keyboard) */
  readonly input?: string;
}

export interface CliResult {
  /** the exit code; -1 when the process died of a signal or timed out (see signal, timedOut) */
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly durationMs: number;
  readonly signal: string | undefined;
  readonly timedOut: boolean;
}

export function cliEnv(extra: CliOptions['env'] = {}): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('BGCTL_')) delete env[key];
  delete env['FORCE_COLOR'];
  return { ...env, NO_COLOR: '1', ...extra };
}

function execaOptions(opts: CliOptions) {
  return {
    cwd: opts.cwd,
    env: cliEnv(opts.env),
    extendEnv: false,
    reject: false,
    timeout: opts.timeoutMs ?? 60_000,
    stripFinalNewline: false,
    ...(opts.input === undefined ? { stdin: 'ignore' as const } : { input: opts.input }),
  } as const;
}

export async function runCli(args: readonly string[], opts: CliOptions): Promise<CliResult> {
  const started = performance.now();
  const result = await execa(process.execPath, [BGCTL_BIN, ...args], execaOptions(opts));
  return {
    exitCode: result.exitCode ?? -1,
    stdout: String(result.stdout ?? ''),
    stderr: String(result.stderr ?? ''),
    durationMs: Math.round(performance.now() - started),
    signal: result.signal,
    timedOut: result.timedOut,
  };
}

export type CliProcess = ResultPromise<ReturnType<typeof execaOptions>>;

/**
 * Starts the CLI without waiting, for tests that interrupt it (kill('SIGINT'), kill('SIGKILL')).
 * `await` the returned process for its result; it never rejects.
 */
export function spawnCli(args: readonly string[], opts: CliOptions): CliProcess {
  return execa(process.execPath, [BGCTL_BIN, ...args], execaOptions(opts));
}

/** Resolves with everything printed so far once stdout or stderr matches; rejects on exit or timeout. */
export function waitForOutput(subprocess: CliProcess, pattern: RegExp, timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const finish = (error?: Error): void => {
      clearTimeout(timer);
      subprocess.stdout?.off('data', onData);
      subprocess.stderr?.off('data', onData);
      subprocess.off('exit', onExit);
      if (error) reject(error);
      else resolve(seen);
    };
    const onData = (chunk: Buffer | string): void => {
      seen += chunk.toString();
      if (pattern.test(seen)) finish();
    };
    const onExit = (code: number | null): void => finish(new Error(`exited (${code}) before printing ${pattern}:\n${seen}`));
    const timer = setTimeout(() => finish(new Error(`no ${pattern} within ${timeoutMs} ms:\n${seen}`)), timeoutMs);
    subprocess.stdout?.on('data', onData);
    subprocess.stderr?.on('data', onData);
    subprocess.once('exit', onExit);
  });
}

/** Parses a --json result, failing with the output in the message when it is not one JSON document. */
export function jsonOf<T = Record<string, unknown>>(result: Pick<CliResult, 'stdout' | 'stderr' | 'exitCode'>): T {
  try {
    return JSON.parse(result.stdout) as T;
  } catch {
    throw new Error(`stdout is not JSON (exit ${result.exitCode}):\n${result.stdout}\nstderr:\n${result.stderr}`);
  }
}

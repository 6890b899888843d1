/**
 * Running child processes for the bench: the CLI, nginx, plain node. Argv arrays only, never a shell.
 * Every call has a timeout, so a hung process cannot hang the bench.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { track } from './cleanup.mjs';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BGCTL_BIN = path.join(REPO_ROOT, 'bin', 'bgctl.cjs');

/** The bench's environment without inherited BGCTL_* settings, so a user's shell cannot steer it. */
export function cleanEnv() {
  const env = { ...process.env, NO_COLOR: '1' };
  for (const key of Object.keys(env)) if (key.startsWith('BGCTL_')) delete env[key];
  delete env.FORCE_COLOR;
  return env;
}

/**
 * Runs argv to completion and measures its wall time from spawn to exit (what a user or a CI job waits).
 * Never rejects: the caller decides what a non-zero exit means.
 */
export async function timed(file, args, { cwd = REPO_ROOT, timeoutMs = 60_000 } = {}) {
  const t0 = performance.now();
  const startedAt = Date.now();
  const child = execa(file, args, {
    cwd,
    env: cleanEnv(),
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
    timeout: timeoutMs,
    forceKillAfterDelay: 2000,
  });
  // interrupted mid-call (Ctrl-C, time budget): stop this process before NGINX and the backends go
  const release = track(`${path.basename(args[0] ?? file)} ${args.slice(1, 3).join(' ')}`, async () => {
    child.kill('SIGTERM');
    await child;
  });
  const r = await child;
  release();
  return {
    exitCode: r.exitCode ?? -1,
    stdout: String(r.stdout ?? ''),
    stderr: String(r.stderr ?? ''),
    timedOut: Boolean(r.timedOut),
    ms: performance.now() - t0,
    startedAt,
  };
}

/** `node bin/bgctl.cjs ...args` in cwd. */
export const bgctl = (args, opts) => timed(process.execPath, [BGCTL_BIN, ...args], opts);

/** Same, but throws with the output when the exit code is not 0: for setup steps that must work. */
export async function bgctlOk(args, opts) {
  const r = await bgctl(args, opts);
  if (r.exitCode !== 0)
    throw new Error(
      `bgctl ${args.join(' ')} exited ${r.exitCode}${r.timedOut ? ' (timed out)' : ''}:\n${tail(r.stdout)}\n${tail(r.stderr)}`,
    );
  return r;
}

/** Parses a --json result; null when stdout is not one JSON document. */
export function jsonOf(r) {
  try {
    return JSON.parse(r.stdout);
  } catch {
    return null;
  }
}

export const tail = (text, lines = 8) => text.trim().split('\n').slice(-lines).join('\n');

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

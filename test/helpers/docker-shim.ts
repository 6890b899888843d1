import { chmod, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { isPidAlive, readMasterPid } from '../../src/adapters/nginx/workers.js';
import { stopAllBackends } from './backends.js';
import { removeTmpDir } from './tmp.js';

/**
 * Puts a `docker` first on PATH that records every argv and carries it out against a real NGINX on
 * this machine (test/helpers/docker-shim.mjs). Pass `env` to the bgctl process under test.
 */
export interface ShimContainer {
  /** the host folder bgctl writes (nginx.dir), the "bind mount" */
  readonly hostDir: string;
  /** where that folder is mounted in the container */
  readonly containerDir: string;
  readonly service: string;
  readonly composeFile: string;
}

export interface FailRule {
  /** words of an exec's command (e.g. "nginx -s reload") */
  readonly match: string;
  /** the nth matching exec from now on fails like a stopped container (exit 1) */
  readonly nth: number;
}

export interface DockerShim {
  readonly env: Record<string, string>;
  /** every docker argv so far, in order */
  calls(): Promise<string[][]>;
  /** forgets the calls recorded so far */
  clearCalls(): Promise<void>;
  setFailures(rules: readonly FailRule[]): Promise<void>;
  /** runs the shim itself, e.g. `docker stop NAME` to stop a "container" behind bgctl's back */
  docker(args: readonly string[]): Promise<{ exitCode: number; stdout: string; stderr: string }>;
}

const SHIM = new URL('./docker-shim.mjs', import.meta.url).pathname;

export async function installDockerShim(dir: string, containers: Readonly<Record<string, ShimContainer>>): Promise<DockerShim> {
  const bin = path.join(dir, 'shim-bin');
  await mkdir(bin, { recursive: true });
  const record = path.join(dir, 'docker-calls.jsonl');
  const stateFile = path.join(dir, 'docker-shim.json');
  const nginx = process.env['BGCTL_TEST_NGINX'] ?? '/usr/sbin/nginx';
  const writeState = (fail: readonly FailRule[]) => writeFile(stateFile, JSON.stringify({ record, nginx, containers, fail }));
  await writeState([]);
  await writeFile(record, '');
  await writeFile(path.join(bin, 'docker'), `#!/bin/sh\nexec "${process.execPath}" "${SHIM}" "$@"\n`);
  await chmod(path.join(bin, 'docker'), 0o755);
  const env = { PATH: `${bin}:${process.env['PATH'] ?? ''}`, DOCKER_SHIM_STATE: stateFile };
  return {
    env,
    async calls() {
      const text = await readFile(record, 'utf8');
      return text
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as string[]);
    },
    async clearCalls() {
      await writeFile(record, '');
    },
    async setFailures(rules) {
      for (const f of await readdir(dir)) if (f.startsWith('docker-calls.jsonl.fail')) await rm(path.join(dir, f));
      await writeState(rules);
    },
    async docker(args) {
      const r = await execa(path.join(bin, 'docker'), args, { env: { ...process.env, ...env }, reject: false });
      return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
    },
  };
}

/**
 * Tears down what a docker-shim test started: the "stack" (compose down through the shim), a master
 * left behind by a failed test, the backends and the folder.
 */
export async function teardownDockerSandbox(shim: DockerShim | undefined, dir: string | undefined, composeFile: string): Promise<void> {
  await shim?.docker(['compose', '-f', composeFile, 'down']).catch(() => undefined);
  const pid = dir ? await readMasterPid(path.join(dir, 'nginx', 'logs', 'nginx.pid')) : null;
  if (pid !== null && isPidAlive(pid)) process.kill(pid, 'SIGKILL');
  await stopAllBackends();
  if (dir) await removeTmpDir(dir);
}

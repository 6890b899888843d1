import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { request } from 'undici';
import { startBackendProcess, type BackendProcess } from './backends.js';
import { runCli, spawnCli, type CliResult } from './cli.js';
import { writeConfig } from './fixture.js';
import { freePorts } from './ports.js';
import { makeTmpDir, removeTmpDir } from './tmp.js';

/**
 * A real installation for CLI tests: two demo backends as real processes, a bgctl.yaml, and an NGINX
 * master started through `bgctl start`. `close()` stops NGINX and the backends and removes the folder.
 */
export interface Sandbox {
  readonly dir: string;
  readonly listen: number;
  readonly blue: BackendProcess;
  readonly green: BackendProcess;
  cli(args: readonly string[], env?: Record<string, string>): Promise<CliResult>;
  spawn(args: readonly string[]): ReturnType<typeof spawnCli>;
  /** --json status */
  status(): Promise<StatusJson>;
  stateText(): Promise<string>;
  /** one request through NGINX on a fresh connection: the color that served it */
  get(pathname?: string): Promise<{ status: number; color: string | undefined }>;
  close(): Promise<void>;
}

export interface StatusJson {
  stable: string;
  active: string;
  weights: { blue: number; green: number };
  revision: number;
  drift: string | null;
  nginx: { running: boolean; live: { revision: number } | null };
  migration: { status: string; step: number | null; to: string; kind: string; reason: string | null } | null;
}

export interface SandboxOptions {
  readonly blueVersion?: string;
  readonly greenVersion?: string;
  readonly overrides?: Record<string, unknown>;
  /** skip `bgctl start` */
  readonly noStart?: boolean;
}

export async function makeSandbox(name: string, o: SandboxOptions = {}): Promise<Sandbox> {
  const dir = await makeTmpDir(name);
  const [listen] = await freePorts(1);
  const blue = await startBackendProcess({ color: 'blue', version: o.blueVersion ?? '1.0.0' });
  const green = await startBackendProcess({ color: 'green', version: o.greenVersion ?? '2.1.0' });
  await writeConfig(dir, { blue: blue.port, green: green.port, listen: listen as number, overrides: o.overrides ?? {} });
  const cli = (args: readonly string[], env: Record<string, string> = {}): Promise<CliResult> => runCli(args, { cwd: dir, env });
  const box: Sandbox = {
    dir,
    listen: listen as number,
    blue,
    green,
    cli,
    spawn: (args) => spawnCli(args, { cwd: dir, timeoutMs: 120_000 }),
    async status() {
      const r = await cli(['status', '--json']);
      // 4 and 6 are status's CRITICAL and DEGRADED verdicts: the report is still printed
      if (![0, 4, 6].includes(r.exitCode) || !r.stdout.trim().startsWith('{'))
        throw new Error(`status failed (${r.exitCode}): ${r.stderr}`);
      return JSON.parse(r.stdout) as StatusJson;
    },
    stateText: () => readFile(path.join(dir, 'state', 'state.json'), 'utf8'),
    async get(pathname = '/') {
      const res = await request(`http://127.0.0.1:${listen}${pathname}`, { reset: true, headersTimeout: 5000, bodyTimeout: 5000 });
      await res.body.dump();
      const c = res.headers['x-bgctl-color'];
      return { status: res.statusCode, color: Array.isArray(c) ? c[0] : c };
    },
    async close() {
      await cli(['stop', '--yes']).catch(() => undefined);
      await Promise.all([blue.stop(), green.stop()]);
      await removeTmpDir(dir);
    },
  };
  if (!o.noStart) {
    const r = await cli(['start']);
    if (r.exitCode !== 0) {
      await box.close();
      throw new Error(`bgctl start failed (${r.exitCode}):\n${r.stdout}\n${r.stderr}`);
    }
  }
  return box;
}

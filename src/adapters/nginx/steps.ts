import { setTimeout as sleep } from 'node:timers/promises';
import { ApplyError, PreflightError } from '../../core/errors.js';
import { OWN_LAYOUT } from '../../render/layout.js';
import type { WorkerInfo } from './workers.js';

/** Small pieces every NGINX driver shares: timing a stage, naming the stage of a failure, waiting for a master. */

/** The master and its worker processes (titles tell whether a worker is shutting down). */
export interface NginxProcesses {
  readonly master: number;
  readonly workers: readonly WorkerInfo[];
}

export type Stage = ApplyError['stage'];
/** How long each stage of one apply took (ms), by name: the apply's report and log line carry it. */
export type Stages = Record<string, number>;

/** Runs fn and records how long it took (ms) as `stages[name]`, also when it throws; no record: just runs it. */
export async function timed<T>(stages: Stages | undefined, name: string, fn: () => Promise<T>): Promise<T> {
  if (stages === undefined) return fn();
  const t = performance.now();
  try {
    return await fn();
  } finally {
    stages[name] = Math.round(performance.now() - t);
  }
}

/** Any failure of fn becomes an ApplyError of `stage` (an ApplyError keeps its own). */
export async function asStage<T>(stage: Stage, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw error instanceof ApplyError ? error : new ApplyError(msg(error), stage, { cause: error });
  }
}

export const stageOf = (error: unknown, fallback: Stage): Stage => (error instanceof ApplyError ? error.stage : fallback);

export const msg = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** Polls `processes` until a master runs (a runtime's boot: nginx may answer before its master is up); `timedOut` after `timeoutMs`. */
export async function waitForMaster(
  processes: () => Promise<NginxProcesses | null>,
  o: { timeoutMs: number; pollMs: number; timedOut: () => Error },
): Promise<NginxProcesses> {
  const deadline = performance.now() + o.timeoutMs;
  for (;;) {
    const procs = await processes();
    if (procs !== null) return procs;
    if (performance.now() > deadline) throw o.timedOut();
    await sleep(o.pollMs);
  }
}

/** Refuses a new master on top of workers whose master is gone: they hold the listen socket and serve an old config. */
export function orphansError(where: string, pids: readonly number[]): PreflightError {
  const list = pids.join(' ');
  return new PreflightError(
    `NGINX worker processes without a master still run for ${where} (pids ${pids.join(', ')}): they hold the listen socket and serve the last config; bgctl will not start another NGINX on top of them: stop them with \`kill ${list}\``,
    { details: { orphans: pids }, hint: `\`kill -9 ${list}\` if they linger, then run \`bgctl start\`` },
  );
}

/**
 * bgctl's own main config must name the pid file bgctl watches (else nginx uses its compiled-in
 * /run/nginx.pid and bgctl would lose, or clash with, the master); a system NGINX (pidFile null) names its own.
 */
export function withOwnPid<T extends { readonly main: string }>(files: T, pidFile: string | null): T {
  if (pidFile === null) return files;
  const pid = /^\s*pid\s+(\S+?)\s*;/m.exec(files.main)?.[1];
  if (pid !== OWN_LAYOUT.pid && pid !== pidFile) throw new ApplyError(`nginx.conf must contain "pid ${OWN_LAYOUT.pid};"`, 'test');
  return files;
}

/** `nginx -t` said no: its own lines (bar the "test failed" summary), as one message. */
export function testRefused(revision: number, output: string): ApplyError {
  const why = output
    .split('\n')
    .filter((l) => l && !l.includes('test failed'))
    .join('; ');
  return new ApplyError(`nginx -t rejected revision ${revision}: ${why || 'no reason given'}`, 'test');
}

import { setTimeout as sleep } from 'node:timers/promises';
import { ApplyError } from '../../core/errors.js';
import type { Generation } from './phases.js';
import type { NginxRuntime } from './runtime.js';

const FRESH_ANSWERS = 3; // consecutive fresh connections that must carry the expected revision
const POLL_MS = 20;

/**
 * Applied = every old-generation worker exited or retitled "is shutting down" (it closed
 * the listen socket) AND FRESH_ANSWERS fresh connections in a row answer `revision` (null: any answer).
 * An [emerg] logged since the reload means nginx kept the old config (e.g. a taken port): fail fast.
 */
export async function confirmRevision(
  runtime: NginxRuntime,
  revision: number | null,
  gen: Generation,
  failOnEmerg: boolean,
  timeoutMs: number,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let streak = 0;
  let why = 'old workers still accept connections';
  while (performance.now() < deadline) {
    if (failOnEmerg) {
      const emerg = (await runtime.files.errorLogSince(gen.logOffset)).find((l) => l.includes('[emerg]'));
      if (emerg !== undefined) throw new ApplyError(`nginx rejected the config: ${emerg}`, 'reload');
    }
    const procs = await runtime.processes();
    if (procs === null || procs.master !== gen.master) throw new ApplyError('the nginx master exited', 'confirm');
    const active = procs.workers.filter((w) => !w.shuttingDown);
    if (active.length > 0 && active.every((w) => !gen.oldWorkers.has(w.pid))) {
      const live = await runtime.live();
      if (live !== null && (revision === null || live.revision === revision)) {
        if (++streak >= FRESH_ANSWERS) return;
        continue;
      }
      why =
        live === null
          ? 'the status location does not answer'
          : `still serving revision ${live.revision}${live.problem ? ` (${live.problem})` : ''}`;
    }
    streak = 0;
    await sleep(POLL_MS);
  }
  throw new ApplyError(`revision ${revision ?? '(previous)'} not confirmed within ${timeoutMs} ms: ${why}`, 'confirm');
}

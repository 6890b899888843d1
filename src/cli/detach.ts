import { processAlive, readServeRecord } from '../adapters/serve-file.js';
import type { Color } from '../core/color.js';
import type { Strategy } from '../core/strategy.js';
import { BgctlError, ExitCode, PreflightError, UsageError, type ExitCodeValue } from '../core/errors.js';
import type { Run } from './run.js';

export interface DetachRequest {
  readonly color: Color;
  readonly version: string;
  readonly steps: number[] | undefined;
  readonly stepSeconds: number | undefined;
  readonly strategy: Strategy | undefined;
}

const EXIT_OF_STATUS: Readonly<Record<number, ExitCodeValue>> = { 400: 2, 401: 2, 403: 2, 409: 5, 422: 6, 429: 5, 503: 5 };

/**
 * `gradual --detach`: hands the migration to the `bgctl serve` of this install (POST /switch/:color
 * on its API), so it outlives the terminal; exits 0 once serve took it, printing how to follow it.
 */
export async function detachGradual(run: Run, req: DetachRequest): Promise<void> {
  const ctx = await run.context();
  const stateDir = ctx.loaded.config.stateDir;
  const serve = await readServeRecord(stateDir);
  if (!serve || serve.host !== ctx.host || !processAlive(serve.pid)) {
    throw new PreflightError('gradual --detach: no `bgctl serve` is running for this install; nothing was changed', {
      hint: 'start one (`BGCTL_API_TOKEN=... bgctl serve`) or run the migration without --detach',
    });
  }
  const token = run.deps.env['BGCTL_API_TOKEN'] ?? null;
  if (!token) throw new UsageError('gradual --detach: set BGCTL_API_TOKEN to the token `bgctl serve` was started with');
  const body = {
    version: req.version,
    ...(req.steps ? { steps: req.steps } : {}),
    ...(req.stepSeconds !== undefined ? { stepSeconds: req.stepSeconds } : {}),
    ...(req.strategy ? { strategy: req.strategy } : {}),
  };
  // undici loads only for this path: other commands start quickly
  const { postJson } = await import('../adapters/serve-client.js');
  const r = await postJson(`${serve.api}/switch/${req.color}`, token, body);
  const json = (r.json ?? {}) as { error?: { message?: string }; job?: string; outcome?: string };
  if (r.status >= 300) {
    const code = EXIT_OF_STATUS[r.status] ?? ExitCode.UNKNOWN_STATE;
    throw new BgctlError(`gradual --detach: bgctl serve (pid ${serve.pid}) refused: ${json.error?.message ?? `HTTP ${r.status}`}`, code);
  }
  const follow = ['bgctl status --watch', 'bgctl pause | resume | promote | abort', `curl -s ${serve.api}/migration`];
  run.out.result({ detached: true, serve: { pid: serve.pid, api: serve.api }, status: r.status, response: r.json, follow }, () => {
    run.out.line(
      r.status === 202
        ? `handed to bgctl serve (pid ${serve.pid}): gradual ${req.color} ${req.version} runs there (job ${json.job ?? '?'})`
        : `bgctl serve (pid ${serve.pid}) answered: ${json.outcome ?? 'done'}`,
    );
    run.out.line(`follow it:  ${follow.join('   ·   ')}`);
  });
}

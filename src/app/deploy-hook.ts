import type { Color } from '../core/color.js';
import { InterruptedError, PreflightError } from '../core/errors.js';
import type { AppContext } from './context.js';
import type { ColorHealth } from './ports.js';
import { describeHealth } from './preflight.js';

/** Runs the configured deploy hook for color+version, then waits until every server reports it healthy. */
export async function runDeployHook(ctx: AppContext, color: Color, version: string): Promise<ColorHealth> {
  if (!ctx.deploy) {
    throw new PreflightError(`no deploy hook configured (deploy.command); cannot put ${version} onto ${color}`, {
      hint: 'add a deploy section to the config, or deploy the version yourself and use `bgctl gradual`',
    });
  }
  ctx.reporter.event({ type: 'deploy', color, version, phase: 'start' });
  await ctx.deploy.run(color, version, ctx.signal);
  const health = await waitHealthy(ctx, color, version, ctx.loaded.config.probe.waitHealthySeconds * 1000);
  ctx.reporter.event({ type: 'deploy', color, version, phase: 'done' });
  return health;
}

/** Polls the color until all its servers are healthy and (if they say) run `version`, or times out. */
export async function waitHealthy(ctx: AppContext, color: Color, version: string | null, timeoutMs: number): Promise<ColorHealth> {
  const deadline = ctx.clock.now() + timeoutMs;
  for (;;) {
    const h = await ctx.prober.color(color);
    const versionOk = !version || h.version === version || h.servers.every((s) => s.version === null);
    if (h.healthy && versionOk) return h;
    if (ctx.signal.aborted) throw new InterruptedError(`interrupted while waiting for ${color} to become healthy; no traffic was moved`);
    if (ctx.clock.now() >= deadline) {
      const why = h.healthy ? `servers report version ${h.version ?? 'mixed'}, expected ${version ?? ''}` : describeHealth(h);
      throw new PreflightError(`${color} did not become healthy within ${Math.round(timeoutMs / 1000)} s: ${why}`);
    }
    await ctx.clock.sleep(ctx.loaded.config.probe.intervalMs, ctx.signal);
  }
}

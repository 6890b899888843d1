import { otherColor } from '../core/color.js';
import { StateWriteError, UnknownStateError } from '../core/errors.js';
import type { State } from '../core/state.js';
import type { AppContext } from './context.js';
import type { MigrationRequest } from './migrate.js';

/**
 * The state folder refused a write mid-migration (full, read-only): traffic goes back to the stable color
 * all the same, confirmed by NGINX, without another state write, and the error (exit 4) names the real
 * cause. state.json still shows the migration in progress with its process gone: the next command finds
 * it interrupted and reconciles it from what NGINX serves (status shows the drift, rollback settles it).
 */
export async function returnUnsaved(
  ctx: AppContext,
  started: State,
  req: MigrationRequest,
  cause: StateWriteError,
): Promise<UnknownStateError> {
  const stable = otherColor(req.to);
  const weights = { blue: stable === 'blue' ? 100 : 0, green: stable === 'green' ? 100 : 0 };
  ctx.reporter.event({ type: 'rollback', reason: cause.message, weights });
  const live = await ctx.nginx.live().catch(() => null);
  const saved = await ctx.store.load().catch(() => started);
  const revision = Math.max(saved.revision, live?.revision ?? 0) + 1;
  const details = { cause: cause.message, ...cause.details };
  try {
    const config = ctx.render({ weights, revision, stable, growing: req.to, strategy: req.strategy });
    if (await ctx.nginx.isRunning()) await ctx.nginx.apply(config);
    else await ctx.nginx.start(config);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    return new UnknownStateError(
      `${req.command}: ${cause.message}; returning traffic to ${stable} failed too: ${why}. A human must look: run \`bgctl status\``,
      {
        cause,
        details,
      },
    );
  }
  ctx.logger.warn('state not saved; traffic returned to the stable color', { stable, revision });
  return new StateWriteError(
    `${req.command}: ${cause.message}; traffic was returned to ${stable} (100%, confirmed by NGINX, revision ${revision}), but the state could not record it`,
    {
      cause,
      details: { ...details, stable, revision },
      hint: `${cause.hint ?? 'make the state folder writable'}: it reconciles the state from what NGINX serves`,
    },
  );
}

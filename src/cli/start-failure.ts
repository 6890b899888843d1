import type { AppContext } from '../app/context.js';
import { BgctlError, PreflightError } from '../core/errors.js';
import { bindFailures, portInUseMessage, portKey } from '../core/port-in-use.js';

/** NGINX could not bind a port: say which key to change and who holds the port, not the raw bind() lines. */
export async function explainStartFailure(e: unknown, ctx: AppContext): Promise<unknown> {
  if (!(e instanceof BgctlError)) return e;
  const failures = bindFailures(e.message);
  const [first] = failures;
  if (!first) return e;
  const { findPortOwner } = await import('../adapters/port-owner.js');
  const cfg = ctx.loaded.config;
  const lines = await Promise.all(
    failures.map(async (f) => portInUseMessage(f, portKey(f.port, cfg), await findPortOwner(f.port).catch(() => null), ctx.loaded.file)),
  );
  return new PreflightError(lines.join('; '), {
    cause: e,
    details: { ports: failures.map((f) => ({ ...f, key: portKey(f.port, cfg) })) },
    hint: `pick a free port for \`${portKey(first.port, cfg)}\`, then \`bgctl validate\` and \`bgctl start\``,
  });
}

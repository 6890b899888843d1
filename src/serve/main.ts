import { join } from 'node:path';
import type { AppContext } from '../app/context.js';
import { UsageError } from '../core/errors.js';
import { removeServeRecord, writeServeRecord } from '../adapters/serve-file.js';
import { AuditFile } from './adapters/audit-file.js';
import { systemHost } from './adapters/host.js';
import { removeServeAlerts, writeServeAlerts } from '../adapters/serve-alerts-file.js';
import { WebhookNotifier } from './adapters/webhook.js';
import type { ServeOptions } from './options.js';
import { startServe, type ServeHandle } from './server.js';

/** Wires the real adapters for `bgctl serve`: the audit file, the host, the webhook (the rest is the CLI's context). */
export async function runServe(ctx: AppContext, o: ServeOptions): Promise<ServeHandle & { auditPath: string }> {
  const cfg = ctx.loaded.config;
  const audit = new AuditFile(join(cfg.stateDir, 'audit.jsonl'));
  try {
    await audit.check();
  } catch (e) {
    throw new UsageError(`serve: cannot write the audit log ${audit.path}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  const handle = await startServe(
    {
      ctx,
      // NGINX's access log(s) as wired for the CLI (one TrafficLog, or every target's log for a fleet)
      traffic: ctx.traffic,
      host: systemHost(cfg.stateDir),
      alertsFile: {
        publish: (critical) =>
          writeServeAlerts(cfg.stateDir, { pid: ctx.pid, host: ctx.host, writtenAt: new Date(ctx.clock.now()).toISOString(), critical }),
        withdraw: () => removeServeAlerts(cfg.stateDir),
      },
      audit,
      makeNotifier: (url, onResult) => new WebhookNotifier({ url, clock: ctx.clock, logger: ctx.logger, onResult }),
    },
    o,
  );
  // where `bgctl gradual --detach` finds this server
  await writeServeRecord(cfg.stateDir, { pid: ctx.pid, host: ctx.host, api: handle.apiUrl }).catch((e: unknown) =>
    ctx.logger.warn('cannot write serve.json; `gradual --detach` will not find this server', { error: String(e) }),
  );
  const close = async (): Promise<{ readonly interrupted: boolean }> => {
    const r = await handle.close();
    await removeServeRecord(cfg.stateDir, ctx.pid);
    return r;
  };
  return { ...handle, close, auditPath: audit.path };
}

import type { AppContext } from '../app/context.js';
import { controlMigration, type ControlResult } from '../app/control.js';
import type { ControlAction } from '../core/control.js';
import { PreflightError, UsageError } from '../core/errors.js';
import { parseAlertmanager, rollbackAlertOf } from './alertmanager.js';
import type { Call, Handler, Reply } from './http-server.js';
import type { Route } from './routes.js';

/**
 * `POST /migration/pause|resume|promote|abort` (the CLI commands, for the migration running wherever
 * it was started) and `POST /hooks/alertmanager` (a firing alert labelled bgctl_rollback="true" rolls
 * the running migration back).
 */
export function controlRoutes(ctx: AppContext): Route<Handler>[] {
  const post = (path: string, handler: Handler): Route<Handler> => ({ method: 'POST', path, mutating: true, handler });
  const act =
    (action: ControlAction): Handler =>
    (call) =>
      control(ctx, action, call);
  return [
    post('/migration/pause', act('pause')),
    post('/migration/resume', act('resume')),
    post('/migration/promote', act('promote')),
    post('/migration/abort', act('abort')),
    post('/hooks/alertmanager', (call) => alertmanagerHook(ctx, call)),
  ];
}

export const CONTROL_ENDPOINTS = [
  'POST /migration/pause|resume|abort  {"by"} (Authorization: Bearer)',
  'POST /migration/promote  {"full", "by"} (Authorization: Bearer)',
  'POST /hooks/alertmanager  Alertmanager webhook v4; firing alerts labelled bgctl_rollback="true" roll back (Authorization: Bearer)',
];

const BY = /^[0-9A-Za-z._@+-]{1,64}$/;

/** Who asks over the API: `alice via API (127.0.0.1)` when the body names them, else `API caller 127.0.0.1`. */
function callerOf(call: Call, body: Record<string, unknown>): string {
  const by = body['by'];
  if (by === undefined) return `API caller ${call.source}`;
  if (typeof by !== 'string' || !BY.test(by)) throw new UsageError('"by": 1-64 letters, digits or ._@+-');
  return `${by} via API (${call.source})`;
}

async function control(ctx: AppContext, action: ControlAction, call: Call): Promise<Reply> {
  const raw = await call.body();
  if (raw !== undefined && (raw === null || typeof raw !== 'object' || Array.isArray(raw)))
    throw new UsageError('the body is a JSON object');
  const body = (raw ?? {}) as Record<string, unknown>;
  const allowed = action === 'promote' ? ['full', 'by'] : ['by'];
  const extra = Object.keys(body).find((k) => !allowed.includes(k));
  if (extra !== undefined) throw new UsageError(`${JSON.stringify(extra.slice(0, 40))}: unknown field (allowed: ${allowed.join(', ')})`);
  if (body['full'] !== undefined && typeof body['full'] !== 'boolean') throw new UsageError('"full": true or false');
  const full = body['full'] === true;
  const r = await controlMigration(ctx, action, callerOf(call, body), { full });
  return { status: 200, json: view(r), audit: { result: `${action}: ${r.ack.message}`, params: { full } } };
}

const view = (r: ControlResult) => ({
  action: r.action,
  changed: r.ack.changed,
  message: r.ack.message,
  by: r.ack.by,
  paused: r.migration?.paused ?? null,
  migration: r.migration ? { id: r.migration.id, to: r.migration.to, status: r.migration.status, reason: r.migration.reason } : null,
  weights: r.state.weights,
  stable: r.state.stable,
});

/**
 * Always 2xx for a well-formed payload (Alertmanager retries otherwise): nothing running, a migration
 * already rolling back, a repeated delivery, resolved or unlabelled alerts all answer 200 and change nothing.
 */
async function alertmanagerHook(ctx: AppContext, call: Call): Promise<Reply> {
  const p = parseAlertmanager(await call.body());
  const alert = rollbackAlertOf(p);
  if (!alert) {
    return {
      status: 200,
      json: { rollback: false, reason: 'no firing alert labelled bgctl_rollback="true"' },
      audit: { result: 'nothing to do' },
    };
  }
  try {
    const r = await controlMigration(ctx, 'abort', alert.by, { waitForEnd: false });
    return {
      status: 202,
      json: { rollback: true, alert: alert.name, message: r.ack.message, follow: '/migration' },
      audit: { result: `rolling back: ${alert.by}` },
    };
  } catch (e) {
    if (!(e instanceof PreflightError)) throw e;
    return {
      status: 200,
      json: { rollback: false, alert: alert.name, reason: e.message },
      audit: { result: `alert ${alert.name}: ${e.message}` },
    };
  }
}

/**
 * A bgctl alert rule with `rollback` started firing: the running migration is rolled back with the
 * alert as the reason, when the alert is about what the migration brings (the new color's error rate,
 * the site's availability). Nothing running: nothing to do.
 */
export async function rollbackOnAlert(ctx: AppContext, alert: { key: string; subject: string; summary: string }): Promise<void> {
  const state = await ctx.store.load();
  const m = state.migration;
  if (m?.status !== 'running' || (alert.subject !== m.to && alert.subject !== 'site')) return;
  try {
    const r = await controlMigration(ctx, 'abort', `alert ${alert.key} (${alert.summary})`, { waitForEnd: false });
    ctx.logger.warn(`alert ${alert.key} rolls the migration back`, { message: r.ack.message });
  } catch (e) {
    ctx.logger.warn(`alert ${alert.key} could not roll the migration back`, { error: e instanceof Error ? e.message : String(e) });
  }
}

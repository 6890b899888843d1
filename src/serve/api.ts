import { history, validate } from '../app/admin.js';
import type { AppContext } from '../app/context.js';
import { rollback } from '../app/rollback.js';
import { status, viewOf } from '../app/status.js';
import { gradual } from '../app/traffic-commands.js';
import { PreflightError, UsageError } from '../core/errors.js';
import { redactSecret } from '../render/render.js';
import { CONTROL_ENDPOINTS, controlRoutes } from './control-routes.js';
import { errorReply } from './http-errors.js';
import type { Call, Handler, Reply } from './http-server.js';
import type { MigrationJobs, StartResult } from './jobs.js';
import { parseSwitchRequest, type SwitchRequest } from './options.js';
import type { Route } from './routes.js';

/** The control API: the same use cases as the CLI, through the same engine, lock and state. */
export function apiRoutes(ctx: AppContext, jobs: MigrationJobs): Route<Handler>[] {
  const get = (path: string, handler: Handler): Route<Handler> => ({ method: 'GET', path, mutating: false, handler });
  const post = (path: string, handler: Handler): Route<Handler> => ({ method: 'POST', path, mutating: true, handler });
  return [
    get('/', () => Promise.resolve({ status: 200, json: { endpoints: ENDPOINTS } })),
    get('/status', async () => ({ status: 200, json: await status(ctx) })),
    get('/validate', async () => {
      const checks = await validate(ctx);
      return { status: 200, json: { ok: true, checks } };
    }),
    get('/migration', async () => ({ status: 200, json: await migrationReport(ctx, jobs) })),
    get('/history', async (call) => ({ status: 200, json: { migrations: await history(ctx, limitOf(call)) } })),
    post('/switch/:color', (call) => startSwitch(ctx, jobs, call)),
    post('/rollback', (call) => rollbackNow(ctx, jobs, call)),
    ...controlRoutes(ctx),
  ];
}

const ENDPOINTS = [
  'GET /status',
  'GET /validate',
  'GET /migration',
  'GET /history?limit=N',
  'POST /switch/:color  {"version", "steps", "stepSeconds", "strategy", "dryRun"} (Authorization: Bearer)',
  'POST /rollback  {"force"} (Authorization: Bearer)',
  ...CONTROL_ENDPOINTS,
];

function limitOf(call: Call): number {
  const raw = call.query.get('limit');
  if (raw === null) return 20;
  if (!/^\d{1,4}$/.test(raw) || Number(raw) < 1)
    throw new UsageError(`limit: ${JSON.stringify(raw.slice(0, 20))} is not a whole number 1-9999`);
  return Number(raw);
}

/** Progress of the running or latest migration, from state.json: the same whoever drives it. */
export async function migrationReport(ctx: AppContext, jobs: MigrationJobs) {
  const [state, lock] = await Promise.all([ctx.store.load(), ctx.lock.holder()]);
  const m = state.migration;
  const driver = m && lock?.alive && lock.pid === m.pid ? { pid: lock.pid, command: lock.command, api: lock.pid === ctx.pid } : null;
  return {
    migration: m
      ? {
          ...viewOf(m, lock),
          strategy: m.strategy,
          plannedSteps: m.plannedSteps,
          endedAt: m.endedAt,
          outcome: m.outcome,
          steps: m.steps,
          driver,
        }
      : null,
    weights: state.weights,
    stable: state.stable,
    lock,
    /** the latest migration started over this API, with its progress events */
    job: jobs.view(),
  };
}

async function startSwitch(ctx: AppContext, jobs: MigrationJobs, call: Call): Promise<Reply> {
  const req = parseSwitchRequest(call.params['color'] ?? '', await call.body());
  const version = req.version ?? (await versionOf(ctx, req));
  const params = { ...req, version };
  const action = `gradual ${req.color} ${version}${req.dryRun ? ' (dry run)' : ''}`;
  let started: StartResult;
  try {
    started = await jobs.start(action, call.source, (jobCtx) =>
      gradual(jobCtx, {
        color: req.color,
        version,
        ...(req.steps ? { steps: req.steps } : {}),
        ...(req.stepSeconds !== undefined ? { stepSeconds: req.stepSeconds } : {}),
        ...(req.strategy ? { strategy: req.strategy } : {}),
        dryRun: req.dryRun,
      }),
    );
  } catch (e) {
    // refused before it got under way (lock held, pre-flight failed...): answered with the params audited
    const r = errorReply(e);
    return {
      status: r.status,
      json: r.body,
      headers: r.headers,
      audit: { result: `${r.body.error.kind}: ${r.body.error.message}`, params },
    };
  }
  if (started.kind === 'finished') {
    const r = started.result;
    return {
      status: 200,
      json: {
        outcome: r.outcome,
        weights: r.state.weights,
        stable: r.state.stable,
        checks: r.checks,
        // the site holds routing.forceSecret: never sent in clear (as the CLI's printed configs)
        plan: r.plan?.map((p) => ({
          percent: p.step.percent,
          weights: p.step.weights,
          revision: p.config.revision,
          site: redactSecret(p.config.site, ctx.loaded.config.routing.forceSecret),
        })),
      },
      audit: { result: r.plan ? 'dry run: nothing changed' : `${r.outcome}: nothing to do`, params },
    };
  }
  const plan = started.plan;
  return {
    status: 202,
    headers: { Location: '/migration' },
    json: {
      accepted: true,
      job: started.job.id,
      action,
      plan: plan ? { kind: plan.migration, from: plan.from, to: plan.to, steps: plan.steps } : null,
      follow: '/migration',
    },
    audit: { result: `started ${action}`, params },
  };
}

/** Without a version in the body, the one every server of the target reports is migrated to. */
async function versionOf(ctx: AppContext, req: SwitchRequest): Promise<string> {
  const h = await ctx.prober.color(req.color);
  if (h.version) return h.version;
  throw new PreflightError(
    `switch ${req.color}: no version given and ${req.color} does not report a single version (${h.healthy ? 'servers disagree or report none' : 'unhealthy'}); pass "version" in the body`,
  );
}

/**
 * Emergency rollback. A migration this server runs is interrupted first (it returns traffic to its
 * stable color itself); one run by a CLI process is stopped by the rollback use case (SIGTERM).
 */
async function rollbackNow(ctx: AppContext, jobs: MigrationJobs, call: Call): Promise<Reply> {
  const force = forceOf(await call.body());
  // the target is probed before this server's migration is stopped: a dead stable color is refused (409, code 6), nothing changed
  const own: { stopped: Awaited<ReturnType<MigrationJobs['stop']>> } = { stopped: null };
  const stopOwn = async (): Promise<void> => {
    own.stopped = await jobs.stop(`a rollback requested over the API by ${call.source}`);
  };
  const r = await rollback(ctx, { force, stopOwn });
  const { stopped } = own;
  const preempted = stopped ? { pid: ctx.pid, command: stopped.action } : (r.preempted ?? null);
  return {
    status: 200,
    json: {
      action: r.action,
      color: r.color,
      weights: r.state.weights,
      migration: r.migration,
      applyMs: Math.round(r.applyMs),
      preempted,
      forced: r.forced ?? null,
      fallback: r.backup ?? null,
    },
    audit: { result: `${r.action}: ${r.color} has 100%${preempted ? ` (stopped \`${preempted.command}\` first)` : ''}` },
  };
}

/** `POST /rollback` body: empty, or `{"force": true|false}`. */
function forceOf(body: unknown): boolean {
  if (body === undefined || body === null || body === '') return false;
  if (typeof body !== 'object' || Array.isArray(body)) throw new UsageError('body: expected a JSON object like {"force": true}');
  const extra = Object.keys(body).filter((k) => k !== 'force');
  if (extra.length > 0) throw new UsageError(`body: unknown field ${JSON.stringify(extra[0])} (only "force")`);
  const force = (body as { force?: unknown }).force;
  if (force !== undefined && typeof force !== 'boolean') throw new UsageError('force: expected true or false');
  return force === true;
}

import type { Server } from 'node:http';
import type { AppContext } from '../app/context.js';
import type { ApplyReport, NginxDriver, RenderedConfig, TrafficSource } from '../app/ports.js';
import { UsageError } from '../core/errors.js';
import type { AuditSink } from './adapters/audit-file.js';
import type { HostProbe } from './adapters/host.js';
import type { Notifier } from './adapters/webhook.js';
import { rulesOf } from './alerts.js';
import { apiRoutes } from './api.js';
import { rollbackOnAlert } from './control-routes.js';
import { createEndpoint, listen, type EndpointOptions } from './http-server.js';
import { MigrationJobs } from './jobs.js';
import { ServeMetrics } from './metrics.js';
import { Monitor } from './monitor.js';
import { monitorRoutes } from './monitor-routes.js';
import type { ServeOptions } from './options.js';
import { RateLimiter } from './rate-limit.js';
import { RefusalLog } from './refusals.js';
import { allowedHosts, hostForm } from './security.js';

/** Everything `bgctl serve` needs, passed in (the CLI wires real adapters, tests wire fakes). */
export interface ServeDeps {
  readonly ctx: AppContext;
  readonly traffic: TrafficSource;
  readonly host: HostProbe;
  readonly audit: AuditSink;
  /** builds the alert webhook notifier for a URL; its results feed a metric */
  readonly makeNotifier?: (url: string, onResult: (r: 'delivered' | 'retried' | 'failed' | 'dropped') => void) => Notifier;
  /** publishes the critical alerts firing (for `bgctl status`), and withdraws them at close */
  readonly alertsFile?: {
    readonly publish: (critical: readonly { id: string; summary: string }[]) => Promise<void>;
    readonly withdraw: () => Promise<void>;
  };
  /** false: no background sampling (tests call `monitor.sample()` themselves) */
  readonly loop?: boolean;
  /** how often refused calls are summarised in the audit log; default 60 000 */
  readonly refusalSummaryMs?: number;
}

export interface ServeHandle {
  readonly apiUrl: string;
  readonly monitorUrl: string;
  readonly jobs: MigrationJobs;
  readonly monitor: Monitor;
  /** graceful: stop listening, interrupt a running migration and wait for traffic to be back, then close */
  close(): Promise<{ readonly interrupted: boolean }>;
}

const SAMPLE_MS = 1000;
const HISTORY_MS = 10 * 60_000;
const CLOSE_GRACE_MS = 10_000;

/**
 * The driver, with each apply's stage durations recorded. A Proxy, so every other member (a fleet's
 * `targets()`, anything added later) passes through untouched.
 */
function timedNginx(n: NginxDriver, onApply: (r: ApplyReport) => void): NginxDriver {
  const apply = async (c: RenderedConfig): Promise<ApplyReport> => {
    const r = await n.apply(c);
    onApply(r);
    return r;
  };
  return new Proxy(n, {
    get(target, prop) {
      if (prop === 'apply') return apply;
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

export async function startServe(deps: ServeDeps, o: ServeOptions): Promise<ServeHandle> {
  const metrics = new ServeMetrics();
  const ctx: AppContext = { ...deps.ctx, nginx: timedNginx(deps.ctx.nginx, (r) => metrics.nginxApply(r)) };
  const cfg = ctx.loaded.config;
  const t = cfg.thresholds;
  const rules = rulesOf(
    {
      p95LatencyMs: t.p95LatencyMs,
      latencyForSeconds: t.latencyForSeconds,
      errorRate: t.errorRate,
      errorRateForSeconds: t.errorRateForSeconds,
      availability: o.alerts.availability,
      cpuPercent: o.alerts.cpuPercent,
      memoryPercent: o.alerts.memoryPercent,
      hostForSeconds: o.alerts.hostForSeconds,
    },
    o.alerts.rollback,
  );
  const notifier = o.webhook && deps.makeNotifier ? deps.makeNotifier(o.webhook, (r) => metrics.webhook(r)) : null;
  const monitor = new Monitor(
    ctx,
    {
      traffic: deps.traffic,
      host: deps.host,
      metrics,
      notifier,
      onRollbackAlert: (a) => void rollbackOnAlert(ctx, a),
      ...(deps.alertsFile ? { publish: deps.alertsFile.publish } : {}),
    },
    {
      intervalMs: SAMPLE_MS,
      probeIntervalMs: Math.max(SAMPLE_MS, cfg.probe.intervalMs),
      rules,
      minRequests: t.minRequests,
      historyMs: HISTORY_MS,
      windowMs: Math.round(t.windowSeconds * 1000),
    },
  );
  await monitor.sample(); // /health and the dashboard have something to say from the first request
  const jobs = new MigrationJobs(ctx);
  const refusals = new RefusalLog({
    audit: deps.audit,
    logger: ctx.logger,
    now: () => ctx.clock.now(),
    intervalMs: deps.refusalSummaryMs,
    onRefused: (status) => metrics.refused(status),
  });
  const common: Omit<EndpointOptions, 'routes' | 'limiter'> = {
    allowedHosts: allowedHosts(o.host, o.allowHosts),
    token: o.token,
    audit: deps.audit,
    maxBodyBytes: o.maxBodyBytes,
    bodyTimeoutMs: o.bodyTimeoutMs,
    now: () => ctx.clock.now(),
    logger: ctx.logger,
    refusals,
  };
  const limiter = (): RateLimiter => new RateLimiter({ perSecond: o.rateLimit, burst: Math.max(1, Math.ceil(o.rateLimit * 2)) });
  const api = createEndpoint({ ...common, routes: apiRoutes(ctx, jobs), limiter: limiter() });
  const mon = createEndpoint({ ...common, routes: monitorRoutes(ctx, monitor, metrics), limiter: limiter() });
  const apiPort = await bind(api, o.host, o.apiPort, '--api-port');
  let monitorPort: number;
  try {
    monitorPort = await bind(mon, o.host, o.monitorPort, '--monitor-port');
  } catch (e) {
    await closeServer(api);
    throw e;
  }
  const stopLoop = new AbortController();
  const loopSignal = AbortSignal.any([ctx.signal, stopLoop.signal]);
  const loopDone = deps.loop === false ? Promise.resolve() : monitor.run(loopSignal);
  const base = (port: number): string => `http://${hostForm(o.host)}:${port}`;
  let closing: Promise<{ readonly interrupted: boolean }> | null = null;
  return {
    apiUrl: base(apiPort),
    monitorUrl: base(monitorPort),
    jobs,
    monitor,
    close() {
      closing ??= (async () => {
        const closed = Promise.all([closeServer(api), closeServer(mon)]);
        const stopped = await jobs.close('bgctl serve is shutting down');
        if (stopped) ctx.logger.warn('migration interrupted by shutdown; traffic is back on the stable color', { action: stopped.action });
        stopLoop.abort();
        await loopDone;
        await notifier?.drain(3000);
        await deps.alertsFile?.withdraw().catch(() => undefined);
        await closed;
        await refusals.flush();
        return { interrupted: stopped !== null && stopped !== undefined };
      })();
      return closing;
    },
  };
}

async function bind(server: Server, host: string, port: number, flag: string): Promise<number> {
  try {
    return await listen(server, host, port);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? '';
    const why = code === 'EADDRINUSE' ? 'is in use' : code === 'EACCES' ? 'needs privileges' : `cannot be bound (${code || String(e)})`;
    throw new UsageError(`serve: ${hostForm(host)}:${port} ${why} (${flag})`, { cause: e });
  }
}

/** Stops accepting, closes idle keep-alive connections, and force-closes what is left after a grace period. */
function closeServer(server: Server): Promise<void> {
  if (!server.listening) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections();
  });
}

import type { AppContext } from '../app/context.js';
import { alertJson } from './alerts.js';
import type { Handler } from './http-server.js';
import { dashboardData } from './dashboard-data.js';
import { dashboardPage } from './dashboard-page.js';
import { healthReport, monitorProblem } from './health.js';
import { serveVerdict } from './serve-verdict.js';
import type { ServeMetrics } from './metrics.js';
import type { Monitor } from './monitor.js';
import type { Route } from './routes.js';

/** Minutes of traffic the dashboard charts. */
const CHART_MS = 5 * 60_000;

/** The monitoring port: read-only, served from the monitor's latest sample (scrapes never probe). */
export function monitorRoutes(ctx: AppContext, monitor: Monitor, metrics: ServeMetrics): Route<Handler>[] {
  const page = dashboardPage();
  const get = (path: string, handler: Handler): Route<Handler> => ({ method: 'GET', path, mutating: false, handler });
  // stale: a loop that has not completed a sample for this long is stuck (probes time out well before)
  const staleMs = 3 * monitor.o.intervalMs + 2 * ctx.loaded.config.probe.timeoutMs + 1000;
  /** the verdict `bgctl status` gives, from the monitor's latest sample */
  const verdictAt = (now: number) =>
    serveVerdict({
      snapshot: monitor.snapshot,
      window: (monitor.series.chart(now, CHART_MS).at(-1)?.readable ?? true) ? monitor.series.window(now) : null,
      alerts: monitor.alerts,
      thresholds: ctx.loaded.config.thresholds,
      bgctlProblem: monitorProblem(monitor.snapshot, now, staleMs),
    });
  return [
    get('/', () => Promise.resolve({ status: 302, headers: { Location: '/dashboard' }, json: { see: '/dashboard' } })),
    get('/health', () => {
      const now = ctx.clock.now();
      const report = healthReport(monitor.snapshot, now, staleMs, ctx.pid, verdictAt(now));
      return Promise.resolve({ status: report.status === 'ok' ? 200 : 503, json: report });
    }),
    get('/metrics', async () => ({ status: 200, text: await metrics.text(), contentType: metrics.contentType })),
    get('/alerts', () => {
      const book = monitor.alerts;
      return Promise.resolve({
        status: 200,
        json: {
          firing: book.active.filter((a) => a.state === 'firing').map(alertJson),
          pending: book.active.filter((a) => a.state === 'pending').map(alertJson),
          resolved: [...book.resolved].reverse().map(alertJson),
          rules: monitor.o.rules,
        },
      });
    }),
    get('/dashboard', () =>
      Promise.resolve({
        status: 200,
        text: page.html,
        contentType: 'text/html; charset=utf-8',
        headers: { 'Content-Security-Policy': page.csp },
      }),
    ),
    get('/dashboard.json', async () => {
      const [state, live, lock] = await Promise.all([ctx.store.load(), ctx.nginx.live(), ctx.lock.holder()]);
      const now = ctx.clock.now();
      const json = dashboardData({
        now,
        state,
        live,
        lock,
        snapshot: monitor.snapshot,
        points: monitor.series.chart(now, CHART_MS),
        window: monitor.series.window(now),
        alerts: monitor.alerts,
        chartMs: CHART_MS,
        verdict: verdictAt(now),
        stepMs: ctx.loaded.config.migration.stepSeconds * 1000,
      });
      return { status: 200, json, compact: true };
    }),
    get('/favicon.ico', () => Promise.resolve({ status: 204, text: '', contentType: 'image/x-icon' })),
  ];
}

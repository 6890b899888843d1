import type { LiveNginx, LockInfo } from '../app/ports.js';
import { driftCheck } from '../app/preflight.js';
import { viewOf } from '../app/status.js';
import { COLORS } from '../core/color.js';
import type { WindowFigures } from '../core/metrics.js';
import type { State } from '../core/state.js';
import type { StatusVerdict } from '../core/verdict.js';
import type { Alert, AlertBook } from './alerts.js';
import type { Snapshot } from './monitor.js';
import type { SeriesPoint } from './series.js';

export interface DashboardInput {
  readonly now: number;
  /** read for this request, so a change made by any bgctl shows at the next poll */
  readonly state: State;
  readonly live: LiveNginx | null;
  readonly lock: (LockInfo & { alive: boolean }) | null;
  readonly snapshot: Snapshot;
  readonly points: readonly SeriesPoint[];
  readonly window: WindowFigures;
  readonly alerts: AlertBook;
  readonly chartMs: number;
  /** the verdict `bgctl status` gives (the badge at the top) */
  readonly verdict: StatusVerdict;
  /** how long a step is observed (migration.stepSeconds), ms: the countdown's estimate */
  readonly stepMs: number;
}

/** The step under observation of a running migration: its number, since when, and when it should end. */
function observing(i: DashboardInput) {
  const m = i.state.migration;
  const last = m?.steps.at(-1);
  if (!m || m.status !== 'running' || !last || last.verdict !== 'pending' || last.appliedAt === null) return null;
  const since = Date.parse(last.appliedAt);
  const endsAtMs = since + i.stepMs;
  return { step: last.index + 1, percent: last.percent, since: last.appliedAt, endsAtMs, remainingMs: Math.max(0, endsAtMs - i.now) };
}

/** What a step's row says: a pending step is "observing" once NGINX serves it, "applying" before. */
const stepShown = (verdict: string, appliedAt: string | null, running: boolean): string =>
  verdict !== 'pending' ? verdict : !running ? 'stopped' : appliedAt === null ? 'applying' : 'observing';

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
const alertView = (a: Alert) => ({
  id: a.id,
  rule: a.rule,
  subject: a.subject,
  severity: a.severity,
  state: a.state,
  summary: a.summary,
  startedAt: iso(a.startedAt),
  firedAt: iso(a.firedAt),
  resolvedAt: iso(a.resolvedAt),
});

const rank = (a: Alert): number => (a.severity === 'critical' ? 0 : 2) + (a.state === 'firing' ? 0 : 1);

/** Pure: everything /dashboard draws, in one small JSON document (polled every second). */
export function dashboardData(i: DashboardInput) {
  const weights = i.live?.weights ?? i.state.weights;
  const m = i.state.migration;
  const spanS = i.window.spanMs / 1000;
  return {
    now: iso(i.now),
    nowMs: i.now,
    verdict: i.verdict,
    observing: observing(i),
    active: weights.green > weights.blue ? 'green' : 'blue',
    stable: i.state.stable,
    weights,
    /** what the servers report, else what state.json remembers */
    versions: {
      blue: i.snapshot.health?.blue.version ?? i.state.versions.blue,
      green: i.snapshot.health?.green.version ?? i.state.versions.green,
    },
    revision: i.live?.revision ?? i.state.revision,
    nginx: { up: i.live !== null, revision: i.live?.revision ?? null },
    drift: i.live !== null && !driftCheck(i.state, i.live).ok,
    migration: m
      ? {
          ...viewOf(m, i.lock),
          steps: m.steps.map((s) => ({
            n: s.index + 1,
            percent: s.percent,
            weights: s.weights,
            verdict: s.verdict,
            shown: stepShown(s.verdict, s.appliedAt, m.status === 'running'),
            startedAt: s.startedAt,
            appliedAt: s.appliedAt,
            endedAt: s.endedAt,
            reason: s.reason,
            decision: s.decision ?? null,
            probes: s.probes,
          })),
          plannedSteps: m.plannedSteps,
          outcome: m.outcome,
        }
      : null,
    health: {
      checkedAt: iso(i.snapshot.healthAt),
      colors: Object.fromEntries(
        COLORS.map((c) => {
          const h = i.snapshot.health?.[c];
          return [c, { up: h?.healthy ?? false, version: h?.version ?? null, servers: h?.servers ?? [] }];
        }),
      ),
    },
    traffic: {
      windowSeconds: spanS,
      readable: i.points.at(-1)?.readable ?? true,
      colors: Object.fromEntries(
        COLORS.map((c) => {
          const f = i.window.colors[c];
          return [c, { rps: spanS > 0 ? f.requests / spanS : 0, errorRate: f.errorRate, p95: f.p95 }];
        }),
      ),
    },
    chart: {
      fromMs: i.now - i.chartMs,
      toMs: i.now,
      /** [at, spanMs, blue requests, blue 5xx, green requests, green 5xx] */
      points: i.points.map((p) => [p.at, p.spanMs, p.requests.blue, p.errors.blue, p.requests.green, p.errors.green]),
    },
    // critical first, then warnings, firing before pending: the top of the list is the worst
    alerts: {
      open: [...i.alerts.active].sort((a, b) => rank(a) - rank(b)).map(alertView),
      resolved: i.alerts.resolved.slice(-10).reverse().map(alertView),
    },
    host: {
      cpuPercent: i.snapshot.host.cpuPercent,
      memoryPercent: i.snapshot.host.memoryPercent,
      diskPercent: i.snapshot.host.diskPercent ?? null,
    },
  };
}

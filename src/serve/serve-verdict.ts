import { driftCheck } from '../app/preflight.js';
import { viewOf } from '../app/status.js';
import { verdictInput } from '../app/verdict-input.js';
import type { WindowFigures } from '../core/metrics.js';
import { decideVerdict, type StatusVerdict, type VerdictReason } from '../core/verdict.js';
import type { AlertBook } from './alerts.js';
import type { Snapshot } from './monitor.js';

export interface ServeVerdictInput {
  readonly snapshot: Snapshot;
  /** the monitor's traffic window; null when the access log could not be read */
  readonly window: WindowFigures | null;
  readonly alerts: AlertBook;
  readonly thresholds: {
    readonly errorRate: number;
    readonly p95LatencyMs: number;
    readonly minRequests: number;
    readonly windowSeconds: number;
  };
  /** why bgctl's own monitor is not trustworthy (stale loop, unreadable state.json), or null */
  readonly bgctlProblem: string | null;
}

/** Summaries of the critical alerts firing now. */
export const criticalFiring = (book: AlertBook): { id: string; summary: string }[] =>
  book.active.filter((a) => a.severity === 'critical' && a.state === 'firing').map((a) => ({ id: a.id, summary: a.summary }));

/** Pure: the verdict `status` gives, from what serve's monitor saw at its latest sample. */
export function serveVerdict(i: ServeVerdictInput): StatusVerdict {
  const s = i.snapshot;
  const state = s.state;
  const drift = state && s.live ? driftCheck(state, s.live) : null;
  const migration = state?.migration ? viewOf(state.migration, s.lock) : null;
  const v = decideVerdict(
    verdictInput({
      nginxDown: s.sampledAt !== null && s.live === null ? 'NGINX does not answer its status location' : null,
      drift: drift && !drift.ok ? (drift.detail ?? 'NGINX serves something else than state.json says') : null,
      interrupted:
        migration?.status === 'interrupted'
          ? `${migration.kind} ${migration.from} → ${migration.to}${migration.version ? ` ${migration.version}` : ''}, its process is gone`
          : null,
      weights: s.live?.weights ?? state?.weights ?? { blue: 100, green: 0 },
      live: s.live,
      health: s.health,
      window: i.window,
      thresholds: i.thresholds,
      windowSeconds: i.thresholds.windowSeconds,
      criticalAlerts: criticalFiring(i.alerts).map((a) => a.summary),
    }),
  );
  if (i.bgctlProblem === null) return v;
  const own: VerdictReason = { level: 'CRITICAL', code: 'bgctl', text: `bgctl serve: ${i.bgctlProblem}` };
  const reasons = [own, ...v.reasons];
  return { level: 'CRITICAL', reasons, line: `CRITICAL: ${reasons.map((r) => r.text).join('; ')}` };
}

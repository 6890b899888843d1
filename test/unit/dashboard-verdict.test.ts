import { describe, expect, it } from 'vitest';
import { applied } from '../../src/core/migration.js';
import { emptyDelta, figuresOf } from '../../src/core/traffic.js';
import { decideVerdict } from '../../src/core/verdict.js';
import { weightsFor } from '../../src/core/weights.js';
import type { Alert } from '../../src/serve/alerts.js';
import { diskPercent } from '../../src/serve/adapters/host.js';
import { dashboardData } from '../../src/serve/dashboard-data.js';
import type { Snapshot } from '../../src/serve/monitor.js';
import { interruptedState } from '../fakes/states.js';

const AT = Date.parse('2025-01-01T00:00:00.000Z');
const alert = (id: string, severity: 'warning' | 'critical', state: 'pending' | 'firing'): Alert => ({
  id,
  key: id,
  rule: severity === 'critical' ? 'error_rate' : 'host_cpu',
  subject: 'x',
  severity,
  state,
  startedAt: AT,
  firedAt: state === 'firing' ? AT : null,
  resolvedAt: null,
  value: 1,
  threshold: 0,
  summary: id,
});

function data(o: { now: number; lock: boolean; alerts?: Alert[] }) {
  // a gradual whose step 2 (50%) NGINX confirmed serving at AT, observed for 30 s
  let state = interruptedState({ passed: [25], pending: 50, pid: 42 });
  state = applied(state, weightsFor('green', 50), state.revision + 1, new Date(AT).toISOString());
  const snapshot: Snapshot = {
    sampledAt: o.now,
    state,
    stateError: null,
    live: null,
    lock: null,
    health: null,
    healthAt: null,
    host: { cpuPercent: 12, memoryPercent: 40, diskPercent: 71.5 },
  };
  return dashboardData({
    now: o.now,
    state,
    live: null,
    lock: o.lock ? { pid: 42, host: 'test-host', command: 'gradual', startedAt: new Date(AT).toISOString(), alive: true } : null,
    snapshot,
    points: [],
    window: figuresOf(emptyDelta(), 10_000),
    alerts: { active: o.alerts ?? [], resolved: [] },
    chartMs: 300_000,
    verdict: decideVerdict({
      nginxDown: 'NGINX does not answer its status location',
      drift: null,
      interrupted: null,
      colors: {
        blue: { weight: 50, servers: 1, healthyServers: 1, traffic: null },
        green: { weight: 50, servers: 1, healthyServers: 1, traffic: null },
      },
      thresholds: { errorRate: 0.05, p95LatencyMs: 1000, minRequests: 20 },
      windowSeconds: 10,
      fallback: null,
      criticalAlerts: [],
    }),
    stepMs: 30_000,
  });
}

describe('dashboard data', () => {
  it('carries the verdict, and the step under observation with its countdown, shown as "observing"', () => {
    const d = data({ now: AT + 12_000, lock: true });
    expect(d.verdict).toMatchObject({ level: 'CRITICAL', line: 'CRITICAL: NGINX does not answer its status location' });
    expect(d.observing).toEqual({ step: 2, percent: 50, since: new Date(AT).toISOString(), endsAtMs: AT + 30_000, remainingMs: 18_000 });
    expect(d.migration?.steps.map((s) => s.shown)).toEqual(['passed', 'observing']);
    expect(d.host).toEqual({ cpuPercent: 12, memoryPercent: 40, diskPercent: 71.5 });
  });

  it('past the planned end the countdown stays at 0 (the step may be extended)', () => {
    expect(data({ now: AT + 45_000, lock: true }).observing?.remainingMs).toBe(0);
  });

  it('lists open alerts critical first, firing before pending', () => {
    const d = data({
      now: AT,
      lock: true,
      alerts: [alert('cpu', 'warning', 'firing'), alert('err-pending', 'critical', 'pending'), alert('err', 'critical', 'firing')],
    });
    expect(d.alerts.open.map((a) => a.id)).toEqual(['err', 'err-pending', 'cpu']);
  });

  it('disk usage as df counts it: used over used plus what users may still take', () => {
    expect(diskPercent(1000, 300, 200)).toBeCloseTo((100 * 700) / 900);
    expect(diskPercent(0, 0, 0)).toBeNull();
  });
});

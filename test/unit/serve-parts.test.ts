import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { ColorHealth } from '../../src/app/ports.js';
import { emptyDelta } from '../../src/core/traffic.js';
import { DeltaBuilder } from '../../src/core/traffic.js';
import { auditLine } from '../../src/serve/adapters/audit-file.js';
import { cpuPercent, memoryPercent } from '../../src/serve/adapters/host.js';
import { dashboardPage } from '../../src/serve/dashboard-page.js';
import { healthReport } from '../../src/serve/health.js';
import type { Snapshot } from '../../src/serve/monitor.js';
import { Ring } from '../../src/serve/ring.js';
import { rollbackReason } from '../../src/serve/rollback-reasons.js';
import { TrafficSeries } from '../../src/serve/series.js';

const health = (color: 'blue' | 'green', healthy: boolean): ColorHealth => ({
  color,
  healthy,
  version: healthy ? '1.0.0' : null,
  servers: [
    {
      server: `127.0.0.1:${color === 'blue' ? 8081 : 8082}`,
      healthy,
      status: healthy ? 200 : 503,
      version: null,
      latencyMs: 2,
      error: healthy ? null : 'HTTP 503',
    },
  ],
});
const snapshot = (o: Partial<Snapshot> = {}): Snapshot => ({
  sampledAt: 10_000,
  state: null,
  stateError: null,
  live: { revision: 3, weights: { blue: 100, green: 0 }, strategy: 'weighted', stable: 'blue' },
  lock: null,
  health: { blue: health('blue', true), green: health('green', true) },
  healthAt: 10_000,
  host: { cpuPercent: 5, memoryPercent: 40 },
  ...o,
});

describe('ring buffer', () => {
  it('keeps the newest `capacity` items, oldest first', () => {
    const r = new Ring<number>(3);
    for (let i = 1; i <= 7; i++) r.push(i);
    expect(r.toArray()).toEqual([5, 6, 7]);
    expect(r.size).toBe(3);
    expect(r.last()).toBe(7);
  });
});

describe('traffic series', () => {
  const read = (blue: [number, number], green: [number, number], latencyMs = 10) => {
    const b = new DeltaBuilder();
    for (let i = 0; i < blue[0]; i++) b.attempt('blue', i < blue[1], latencyMs, null);
    for (let i = 0; i < green[0]; i++) b.attempt('green', i < green[1], latencyMs, null);
    return { delta: b.take(), readable: true, problem: null };
  };

  it('sums the reads of the window only, and keeps a bounded chart', () => {
    const s = new TrafficSeries({ points: 5, windowMs: 3000, windowReads: 5 });
    for (let t = 1; t <= 10; t++) s.add(t * 1000, 1000, read([10, 1], [t, 0], t * 100));
    const w = s.window(10_000);
    expect(w.colors.blue).toMatchObject({ requests: 30, errors: 3, errorRate: 0.1 });
    expect(w.colors.green.requests).toBe(8 + 9 + 10);
    expect(w.colors.green.p95).toBe(1000);
    expect(s.chart(10_000, 60_000).map((p) => p.requests.green)).toEqual([6, 7, 8, 9, 10]);
    expect(s.chart(10_000, 2500).map((p) => p.at)).toEqual([8000, 9000, 10_000]);
  });

  it('remembers why the log could not be read', () => {
    const s = new TrafficSeries({ points: 2, windowMs: 1000, windowReads: 2 });
    s.add(1, 1000, { delta: emptyDelta(), readable: false, problem: 'cannot read the access log: ENOENT' });
    expect(s.problem).toMatch(/ENOENT/);
  });
});

describe('rollback reasons for the metric label', () => {
  it('turns free-text reasons into a bounded set', () => {
    const r = (outcome: string | null, reason: string | null) => rollbackReason({ outcome, reason });
    expect(r('rolled back by operator', 'manual rollback')).toBe('manual');
    expect(r('interrupted, rolled back', 'interrupted by SIGTERM')).toBe('interrupted');
    expect(r('canary withdrawn', 'canary withdrawn')).toBe('canary_withdrawn');
    expect(r('rolled back automatically', 'step 1: target failed its health checks (127.0.0.1:8082: HTTP 500)')).toBe('health_check');
    expect(r('rolled back automatically', 'step 2: error rate 0.08 > 0.05 for 0.0 s over 40 requests')).toBe('error_rate');
    expect(r('rolled back automatically', 'step 2: p95 latency 1400 ms > 1000 ms for 30.0 s')).toBe('latency');
    expect(r('rolled back automatically', 'step 1 could not be applied: nginx -t rejected revision 4')).toBe('apply_failed');
    expect(r('rolled back automatically', 'step 1 could not be judged after 120 s of extra time: 3 requests')).toBe('not_judged');
    expect(r('rolled back automatically', 'something new')).toBe('other');
  });
});

describe('/health report', () => {
  it('is ok when bgctl sampled recently, NGINX answers and every server of both colors is healthy', () => {
    const r = healthReport(snapshot(), 10_500, 5000, 42);
    expect(r).toMatchObject({ status: 'ok', bgctl: { up: true, pid: 42, lastSampleAgeMs: 500 }, nginx: { up: true, revision: 3 } });
    expect(r.colors.green).toEqual({
      up: true,
      servers: [{ server: '127.0.0.1:8082', up: true, status: 200, version: null, error: null }],
    });
  });

  it('is degraded when a color, NGINX or bgctl itself is down, and says which', () => {
    expect(
      healthReport(snapshot({ health: { blue: health('blue', true), green: health('green', false) } }), 10_500, 5000, 1),
    ).toMatchObject({
      status: 'degraded',
      colors: { blue: { up: true }, green: { up: false } },
    });
    expect(healthReport(snapshot({ live: null }), 10_500, 5000, 1)).toMatchObject({ status: 'degraded', nginx: { up: false } });
    expect(healthReport(snapshot(), 30_000, 5000, 1).bgctl).toMatchObject({
      up: false,
      problem: 'the monitor loop has not sampled for 20 s',
    });
    expect(healthReport(snapshot({ stateError: 'corrupt' }), 10_000, 5000, 1).bgctl).toMatchObject({
      up: false,
      problem: 'state.json: corrupt',
    });
  });
});

describe('host figures', () => {
  it('CPU busy share from time counters, memory in use', () => {
    expect(cpuPercent({ idle: 1000, total: 2000 }, { idle: 1250, total: 3000 })).toBe(75);
    expect(cpuPercent({ idle: 1, total: 1 }, { idle: 1, total: 1 })).toBeNull();
    expect(memoryPercent(1000, 100)).toBe(90);
  });
});

describe('audit line', () => {
  it('is one JSON line with clipped fields', () => {
    const line = auditLine({
      time: 't',
      source: '127.0.0.1',
      action: `POST /${'x'.repeat(2000)}`,
      status: 404,
      result: 'not_found',
      authorized: false,
    });
    expect(line.endsWith('\n')).toBe(true);
    expect(line.split('\n')).toHaveLength(2);
    expect((JSON.parse(line) as { action: string }).action.length).toBe(500);
  });
});

describe('dashboard page', () => {
  it('is self-contained and its CSP allows exactly its inline script and style', () => {
    const { html, csp } = dashboardPage();
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    const script = /<script>([\s\S]*)<\/script>/.exec(html)?.[1] ?? '';
    const style = /<style>([\s\S]*)<\/style>/.exec(html)?.[1] ?? '';
    const sha = (s: string) => `'sha256-${createHash('sha256').update(s).digest('base64')}'`;
    expect(csp).toContain(`script-src ${sha(script)}`);
    expect(csp).toContain(`style-src ${sha(style)}`);
    expect(csp).toContain("default-src 'none'");
    expect(script).not.toMatch(/innerHTML/);
  });
});

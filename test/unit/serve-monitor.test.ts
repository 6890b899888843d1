import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../src/serve/adapters/audit-file.js';
import { parseServeOptions } from '../../src/serve/options.js';
import { startServe, type ServeHandle } from '../../src/serve/server.js';
import { makeContext, type World } from '../fakes/context.js';
import { FakeTraffic } from '../fakes/recorders.js';
import { http } from '../helpers/serve-http.js';

interface AlertsAnswer {
  firing: { key: string; severity: string; resolvedAt: string | null }[];
  resolved: { key: string; resolvedAt: string | null }[];
  rules: { id: string }[];
}

/** Monitoring endpoints over loopback HTTP, fed by fakes; each test drives the samples itself. */
describe('monitoring endpoints', () => {
  let world: World;
  let handle: ServeHandle;
  let mon: string;
  let host = { cpuPercent: 5 as number | null, memoryPercent: 30 as number | null };
  let traffic: { blue: [number, number]; green: [number, number] };
  beforeEach(async () => {
    traffic = { blue: [100, 0], green: [0, 0] };
    host = { cpuPercent: 5, memoryPercent: 30 };
    world = makeContext({
      traffic: new FakeTraffic(() => traffic),
      config: { thresholds: { errorRateForSeconds: 0, latencyForSeconds: 0 } },
    });
    handle = await startServe(
      {
        ctx: world.ctx,
        traffic: world.traffic,
        host: { sample: () => host },
        audit: { append: (_e: AuditEntry) => Promise.resolve() },
        loop: false,
      },
      parseServeOptions({ apiPort: '0', monitorPort: '0', rateLimit: '0', alertFor: '0' }, {}),
    );
    mon = handle.monitorUrl;
  });
  afterEach(async () => {
    await handle.close();
  });

  it('/metrics: weights, traffic per color, migration, health, host and process metrics in Prometheus text', async () => {
    traffic = { blue: [40, 2], green: [10, 1] };
    await handle.monitor.sample();
    const r = await http(`${mon}/metrics`);
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const m = r.text;
    for (const line of [
      'bgctl_traffic_weight_percent{color="blue"} 100',
      'bgctl_traffic_weight_percent{color="green"} 0',
      'bgctl_requests_total{color="blue"} 140', // 100 at start-up + 40
      'bgctl_request_errors_total{color="blue"} 2',
      'bgctl_request_errors_total{color="green"} 1',
      'bgctl_request_duration_seconds_count{color="green"} 10',
      'bgctl_migration_status{status="none"} 1',
      'bgctl_server_up{color="green",server="127.0.0.1:8082"} 1',
      'bgctl_color_up{color="blue"} 1',
      'bgctl_nginx_up 1',
      'bgctl_host_memory_ratio 0.3',
    ])
      expect(m).toContain(line);
    expect(m).toMatch(/^process_resident_memory_bytes \d+/m);
    expect(m).toMatch(/^# TYPE bgctl_rollbacks_total counter/m);
  });

  it('/alerts: a breach opens an alert with its start time, recovery resolves it', async () => {
    traffic = { blue: [100, 0], green: [100, 30] };
    host = { cpuPercent: 95, memoryPercent: 30 };
    await handle.monitor.sample();
    const open = (await http(`${mon}/alerts`)).json<AlertsAnswer>();
    expect(open.firing.map((a) => a.key).sort()).toEqual(['availability:site', 'error_rate:green', 'host_cpu:host']);
    expect(open.firing.find((a) => a.key === 'error_rate:green')).toMatchObject({
      severity: 'critical',
      resolvedAt: null,
    });
    await world.clock.sleep(60_000); // the window (10 s) moves past the failing reads
    traffic = { blue: [100, 0], green: [100, 0] };
    host = { cpuPercent: 10, memoryPercent: 30 };
    await handle.monitor.sample();
    const after = (await http(`${mon}/alerts`)).json<AlertsAnswer>();
    expect(after.firing).toEqual([]);
    expect(after.resolved.map((a) => a.key).sort()).toEqual(['availability:site', 'error_rate:green', 'host_cpu:host']);
    expect(after.resolved[0]?.resolvedAt).not.toBeNull();
    expect(after.rules.map((r) => r.id)).toEqual(['p95_latency', 'error_rate', 'availability', 'host_cpu', 'host_memory']);
  });

  it('/health: 200 when bgctl, NGINX and both colors are up; 503 naming what is down', async () => {
    const ok = await http(`${mon}/health`);
    expect(ok.status).toBe(200);
    expect(ok.json()).toMatchObject({
      status: 'ok',
      bgctl: { up: true },
      nginx: { up: true },
      colors: { blue: { up: true }, green: { up: true } },
    });
    world.prober.setHealth('green', false);
    world.nginx.answering = false;
    await world.clock.sleep(2000); // next probe round is due
    await handle.monitor.sample();
    const bad = await http(`${mon}/health`);
    expect(bad.status).toBe(503);
    expect(bad.json()).toMatchObject({ status: 'degraded', nginx: { up: false }, colors: { blue: { up: true }, green: { up: false } } });
  });

  it('/dashboard is a self-contained page with a strict CSP; /dashboard.json carries what it draws', async () => {
    const page = await http(`${mon}/dashboard`);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['content-security-policy']).toMatch(/default-src 'none'; script-src 'sha256-/);
    expect(page.text).toContain('/dashboard.json');
    traffic = { blue: [50, 0], green: [0, 0] };
    await handle.monitor.sample();
    const d = (await http(`${mon}/dashboard.json`)).json();
    expect(d).toMatchObject({ active: 'blue', stable: 'blue', weights: { blue: 100, green: 0 }, nginx: { up: true }, migration: null });
    expect((d.chart.points as number[][]).at(-1)?.slice(2)).toEqual([50, 0, 0, 0]);
    expect(d.health.colors.green).toMatchObject({ up: true, servers: [{ server: '127.0.0.1:8082', healthy: true }] });
    expect((await http(`${mon}/`)).headers['location']).toBe('/dashboard');
  });
});

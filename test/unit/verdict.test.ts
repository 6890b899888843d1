import { describe, expect, it } from 'vitest';
import type { ColorFigures } from '../../src/core/metrics.js';
import { decideVerdict, VERDICT_EXIT, type ColorInput, type VerdictInput } from '../../src/core/verdict.js';

const figures = (requests: number, errors: number, p95: number | null = 20): ColorFigures => ({
  requests,
  errors,
  errorRate: requests > 0 ? errors / requests : null,
  availability: requests > 0 ? 1 - errors / requests : null,
  p50: p95,
  p95,
  p99: p95,
});
const color = (o: Partial<ColorInput> = {}): ColorInput => ({
  weight: 0,
  servers: 1,
  healthyServers: 1,
  traffic: figures(0, 0, null),
  ...o,
});
const input = (o: Partial<VerdictInput> = {}): VerdictInput => ({
  nginxDown: null,
  drift: null,
  interrupted: null,
  colors: { blue: color({ weight: 100, traffic: figures(500, 0) }), green: color() },
  thresholds: { errorRate: 0.05, p95LatencyMs: 1000, minRequests: 20 },
  windowSeconds: 60,
  fallback: null,
  criticalAlerts: [],
  ...o,
});

describe('status verdict', () => {
  it('is OK with exit 0 when NGINX serves, nothing drifted and the color with traffic is healthy and fast', () => {
    const v = decideVerdict(input());
    expect(v).toEqual({ level: 'OK', reasons: [], line: 'OK' });
    expect(VERDICT_EXIT[v.level]).toBe(0);
  });

  it('is CRITICAL (exit 4) when the color carrying all traffic answers 500 to everything, though its probes pass', () => {
    const v = decideVerdict(input({ colors: { blue: color(), green: color({ weight: 100, traffic: figures(300, 300) }) } }));
    expect(v.level).toBe('CRITICAL');
    expect(v.line).toBe('CRITICAL: green answers 100.0% 5xx (threshold 5.0%, 300 requests in the last 60 s)');
    expect(VERDICT_EXIT[v.level]).toBe(4);
  });

  it('judges nothing on fewer requests than minRequests', () => {
    expect(decideVerdict(input({ colors: { blue: color({ weight: 100, traffic: figures(19, 19) }), green: color() } })).level).toBe('OK');
  });

  it('is CRITICAL when NGINX is down, without repeating it as drift', () => {
    const v = decideVerdict(input({ nginxDown: 'NGINX is not running (`bgctl start`)', drift: 'NGINX is not running' }));
    expect(v.line).toBe('CRITICAL: NGINX is not running (`bgctl start`)');
  });

  it('is CRITICAL when a color with traffic fails every probe, DEGRADED when only some servers do', () => {
    const all = decideVerdict(input({ colors: { blue: color({ weight: 100, servers: 2, healthyServers: 0 }), green: color() } }));
    expect(all.line).toBe('CRITICAL: blue (100% of traffic) fails its health probes on every server');
    const some = decideVerdict(input({ colors: { blue: color({ weight: 100, servers: 2, healthyServers: 1 }), green: color() } }));
    expect(some.line).toBe('DEGRADED: blue (100% of traffic): 1/2 servers fail their health probe');
    expect(VERDICT_EXIT[some.level]).toBe(6);
  });

  it('does not judge a color at 0% on what it served earlier in the window (just after a rollback)', () => {
    const v = decideVerdict(
      input({ colors: { blue: color({ weight: 100, traffic: figures(100, 0) }), green: color({ traffic: figures(50, 10) }) } }),
    );
    expect(v.line).toBe('OK');
  });

  it('is DEGRADED for drift, an interrupted migration, a slow color, a fallback and an idle color that is down', () => {
    const v = decideVerdict(
      input({
        drift: 'NGINX serves revision 4 but state.json says revision 3',
        interrupted: 'gradual blue → green 2.1.0 at step 2/4 (50%)',
        fallback: 'NGINX cannot use its weights file (bad JSON) and routes by bgctl-weights.json.prev',
        colors: { blue: color({ weight: 100, traffic: figures(100, 0, 1500) }), green: color({ healthyServers: 0 }) },
      }),
    );
    expect(v.level).toBe('DEGRADED');
    expect(v.reasons.map((r) => r.code)).toEqual(['p95_latency', 'probes_idle', 'interrupted', 'drift', 'fallback']);
    expect(v.line).toMatch(
      /^DEGRADED: blue p95 latency 1500 ms \(threshold 1000 ms, 100 requests in the last 60 s\); green \(no traffic\) fails/,
    );
  });

  it('puts CRITICAL reasons first, and an open critical alert of serve makes it CRITICAL', () => {
    const v = decideVerdict(input({ drift: 'x', criticalAlerts: ['error rate of green 31% > 5% for 60 s'] }));
    expect(v.level).toBe('CRITICAL');
    expect(v.reasons.map((r) => [r.level, r.code])).toEqual([
      ['CRITICAL', 'alert'],
      ['DEGRADED', 'drift'],
    ]);
    expect(v.line).toBe('CRITICAL: alert firing: error rate of green 31% > 5% for 60 s; drift: x');
  });
});

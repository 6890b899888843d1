import { describe, expect, it } from 'vitest';
import { addressColors, addLine, parseLogLine } from '../../src/adapters/traffic-log.js';
import { formatEvent } from '../../src/cli/output.js';
import { validateConfig } from '../../src/config/validate.js';
import { DeltaBuilder } from '../../src/core/traffic.js';

const servers = { blue: ['127.0.0.1:8081'], green: ['127.0.0.1:8082'] };
const line = (o: { forced?: string; warmup?: string; status?: number }) =>
  JSON.stringify({
    msec: 1700000000.123,
    status: o.status ?? 200,
    upstream_status: String(o.status ?? 200),
    upstream_response_time: '0.004',
    upstream_addr: '127.0.0.1:8082',
    color: 'green',
    forced: o.forced ?? '',
    warmup: o.warmup ?? '',
  });

describe('warmup requests in the access log', () => {
  it('are judged for the color they were forced to and counted apart; other forced lines stay out', () => {
    const b = new DeltaBuilder();
    const colors = addressColors(servers);
    for (const l of [
      line({}),
      line({ forced: 'green', warmup: '1' }),
      line({ forced: 'green', warmup: '1', status: 500 }),
      line({ forced: 'green' }),
    ]) {
      const parsed = parseLogLine(l, colors);
      if (parsed) addLine(parsed, b);
    }
    const d = b.take();
    expect(d.colors.green).toMatchObject({ requests: 3, errors: 1 });
    expect(d.warmup).toBe(2);
    // a client cannot make its line count by sending the marker without the forced route
    expect(parseLogLine(line({ warmup: '1' }), colors)?.warmup).toBeUndefined();
  });

  it('needs a forced-route header to send them with', () => {
    const base = { environments: { blue: { servers: ['127.0.0.1:8081'] }, green: { servers: ['127.0.0.1:8082'] } } };
    expect(() =>
      validateConfig({ ...base, migration: { warmup: { enabled: true } }, routing: { forceHeader: null } }, 'bgctl.yaml'),
    ).toThrow('bgctl.yaml: migration.warmup.enabled: needs routing.forceHeader');
    expect(
      validateConfig({ ...base, migration: { warmup: { enabled: true, rps: 2 } }, routing: { forceHeader: 'X-Force-Color' } }).migration
        .warmup,
    ).toEqual({
      enabled: true,
      rps: 2,
      path: '/',
    });
  });
});

describe('progress while a step waits for traffic', () => {
  const observe = (elapsedMs: number) =>
    formatEvent({
      type: 'observe',
      index: 0,
      elapsedMs,
      totalMs: 30_000,
      health: true,
      figures: null,
      verdict: 'insufficient',
      note: '0 requests to green in the last 10.0 s < minRequests 20',
    });

  it('says it waits for traffic and what helps, and counts the extension instead of freezing at 30.0/30.0', () => {
    expect(observe(5000)).toMatch(/5\.0\/30\.0 s {2}health ok +\[waiting for traffic: 0 requests to green .* enable migration\.warmup/);
    expect(observe(42_500)).toMatch(
      /30\.0\/30\.0 s \+12\.5 s extended .*the step cannot pass without it: send traffic through NGINX, enable migration\.warmup, or lower thresholds\.minRequests/,
    );
    expect(observe(5000)).not.toMatch(/undecided/);
  });

  it('a passed step says why, so a quiet window followed by "passed" reads right', () => {
    expect(
      formatEvent({
        type: 'step',
        index: 0,
        total: 2,
        weights: { blue: 50, green: 50 },
        phase: 'passed',
        reason: '45 requests (30 of them warmup) reached green during this step, no threshold breached',
      }),
    ).toBe(
      'step 1/2    passed    blue 50% / green 50% — 45 requests (30 of them warmup) reached green during this step, no threshold breached',
    );
  });
});

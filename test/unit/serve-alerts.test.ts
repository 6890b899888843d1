import { describe, expect, it } from 'vitest';
import type { WindowFigures, ColorFigures } from '../../src/core/metrics.js';
import { advance, DEFAULT_POLICY, emptyBook, findings, rulesOf, type AlertBook, type Observation } from '../../src/serve/alerts.js';

const quiet: ColorFigures = { requests: 0, errors: 0, errorRate: null, availability: null, p50: null, p95: null, p99: null };
const color = (requests: number, errors: number, p95: number | null = 20): ColorFigures => ({
  requests,
  errors,
  errorRate: requests > 0 ? errors / requests : null,
  availability: requests > 0 ? 1 - errors / requests : null,
  p50: p95,
  p95,
  p99: p95,
});
const traffic = (
  blue: ColorFigures,
  green: ColorFigures,
  client = { requests: blue.requests + green.requests, failures: 0 },
): WindowFigures => ({
  colors: { blue, green },
  client,
  spanMs: 10_000,
});
const obs = (o: Partial<Observation>): Observation => ({ traffic: null, minRequests: 20, cpuPercent: 10, memoryPercent: 30, ...o });
const rules = rulesOf({ ...DEFAULT_POLICY, latencyForSeconds: 0, errorRateForSeconds: 0, hostForSeconds: 0 });

describe('alert rules', () => {
  it('defaults: p95 1000 ms, error rate 5%, availability 99%, host CPU 80%, host memory 90%', () => {
    const r = Object.fromEntries(rulesOf(DEFAULT_POLICY).map((x) => [x.id, [x.threshold, x.severity]]));
    expect(r).toEqual({
      p95_latency: [1000, 'warning'],
      error_rate: [0.05, 'critical'],
      availability: [0.99, 'critical'],
      host_cpu: [80, 'warning'],
      host_memory: [90, 'warning'],
    });
  });

  it('finds nothing on a healthy system', () => {
    expect(findings(rules, obs({ traffic: traffic(color(500, 1), color(100, 0)) }))).toEqual([]);
  });

  it('flags a color over the error rate and the site under the availability, with readable summaries', () => {
    const f = findings(rules, obs({ traffic: traffic(color(500, 0), color(100, 8), { requests: 600, failures: 8 }) }));
    expect(f.map((x) => x.key)).toEqual(['error_rate:green', 'availability:site']);
    expect(f[0]?.summary).toBe('error rate of green 8.0% > 5.0% (last 10 s, 100 requests)');
    expect(f[1]?.summary).toMatch(/^availability 98\.7% < 99\.0%: 8 of 600 client requests failed/);
  });

  it('flags a slow color on p95 and the host on CPU and memory', () => {
    const f = findings(rules, obs({ traffic: traffic(color(50, 0, 1500), color(50, 0, 30)), cpuPercent: 93, memoryPercent: 95 }));
    expect(f.map((x) => [x.key, x.severity])).toEqual([
      ['p95_latency:blue', 'warning'],
      ['host_cpu:host', 'warning'],
      ['host_memory:host', 'warning'],
    ]);
    expect(f[0]?.summary).toMatch(/p95 latency of blue 1500 ms > 1000 ms/);
  });

  it('judges no traffic rule below minRequests or without a readable log', () => {
    expect(findings(rules, obs({ traffic: traffic(color(10, 10), quiet, { requests: 10, failures: 10 }) }))).toEqual([]);
    expect(findings(rules, obs({ traffic: null, cpuPercent: null, memoryPercent: null }))).toEqual([]);
  });
});

describe('alert lifecycle', () => {
  const slowRules = rulesOf({ ...DEFAULT_POLICY, errorRateForSeconds: 30 });
  const breach = (now: number, book: AlertBook) =>
    advance(
      book,
      findings(slowRules, obs({ traffic: traffic(color(100, 0), color(100, 20), { requests: 200, failures: 20 }) })),
      now,
      slowRules,
    );

  it('is pending until the breach lasted `for`, then fires once, then resolves with start and resolve times', () => {
    let r = breach(0, emptyBook());
    expect(r.book.active.map((a) => [a.key, a.state])).toEqual([
      ['error_rate:green', 'pending'],
      ['availability:site', 'pending'],
    ]);
    expect(r.changes).toEqual([]);
    r = breach(29_000, r.book);
    expect(r.changes).toEqual([]);
    r = breach(30_000, r.book);
    expect(r.changes.map((c) => [c.kind, c.alert.key])).toEqual([
      ['firing', 'error_rate:green'],
      ['firing', 'availability:site'],
    ]);
    expect(r.book.active[0]).toMatchObject({ state: 'firing', startedAt: 0, firedAt: 30_000, resolvedAt: null });
    r = breach(31_000, r.book);
    expect(r.changes).toEqual([]); // still firing: no repeat notification
    r = advance(r.book, [], 45_000, slowRules);
    expect(r.changes.map((c) => c.kind)).toEqual(['resolved', 'resolved']);
    expect(r.book.active).toEqual([]);
    expect(r.book.resolved[0]).toMatchObject({
      key: 'error_rate:green',
      state: 'resolved',
      startedAt: 0,
      firedAt: 30_000,
      resolvedAt: 45_000,
    });
  });

  it('forgets a pending alert that stops breaching without ever notifying', () => {
    const r1 = breach(0, emptyBook());
    const r2 = advance(r1.book, [], 5000, slowRules);
    expect(r2.changes).toEqual([]);
    expect(r2.book).toEqual({ active: [], resolved: [] });
  });

  it('keeps a bounded number of resolved alerts', () => {
    let book = emptyBook();
    for (let i = 0; i < 50; i++) {
      book = advance(book, findings(rules, obs({ cpuPercent: 99 })), i * 2, rules).book;
      book = advance(book, [], i * 2 + 1, rules).book;
    }
    const capped = advance(book, [], 1000, rules, 10).book;
    expect(book.resolved).toHaveLength(50);
    expect(capped.resolved).toHaveLength(10);
    expect(capped.resolved.at(-1)?.resolvedAt).toBe(99);
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bucketBounds, bucketOf, emptyHistogram, HistogramBuilder, mergeHistograms, quantile } from '../../src/core/histogram.js';
import type { Histogram } from '../../src/core/metrics.js';
import { addDeltas, colorFigures, DeltaBuilder, emptyDelta, figuresOf, sumDeltas } from '../../src/core/traffic.js';

const histogramOf = (values: readonly number[]): Histogram => {
  const b = new HistogramBuilder();
  for (const v of values) b.add(v);
  return b.snapshot();
};
const range = (n: number, f: (i: number) => number): number[] => Array.from({ length: n }, (_, i) => f(i));

describe('latency histogram', () => {
  it('has no quantile when empty', () => {
    expect(quantile(emptyHistogram(), 0.95)).toBeNull();
    expect(quantile(new HistogramBuilder().snapshot(), 0.5)).toBeNull();
  });

  it('gives exact quantiles for whole milliseconds up to 100 ms', () => {
    const h = histogramOf(range(100, (i) => i + 1)); // 1..100 ms
    expect(quantile(h, 0.5)).toBe(50);
    expect(quantile(h, 0.95)).toBe(95);
    expect(quantile(h, 0.99)).toBe(99);
    expect(quantile(h, 1)).toBe(100);
    expect(h.total).toBe(100);
    expect(h.max).toBe(100);
  });

  it('is at most 2% (+0.1 ms rounding) above the true quantile over 100 ms, never below', () => {
    const h = histogramOf(range(100, (i) => (i + 1) * 10)); // 10..1000 ms: true p95 = 950
    const p95 = quantile(h, 0.95) ?? NaN;
    expect(p95).toBeGreaterThanOrEqual(950);
    expect(p95).toBeLessThanOrEqual(950 * 1.02 + 0.1);
  });

  it('never reports more than the largest value seen', () => {
    expect(quantile(histogramOf([101, 101, 101]), 0.95)).toBe(101);
    expect(quantile(histogramOf([1340]), 0.5)).toBe(1340);
    expect(quantile(histogramOf([0.2]), 0.5)).toBe(0.2);
  });

  it('keeps slow requests up to 10 minutes in finite buckets: a single outlier does not become the median', () => {
    const h = histogramOf([...range(10, () => 598_000), 3_600_000]);
    const p50 = quantile(h, 0.5) ?? NaN;
    expect(p50).toBeGreaterThanOrEqual(598_000);
    expect(p50).toBeLessThanOrEqual(600_000);
    expect(quantile(h, 1)).toBe(3_600_000);
    expect(bucketBounds().at(-2)).toBe(600_000);
  });

  it('puts every value in the first bucket whose upper bound holds it, 2% wide (+0.1 ms) above 100 ms', () => {
    const bounds = bucketBounds();
    fc.assert(
      fc.property(fc.double({ min: 0.001, max: 600_000, noNaN: true }), (ms) => {
        const i = bucketOf(ms);
        const upper = bounds[i] ?? NaN;
        expect(upper).toBeGreaterThanOrEqual(ms);
        if (i > 0) expect(bounds[i - 1]).toBeLessThan(ms);
        expect(upper - ms).toBeLessThanOrEqual(ms <= 100 ? 0.5 : ms * 0.02 + 0.1);
      }),
      { numRuns: 5000 },
    );
  });

  it('merges like adding every value to one histogram, without touching its inputs', () => {
    const a = histogramOf([5, 50, 500]);
    const b = histogramOf([1, 2000]);
    const before = structuredClone(a);
    expect(mergeHistograms(a, b)).toEqual(histogramOf([5, 50, 500, 1, 2000]));
    expect(mergeHistograms(b, emptyHistogram())).toEqual(b);
    expect(a).toEqual(before);
  });

  it('snapshots plain data that later additions do not change', () => {
    const b = new HistogramBuilder();
    b.add(10);
    const snap = b.snapshot();
    b.add(5000);
    expect(snap.total).toBe(1);
    expect(snap.max).toBe(10);
    expect(JSON.parse(JSON.stringify(snap))).toEqual(snap);
  });
});

describe('traffic deltas', () => {
  it('counts attempts per color, errors, latencies and the first and last request time', () => {
    const b = new DeltaBuilder();
    b.attempt('green', true, 502, 2000);
    b.attempt('blue', false, 30, 2100);
    b.attempt('green', false, 40, 1500);
    b.attempt('green', false, null, 2500); // unknown latency: counted, not timed
    b.request(false);
    b.request(true);
    b.unknown();
    const d = b.take();
    expect(d.colors.green).toMatchObject({ requests: 3, errors: 1, firstAt: 1500, lastAt: 2500 });
    expect(d.colors.green.latency.total).toBe(2);
    expect(d.colors.blue).toMatchObject({ requests: 1, errors: 0, firstAt: 2100, lastAt: 2100 });
    expect(d.client).toEqual({ requests: 2, failures: 1 });
    expect(d.unattributed).toBe(1);
  });

  it('starts again from zero after take()', () => {
    const b = new DeltaBuilder();
    b.attempt('green', true, 10, 1000);
    b.request(true);
    b.take();
    expect(b.take()).toEqual(emptyDelta());
  });

  it('adds up counts, merges latencies and keeps the earliest first and latest last request', () => {
    const b = new DeltaBuilder();
    b.attempt('green', true, 100, 5000);
    const first = b.take();
    b.attempt('green', false, 300, 3000);
    b.attempt('green', false, 200, 9000);
    b.request(false);
    const second = b.take();
    const sum = addDeltas(first, second);
    expect(sum.colors.green).toMatchObject({ requests: 3, errors: 1, firstAt: 3000, lastAt: 9000 });
    expect(sum.colors.green.latency).toEqual(histogramOf([100, 300, 200]));
    expect(sum.colors.blue).toEqual(emptyDelta().colors.blue);
    expect(sum.client).toEqual({ requests: 1, failures: 0 });
    expect(sumDeltas([first, second, emptyDelta()])).toEqual(sum);
    expect(sumDeltas([])).toEqual(emptyDelta());
  });

  it('turns a delta into printable figures: rates, availability, quantiles, no data as null', () => {
    const b = new DeltaBuilder();
    for (let i = 0; i < 100; i++) b.attempt('green', i < 4, i + 1, 1000 + i);
    b.request(false);
    const f = figuresOf(b.take(), 10_000);
    expect(f.spanMs).toBe(10_000);
    expect(f.client).toEqual({ requests: 1, failures: 0 });
    expect(f.colors.green).toEqual({ requests: 100, errors: 4, errorRate: 0.04, availability: 0.96, p50: 50, p95: 95, p99: 99 });
    expect(f.colors.blue).toEqual({ requests: 0, errors: 0, errorRate: null, availability: null, p50: null, p95: null, p99: null });
    expect(colorFigures(emptyDelta().colors.green).errorRate).toBeNull();
  });
});

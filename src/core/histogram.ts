import type { Histogram } from './metrics.js';

/**
 * Latency histogram with bounded memory: 0.5 ms buckets up to 100 ms, then buckets 2% wider each up
 * to 10 minutes (everything slower lands in the last one). A quantile is the upper bound of the
 * bucket it falls in, capped at the largest value seen: within 0.5 ms below 100 ms, within 2% above.
 */
const LINEAR_STEP = 0.5;
const LINEAR_UNTIL = 100;
const RATIO = 1.02;
const CEILING = 600_000;

const BOUNDS: readonly number[] = (() => {
  const b: number[] = [];
  for (let v = LINEAR_STEP; v <= LINEAR_UNTIL; v += LINEAR_STEP) b.push(Math.round(v * 10) / 10);
  for (let v = LINEAR_UNTIL * RATIO; v < CEILING; v *= RATIO) b.push(Math.round(v * 10) / 10);
  b.push(CEILING, Number.POSITIVE_INFINITY);
  return b;
})();

/** Upper bound (ms, inclusive) of every bucket; the last is +Infinity. */
export const bucketBounds = (): readonly number[] => BOUNDS;

export function bucketOf(ms: number): number {
  if (!(ms > 0)) return 0;
  if (ms <= LINEAR_UNTIL) return Math.max(0, Math.ceil(ms / LINEAR_STEP) - 1);
  // binary search in the geometric part
  let lo = Math.round(LINEAR_UNTIL / LINEAR_STEP);
  let hi = BOUNDS.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((BOUNDS[mid] ?? Infinity) >= ms) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

export const emptyHistogram = (): Histogram => ({ counts: [], total: 0, max: 0 });

/** Mutable accumulator; `snapshot()` returns plain data. Counts are stored sparsely up to the highest bucket used. */
export class HistogramBuilder {
  private counts: number[] = [];
  private total = 0;
  private max = 0;

  add(ms: number): void {
    const i = bucketOf(ms);
    while (this.counts.length <= i) this.counts.push(0);
    this.counts[i] = (this.counts[i] ?? 0) + 1;
    this.total++;
    if (ms > this.max) this.max = ms;
  }

  addAll(h: Histogram): void {
    while (this.counts.length < h.counts.length) this.counts.push(0);
    h.counts.forEach((n, i) => {
      this.counts[i] = (this.counts[i] ?? 0) + n;
    });
    this.total += h.total;
    if (h.max > this.max) this.max = h.max;
  }

  snapshot(): Histogram {
    return { counts: [...this.counts], total: this.total, max: this.max };
  }
}

export function mergeHistograms(a: Histogram, b: Histogram): Histogram {
  const m = new HistogramBuilder();
  m.addAll(a);
  m.addAll(b);
  return m.snapshot();
}

/** The q-quantile (0 < q ≤ 1) in ms, or null for an empty histogram. */
export function quantile(h: Histogram, q: number): number | null {
  if (h.total === 0) return null;
  const rank = Math.max(1, Math.ceil(q * h.total));
  let seen = 0;
  for (let i = 0; i < h.counts.length; i++) {
    seen += h.counts[i] ?? 0;
    if (seen >= rank) return Math.min(BOUNDS[i] ?? h.max, h.max);
  }
  return h.max;
}

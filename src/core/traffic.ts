import { COLORS, type Color } from './color.js';
import { emptyHistogram, HistogramBuilder, mergeHistograms, quantile } from './histogram.js';
import type { ColorFigures, ColorTraffic, TrafficDelta, WindowFigures } from './metrics.js';

/** Pure helpers over TrafficDelta (core/metrics.ts): build, add up, turn into printable figures. */

const emptyColor = (): ColorTraffic => ({ requests: 0, errors: 0, latency: emptyHistogram(), firstAt: null, lastAt: null });

export const emptyDelta = (): TrafficDelta => ({
  colors: { blue: emptyColor(), green: emptyColor() },
  client: { requests: 0, failures: 0 },
  unattributed: 0,
});

const minOf = (a: number | null, b: number | null): number | null => (a === null ? b : b === null ? a : Math.min(a, b));
const maxOf = (a: number | null, b: number | null): number | null => (a === null ? b : b === null ? a : Math.max(a, b));

function addColor(a: ColorTraffic, b: ColorTraffic): ColorTraffic {
  return {
    requests: a.requests + b.requests,
    errors: a.errors + b.errors,
    latency: mergeHistograms(a.latency, b.latency),
    firstAt: minOf(a.firstAt, b.firstAt),
    lastAt: maxOf(a.lastAt, b.lastAt),
  };
}

export function addDeltas(a: TrafficDelta, b: TrafficDelta): TrafficDelta {
  return {
    colors: { blue: addColor(a.colors.blue, b.colors.blue), green: addColor(a.colors.green, b.colors.green) },
    client: { requests: a.client.requests + b.client.requests, failures: a.client.failures + b.client.failures },
    unattributed: a.unattributed + b.unattributed,
    ...withWarmup((a.warmup ?? 0) + (b.warmup ?? 0)),
  };
}

/** The warmup count only when there is one: deltas without warmup stay as they were. */
const withWarmup = (n: number): { warmup?: number } => (n > 0 ? { warmup: n } : {});

/** One read of the log and when it was taken (epoch ms). */
export interface TimedDelta {
  readonly at: number;
  readonly delta: TrafficDelta;
}

/** Pure: the sliding window after `latest`: the reads taken in the `windowMs` up to it, oldest first. */
export const slideWindow = (recent: readonly TimedDelta[], latest: TimedDelta, windowMs: number): TimedDelta[] =>
  [...recent, latest].filter((r) => r.at > latest.at - windowMs);

/** Like folding with addDeltas, but each color's histogram is built once instead of copied per delta (run on every check). */
export function sumDeltas(deltas: readonly TrafficDelta[]): TrafficDelta {
  const sumColor = (color: Color): ColorTraffic => {
    const latency = new HistogramBuilder();
    let [requests, errors, firstAt, lastAt] = [0, 0, null as number | null, null as number | null];
    for (const d of deltas) {
      const c = d.colors[color];
      requests += c.requests;
      errors += c.errors;
      latency.addAll(c.latency);
      firstAt = minOf(firstAt, c.firstAt);
      lastAt = maxOf(lastAt, c.lastAt);
    }
    return { requests, errors, latency: latency.snapshot(), firstAt, lastAt };
  };
  let [requests, failures, unattributed, warmup] = [0, 0, 0, 0];
  for (const d of deltas) {
    requests += d.client.requests;
    failures += d.client.failures;
    unattributed += d.unattributed;
    warmup += d.warmup ?? 0;
  }
  return {
    colors: { blue: sumColor('blue'), green: sumColor('green') },
    client: { requests, failures },
    unattributed,
    ...withWarmup(warmup),
  };
}

export function colorFigures(c: ColorTraffic): ColorFigures {
  const rate = c.requests > 0 ? c.errors / c.requests : null;
  return {
    requests: c.requests,
    errors: c.errors,
    errorRate: rate,
    availability: rate === null ? null : 1 - rate,
    p50: quantile(c.latency, 0.5),
    p95: quantile(c.latency, 0.95),
    p99: quantile(c.latency, 0.99),
  };
}

export function figuresOf(delta: TrafficDelta, spanMs: number): WindowFigures {
  return {
    colors: { blue: colorFigures(delta.colors.blue), green: colorFigures(delta.colors.green) },
    client: { ...delta.client },
    spanMs,
  };
}

/** Mutable accumulator used by the log reader: one call per attempt and per client request. */
export class DeltaBuilder {
  private readonly colors = {
    blue: { requests: 0, errors: 0, latency: new HistogramBuilder(), firstAt: null as number | null, lastAt: null as number | null },
    green: { requests: 0, errors: 0, latency: new HistogramBuilder(), firstAt: null as number | null, lastAt: null as number | null },
  };
  private client = { requests: 0, failures: 0 };
  private unattributed = 0;
  private warmups = 0;

  /** The request being added was one of bgctl's warmup requests. */
  warmup(): void {
    this.warmups++;
  }

  /** One upstream attempt to a server of `color`: failed = 5xx (backend's or NGINX's own); latencyMs null when unknown. */
  attempt(color: Color, failed: boolean, latencyMs: number | null, atMs: number | null): void {
    const c = this.colors[color];
    c.requests++;
    if (failed) c.errors++;
    if (latencyMs !== null && Number.isFinite(latencyMs)) c.latency.add(latencyMs);
    if (atMs !== null) {
      c.firstAt = minOf(c.firstAt, atMs);
      c.lastAt = maxOf(c.lastAt, atMs);
    }
  }

  /** One request as the client made it; failed = its final status was 5xx. */
  request(failed: boolean): void {
    this.client.requests++;
    if (failed) this.client.failures++;
  }

  unknown(): void {
    this.unattributed++;
  }

  /** Returns everything added since the last take() and starts again from zero. */
  take(): TrafficDelta {
    const out: TrafficDelta = {
      colors: Object.fromEntries(
        COLORS.map((k) => {
          const c = this.colors[k];
          return [k, { requests: c.requests, errors: c.errors, latency: c.latency.snapshot(), firstAt: c.firstAt, lastAt: c.lastAt }];
        }),
      ) as Record<Color, ColorTraffic>,
      client: { ...this.client },
      unattributed: this.unattributed,
      ...withWarmup(this.warmups),
    };
    this.warmups = 0;
    for (const k of COLORS) this.colors[k] = { requests: 0, errors: 0, latency: new HistogramBuilder(), firstAt: null, lastAt: null };
    this.client = { requests: 0, failures: 0 };
    this.unattributed = 0;
    return out;
  }
}

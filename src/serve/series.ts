import type { Color } from '../core/color.js';
import type { TrafficDelta, TrafficRead, WindowFigures } from '../core/metrics.js';
import { figuresOf, sumDeltas } from '../core/traffic.js';
import { Ring } from './ring.js';

/** One read of the access log, as the dashboard charts it: counts over `spanMs` ending at `at`. */
export interface SeriesPoint {
  readonly at: number;
  readonly spanMs: number;
  readonly requests: Readonly<Record<Color, number>>;
  readonly errors: Readonly<Record<Color, number>>;
  readonly readable: boolean;
}

export interface SeriesOptions {
  /** how many chart points are kept (one per read: 600 at one read a second = 10 minutes) */
  readonly points: number;
  /** the sliding window alerts are judged on */
  readonly windowMs: number;
  /** how many full reads (with latency histograms) the window may hold at most */
  readonly windowReads: number;
}

/**
 * Traffic over time with bounded memory: light points for the chart in one ring, and the full reads
 * (latency histograms included) of the alert window in another.
 */
export class TrafficSeries {
  private readonly points: Ring<SeriesPoint>;
  private readonly recent: Ring<{ at: number; delta: TrafficDelta }>;
  private lastProblem: string | null = null;

  constructor(private readonly o: SeriesOptions) {
    this.points = new Ring(o.points);
    this.recent = new Ring(o.windowReads);
  }

  add(at: number, spanMs: number, read: TrafficRead): void {
    const c = read.delta.colors;
    this.points.push({
      at,
      spanMs,
      requests: { blue: c.blue.requests, green: c.green.requests },
      errors: { blue: c.blue.errors, green: c.green.errors },
      readable: read.readable,
    });
    this.recent.push({ at, delta: read.delta });
    this.lastProblem = read.readable ? null : read.problem;
  }

  /** Figures over the last windowMs (reads taken after now - windowMs). */
  window(now: number): WindowFigures {
    const inWindow = this.recent.toArray().filter((r) => r.at > now - this.o.windowMs);
    return figuresOf(sumDeltas(inWindow.map((r) => r.delta)), this.o.windowMs);
  }

  /** Chart points newer than `sinceMs` ago, oldest first. */
  chart(now: number, sinceMs: number): SeriesPoint[] {
    return this.points.toArray().filter((p) => p.at > now - sinceMs);
  }

  /** Why the last read failed, null when it succeeded. */
  get problem(): string | null {
    return this.lastProblem;
  }
}

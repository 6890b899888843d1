import { COLORS, type Color } from '../core/color.js';
import type { WindowFigures } from '../core/metrics.js';
import { figuresOf, slideWindow, sumDeltas, type TimedDelta } from '../core/traffic.js';
import type { AppContext } from './context.js';
import type { TrafficTail } from './ports.js';

/** Live per-color traffic over the last `windowMs`, for `status --watch` (rates from the access log). */
export interface LiveTraffic {
  readonly figures: WindowFigures;
  /** requests per second each color served in the window */
  readonly rps: Readonly<Record<Color, number>>;
  readonly readable: boolean;
  readonly problem: string | null;
}

/**
 * Follows the access log from now on and keeps what it read for the last `windowMs` (older reads are
 * dropped, so memory stays bounded however long it runs).
 */
/** The shortest stretch of traffic a rate is given for. */
const MIN_SPAN_MS = 250;

export class TrafficWatch {
  private recent: readonly TimedDelta[] = [];

  private constructor(
    private readonly ctx: Pick<AppContext, 'clock'>,
    private readonly tail: TrafficTail,
    private readonly windowMs: number,
    private readonly startedAt: number,
  ) {}

  static async start(ctx: Pick<AppContext, 'clock' | 'traffic'>, windowMs: number): Promise<TrafficWatch> {
    return new TrafficWatch(ctx, await ctx.traffic.tail(), windowMs, ctx.clock.now());
  }

  async sample(): Promise<LiveTraffic> {
    // rates over a few milliseconds say nothing: the first sample covers at least MIN_SPAN_MS
    const young = MIN_SPAN_MS - (this.ctx.clock.now() - this.startedAt);
    if (young > 0) await this.ctx.clock.sleep(young);
    const read = await this.tail.read();
    const now = this.ctx.clock.now();
    this.recent = slideWindow(this.recent, { at: now, delta: read.delta }, this.windowMs);
    const spanMs = Math.max(1, Math.min(this.windowMs, now - this.startedAt));
    const figures = figuresOf(sumDeltas(this.recent.map((r) => r.delta)), spanMs);
    const rps = Object.fromEntries(COLORS.map((c) => [c, (figures.colors[c].requests * 1000) / spanMs])) as Record<Color, number>;
    return { figures, rps, readable: read.readable, problem: read.problem };
  }
}

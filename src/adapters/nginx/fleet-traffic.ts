import type { TrafficSource, TrafficTail } from '../../app/ports.js';
import type { TrafficRead } from '../../core/metrics.js';
import { sumDeltas } from '../../core/traffic.js';

/**
 * A fleet's traffic: every target writes its own access log; the analysis judges their sum (each
 * read returns what every log got since the previous read). Unreadable if any log is: a step is never
 * judged on part of the traffic without saying so.
 */
export class FleetTraffic implements TrafficSource {
  constructor(private readonly sources: readonly TrafficSource[]) {}

  async recent(windowMs: number, now: number): Promise<TrafficRead> {
    const reads = await Promise.all(this.sources.map((s) => (s.recent ? s.recent(windowMs, now) : Promise.resolve(null))));
    const got = reads.filter((r): r is TrafficRead => r !== null);
    const problems = got.map((r) => r.problem).filter((p): p is string => p !== null);
    return {
      delta: sumDeltas(got.map((r) => r.delta)),
      readable: got.length === reads.length && got.every((r) => r.readable),
      problem: problems.length > 0 ? problems.join('; ') : null,
    };
  }

  async tail(): Promise<TrafficTail> {
    const tails = await Promise.all(this.sources.map((s) => s.tail()));
    return {
      async read(): Promise<TrafficRead> {
        const reads = await Promise.all(tails.map((t) => t.read()));
        const problems = reads.map((r) => r.problem).filter((p): p is string => p !== null);
        return {
          delta: sumDeltas(reads.map((r) => r.delta)),
          readable: reads.every((r) => r.readable),
          problem: problems.length > 0 ? problems.join('; ') : null,
        };
      },
      async close(): Promise<void> {
        await Promise.all(tails.map((t) => (t.close ? t.close() : Promise.resolve())));
      },
    };
  }
}

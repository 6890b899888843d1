/**
 * Token bucket per source address: `burst` calls at once, refilled at `perSecond`. Pure apart from
 * the time it is given. At most `maxSources` buckets are kept (the least recently used is dropped:
 * a dropped source simply starts with a full bucket), so a flood of addresses cannot grow memory.
 */
export interface RateLimitOptions {
  /** tokens added per second; 0 disables the limiter */
  readonly perSecond: number;
  readonly burst: number;
  readonly maxSources?: number;
}

export type RateDecision = { readonly ok: true } | { readonly ok: false; readonly retryAfterSeconds: number };

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly maxSources: number;

  constructor(private readonly o: RateLimitOptions) {
    this.maxSources = o.maxSources ?? 10_000;
  }

  get enabled(): boolean {
    return this.o.perSecond > 0;
  }

  /** Takes one token for `source` at time `now` (ms). */
  take(source: string, now: number): RateDecision {
    if (!this.enabled) return { ok: true };
    const b = this.buckets.get(source) ?? { tokens: this.o.burst, at: now };
    this.buckets.delete(source); // re-inserted below: Map order is the LRU order
    b.tokens = Math.min(this.o.burst, b.tokens + (Math.max(0, now - b.at) / 1000) * this.o.perSecond);
    b.at = now;
    let decision: RateDecision;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      decision = { ok: true };
    } else {
      decision = { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - b.tokens) / this.o.perSecond)) };
    }
    this.buckets.set(source, b);
    while (this.buckets.size > this.maxSources) {
      const oldest = this.buckets.keys().next().value;
      if (oldest === undefined) break;
      this.buckets.delete(oldest);
    }
    return decision;
  }

  get sources(): number {
    return this.buckets.size;
  }
}

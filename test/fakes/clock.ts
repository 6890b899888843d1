import type { Clock } from '../../src/app/ports.js';

/**
 * Time that only moves when someone sleeps. `sleep` returns at once with the clock advanced, runs any
 * callback scheduled with `at` on the way (e.g. an abort) and, like the real clock, resolves early
 * (never rejects) when the signal is or becomes aborted.
 */
export class FakeClock implements Clock {
  readonly start: number;
  readonly sleeps: number[] = [];
  private t: number;
  private timers: { at: number; fn: () => void }[] = [];

  constructor(start = Date.parse('2025-01-01T00:00:00.000Z')) {
    this.start = start;
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  /** ms since the clock was created */
  get elapsed(): number {
    return this.t - this.start;
  }

  /** Runs fn once the clock reaches start + elapsedMs (during a sleep). */
  at(elapsedMs: number, fn: () => void): void {
    this.timers.push({ at: this.start + elapsedMs, fn });
    this.timers.sort((a, b) => a.at - b.at);
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.sleeps.push(ms);
    if (this.sleeps.length > 100_000) throw new Error('FakeClock: more than 100000 sleeps, a loop never ends');
    if (aborted(signal)) return Promise.resolve();
    const target = this.t + Math.max(0, ms);
    for (let next = this.timers[0]; next && next.at <= target; next = this.timers[0]) {
      this.timers.shift();
      this.t = Math.max(this.t, next.at);
      next.fn();
      if (aborted(signal)) return Promise.resolve();
    }
    this.t = target;
    return Promise.resolve();
  }
}

/** A function, so TypeScript does not narrow `aborted` across the callback that aborts it. */
const aborted = (signal: AbortSignal | undefined): boolean => signal?.aborted === true;

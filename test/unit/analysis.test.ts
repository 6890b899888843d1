import { describe, expect, it } from 'vitest';
import {
  analyze,
  beginStep,
  exposure,
  judgeStep,
  policyFromThresholds,
  startAnalysis,
  stepFigures,
  type Analysis,
  type Policy,
  type Verdict,
} from '../../src/core/analysis.js';
import type { Color } from '../../src/core/color.js';
import type { TrafficDelta, TrafficRead } from '../../src/core/metrics.js';
import { DeltaBuilder, emptyDelta } from '../../src/core/traffic.js';

/** The config defaults (src/config/schema.ts thresholds), in ms. */
const policy = (over: Partial<Policy> = {}): Policy => ({
  errorRate: 0.05,
  errorRateForMs: 60_000,
  p95LatencyMs: 1000,
  latencyForMs: 30_000,
  minRequests: 20,
  windowMs: 10_000,
  maxErrorRateRatio: null,
  ...over,
});

/** What one read of the access log saw for one color: attempts, of which 5xx, and how slow. */
interface Load {
  readonly requests: number;
  readonly errors?: number;
  /** ms of every attempt, or of the first `slow` attempts... see `slowMs` */
  readonly ms?: number;
  readonly slow?: number;
  readonly slowMs?: number;
}

interface Tick {
  readonly at: number;
  readonly delta: TrafficDelta;
}

/** One recorded read: each attempt is logged at `at` (or `loggedAt`), failures and slow ones first. */
function tick(at: number, load: Partial<Record<Color, Load>>, loggedAt = at): Tick {
  const b = new DeltaBuilder();
  for (const [color, l] of Object.entries(load) as [Color, Load][]) {
    for (let i = 0; i < l.requests; i++) {
      const failed = i < (l.errors ?? 0);
      b.attempt(color, failed, i < (l.slow ?? 0) ? (l.slowMs ?? 0) : (l.ms ?? 20), loggedAt);
      b.request(failed);
    }
  }
  return { at, delta: b.take() };
}

/** A read every `every` ms from `from` to `to` inclusive, each with the same load. */
const every = (every: number, from: number, to: number, load: Partial<Record<Color, Load>>): Tick[] =>
  Array.from({ length: Math.floor((to - from) / every) + 1 }, (_, i) => tick(from + i * every, load));

const readable = (delta: TrafficDelta): TrafficRead => ({ delta, readable: true, problem: null });
const ENOENT = "ENOENT: no such file or directory, open '/var/log/nginx/bgctl.access.log'";
const unreadable = (at: number): Tick & { read: TrafficRead } => ({
  at,
  delta: emptyDelta(),
  read: { delta: emptyDelta(), readable: false, problem: ENOENT },
});

interface Played {
  readonly analysis: Analysis;
  readonly verdicts: readonly { at: number; verdict: Verdict }[];
}

/** Feeds the reads in order, like the app does every checkIntervalMs; stops at the first breach (the app rolls back). */
function play(a: Analysis, ticks: readonly (Tick & { read?: TrafficRead })[]): Played {
  const verdicts: { at: number; verdict: Verdict }[] = [];
  for (const t of ticks) {
    const r = analyze(a, t.at, t.read ?? readable(t.delta));
    a = r.analysis;
    verdicts.push({ at: t.at, verdict: r.verdict });
    if (r.verdict.kind === 'breach') break;
  }
  return { analysis: a, verdicts };
}

/** The verdicts as runs, e.g. ['insufficient 1000', 'watching 2000..61000', 'breach 62000']. */
function runs(p: Played): string[] {
  const out: { kind: string; from: number; to: number }[] = [];
  for (const { at, verdict } of p.verdicts) {
    const last = out.at(-1);
    if (last && last.kind === verdict.kind) last.to = at;
    else out.push({ kind: verdict.kind, from: at, to: at });
  }
  return out.map((r) => (r.from === r.to ? `${r.kind} ${r.from}` : `${r.kind} ${r.from}..${r.to}`));
}

const last = (p: Played): Verdict => {
  const v = p.verdicts.at(-1)?.verdict;
  if (!v) throw new Error('no verdict');
  return v;
};
const breachOf = (v: Verdict) => {
  if (v.kind !== 'breach') throw new Error(`expected a breach, got ${v.kind}`);
  return v.breach;
};
const start = (over: Partial<Policy> = {}) => startAnalysis(policy(over), 'green', 0);
const failing = { green: { requests: 10, errors: 5 } };
const healthy = { green: { requests: 10 } };

describe('policy from the config thresholds', () => {
  it('turns seconds into milliseconds and keeps the rest', () => {
    expect(
      policyFromThresholds({
        errorRate: 0.05,
        errorRateForSeconds: 60,
        p95LatencyMs: 1000,
        latencyForSeconds: 1.1,
        minRequests: 20,
        windowSeconds: 10,
        maxErrorRateRatio: null,
      }),
    ).toEqual(policy({ latencyForMs: 1100 }));
  });
});

describe('healthy traffic', () => {
  it('is insufficient until the window holds minRequests, then ok, and the step is promoted', () => {
    const p = play(start(), every(250, 250, 40_000, { green: { requests: 5, ms: 20 }, blue: { requests: 15 } }));
    expect(runs(p)).toEqual(['insufficient 250..750', 'ok 1000..40000']);
    expect(p.verdicts[0]?.verdict).toMatchObject({ reason: '5 requests to green in the last 0.3 s < minRequests 20' });
    const ok = last(p);
    expect(ok.figures.spanMs).toBe(10_000);
    expect(ok.figures.colors.green).toMatchObject({ requests: 200, errors: 0, errorRate: 0, p95: 20 });

    const j = judgeStep(p.analysis, 40_000);
    expect(j).toMatchObject({ promote: true, reason: '800 requests reached green during this step, no threshold breached' });
    expect(j.figures.spanMs).toBe(40_000);
    expect(j.figures.colors.green).toMatchObject({ requests: 800, errors: 0 });
    expect(j.figures.colors.blue).toMatchObject({ requests: 2400 });
  });

  it('keeps bounded memory: ten minutes of reads weigh what twenty seconds do', () => {
    const load = { green: { requests: 5, errors: 0, slow: 1, slowMs: 300 }, blue: { requests: 5 } };
    const short = play(start(), every(250, 250, 20_000, load)).analysis;
    const long = play(start(), every(250, 250, 600_000, load)).analysis;
    expect(JSON.stringify(long).length).toBeLessThan(JSON.stringify(short).length * 1.1);
    expect(stepFigures(long, 600_000).colors.green.requests).toBe(5 * 4 * 600);
  });
});

describe('error rate', () => {
  it('with errorRateForMs 0, breaches at the first window with minRequests, not before', () => {
    const p = play(start({ errorRateForMs: 0 }), every(1000, 1000, 10_000, failing));
    expect(runs(p)).toEqual(['insufficient 1000', 'breach 2000']);
    expect(p.verdicts[0]?.verdict).toMatchObject({ reason: '10 requests to green in the last 1.0 s < minRequests 20' });
    expect(breachOf(last(p))).toEqual({
      rule: 'error_rate',
      value: 0.5,
      threshold: 0.05,
      sustainedMs: 0,
      requests: 20,
      explanation: 'error rate 0.50 > 0.05 for 0.0 s over 20 requests',
    });
  });

  it('10 failures of 10 requests decide nothing when minRequests is 20', () => {
    const p = play(start({ errorRateForMs: 0 }), [tick(1000, { green: { requests: 10, errors: 10 } })]);
    expect(last(p)).toMatchObject({ kind: 'insufficient', reason: '10 requests to green in the last 1.0 s < minRequests 20' });
    expect(last(p).figures.colors.green).toMatchObject({ requests: 10, errors: 10, errorRate: 1 });
    expect(judgeStep(p.analysis, 1000)).toMatchObject({
      promote: false,
      reason: 'only 10 requests reached green during this step (minRequests 20)',
    });
  });

  it('with errorRateForMs 60 s, watches for 60 s, then breaches', () => {
    const p = play(start(), every(1000, 1000, 120_000, failing));
    expect(runs(p)).toEqual(['insufficient 1000', 'watching 2000..61000', 'breach 62000']);
    const watching = p.verdicts.find((v) => v.at === 61_000)?.verdict;
    expect(watching?.kind === 'watching' && watching.breaches.map((b) => [b.rule, b.sustainedMs])).toEqual([['error_rate', 59_000]]);
    expect(breachOf(last(p)).explanation).toBe('error rate 0.50 > 0.05 for 60.0 s over 100 requests');
  });

  it('a recovery in between resets the timer', () => {
    const p = play(start(), [
      ...every(1000, 1000, 30_000, failing),
      ...every(1000, 31_000, 45_000, healthy),
      ...every(1000, 46_000, 200_000, failing),
    ]);
    // the window still holds failures until 39 s (5 errors of 100 = 0.05 is not above 0.05)
    expect(runs(p)).toEqual(['insufficient 1000', 'watching 2000..38000', 'ok 39000..46000', 'watching 47000..106000', 'breach 107000']);
    expect(breachOf(last(p)).sustainedMs).toBe(60_000);
  });

  it('a quiet gap (too few requests) does not reset the timer', () => {
    const p = play(start(), [
      ...every(1000, 1000, 20_000, failing),
      ...every(1000, 21_000, 49_000, { green: { requests: 1 } }),
      ...every(1000, 50_000, 200_000, failing),
    ]);
    expect(runs(p)).toEqual([
      'insufficient 1000',
      'watching 2000..28000',
      'insufficient 29000..50000',
      'watching 51000..61000',
      'breach 62000',
    ]);
    expect(breachOf(last(p)).explanation).toBe('error rate 0.50 > 0.05 for 60.0 s over 100 requests');
  });

  it('old failures slide out of the window', () => {
    const p = play(start(), [...every(1000, 1000, 3000, { green: { requests: 10, errors: 10 } }), ...every(1000, 4000, 20_000, healthy)]);
    expect(runs(p)).toEqual(['insufficient 1000', 'watching 2000..12000', 'ok 13000..20000']);
    expect(p.verdicts.find((v) => v.at === 12_000)?.verdict.figures.colors.green).toMatchObject({ requests: 100, errors: 10 });
    expect(last(p).figures.colors.green).toMatchObject({ requests: 100, errors: 0 });
    expect(judgeStep(p.analysis, 20_000).promote).toBe(true);
  });

  it('shows enough decimals to be above the threshold', () => {
    const p = play(start({ errorRateForMs: 0 }), [tick(1000, { green: { requests: 1000, errors: 51 } })]);
    expect(breachOf(last(p)).explanation).toBe('error rate 0.051 > 0.05 for 0.0 s over 1000 requests');
    const q = play(start({ errorRateForMs: 0 }), [tick(1000, { green: { requests: 214, errors: 66 } })]);
    expect(breachOf(last(q)).explanation).toBe('error rate 0.31 > 0.05 for 0.0 s over 214 requests');
    const exactly = play(start({ errorRateForMs: 0 }), [tick(1000, { green: { requests: 1000, errors: 50 } })]);
    expect(last(exactly).kind).toBe('ok');
  });

  it('with minRequests 0, a window without traffic is ok and a single failure is enough', () => {
    const quiet = play(start({ minRequests: 0, errorRateForMs: 0 }), every(1000, 1000, 5000, {}));
    expect(runs(quiet)).toEqual(['ok 1000..5000']);
    expect(judgeStep(quiet.analysis, 5000)).toMatchObject({
      promote: true,
      reason: 'no requests reached green during this step (minRequests 0: traffic not required)',
    });
    const one = play(start({ minRequests: 0, errorRateForMs: 0 }), [tick(1000, {}), tick(2000, { green: { requests: 1, errors: 1 } })]);
    expect(breachOf(last(one)).explanation).toBe('error rate 1.00 > 0.05 for 0.0 s over 1 request');
  });
});

describe('p95 latency', () => {
  const slow = { green: { requests: 10, slow: 1, slowMs: 1340, ms: 50 } };

  it('breaches once sustained for latencyForMs', () => {
    const p = play(start(), every(1000, 1000, 60_000, slow));
    expect(runs(p)).toEqual(['insufficient 1000', 'watching 2000..31000', 'breach 32000']);
    expect(breachOf(last(p))).toMatchObject({ rule: 'p95_latency', value: 1340, threshold: 1000, sustainedMs: 30_000 });
    expect(breachOf(last(p)).explanation).toBe('p95 latency 1340 ms > 1000 ms for 30.0 s over 100 requests');
  });

  it('explains irregular reads exactly', () => {
    const load = { green: { requests: 512, slow: 26, slowMs: 1340, ms: 80 } };
    const p = play(start(), [tick(1000, load), tick(11_000, load), tick(21_000, load), tick(31_200, load)]);
    expect(breachOf(last(p)).explanation).toBe('p95 latency 1340 ms > 1000 ms for 30.2 s over 512 requests');
  });

  it('a few slow requests under the 95th percentile are fine', () => {
    const p = play(start({ latencyForMs: 0 }), every(1000, 1000, 20_000, { green: { requests: 100, slow: 4, slowMs: 5000, ms: 50 } }));
    expect(runs(p)).toEqual(['ok 1000..20000']);
    expect(last(p).figures.colors.green.p95).toBe(50);
  });

  it('when several rules fire at once, error rate is reported first; a slower rule waits its turn', () => {
    const both = { green: { requests: 100, errors: 50, slow: 100, slowMs: 2000 }, blue: { requests: 100 } };
    const all = play(start({ errorRateForMs: 0, latencyForMs: 0, maxErrorRateRatio: 2 }), [tick(1000, both)]);
    expect(breachOf(last(all)).rule).toBe('error_rate');

    const p = play(start({ errorRateForMs: 60_000, latencyForMs: 0 }), [tick(1000, both)]);
    expect(breachOf(last(p)).rule).toBe('p95_latency');
  });
});

describe('relative error rate', () => {
  const ratio = { errorRate: 0.5, errorRateForMs: 12_000, windowMs: 3000, maxErrorRateRatio: 2 };

  it("breaches when the target's rate stays above ratio × the stable color's", () => {
    const p = play(start(ratio), every(1000, 1000, 30_000, { green: { requests: 100, errors: 12 }, blue: { requests: 50, errors: 1 } }));
    expect(runs(p)).toEqual(['watching 1000..12000', 'breach 13000']);
    expect(breachOf(last(p))).toMatchObject({ rule: 'relative_error_rate', threshold: 2, sustainedMs: 12_000, requests: 300 });
    expect(breachOf(last(p)).value).toBeCloseTo(6, 9);
    expect(breachOf(last(p)).explanation).toBe("error rate 0.12 is 6.0× blue's 0.02 (max 2×) for 12.0 s over 300 requests");
  });

  it('keeps its timer while the stable color has too few requests to compare with', () => {
    const both = { green: { requests: 100, errors: 12 }, blue: { requests: 50, errors: 1 } };
    const p = play(start(ratio), [
      ...every(1000, 1000, 5000, both),
      ...every(1000, 6000, 9000, { green: { requests: 100, errors: 12 } }),
      ...every(1000, 10_000, 30_000, both),
    ]);
    expect(runs(p)).toEqual(['watching 1000..12000', 'breach 13000']);
    const blind = p.verdicts.find((v) => v.at === 9000)?.verdict;
    expect(blind?.kind === 'watching' && blind.breaches.map((b) => [b.rule, b.sustainedMs])).toEqual([['relative_error_rate', 8000]]);
  });

  it('floors a clean stable rate, so one error is not a breach', () => {
    const one = play(start({ ...ratio, errorRateForMs: 0 }), [
      tick(1000, { green: { requests: 500, errors: 1 }, blue: { requests: 500 } }),
    ]);
    expect(last(one).kind).toBe('ok');
    const three = play(start({ ...ratio, errorRateForMs: 0 }), [
      tick(1000, { green: { requests: 500, errors: 3 }, blue: { requests: 500 } }),
    ]);
    expect(breachOf(last(three)).explanation).toBe(
      "error rate 0.01 is 6.0× blue's 0.00 (counted as 0.001) (max 2×) for 0.0 s over 500 requests",
    );
  });

  it('is not judged when the stable color has too few requests, or when off', () => {
    const load = { green: { requests: 100, errors: 12 }, blue: { requests: 5, errors: 0 } };
    expect(runs(play(start({ ...ratio, errorRateForMs: 0 }), every(1000, 1000, 5000, load)))).toEqual(['ok 1000..5000']);
    const off = { green: { requests: 100, errors: 12 }, blue: { requests: 100 } };
    expect(runs(play(start({ ...ratio, errorRateForMs: 0, maxErrorRateRatio: null }), every(1000, 1000, 5000, off)))).toEqual([
      'ok 1000..5000',
    ]);
  });
});

describe('unreadable access log', () => {
  it('is insufficient, never ok, and blocks promotion for the step', () => {
    const p = play(start(), [...every(1000, 1000, 5000, healthy), unreadable(6000), ...every(1000, 7000, 9000, healthy)]);
    expect(runs(p)).toEqual(['insufficient 1000', 'ok 2000..5000', 'insufficient 6000', 'ok 7000..9000']);
    expect(p.verdicts.find((v) => v.at === 6000)?.verdict).toMatchObject({ reason: `access log unreadable: ${ENOENT}` });
    expect(judgeStep(p.analysis, 9000)).toMatchObject({ promote: false, reason: `access log unreadable: ${ENOENT}` });
    // a new step starts with a clean record
    const next = play(beginStep(p.analysis, 9000), every(1000, 10_000, 12_000, healthy));
    expect(judgeStep(next.analysis, 12_000).promote).toBe(true);
  });

  it('does not reset a breach in progress', () => {
    const p = play(start(), [
      ...every(1000, 1000, 20_000, failing),
      ...Array.from({ length: 30 }, (_, i) => unreadable(21_000 + i * 1000)),
      ...every(1000, 51_000, 200_000, failing),
    ]);
    expect(runs(p)).toEqual([
      'insufficient 1000',
      'watching 2000..20000',
      'insufficient 21000..51000',
      'watching 52000..61000',
      'breach 62000',
    ]);
  });

  it('a step that was never read is not promoted', () => {
    expect(judgeStep(start({ minRequests: 0 }), 5000)).toMatchObject({
      promote: false,
      reason: 'the access log was not read during this step',
    });
  });
});

describe('steps', () => {
  it("a new step's window does not reach back before it", () => {
    const step1 = play(start(), every(1000, 1000, 5000, { green: { requests: 10, errors: 10 } }));
    const p = play(beginStep(step1.analysis, 5000), [tick(6000, healthy)]);
    expect(last(p)).toMatchObject({ kind: 'insufficient', reason: '10 requests to green in the last 1.0 s < minRequests 20' });
    expect(last(p).figures.spanMs).toBe(1000);
    expect(last(p).figures.colors.green).toMatchObject({ requests: 10, errors: 0 });
    expect(stepFigures(p.analysis, 6000).colors.green).toMatchObject({ requests: 10, errors: 0 });
  });

  it('breach timers carry over across steps', () => {
    const step1 = play(start(), every(1000, 1000, 30_000, failing));
    const p = play(beginStep(step1.analysis, 30_000), every(1000, 31_000, 200_000, failing));
    // the first read of the new step alone is too few; the timer started at 2000 still runs
    expect(runs(p)).toEqual(['insufficient 31000', 'watching 32000..61000', 'breach 62000']);
    expect(breachOf(last(p))).toMatchObject({ sustainedMs: 60_000, requests: 100 });
  });

  it('is not promoted while a breach is on', () => {
    const p = play(start(), every(1000, 1000, 5000, { green: { requests: 100, errors: 8 } }));
    expect(judgeStep(p.analysis, 5000)).toMatchObject({ promote: false, reason: 'error rate breach in progress (0.08 > 0.05 for 4.0 s)' });
    const both = play(
      start({ maxErrorRateRatio: 2 }),
      every(1000, 1000, 5000, { green: { requests: 100, errors: 8 }, blue: { requests: 100, errors: 1 } }),
    );
    expect(judgeStep(both.analysis, 5000).reason).toBe(
      "error rate breach in progress (0.08 > 0.05 for 4.0 s); relative error rate breach in progress (0.08 is 8.0× blue's 0.01 (max 2×) for 4.0 s)",
    );
  });
});

describe('exposure', () => {
  it('records the first and last request each color served since the analysis started', () => {
    const a = startAnalysis(policy(), 'green', 1_000_000);
    expect(exposure(a, 'green')).toEqual({ firstAt: null, lastAt: null });
    const step1 = play(a, [
      tick(1_001_000, { blue: { requests: 5 } }, 1_000_600),
      tick(1_002_000, { green: { requests: 1 }, blue: { requests: 5 } }, 1_001_500),
    ]);
    const step2 = play(beginStep(step1.analysis, 1_002_000), [tick(1_003_000, { green: { requests: 3 } }, 1_002_900), tick(1_004_000, {})]);
    expect(exposure(step2.analysis, 'green')).toEqual({ firstAt: 1_001_500, lastAt: 1_002_900 });
    expect(exposure(step2.analysis, 'blue')).toEqual({ firstAt: 1_000_600, lastAt: 1_001_500 });
  });
});

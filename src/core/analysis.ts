import { otherColor, type Color } from './color.js';
import { quantile } from './histogram.js';
import type { TrafficDelta, TrafficRead, WindowFigures } from './metrics.js';
import { addDeltas, emptyDelta, figuresOf, slideWindow, sumDeltas, type TimedDelta } from './traffic.js';

/**
 * Threshold analysis of real traffic. Pure: it is fed one access-log read at a time with the time it
 * was taken (epoch ms) and answers with a verdict; it never reads a file or the clock itself.
 * Requests are those of the target color's upstream attempts (see core/metrics.ts).
 */
export interface Policy {
  /** 0-1 */
  readonly errorRate: number;
  /** 0 = act at the first breaching window */
  readonly errorRateForMs: number;
  readonly p95LatencyMs: number;
  readonly latencyForMs: number;
  /** fewer target requests than this in a window decides nothing; 0 = traffic not required */
  readonly minRequests: number;
  /** sliding window length */
  readonly windowMs: number;
  readonly maxErrorRateRatio: number | null;
}

export interface Thresholds {
  readonly errorRate: number;
  readonly errorRateForSeconds: number;
  readonly p95LatencyMs: number;
  readonly latencyForSeconds: number;
  readonly minRequests: number;
  readonly windowSeconds: number;
  readonly maxErrorRateRatio: number | null;
}

export const policyFromThresholds = (t: Thresholds): Policy => ({
  errorRate: t.errorRate,
  errorRateForMs: Math.round(t.errorRateForSeconds * 1000),
  p95LatencyMs: t.p95LatencyMs,
  latencyForMs: Math.round(t.latencyForSeconds * 1000),
  minRequests: t.minRequests,
  windowMs: Math.round(t.windowSeconds * 1000),
  maxErrorRateRatio: t.maxErrorRateRatio,
});

/** In the order they are reported when several fire at once. */
export const RULES = ['error_rate', 'relative_error_rate', 'p95_latency'] as const;
export type Rule = (typeof RULES)[number];

export interface Breach {
  readonly rule: Rule;
  /** error rate (0-1), ratio to the stable color's rate, or p95 ms */
  readonly value: number;
  readonly threshold: number;
  readonly sustainedMs: number;
  /** target requests in the window */
  readonly requests: number;
  readonly explanation: string;
}

export type Verdict =
  | { readonly kind: 'ok'; readonly figures: WindowFigures }
  | { readonly kind: 'watching'; readonly figures: WindowFigures; readonly breaches: readonly Breach[] }
  | { readonly kind: 'insufficient'; readonly figures: WindowFigures; readonly reason: string }
  | { readonly kind: 'breach'; readonly figures: WindowFigures; readonly breach: Breach };

/** A rule breaching since `since`, with what its last evaluation saw (`detail`: "0.08 > 0.05"). */
interface OpenBreach {
  readonly since: number;
  readonly value: number;
  readonly threshold: number;
  readonly requests: number;
  readonly detail: string;
}

interface Span {
  readonly firstAt: number | null;
  readonly lastAt: number | null;
}

/** Opaque plain data: pass it back to the functions of this module. */
export interface Analysis {
  readonly policy: Policy;
  readonly target: Color;
  readonly stepStartedAt: number;
  /** reads of the current step still inside the window */
  readonly recent: readonly TimedDelta[];
  readonly step: { readonly delta: TrafficDelta; readonly reads: number; readonly problem: string | null };
  readonly open: Readonly<Partial<Record<Rule, OpenBreach>>>;
  readonly exposure: Readonly<Record<Color, Span>>;
}

/** the stable color's rate is counted as at least this, so one error against a clean stable is not a breach */
const EPSILON_RATE = 0.001;
const freshStep = (): Analysis['step'] => ({ delta: emptyDelta(), reads: 0, problem: null });

export function startAnalysis(policy: Policy, target: Color, now: number): Analysis {
  const none: Span = { firstAt: null, lastAt: null };
  return { policy, target, stepStartedAt: now, recent: [], step: freshStep(), open: {}, exposure: { blue: none, green: none } };
}

/**
 * A new step: the window never reaches back before it; breaches in progress carry over. Reads fed
 * before this call belong to the previous step, so feed the read taken as the new weights went live
 * first.
 */
export const beginStep = (a: Analysis, now: number): Analysis => ({ ...a, stepStartedAt: now, recent: [], step: freshStep() });

export function analyze(a: Analysis, now: number, read: TrafficRead): { analysis: Analysis; verdict: Verdict } {
  const p = a.policy;
  const recent = slideWindow(a.recent, { at: now, delta: read.delta }, p.windowMs);
  const fed: Analysis = {
    ...a,
    recent,
    step: {
      delta: addDeltas(a.step.delta, read.delta),
      reads: a.step.reads + 1,
      problem: read.readable ? a.step.problem : (read.problem ?? 'unknown problem'),
    },
    exposure: { blue: widen(a.exposure.blue, read.delta, 'blue'), green: widen(a.exposure.green, read.delta, 'green') },
  };
  const spanMs = Math.min(p.windowMs, now - a.stepStartedAt);
  const window = sumDeltas(recent.map((r) => r.delta));
  const figures = figuresOf(window, spanMs);
  const requests = window.colors[a.target].requests;
  const insufficient = (reason: string) => ({ analysis: fed, verdict: { kind: 'insufficient', figures, reason } as const });

  if (!read.readable) return insufficient(`access log unreadable: ${read.problem ?? 'unknown problem'}`);
  if (requests < Math.max(1, p.minRequests)) {
    // no evidence either way: breach timers stay as they are
    if (p.minRequests > 0) {
      return insufficient(`${plural(requests, 'request')} to ${a.target} in the last ${seconds(spanMs)} s < minRequests ${p.minRequests}`);
    }
    return { analysis: fed, verdict: watchingOrOk(fed, now, figures) };
  }

  const seen = evaluate(a.policy, a.target, window);
  const open: Partial<Record<Rule, OpenBreach>> = { ...a.open };
  for (const rule of RULES) {
    const s = seen[rule];
    if (s === undefined) continue; // not evaluable in this window: unchanged
    if (s === null) delete open[rule];
    else open[rule] = { ...s, since: open[rule]?.since ?? now };
  }
  const analysis: Analysis = { ...fed, open };
  const fired = RULES.find((r) => seen[r] && now - (open[r]?.since ?? now) >= forMs(p, r));
  if (fired) return { analysis, verdict: { kind: 'breach', figures, breach: breachOf(fired, open, now) } };
  return { analysis, verdict: watchingOrOk(analysis, now, figures) };
}

export interface StepJudgement {
  readonly promote: boolean;
  readonly reason: string;
  /** figures of the whole step so far */
  readonly figures: WindowFigures;
}

export function judgeStep(a: Analysis, now: number): StepJudgement {
  const figures = stepFigures(a, now);
  const no = (reason: string): StepJudgement => ({ promote: false, reason, figures });
  const requests = a.step.delta.colors[a.target].requests;
  if (a.step.problem !== null) return no(`access log unreadable: ${a.step.problem}`);
  if (a.step.reads === 0) return no('the access log was not read during this step');
  const open = RULES.flatMap((r) => {
    const o = a.open[r];
    return o ? [`${LABELS[r]} breach in progress (${o.detail} for ${seconds(now - o.since)} s)`] : [];
  });
  if (open.length > 0) return no(open.join('; '));
  if (requests < a.policy.minRequests) {
    return no(`only ${plural(requests, 'request')} reached ${a.target} during this step (minRequests ${a.policy.minRequests})`);
  }
  const warm = a.step.delta.warmup ?? 0;
  const ofThem = warm > 0 ? ` (${warm} of them warmup)` : '';
  const reason =
    requests === 0
      ? `no requests reached ${a.target} during this step (minRequests 0: traffic not required)`
      : `${plural(requests, 'request')}${ofThem} reached ${a.target} during this step, no threshold breached`;
  return { promote: true, reason, figures };
}

/** First and last request `color` served since startAnalysis (epoch ms), null when none. */
export const exposure = (a: Analysis, color: Color): { firstAt: number | null; lastAt: number | null } => ({ ...a.exposure[color] });

export const stepFigures = (a: Analysis, now: number): WindowFigures => figuresOf(a.step.delta, Math.max(0, now - a.stepStartedAt));

const LABELS: Record<Rule, string> = { error_rate: 'error rate', relative_error_rate: 'relative error rate', p95_latency: 'p95 latency' };

const forMs = (p: Policy, r: Rule): number => (r === 'p95_latency' ? p.latencyForMs : p.errorRateForMs);

type Seen = Omit<OpenBreach, 'since'> | null | undefined;

/** Per rule: what breaches in this window, null when it holds, undefined when it cannot be judged. */
function evaluate(p: Policy, target: Color, w: TrafficDelta): Record<Rule, Seen> {
  const t = w.colors[target];
  const rate = t.errors / t.requests;
  const [r, maxRate] = pair(rate, p.errorRate, 2, 2);
  const errorRate: Seen =
    rate > p.errorRate ? { value: rate, threshold: p.errorRate, requests: t.requests, detail: `${r} > ${maxRate}` } : null;

  const p95 = quantile(t.latency, 0.95);
  let latency: Seen = undefined; // no latency known: cannot be judged
  if (p95 !== null) {
    const [ms, maxMs] = pair(p95, p.p95LatencyMs, 0, 0);
    latency =
      p95 > p.p95LatencyMs ? { value: p95, threshold: p.p95LatencyMs, requests: t.requests, detail: `${ms} ms > ${maxMs} ms` } : null;
  }

  const stable = otherColor(target);
  const s = w.colors[stable];
  let relative: Seen = undefined;
  if (p.maxErrorRateRatio !== null && s.requests >= Math.max(1, p.minRequests)) {
    const stableRate = s.errors / s.requests;
    const ratio = rate / Math.max(stableRate, EPSILON_RATE);
    const [times, max] = pair(ratio, p.maxErrorRateRatio, 1, 0);
    const floor = stableRate < EPSILON_RATE ? ` (counted as ${EPSILON_RATE})` : '';
    relative =
      ratio > p.maxErrorRateRatio
        ? {
            value: ratio,
            threshold: p.maxErrorRateRatio,
            requests: t.requests,
            detail: `${shown(rate)} is ${times}× ${stable}'s ${shown(stableRate)}${floor} (max ${max}×)`,
          }
        : null;
  }
  return { error_rate: errorRate, relative_error_rate: relative, p95_latency: latency };
}

function breachOf(rule: Rule, open: Partial<Record<Rule, OpenBreach>>, now: number): Breach {
  const o = open[rule] as OpenBreach;
  const sustainedMs = now - o.since;
  const what = rule === 'p95_latency' ? 'p95 latency' : 'error rate';
  const explanation = `${what} ${o.detail} for ${seconds(sustainedMs)} s over ${plural(o.requests, 'request')}`;
  return { rule, value: o.value, threshold: o.threshold, sustainedMs, requests: o.requests, explanation };
}

function watchingOrOk(a: Analysis, now: number, figures: WindowFigures): Verdict {
  const breaches = RULES.filter((r) => a.open[r]).map((r) => breachOf(r, a.open, now));
  return breaches.length > 0 ? { kind: 'watching', figures, breaches } : { kind: 'ok', figures };
}

function widen(s: Span, d: TrafficDelta, color: Color): Span {
  const c = d.colors[color];
  return {
    firstAt: c.firstAt === null ? s.firstAt : s.firstAt === null ? c.firstAt : Math.min(s.firstAt, c.firstAt),
    lastAt: c.lastAt === null ? s.lastAt : s.lastAt === null ? c.lastAt : Math.max(s.lastAt, c.lastAt),
  };
}

const seconds = (ms: number): string => (ms / 1000).toFixed(1);
const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** `min` decimals, more (up to 6) when the number needs them to be shown exactly. */
function exact(x: number, min: number): number {
  let d = min;
  while (d < 6 && Number(x.toFixed(d)) !== x) d++;
  return d;
}

/** A rate with 2 decimals, or more when a non-zero rate would read as 0.00. */
function shown(rate: number): string {
  let d = 2;
  while (d < 6 && rate > 0 && Number(rate.toFixed(d)) === 0) d++;
  return rate.toFixed(d);
}

/** [value, limit] printed: the limit exactly (at least `limitMin` decimals), the value with at least
 * `valueMin` decimals and more when needed to really read as above the printed limit (0.051 > 0.05). */
function pair(value: number, limit: number, valueMin: number, limitMin: number): [string, string] {
  let d = valueMin;
  while (d < 6 && !(Number(value.toFixed(d)) > limit)) d++;
  return [value.toFixed(d), limit.toFixed(exact(limit, limitMin))];
}

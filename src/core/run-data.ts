import {
  analyze,
  beginStep,
  exposure,
  judgeStep,
  startAnalysis,
  stepFigures,
  type Analysis,
  type Policy,
  type Verdict,
} from './analysis.js';
import type { Color } from './color.js';
import type { EngineEvent, Judgement } from './engine.js';
import type { TrafficRead, WindowFigures } from './metrics.js';
import type { RollbackTimeline } from './state.js';

/**
 * What a migration carries from one engine command to the next, beside the engine's own state: the
 * traffic analysis of the target color, the last probes (the fallback NGINX arms depends on them), how
 * many probe rounds in a row found NGINX gone, and when a rollback was decided and took effect. Pure
 * plain data: the app feeds it what it read and probed, with the time, and keeps the result.
 */
export interface RunData {
  readonly target: Color;
  readonly analysis: Analysis;
  /** the first read of the log that showed the target failing (epoch ms) */
  readonly firstErrorAt: number | null;
  /** when NGINX confirmed the current step; null between a step's apply and its confirmation (no traffic of its own yet) */
  readonly stepStartedAt: number | null;
  /** the last judgement of the current step: why it passed, when nothing else says */
  readonly lastJudgement: Judgement | null;
  /** each color's last probe; null: not probed yet */
  readonly targetHealthy: boolean | null;
  readonly stableHealthy: boolean | null;
  /** probe rounds in a row that found NGINX's master gone */
  readonly nginxDown: number;
  /** set once traffic is back on the stable color: when the rollback was decided, and when NGINX confirmed it */
  readonly rollback: { readonly decidedAt: number; readonly restoredAt: number } | null;
}

export function startRun(policy: Policy, target: Color, now: number): RunData {
  return {
    target,
    analysis: startAnalysis(policy, target, now),
    firstErrorAt: null,
    stepStartedAt: null,
    lastJudgement: null,
    targetHealthy: null,
    stableHealthy: null,
    nginxDown: 0,
    rollback: null,
  };
}

/** One read of the access log (what it gained since the last read) fed to the analysis. */
export function trafficRead(run: RunData, now: number, read: TrafficRead): { run: RunData; verdict: Verdict } {
  const firstErrorAt = run.firstErrorAt ?? (read.delta.colors[run.target].errors > 0 ? now : null);
  const { analysis, verdict } = analyze(run.analysis, now, read);
  return { run: { ...run, analysis, firstErrorAt }, verdict };
}

/** A step's new weights are being applied: until NGINX confirms them, the step has no traffic of its own. */
export const stepApplying = (run: RunData): RunData => ({ ...run, stepStartedAt: null });

/** NGINX confirmed a step's weights at `now`: its window and its judgement start over. */
export const stepApplied = (run: RunData, now: number): RunData => ({
  ...run,
  analysis: beginStep(run.analysis, now),
  stepStartedAt: now,
  lastJudgement: null,
});

/** The figures of the current step so far; null when no step is live. */
export const stepFiguresAt = (run: RunData, now: number): WindowFigures | null =>
  run.stepStartedAt === null ? null : stepFigures(run.analysis, now);

export const rolledBackAt = (run: RunData, decidedAt: number, restoredAt: number): RunData => ({
  ...run,
  rollback: { decidedAt, restoredAt },
});

/** A health probe's result as the engine is told it: `detail` says what failed. */
export interface ProbeResult {
  readonly healthy: boolean;
  readonly detail: string;
}

/** What one observe command found. */
export interface Observed {
  readonly now: number;
  /** the verdict of this round's read of the log; null: no log read yet */
  readonly verdict: Verdict | null;
  /** the step gives the target no traffic (a withdrawn canary): there is nothing of its own to judge */
  readonly withdrawn: boolean;
  /** this round's probes of both colors and whether NGINX's master runs; null: not probed this round */
  readonly probes: { readonly target: ProbeResult; readonly stable: ProbeResult; readonly nginxRunning: boolean } | null;
  /** the step is to be judged: on its traffic when `judgeTraffic`, else on the health probes only */
  readonly judge: boolean;
  readonly judgeTraffic: boolean;
}

/** The progress line of an observe round. */
export interface ObserveReport {
  /** null: not probed yet */
  readonly health: boolean | null;
  readonly figures: WindowFigures | null;
  readonly verdict: Verdict['kind'] | null;
  /** why the window decided nothing, or which breach is being watched */
  readonly note: string | null;
}

export const NGINX_GONE = 'NGINX stopped running (its master process is gone)';

/** An observe round: the event for the engine, the progress line, and the run updated. */
export function observed(
  run: RunData,
  o: Observed,
): { run: RunData; event: Extract<EngineEvent, { type: 'observed' }>; report: ObserveReport } {
  const p = o.probes;
  const judgement: Judgement | null = !o.judge
    ? null
    : !o.judgeTraffic || o.withdrawn
      ? { promote: true, reason: 'judged on health probes only' }
      : judgeStep(run.analysis, o.now);
  const next: RunData = {
    ...run,
    targetHealthy: p ? p.target.healthy : run.targetHealthy,
    stableHealthy: p ? p.stable.healthy : run.stableHealthy,
    // seen twice in a row, so one slow look at the processes is not enough
    nginxDown: p ? (p.nginxRunning ? 0 : run.nginxDown + 1) : run.nginxDown,
    lastJudgement: judgement ?? run.lastJudgement,
  };
  const v = o.verdict;
  // NGINX gone is a rollback now, not at the next step boundary
  const breach = next.nginxDown >= 2 ? NGINX_GONE : !o.withdrawn && v?.kind === 'breach' ? v.breach.explanation : null;
  const note = v?.kind === 'insufficient' ? v.reason : v?.kind === 'watching' ? v.breaches.map((b) => b.explanation).join('; ') : null;
  return {
    run: next,
    event: { type: 'observed', now: o.now, health: p?.target ?? null, stableHealth: p?.stable ?? null, breach, judgement },
    report: { health: next.targetHealthy, figures: v?.figures ?? null, verdict: v?.kind ?? null, note },
  };
}

/**
 * How long the failing color served around its rollback: from the log (first and last request it
 * served during the migration) and the run (first error seen, rollback decided, traffic back). Null
 * when no rollback took effect. `iso` writes an epoch ms as an ISO 8601 string.
 */
export function rollbackTimeline(run: RunData, iso: (ms: number) => string): RollbackTimeline | null {
  const r = run.rollback;
  if (!r) return null;
  const served = exposure(run.analysis, run.target);
  const at = (ms: number | null): string | null => (ms === null ? null : iso(ms));
  return {
    color: run.target,
    firstErrorAt: at(run.firstErrorAt),
    decidedAt: iso(r.decidedAt),
    restoredAt: iso(r.restoredAt),
    firstServedAt: at(served.firstAt),
    lastServedAt: at(served.lastAt),
    servedSeconds: served.firstAt !== null && served.lastAt !== null ? (served.lastAt - served.firstAt) / 1000 : null,
  };
}

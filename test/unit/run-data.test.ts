import { describe, expect, it } from 'vitest';
import type { Policy } from '../../src/core/analysis.js';
import type { Color } from '../../src/core/color.js';
import type { TrafficRead } from '../../src/core/metrics.js';
import {
  NGINX_GONE,
  observed,
  rollbackTimeline,
  rolledBackAt,
  startRun,
  stepApplied,
  stepApplying,
  stepFiguresAt,
  trafficRead,
  type Observed,
  type RunData,
} from '../../src/core/run-data.js';
import { DeltaBuilder } from '../../src/core/traffic.js';

const policy: Policy = {
  errorRate: 0.05,
  errorRateForMs: 0,
  p95LatencyMs: 1000,
  latencyForMs: 30_000,
  minRequests: 1,
  windowMs: 10_000,
  maxErrorRateRatio: null,
};

/** One read of the log: `requests` attempts per color, the first `errors` of them 5xx, all logged at `at`. */
function read(at: number, load: Partial<Record<Color, { requests: number; errors?: number }>>): TrafficRead {
  const b = new DeltaBuilder();
  for (const [color, l] of Object.entries(load) as [Color, { requests: number; errors?: number }][]) {
    for (let i = 0; i < l.requests; i++) {
      b.attempt(color, i < (l.errors ?? 0), 20, at);
      b.request(i < (l.errors ?? 0));
    }
  }
  return { delta: b.take(), readable: true, problem: null };
}

const feed = (run: RunData, at: number, load: Parameters<typeof read>[1]) => trafficRead(run, at, read(at, load));

const healthy = { healthy: true, detail: 'healthy' };
const round = (over: Partial<Observed> = {}): Observed => ({
  now: 1000,
  verdict: null,
  withdrawn: false,
  probes: null,
  judge: false,
  judgeTraffic: true,
  ...over,
});

describe('run data: traffic', () => {
  it('remembers the first read that showed the target failing, not a later one, nor the stable color failing', () => {
    let run = stepApplied(startRun(policy, 'green', 0), 0);
    run = feed(run, 1000, { blue: { requests: 5, errors: 5 }, green: { requests: 5 } }).run;
    expect(run.firstErrorAt).toBeNull();
    run = feed(run, 2000, { green: { requests: 5, errors: 1 } }).run;
    run = feed(run, 3000, { green: { requests: 5, errors: 5 } }).run;
    expect(run.firstErrorAt).toBe(2000);
  });

  it('answers with the analysis verdict of the read', () => {
    const run = stepApplied(startRun(policy, 'green', 0), 0);
    expect(feed(run, 1000, { green: { requests: 10 } }).verdict.kind).toBe('ok');
    expect(feed(run, 1000, { green: { requests: 10, errors: 10 } }).verdict.kind).toBe('breach');
  });

  it('has step figures only while a confirmed step is live', () => {
    let run = startRun(policy, 'green', 0);
    expect(stepFiguresAt(run, 500)).toBeNull();
    run = stepApplied(run, 1000);
    run = feed(run, 2000, { green: { requests: 4 } }).run;
    expect(stepFiguresAt(run, 3000)).toMatchObject({ spanMs: 2000, colors: { green: { requests: 4 } } });
    run = stepApplying(run);
    expect(stepFiguresAt(run, 3000)).toBeNull();
  });

  it('starts a step over: its own window, and no judgement yet', () => {
    let run = stepApplied(startRun(policy, 'green', 0), 0);
    run = observed(run, round({ judge: true, judgeTraffic: false })).run;
    expect(run.lastJudgement).not.toBeNull();
    run = stepApplied(feed(run, 2000, { green: { requests: 3 } }).run, 3000);
    expect(run).toMatchObject({ stepStartedAt: 3000, lastJudgement: null });
    expect(stepFiguresAt(run, 3000)?.colors.green.requests).toBe(0);
  });
});

describe('run data: an observe round', () => {
  const live = stepApplied(startRun(policy, 'green', 0), 0);

  it('passes both probes to the engine and keeps them for the progress line and the next apply', () => {
    const sick = { healthy: false, detail: 'blue: 10.0.0.1:80: connection refused' };
    const o = observed(live, round({ probes: { target: healthy, stable: sick, nginxRunning: true } }));
    expect(o.event).toEqual({ type: 'observed', now: 1000, health: healthy, stableHealth: sick, breach: null, judgement: null });
    expect(o.run).toMatchObject({ targetHealthy: true, stableHealthy: false, nginxDown: 0 });
    expect(o.report.health).toBe(true);
    // a round that does not probe keeps what the last probe said
    const next = observed(o.run, round({ now: 1500 }));
    expect(next.event).toMatchObject({ health: null, stableHealth: null });
    expect(next.run).toMatchObject({ targetHealthy: true, stableHealthy: false });
  });

  it('calls NGINX gone only when two probe rounds in a row find its master missing', () => {
    const down = { target: healthy, stable: healthy, nginxRunning: false };
    const once = observed(live, round({ probes: down }));
    expect(once.event.breach).toBeNull();
    // a round that does not probe neither counts nor clears it
    const between = observed(once.run, round({ now: 1500 }));
    expect(between.run.nginxDown).toBe(1);
    const twice = observed(between.run, round({ now: 2000, probes: down }));
    expect(twice.event.breach).toBe(NGINX_GONE);
    const back = observed(once.run, round({ now: 2000, probes: { ...down, nginxRunning: true } }));
    expect(back.run.nginxDown).toBe(0);
  });

  it("passes on the analysis' breach, except for a withdrawn step that gives the target no traffic", () => {
    const { run, verdict } = feed(live, 1000, { green: { requests: 10, errors: 10 } });
    expect(verdict.kind).toBe('breach');
    const o = observed(run, round({ verdict }));
    expect(o.event.breach).toMatch(/^error rate/);
    expect(o.report).toMatchObject({ verdict: 'breach', note: null, figures: verdict.figures });
    expect(observed(run, round({ verdict, withdrawn: true })).event.breach).toBeNull();
  });

  it('notes why a window decided nothing, and the breaches being watched', () => {
    const quiet = trafficRead(live, 1000, { delta: read(1000, {}).delta, readable: false, problem: 'no such file' });
    expect(observed(quiet.run, round({ verdict: quiet.verdict })).report).toMatchObject({
      verdict: 'insufficient',
      note: 'access log unreadable: no such file',
    });
    const slow = startRun({ ...policy, errorRateForMs: 60_000 }, 'green', 0);
    const watched = feed(stepApplied(slow, 0), 1000, { green: { requests: 10, errors: 10 } });
    expect(watched.verdict.kind).toBe('watching');
    expect(observed(watched.run, round({ verdict: watched.verdict })).report.note).toMatch(/error rate/);
  });

  it('judges the step on its traffic, or on health probes only (no traffic judgement asked, or a withdrawn step)', () => {
    const onTraffic = observed(live, round({ judge: true }));
    expect(onTraffic.event.judgement).toMatchObject({ promote: false, reason: 'the access log was not read during this step' });
    expect(onTraffic.run.lastJudgement).toBe(onTraffic.event.judgement);
    const probesOnly = { promote: true, reason: 'judged on health probes only' };
    expect(observed(live, round({ judge: true, judgeTraffic: false })).event.judgement).toEqual(probesOnly);
    expect(observed(live, round({ judge: true, withdrawn: true })).event.judgement).toEqual(probesOnly);
    // a round not asked to judge keeps the last judgement
    expect(observed(onTraffic.run, round()).run.lastJudgement).toBe(onTraffic.event.judgement);
  });
});

describe('run data: the rollback timeline', () => {
  const iso = (ms: number): string => new Date(ms).toISOString();

  it('is null until traffic is back on the stable color', () => {
    expect(rollbackTimeline(startRun(policy, 'green', 0), iso)).toBeNull();
  });

  it('says when the target first failed, when it was pulled, and how long it served', () => {
    let run = stepApplied(startRun(policy, 'green', 0), 0);
    run = feed(run, 1000, { green: { requests: 2 } }).run;
    run = feed(run, 4000, { green: { requests: 2, errors: 1 } }).run;
    run = rolledBackAt(run, 4500, 5200);
    run = feed(run, 5400, { green: { requests: 1, errors: 1 } }).run;
    expect(rollbackTimeline(run, iso)).toEqual({
      color: 'green',
      firstErrorAt: iso(4000),
      decidedAt: iso(4500),
      restoredAt: iso(5200),
      firstServedAt: iso(1000),
      lastServedAt: iso(5400),
      servedSeconds: 4.4,
    });
  });

  it('has no served span when the target never served', () => {
    const run = rolledBackAt(stepApplied(startRun(policy, 'green', 0), 0), 100, 200);
    expect(rollbackTimeline(run, iso)).toMatchObject({ firstErrorAt: null, firstServedAt: null, lastServedAt: null, servedSeconds: null });
  });
});

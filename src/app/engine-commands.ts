import type { Color } from '../core/color.js';
import type { EngineCommand, EngineConfig, EngineEvent } from '../core/engine.js';
import { UnknownStateError } from '../core/errors.js';
import { probeRecorded, stepEnded, stepStarting } from '../core/migration.js';
import type { Verdict } from '../core/analysis.js';
import {
  observed,
  rolledBackAt,
  stepApplied,
  stepApplying,
  stepFiguresAt,
  trafficRead,
  type Observed,
  type RunData,
} from '../core/run-data.js';
import type { State } from '../core/state.js';
import type { Weights } from '../core/weights.js';
import { applyOrStart, applyWeights } from './apply.js';
import { nowIso, type AppContext } from './context.js';
import type { MigrationRequest } from './migrate.js';
import type { TrafficTail } from './ports.js';
import { describeHealth } from './preflight.js';

/** One migration as it is driven: what never changes, and what each command updates. */
export interface Drive {
  readonly ctx: AppContext;
  readonly req: MigrationRequest;
  readonly cfg: EngineConfig;
  readonly stable: Color;
  /** progress numbers steps as the record (and history) does: a continued canary's step comes first */
  readonly offset: number;
  readonly total: number;
  state: State;
  /** the access log, opened once the first step is confirmed */
  tail: TrafficTail | null;
  run: RunData;
}

type Command<T extends EngineCommand['type']> = Extract<EngineCommand, { type: T }>;

/**
 * Carries out one engine command (everything but finish) through the ports and answers with what
 * happened, for the engine. Every step is recorded in the state before NGINX is touched and after NGINX
 * confirmed, so a killed process leaves the truth.
 */
export function carryOut(d: Drive, cmd: Exclude<EngineCommand, { type: 'finish' }>): Promise<EngineEvent> {
  switch (cmd.type) {
    case 'apply':
      return applyStep(d, cmd);
    case 'observe':
      return observe(d, cmd);
    case 'wait':
      return wait(d, cmd);
    case 'rollback':
      return rollBack(d, cmd);
    case 'divert':
      return divert(d, cmd);
  }
}

async function applyStep(d: Drive, cmd: Command<'apply'>): Promise<EngineEvent> {
  const { ctx, req } = d;
  await save(d, stepStarting(d.state, cmd.step, nowIso(ctx)));
  stepEvent(d, cmd.step.index, cmd.step.weights, 'applying');
  // what was logged under the previous weights belongs to the previous step
  await readTraffic(d);
  d.run = stepApplying(d.run);
  try {
    ({ state: d.state } = await applyWeights(ctx, d.state, cmd.step.weights, req.to, { idleHealthy: d.run.stableHealthy ?? undefined }));
    d.tail ??= await ctx.traffic.tail();
    d.run = stepApplied(d.run, ctx.clock.now());
    stepEvent(d, cmd.step.index, cmd.step.weights, 'applied');
    return { type: 'applied', now: ctx.clock.now() };
  } catch (e) {
    if (e instanceof UnknownStateError) throw e;
    return { type: 'apply_failed', now: ctx.clock.now(), error: message(e) };
  }
}

/** Reads the access log every check, so a failing color is caught mid-step; probes both colors when due. */
async function observe(d: Drive, cmd: Command<'observe'>): Promise<EngineEvent> {
  const { ctx, req } = d;
  // a step that takes all traffic away from the target (a withdrawn canary) has nothing to judge there
  const withdrawn = d.state.weights[req.to] === 0;
  const verdict = await readTraffic(d);
  const health = cmd.probe ? await probeBoth(d, withdrawn) : null;
  const now = ctx.clock.now();
  const probes: Observed['probes'] = health && { ...health, nginxRunning: await ctx.nginx.isRunning() };
  const o = observed(d.run, { now, verdict, withdrawn, probes, judge: cmd.judge, judgeTraffic: req.judgeTraffic });
  d.run = o.run;
  const elapsedMs = now - (d.run.stepStartedAt ?? now);
  ctx.reporter.event({ type: 'observe', index: d.offset + cmd.step, elapsedMs, totalMs: d.cfg.stepMs, ...o.report });
  return o.event;
}

/** Both colors: the stable one is where a rollback would go, and the fallback armed at 100%. */
async function probeBoth(d: Drive, withdrawn: boolean) {
  const { ctx, req, stable } = d;
  const [h, s] = await Promise.all([
    withdrawn ? { color: req.to, healthy: true, servers: [], version: null } : ctx.prober.color(req.to),
    ctx.prober.color(stable),
  ]);
  await save(d, probeRecorded(d.state, h.healthy, nowIso(ctx)));
  return {
    target: { healthy: h.healthy, detail: h.healthy ? 'healthy' : describeHealth(h) },
    stable: { healthy: s.healthy, detail: s.healthy ? 'healthy' : `${stable}: ${describeHealth(s)}` },
  };
}

async function wait(d: Drive, cmd: Command<'wait'>): Promise<EngineEvent> {
  const { clock, signal } = d.ctx;
  await clock.sleep(Math.max(0, cmd.until - clock.now()), signal);
  return { type: 'tick', now: clock.now() };
}

/** Never back onto a dead color: the stable color is probed right before traffic moves to it. */
async function rollBack(d: Drive, cmd: Command<'rollback'>): Promise<EngineEvent> {
  const { ctx, req, stable } = d;
  const decidedAt = ctx.clock.now();
  ctx.reporter.event({ type: 'rollback', reason: cmd.reason, weights: cmd.weights });
  const figures = stepFiguresAt(d.run, ctx.clock.now());
  // never back onto a dead color: the stable color is probed right before traffic moves to it, while the failed step is saved
  const [, stableNow] = await Promise.all([
    save(d, stepEnded(d.state, { verdict: 'failed', reason: cmd.reason, decision: cmd.reason, figures }, nowIso(ctx))),
    ctx.prober.color(stable),
  ]);
  if (!stableNow.healthy) {
    const targetNow = await ctx.prober.color(req.to);
    ctx.logger.warn('the stable color is down: not rolling back onto it', { color: stable, servers: describeHealth(stableNow) });
    const detail = `${stable}: ${describeHealth(stableNow)}`;
    return { type: 'stable_down', now: ctx.clock.now(), detail, targetHealthy: targetNow.healthy };
  }
  try {
    ({ state: d.state } = await applyOrStart(ctx, d.state, cmd.weights, stable, { idleHealthy: d.run.targetHealthy ?? undefined }));
    const restoredAt = ctx.clock.now();
    d.run = rolledBackAt(d.run, decidedAt, restoredAt);
    return { type: 'rolled_back', now: restoredAt };
  } catch (e) {
    if (e instanceof UnknownStateError) throw e; // e.g. the state cannot be saved: the caller returns traffic itself
    return { type: 'rollback_failed', now: ctx.clock.now(), error: message(e) };
  }
}

/** The stable color is down: all traffic to the new color, which answers its probe, with no fallback onto the dead one. */
async function divert(d: Drive, cmd: Command<'divert'>): Promise<EngineEvent> {
  const { ctx, req } = d;
  ctx.reporter.event({ type: 'notice', message: `${cmd.reason}: moving all traffic to ${req.to}, which answers its health probe` });
  try {
    ({ state: d.state } = await applyWeights(ctx, d.state, cmd.weights, req.to, { idleHealthy: false }));
    return { type: 'diverted', now: ctx.clock.now() };
  } catch (e) {
    return { type: 'divert_failed', now: ctx.clock.now(), error: message(e) };
  }
}

/** Feeds what the log gained since the last read to the analysis; null before the first step is confirmed. */
export async function readTraffic(d: Drive): Promise<Verdict | null> {
  if (!d.tail) return null;
  const read = await d.tail.read();
  const r = trafficRead(d.run, d.ctx.clock.now(), read);
  d.run = r.run;
  return r.verdict;
}

export async function save(d: Drive, state: State): Promise<void> {
  await d.ctx.store.save(state);
  d.state = state;
}

function stepEvent(d: Drive, index: number, weights: Weights, phase: 'applying' | 'applied'): void {
  d.ctx.reporter.event({ type: 'step', index: d.offset + index, total: d.total, weights, phase });
}

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

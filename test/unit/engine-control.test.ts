import { describe, expect, it } from 'vitest';
import type { ControlRequest } from '../../src/core/control.js';
import { controlRecorded, pauseCleared } from '../../src/core/control-record.js';
import { nextTransition, startEngine, type EngineConfig, type Transition } from '../../src/core/engine.js';
import { planSteps } from '../../src/core/plan.js';
import { initialState, type State } from '../../src/core/state.js';
import { allOn } from '../../src/core/weights.js';

const cfg: EngineConfig = {
  steps: planSteps({ blue: 100, green: 0 }, 'green', [25, 50, 75, 100]),
  stableWeights: allOn('blue'),
  targetWeights: allOn('green'),
  stepMs: 3000,
  probeIntervalMs: 1000,
  failuresBeforeRollback: 1,
  checkIntervalMs: 1000,
  maxExtendMs: 0,
};
const ok = { promote: true, reason: 'enough traffic, no breach' };
const req = (action: ControlRequest['action'], full = false): ControlRequest => ({ action, by: 'ann@host1', full });

/** Applies step 0 at t=0 and observes once: the machine then waits for the next check. */
function observingStep0(): Transition {
  let t = startEngine(cfg);
  t = nextTransition(cfg, t.state, { type: 'applied', now: 0 });
  return nextTransition(cfg, t.state, {
    type: 'observed',
    now: 0,
    health: { healthy: true, detail: 'healthy' },
    breach: null,
    judgement: null,
  });
}

/** Plays healthy observations until the machine asks for something other than observing/waiting. */
function runUntilMove(t: Transition, from: number, to: number, healthy = true): { t: Transition; now: number; judged: number } {
  let now = from;
  let judged = 0;
  while (now <= to) {
    const c = t.command;
    if (c.type === 'wait') now = Math.max(now, c.until === Infinity ? now + 1000 : c.until);
    if (c.type === 'wait') t = nextTransition(cfg, t.state, { type: 'tick', now });
    else if (c.type === 'observe') {
      if (c.judge) judged++;
      t = nextTransition(cfg, t.state, {
        type: 'observed',
        now,
        health: c.probe ? { healthy, detail: healthy ? 'healthy' : '127.0.0.1:1: 503' } : null,
        breach: null,
        judgement: c.judge ? ok : null,
      });
    } else return { t, now, judged };
  }
  return { t, now, judged };
}

describe('engine: operator control, tick by tick', () => {
  it('pause stops the step timer: a paused step is never judged, however long it waits', () => {
    let t = observingStep0();
    t = nextTransition(cfg, t.state, { type: 'control', now: 500, request: req('pause') });
    expect(t.ack).toMatchObject({ action: 'pause', changed: true, message: 'paused at step 1; weights held' });
    const r = runUntilMove(t, 500, 60_000);
    // an hour of ticks later it still observes step 1 and never asked for a judgement
    expect(r.t.state).toMatchObject({ phase: 'observing', step: 0, paused: { by: 'ann@host1', since: 500 } });
    expect(['wait', 'observe']).toContain(r.t.command.type);
    expect(r.judged).toBe(0);
  });

  it('keeps probing while paused and still rolls back a target that fails', () => {
    let t = observingStep0();
    t = nextTransition(cfg, t.state, { type: 'control', now: 500, request: req('pause') });
    const r = runUntilMove(t, 500, 10_000, false);
    expect(r.t.command).toMatchObject({ type: 'rollback', weights: { blue: 100, green: 0 } });
  });

  it('a second pause changes nothing and says who paused; resume when not paused changes nothing', () => {
    let t = observingStep0();
    const r0 = nextTransition(cfg, t.state, { type: 'control', now: 100, request: req('resume') });
    expect(r0.ack).toMatchObject({ changed: false, message: 'step 1 was not paused' });
    t = nextTransition(cfg, t.state, { type: 'control', now: 200, request: req('pause') });
    const again = nextTransition(cfg, t.state, { type: 'control', now: 300, request: { ...req('pause'), by: 'bob@host2' } });
    expect(again.ack).toMatchObject({ changed: false, message: 'already paused by ann@host1' });
    expect(again.state).toMatchObject({ paused: { by: 'ann@host1', since: 200 } });
  });

  it('resume moves the end of the step by the time it stood still', () => {
    let t = observingStep0();
    t = nextTransition(cfg, t.state, { type: 'control', now: 1000, request: req('pause') });
    t = nextTransition(cfg, t.state, { type: 'control', now: 11_000, request: req('resume') });
    expect(t.ack).toMatchObject({ changed: true, message: 'resumed step 1 after 10 s paused' });
    expect(t.state).toMatchObject({ phase: 'observing', paused: null, until: 13_000 });
    const r = runUntilMove(t, 11_000, 20_000);
    expect(r.t.command).toMatchObject({ type: 'apply', step: { index: 1 } });
    expect(r.now).toBe(13_000);
  });

  it('promote ends the step now, after a health probe, with the operator named as the decision', () => {
    let t = observingStep0();
    t = nextTransition(cfg, t.state, { type: 'control', now: 400, request: req('promote') });
    expect(t.command).toEqual({ type: 'observe', step: 0, probe: true, judge: true });
    t = nextTransition(cfg, t.state, {
      type: 'observed',
      now: 450,
      health: { healthy: true, detail: 'healthy' },
      breach: null,
      judgement: null,
    });
    expect(t).toMatchObject({
      command: { type: 'apply', step: { index: 1, percent: 50 } },
      passedStep: 0,
      decision: 'promoted by ann@host1',
    });
  });

  it('refuses a promotion onto an unhealthy target (no rollback below the failure count) and keeps the step', () => {
    const c2 = { ...cfg, failuresBeforeRollback: 3 };
    let t = startEngine(c2);
    t = nextTransition(c2, t.state, { type: 'applied', now: 0 });
    t = nextTransition(c2, t.state, { type: 'control', now: 400, request: req('promote') });
    t = nextTransition(c2, t.state, {
      type: 'observed',
      now: 450,
      health: { healthy: false, detail: '127.0.0.1:1: 503' },
      breach: null,
      judgement: null,
    });
    expect(t.notice).toBe('promotion of step 1 by ann@host1 refused: 127.0.0.1:1: 503');
    expect(t.state).toMatchObject({ phase: 'observing', step: 0, until: 3000, promoting: null });
    expect(t.command.type).toBe('wait');
  });

  it('promote --full goes straight to the last step and completes once it is applied', () => {
    let t = observingStep0();
    t = nextTransition(cfg, t.state, { type: 'control', now: 400, request: req('promote', true) });
    t = nextTransition(cfg, t.state, {
      type: 'observed',
      now: 450,
      health: { healthy: true, detail: 'healthy' },
      breach: null,
      judgement: null,
    });
    expect(t).toMatchObject({ command: { type: 'apply', step: { index: 3, percent: 100 } }, decision: 'promoted by ann@host1 (full)' });
    t = nextTransition(cfg, t.state, { type: 'applied', now: 900 });
    expect(t).toMatchObject({ command: { type: 'finish', outcome: 'completed' }, passedStep: 3, decision: 'promoted by ann@host1 (full)' });
  });

  it('promote lifts a pause; a breach seen on the promotion probe rolls back instead', () => {
    let t = observingStep0();
    t = nextTransition(cfg, t.state, { type: 'control', now: 100, request: req('pause') });
    t = nextTransition(cfg, t.state, { type: 'control', now: 200, request: req('promote') });
    expect(t.state).toMatchObject({ paused: null });
    t = nextTransition(cfg, t.state, {
      type: 'observed',
      now: 250,
      health: { healthy: true, detail: 'healthy' },
      breach: 'error rate 0.40 > 0.05',
      judgement: null,
    });
    expect(t.command).toMatchObject({ type: 'rollback', reason: 'step 1: error rate 0.40 > 0.05' });
  });

  it('abort rolls back naming who aborted, and the run ends as rolled back', () => {
    let t = observingStep0();
    t = nextTransition(cfg, t.state, { type: 'control', now: 700, request: { ...req('abort'), by: 'alert HighErrors (Alertmanager)' } });
    expect(t.command).toEqual({ type: 'rollback', weights: { blue: 100, green: 0 }, reason: 'aborted by alert HighErrors (Alertmanager)' });
    t = nextTransition(cfg, t.state, { type: 'rolled_back', now: 900 });
    expect(t.command).toEqual({ type: 'finish', outcome: 'rolled_back', reason: 'aborted by alert HighErrors (Alertmanager)' });
  });
});

describe('control recorded in the state', () => {
  const running = (): State => ({
    ...initialState('2026-01-01T00:00:00.000Z'),
    migration: {
      id: 'm1',
      kind: 'gradual',
      from: 'blue',
      to: 'green',
      version: '2.1.0',
      strategy: 'weighted',
      plannedSteps: [25, 100],
      status: 'running',
      startedAt: 'x',
      endedAt: null,
      outcome: null,
      reason: null,
      pid: 1,
      host: 'h',
      steps: [],
      rolledBackAt: null,
    },
  });
  it('records who paused and since when, clears it on resume, and logs every action', () => {
    let s = controlRecorded(running(), { action: 'pause', by: 'ann@h', changed: true, message: 'paused' }, 'T1');
    expect(s.migration?.paused).toEqual({ by: 'ann@h', since: 'T1' });
    s = controlRecorded(s, { action: 'pause', by: 'bob@h', changed: false, message: 'already paused by ann@h' }, 'T2');
    expect(s.migration?.paused).toEqual({ by: 'ann@h', since: 'T1' });
    s = controlRecorded(s, { action: 'resume', by: 'bob@h', changed: true, message: 'resumed' }, 'T3');
    expect(s.migration?.paused).toBeNull();
    expect(s.migration?.controls?.map((c) => `${c.action} ${c.by} ${c.at}`)).toEqual([
      'pause ann@h T1',
      'pause bob@h T2',
      'resume bob@h T3',
    ]);
    s = controlRecorded(s, { action: 'pause', by: 'ann@h', changed: true, message: 'paused' }, 'T4');
    expect(pauseCleared(s).migration?.paused).toBeNull();
  });
});

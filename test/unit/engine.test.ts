import { describe, expect, it } from 'vitest';
import {
  nextTransition,
  startEngine,
  type EngineConfig,
  type EngineEvent,
  type EngineState,
  type Transition,
} from '../../src/core/engine.js';
import { planSteps, parseSteps } from '../../src/core/plan.js';
import { allOn } from '../../src/core/weights.js';

const cfg = (over: Partial<EngineConfig> = {}): EngineConfig => ({
  steps: planSteps({ blue: 100, green: 0 }, 'green', [25, 50, 75, 100]),
  stableWeights: allOn('blue'),
  stepMs: 3000,
  probeIntervalMs: 1000,
  failuresBeforeRollback: 1,
  ...over,
});

/** Plays the machine like the app does, with a fake clock and a scripted health function. */
function play(
  c: EngineConfig,
  healthyAt: (now: number, step: number) => boolean,
  opts: { interruptAt?: number; applyFailsAt?: number } = {},
) {
  let now = 0;
  const log: string[] = [];
  let t: Transition = startEngine(c);
  for (let guard = 0; guard < 1000; guard++) {
    const cmd = t.command;
    if (t.passedStep !== undefined) log.push(`passed ${t.passedStep}`);
    let event: EngineEvent;
    if (opts.interruptAt !== undefined && now >= opts.interruptAt && t.state.phase !== 'rolling_back' && cmd.type !== 'finish') {
      event = { type: 'interrupt', now, signal: 'SIGINT' };
      opts.interruptAt = undefined;
    } else if (cmd.type === 'finish') {
      log.push(`finish ${cmd.outcome}`);
      return { log, now, reason: cmd.reason };
    } else if (cmd.type === 'apply') {
      log.push(`apply ${cmd.step.weights.green}`);
      event = opts.applyFailsAt === cmd.step.index ? { type: 'apply_failed', now, error: 'nginx -t failed' } : { type: 'applied', now };
    } else if (cmd.type === 'probe') {
      const h = healthyAt(now, cmd.step);
      log.push(`probe@${now}${h ? '' : ' bad'}`);
      event = { type: 'probe', now, healthy: h, detail: h ? 'ok' : 'HTTP 500' };
    } else if (cmd.type === 'wait') {
      now = cmd.until;
      event = { type: 'tick', now };
    } else {
      log.push(`rollback ${cmd.weights.blue}`);
      event = { type: 'rolled_back', now };
    }
    t = nextTransition(c, t.state, event);
  }
  throw new Error('engine did not finish');
}

describe('migration engine', () => {
  it('walks 25 → 50 → 75 → 100, probing every interval for the whole step', () => {
    const { log, now } = play(cfg(), () => true);
    expect(log.filter((l) => l.startsWith('apply'))).toEqual(['apply 25', 'apply 50', 'apply 75', 'apply 100']);
    // each 3 s step is probed at 0, 1, 2 and 3 s after it was applied
    expect(log.slice(0, 6)).toEqual(['apply 25', 'probe@0', 'probe@1000', 'probe@2000', 'probe@3000', 'passed 0']);
    expect(log.at(-1)).toBe('finish completed');
    expect(now).toBe(12000);
  });

  it('rolls back at once when the target fails a probe mid-step', () => {
    const { log, reason } = play(cfg(), (now) => now < 4000);
    expect(log).toContain('rollback 100');
    expect(log.at(-1)).toBe('finish rolled_back');
    expect(log.filter((l) => l.startsWith('apply'))).toEqual(['apply 25', 'apply 50']);
    expect(reason).toMatch(/step 2: target failed its health checks \(HTTP 500\)/);
  });

  it('waits for consecutive failures when told to', () => {
    const flaky = (now: number) => now !== 2000; // one bad round only
    const { log } = play(cfg({ failuresBeforeRollback: 2 }), flaky);
    expect(log.at(-1)).toBe('finish completed');
    const { log: log2 } = play(cfg({ failuresBeforeRollback: 2 }), (now) => now < 2000);
    expect(log2.at(-1)).toBe('finish rolled_back');
    expect(log2.filter((l) => l.includes('bad'))).toHaveLength(2);
  });

  it('rolls back when a step cannot be applied', () => {
    const { log, reason } = play(cfg(), () => true, { applyFailsAt: 2 });
    expect(log.at(-1)).toBe('finish rolled_back');
    expect(reason).toMatch(/step 3 could not be applied: nginx -t failed/);
  });

  it('returns traffic to the stable color on interrupt and reports it as interrupted', () => {
    const { log, reason } = play(cfg(), () => true, { interruptAt: 5000 });
    expect(log).toContain('rollback 100');
    expect(log.at(-1)).toBe('finish interrupted');
    expect(reason).toBe('interrupted by SIGINT');
  });

  it('with stepSeconds 0 probes each step once', () => {
    const { log } = play(cfg({ stepMs: 0 }), () => true);
    expect(log.filter((l) => l.startsWith('probe'))).toHaveLength(4);
    expect(log.at(-1)).toBe('finish completed');
  });

  it('reports a failed rollback distinctly', () => {
    const c = cfg();
    let t = startEngine(c);
    t = nextTransition(c, t.state, { type: 'applied', now: 0 });
    t = nextTransition(c, t.state, { type: 'probe', now: 0, healthy: false, detail: 'refused' });
    expect(t.command.type).toBe('rollback');
    t = nextTransition(c, t.state, { type: 'rollback_failed', now: 1, error: 'reload failed' });
    expect(t.command).toEqual({
      type: 'finish',
      outcome: 'rollback_failed',
      reason: expect.stringMatching(/rollback failed: reload failed/),
    });
  });

  it('finishes at once with nothing to do', () => {
    expect(startEngine(cfg({ steps: [] })).command).toEqual({ type: 'finish', outcome: 'completed', reason: null });
  });

  it('refuses events that make no sense in a phase (a bug, not a user error)', () => {
    const state: EngineState = { phase: 'applying', step: 0 };
    expect(() => nextTransition(cfg(), state, { type: 'rolled_back', now: 0 })).toThrow(/not expected/);
  });
});

describe('planning steps', () => {
  it('continues a held canary from its weight', () => {
    expect(planSteps({ blue: 60, green: 40 }, 'green', [25, 50, 75, 100]).map((s) => s.percent)).toEqual([50, 75, 100]);
  });
  it('plans the way back to blue with blue growing', () => {
    expect(planSteps({ blue: 0, green: 100 }, 'blue', [50, 100]).map((s) => s.weights)).toEqual([
      { blue: 50, green: 50 },
      { blue: 100, green: 0 },
    ]);
  });
  it('parses --steps and explains what is wrong', () => {
    expect(parseSteps('25,50,75,100')).toEqual({ steps: [25, 50, 75, 100] });
    expect(parseSteps('50,25,100')).toEqual({ error: expect.stringMatching(/strictly increasing/) });
    expect(parseSteps('25,50')).toEqual({ error: expect.stringMatching(/last step must be 100/) });
    expect(parseSteps('0,100')).toEqual({ error: expect.stringMatching(/outside 1-100/) });
    expect(parseSteps('10;include')).toEqual({ error: expect.stringMatching(/not a comma-separated/) });
  });
});

import { describe, expect, it } from 'vitest';
import {
  nextTransition,
  startEngine,
  type EngineConfig,
  type EngineEvent,
  type EngineState,
  type Judgement,
  type Transition,
} from '../../src/core/engine.js';
import { planSteps, parseSteps } from '../../src/core/plan.js';
import { allOn } from '../../src/core/weights.js';

const cfg = (over: Partial<EngineConfig> = {}): EngineConfig => ({
  steps: planSteps({ blue: 100, green: 0 }, 'green', [25, 50, 75, 100]),
  stableWeights: allOn('blue'),
  targetWeights: allOn('green'),
  stepMs: 3000,
  probeIntervalMs: 1000,
  failuresBeforeRollback: 1,
  checkIntervalMs: 1000,
  maxExtendMs: 0,
  ...over,
});

interface Script {
  healthyAt?: (now: number, step: number) => boolean;
  /** a sustained breach seen at this time (the app's analysis says so) */
  breachAt?: (now: number, step: number) => string | null;
  /** whether the whole step may be promoted when asked */
  promote?: (now: number, step: number) => Judgement;
  interruptAt?: number;
  applyFailsAt?: number;
}

/** Plays the machine like the app does, with a fake clock and scripted health, breaches and judgements. */
function play(c: EngineConfig, script: Script = {}) {
  const healthyAt = script.healthyAt ?? (() => true);
  const breachAt = script.breachAt ?? (() => null);
  const promote = script.promote ?? (() => ({ promote: true, reason: 'enough traffic, no breach' }));
  let now = 0;
  let interruptAt = script.interruptAt;
  const log: string[] = [];
  const notices: string[] = [];
  let t: Transition = startEngine(c);
  for (let guard = 0; guard < 5000; guard++) {
    const cmd = t.command;
    if (t.passedStep !== undefined) log.push(`passed ${t.passedStep}`);
    if (t.notice) notices.push(t.notice);
    let event: EngineEvent;
    if (interruptAt !== undefined && now >= interruptAt && t.state.phase !== 'rolling_back' && cmd.type !== 'finish') {
      event = { type: 'interrupt', now, signal: 'SIGINT' };
      interruptAt = undefined;
    } else if (cmd.type === 'finish') {
      log.push(`finish ${cmd.outcome}`);
      return { log, now, reason: cmd.reason, notices };
    } else if (cmd.type === 'apply') {
      log.push(`apply ${cmd.step.weights.green}`);
      event = script.applyFailsAt === cmd.step.index ? { type: 'apply_failed', now, error: 'nginx -t failed' } : { type: 'applied', now };
    } else if (cmd.type === 'observe') {
      const h = cmd.probe ? healthyAt(now, cmd.step) : null;
      if (h !== null) log.push(`probe@${now}${h ? '' : ' bad'}`);
      if (cmd.judge) log.push(`judge@${now}`);
      event = {
        type: 'observed',
        now,
        health: h === null ? null : { healthy: h, detail: h ? 'ok' : 'HTTP 500' },
        breach: breachAt(now, cmd.step),
        judgement: cmd.judge ? promote(now, cmd.step) : null,
      };
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
  it('walks 25 → 50 → 75 → 100, probing every interval and judging each step when its time is up', () => {
    const { log, now } = play(cfg());
    expect(log.filter((l) => l.startsWith('apply'))).toEqual(['apply 25', 'apply 50', 'apply 75', 'apply 100']);
    // each 3 s step is probed at 0, 1, 2 and 3 s after it was applied, and judged at 3 s
    expect(log.slice(0, 7)).toEqual(['apply 25', 'probe@0', 'probe@1000', 'probe@2000', 'probe@3000', 'judge@3000', 'passed 0']);
    expect(log.at(-1)).toBe('finish completed');
    expect(now).toBe(12000);
  });

  it('rolls back at once when the target fails a probe mid-step', () => {
    const { log, reason } = play(cfg(), { healthyAt: (now) => now < 4000 });
    expect(log).toContain('rollback 100');
    expect(log.at(-1)).toBe('finish rolled_back');
    expect(log.filter((l) => l.startsWith('apply'))).toEqual(['apply 25', 'apply 50']);
    expect(reason).toMatch(/step 2: target failed its health checks \(HTTP 500\)/);
  });

  it('waits for consecutive failures when told to', () => {
    const flaky = (now: number) => now !== 2000; // one bad round only
    const { log } = play(cfg({ failuresBeforeRollback: 2 }), { healthyAt: flaky });
    expect(log.at(-1)).toBe('finish completed');
    const { log: log2 } = play(cfg({ failuresBeforeRollback: 2 }), { healthyAt: (now) => now < 2000 });
    expect(log2.at(-1)).toBe('finish rolled_back');
    expect(log2.filter((l) => l.includes('bad'))).toHaveLength(2);
  });

  it('checks traffic between probes and rolls back at the first sustained breach, mid-step', () => {
    const c = cfg({ checkIntervalMs: 250, probeIntervalMs: 1000 });
    let checks = 0;
    const { log, reason, now } = play(c, {
      breachAt: (at, step) => {
        if (step === 1) checks++;
        return step === 1 && at >= 3750 ? 'error rate 0.50 > 0.05 for 0.0 s over 40 requests' : null;
      },
    });
    expect(reason).toBe('step 2: error rate 0.50 > 0.05 for 0.0 s over 40 requests');
    expect(log.at(-1)).toBe('finish rolled_back');
    // step 2 began at 3000: checks at 3000, 3250, 3500, 3750, and the rollback came with the 4th
    expect(now).toBe(3750);
    expect(checks).toBe(4);
  });

  it('extends a step that cannot be promoted yet, then promotes it once it can', () => {
    const c = cfg({ maxExtendMs: 5000 });
    const { log, notices } = play(c, {
      promote: (now) =>
        now >= 4000 ? { promote: true, reason: 'ok' } : { promote: false, reason: 'only 3 requests reached green (minRequests 20)' },
    });
    expect(notices).toEqual(['step 1 extended (up to 5 s): only 3 requests reached green (minRequests 20)']);
    expect(log.slice(0, 9)).toEqual([
      'apply 25',
      'probe@0',
      'probe@1000',
      'probe@2000',
      'probe@3000',
      'judge@3000',
      'probe@4000',
      'judge@4000',
      'passed 0',
    ]);
    expect(log.at(-1)).toBe('finish completed');
  });

  it('rolls back a step that stays unjudgeable past the extension: never promoted blind', () => {
    const { log, reason } = play(cfg({ maxExtendMs: 2000 }), {
      promote: () => ({ promote: false, reason: 'access log unreadable: ENOENT' }),
    });
    expect(log.filter((l) => l.startsWith('apply'))).toEqual(['apply 25']);
    expect(log.filter((l) => l.startsWith('judge'))).toEqual(['judge@3000', 'judge@4000', 'judge@5000']);
    expect(reason).toBe('step 1 could not be judged after 2 s of extra time: access log unreadable: ENOENT');
    expect(log.at(-1)).toBe('finish rolled_back');
  });

  it('with no extension allowed, an unjudgeable step rolls back when its time is up', () => {
    const { reason } = play(cfg({ maxExtendMs: 0 }), { promote: () => ({ promote: false, reason: 'only 0 requests reached green' }) });
    expect(reason).toBe('step 1 could not be judged: only 0 requests reached green');
  });

  it('rolls back when a step cannot be applied', () => {
    const { log, reason } = play(cfg(), { applyFailsAt: 2 });
    expect(log.at(-1)).toBe('finish rolled_back');
    expect(reason).toMatch(/step 3 could not be applied: nginx -t failed/);
  });

  it('returns traffic to the stable color on interrupt and reports it as interrupted', () => {
    const { log, reason } = play(cfg(), { interruptAt: 5000 });
    expect(log).toContain('rollback 100');
    expect(log.at(-1)).toBe('finish interrupted');
    expect(reason).toBe('interrupted by SIGINT');
  });

  it('with stepSeconds 0 probes and judges each step once', () => {
    const { log } = play(cfg({ stepMs: 0 }));
    expect(log.filter((l) => l.startsWith('probe'))).toHaveLength(4);
    expect(log.filter((l) => l.startsWith('judge'))).toHaveLength(4);
    expect(log.at(-1)).toBe('finish completed');
  });

  it('reports a failed rollback distinctly', () => {
    const c = cfg();
    let t = startEngine(c);
    t = nextTransition(c, t.state, { type: 'applied', now: 0 });
    t = nextTransition(c, t.state, {
      type: 'observed',
      now: 0,
      health: { healthy: false, detail: 'refused' },
      breach: null,
      judgement: null,
    });
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

describe('engine: the stable color is probed too, and never rolled back onto while down', () => {
  const c = cfg();
  const observing = (): EngineState => {
    const t = nextTransition(c, startEngine(c).state, { type: 'applied', now: 0 });
    return t.state;
  };
  const observed = (now: number, stableHealthy: boolean): EngineEvent => ({
    type: 'observed',
    now,
    health: { healthy: true, detail: 'healthy' },
    stableHealth: { healthy: stableHealthy, detail: stableHealthy ? 'healthy' : 'blue: 127.0.0.1:8081: HTTP 503' },
    breach: null,
    judgement: null,
  });

  it('says once when the stable color goes down, and once when it is back; the step goes on', () => {
    const down = nextTransition(c, observing(), observed(0, false));
    expect(down.command.type).toBe('wait');
    expect(down.notice).toMatch(
      /step 1: the stable color fails its health probe \(blue: 127\.0\.0\.1:8081: HTTP 503\).*will not roll back onto it/,
    );
    const still = nextTransition(c, down.state, observed(1000, false));
    expect(still.notice).toBeUndefined();
    const back = nextTransition(c, still.state, observed(2000, true));
    expect(back.notice).toMatch(/the stable color answers its health probe again/);
  });

  it('a rollback that finds the stable color down puts all traffic on the healthy new color, then stops for a human', () => {
    const rb = nextTransition(c, observing(), { type: 'interrupt', now: 10, signal: 'SIGTERM' });
    expect(rb.command).toMatchObject({ type: 'rollback', weights: allOn('blue') });
    const divert = nextTransition(c, rb.state, { type: 'stable_down', now: 11, detail: 'blue: refused', targetHealthy: true });
    expect(divert.command).toMatchObject({ type: 'divert', weights: allOn('green') });
    expect((divert.command as { reason: string }).reason).toMatch(/interrupted by SIGTERM; the stable color is down \(blue: refused\)/);
    const end = nextTransition(c, divert.state, { type: 'diverted', now: 12 });
    expect(end.command).toMatchObject({ type: 'finish', outcome: 'stopped' });
  });

  it('with both colors down it moves nothing and stops for a human', () => {
    const rb = nextTransition(c, observing(), { type: 'interrupt', now: 10, signal: 'SIGTERM' });
    const end = nextTransition(c, rb.state, { type: 'stable_down', now: 11, detail: 'blue: refused', targetHealthy: false });
    expect(end.command).toMatchObject({ type: 'finish', outcome: 'stopped' });
    expect((end.command as { reason: string }).reason).toMatch(/traffic left as it was/);
  });

  it('a failed divert is a failed rollback (exit 4 path)', () => {
    const rb = nextTransition(c, observing(), { type: 'interrupt', now: 10, signal: 'SIGTERM' });
    const divert = nextTransition(c, rb.state, { type: 'stable_down', now: 11, detail: 'blue: refused', targetHealthy: true });
    const end = nextTransition(c, divert.state, { type: 'divert_failed', now: 12, error: 'nginx -t failed' });
    expect(end.command).toMatchObject({ type: 'finish', outcome: 'rollback_failed' });
  });
});

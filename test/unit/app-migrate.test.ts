import { describe, expect, it } from 'vitest';
import { canary, deploy, gradual, switchTo } from '../../src/app/traffic-commands.js';
import { ExitCode, InterruptedError, LockHeldError, PreflightError, RolledBackError, UnknownStateError } from '../../src/core/errors.js';
import { failure, makeContext, type World } from '../fakes/context.js';
import { FakeNginx } from '../fakes/nginx.js';
import { FakeProber, healthyUntil } from '../fakes/prober.js';
import { blue, green, interruptedState } from '../fakes/states.js';
import { FakeClock } from '../fakes/clock.js';

/** green weights NGINX was asked to serve, in order */
const appliedGreen = (w: World): number[] => w.nginx.applied.map((c) => c.weights?.green ?? -1);
const last = <T>(a: readonly T[]): T | undefined => a.at(-1);

// Timeline with the fake config (3 s steps, a probe a second): step n is applied at (n-1)*3 s and
// probed at +0, +1, +2, +3 s; so something that breaks at 4.5 s breaks during step 2.

describe('gradual', () => {
  it('applies 25/50/75/100 in order and ends with green stable at 100%', async () => {
    const w = makeContext();
    const r = await gradual(w.ctx, { color: 'green', version: '2.1.0' });
    expect(r.outcome).toBe('completed');
    expect(appliedGreen(w)).toEqual([25, 50, 75, 100]);
    expect(w.nginx.applied.map((c) => c.revision)).toEqual([2, 3, 4, 5]);
    const s = w.store.state;
    expect(s).toMatchObject({ stable: 'green', weights: green(100), revision: 5, versions: { green: '2.1.0' } });
    const m = last(s.history);
    expect(m).toMatchObject({ kind: 'gradual', from: 'blue', to: 'green', status: 'completed' });
    expect(m?.steps.map((x) => [x.percent, x.verdict])).toEqual([
      [25, 'passed'],
      [50, 'passed'],
      [75, 'passed'],
      [100, 'passed'],
    ]);
    expect(w.lock.held).toBe(false);
  });

  it('observes every step for stepSeconds with a probe per interval', async () => {
    const w = makeContext();
    await gradual(w.ctx, { color: 'green', version: '2.1.0' });
    expect(w.clock.elapsed).toBe(12_000);
    expect(w.store.state.history.at(-1)?.steps.map((x) => x.probes.rounds)).toEqual([4, 4, 4, 4]);
    expect(
      w.reporter
        .of('step')
        .filter((e) => e.phase === 'passed')
        .map((e) => e.weights.green),
    ).toEqual([25, 50, 75, 100]);
  });

  it('rolls back to blue when green fails a probe mid-step: exit 3, reason, step marked failed', async () => {
    const w = makeContext();
    w.prober.setHealth('green', healthyUntil(4500));
    const e = await failure(gradual(w.ctx, { color: 'green', version: '2.1.0' }));
    expect(e).toBeInstanceOf(RolledBackError);
    expect(e.exitCode).toBe(ExitCode.ROLLED_BACK);
    expect(e.message).toMatch(/step 2: target failed its health checks \(127\.0\.0\.1:8082: HTTP 503\)/);
    expect(appliedGreen(w)).toEqual([25, 50, 0]);
    expect(w.nginx.current?.weights).toEqual(blue(100));
    const s = w.store.state;
    expect(s).toMatchObject({ stable: 'blue', weights: blue(100), migration: { status: 'rolled_back' } });
    expect(s.migration?.steps.map((x) => x.verdict)).toEqual(['passed', 'failed']);
    expect(s.migration?.steps[1]?.reason).toMatch(/health checks/);
    expect(w.lock.held).toBe(false);
  });

  it('tolerates isolated probe failures below failuresBeforeRollback, rolls back at that many in a row', async () => {
    const flaky = makeContext({ config: { probe: { failuresBeforeRollback: 2 } } });
    flaky.prober.setHealth('green', (call) => call % 2 === 1); // every other probe fails (call 1 is pre-flight)
    expect((await gradual(flaky.ctx, { color: 'green', version: '2.1.0' })).outcome).toBe('completed');
    const broken = makeContext({ config: { probe: { failuresBeforeRollback: 2 } } });
    broken.prober.setHealth('green', healthyUntil(4500));
    expect(await failure(gradual(broken.ctx, { color: 'green', version: '2.1.0' }))).toBeInstanceOf(RolledBackError);
    expect(broken.clock.elapsed).toBe(6000 + 300); // failures at 5 s and 6 s, then 0.3 s for requests in flight before the last log read
  });

  it('rolls back when step 2 cannot be applied: exit 3, traffic back on blue', async () => {
    const w = makeContext();
    w.nginx.failNext('apply', 'nginx -t rejected revision 3', 2);
    const e = await failure(gradual(w.ctx, { color: 'green', version: '2.1.0' }));
    expect(e).toBeInstanceOf(RolledBackError);
    expect(e.message).toMatch(/step 2 could not be applied: nginx -t rejected revision 3/);
    expect(appliedGreen(w)).toEqual([25, 50, 0]);
    expect(w.nginx.current?.weights).toEqual(blue(100));
    expect(w.store.state.migration?.steps.map((x) => x.verdict)).toEqual(['passed', 'failed']);
    expect(w.lock.held).toBe(false);
  });

  it('a step that could not be applied is not recorded as applied', async () => {
    const w = makeContext();
    w.nginx.failNext('apply', 'rejected', 2);
    await failure(gradual(w.ctx, { color: 'green', version: '2.1.0' }));
    expect(w.store.state.migration?.steps[1]).toMatchObject({ percent: 50, verdict: 'failed', appliedAt: null, revision: null });
  });

  it('a step that could not be applied records no observed traffic', async () => {
    const w = makeContext();
    w.traffic.perRead = (_tail, read) => (read === 0 ? { blue: [70, 0], green: [23, 0] } : {});
    w.nginx.failNext('apply', 'rejected', 2);
    await failure(gradual(w.ctx, { color: 'green', version: '2.1.0' }));
    expect(w.store.state.migration?.steps[0]?.observed).toMatchObject({ green: 23 });
    expect(w.store.state.migration?.steps[1]?.observed).toBeNull();
  });

  it('throws UnknownStateError (4) and marks the migration failed when the rollback apply fails too', async () => {
    const w = makeContext();
    w.prober.setHealth('green', healthyUntil(4500));
    w.nginx.failNext('apply', 'reload failed', 3); // the rollback apply
    const e = await failure(gradual(w.ctx, { color: 'green', version: '2.1.0' }));
    expect(e).toBeInstanceOf(UnknownStateError);
    expect(e.exitCode).toBe(ExitCode.UNKNOWN_STATE);
    expect(e.message).toMatch(/rollback failed: reload failed/);
    expect(w.store.state.migration).toMatchObject({ status: 'failed', outcome: 'rollback failed' });
    expect(w.lock.held).toBe(false);
  });

  it('on SIGINT during observation applies the rollback and throws InterruptedError (130)', async () => {
    const w = makeContext();
    w.clock.at(4500, () => w.abort.abort('SIGINT'));
    const e = await failure(gradual(w.ctx, { color: 'green', version: '2.1.0' }));
    expect(e).toBeInstanceOf(InterruptedError);
    expect(e.exitCode).toBe(ExitCode.INTERRUPTED);
    expect(e.message).toMatch(/interrupted by SIGINT; traffic is back on blue/);
    expect(appliedGreen(w)).toEqual([25, 50, 0]);
    expect(w.clock.elapsed).toBe(4500); // the sleep ended at the signal, not at the next probe
    expect(w.store.state).toMatchObject({
      stable: 'blue',
      weights: blue(100),
      migration: { status: 'rolled_back', outcome: 'interrupted, rolled back' },
    });
    expect(w.lock.held).toBe(false);
  });

  it('dry run applies and saves nothing and returns one rendered config per step', async () => {
    const w = makeContext();
    const r = await gradual(w.ctx, { color: 'green', version: '2.1.0', dryRun: true });
    expect(r.outcome).toBe('noop');
    expect(r.plan?.map((p) => [p.config.revision, p.config.weights.green])).toEqual([
      [2, 25],
      [3, 50],
      [4, 75],
      [5, 100],
    ]);
    expect(w.nginx.applied).toEqual([]);
    expect(w.store.saves).toEqual([]);
    expect(w.lock.held).toBe(false);
  });

  it('honours --steps and --step-seconds', async () => {
    const w = makeContext();
    await gradual(w.ctx, { color: 'green', version: '2.1.0', steps: [10, 100], stepSeconds: 1 });
    expect(appliedGreen(w)).toEqual([10, 100]);
    expect(w.clock.elapsed).toBe(2000);
  });

  it('refuses while another bgctl holds the lock (5) and changes nothing', async () => {
    const w = makeContext();
    w.lock.holdBy({ pid: 77, host: 'test-host', command: 'rollback', startedAt: '2025-01-01T00:00:00.000Z', alive: true });
    const e = await failure(gradual(w.ctx, { color: 'green', version: '2.1.0' }));
    expect(e).toBeInstanceOf(LockHeldError);
    expect(e.exitCode).toBe(ExitCode.LOCKED);
    expect(w.nginx.calls).toEqual([]);
    expect(w.store.saves).toEqual([]);
  });

  it('is a no-op when green already carries everything with that version, and refuses another version (6)', async () => {
    const w = makeContext();
    await gradual(w.ctx, { color: 'green', version: '2.1.0' });
    const applies = w.nginx.applied.length;
    expect((await gradual(w.ctx, { color: 'green', version: '2.1.0' })).outcome).toBe('noop');
    expect(await failure(gradual(w.ctx, { color: 'green', version: '2.2.0' }))).toBeInstanceOf(PreflightError);
    expect(w.nginx.applied.length).toBe(applies);
  });
});

describe('pre-flight refuses with PreflightError (6) and applies nothing', () => {
  const cases: [string, (w: World) => void, RegExp][] = [
    ['target unhealthy', (w) => w.prober.setHealth('green', false), /green healthy \(target\): 127\.0\.0\.1:8082: HTTP 503/],
    ['version mismatch', (w) => (w.prober.versions.green = '2.0.9'), /version mismatch: servers report 2\.0\.9, expected 2\.1\.0/],
    ['stable unhealthy', (w) => w.prober.setHealth('blue', false), /blue healthy \(stable, needed for rollback\)/],
    [
      'nginx -t failing',
      (w) => w.nginx.failNext('test', 'unknown directive "foo"'),
      /nginx -t on the next config: unknown directive "foo"/,
    ],
    ['NGINX not answering', (w) => (w.nginx.answering = false), /NGINX serving: NGINX does not answer/],
    ['NGINX not running', (w) => (w.nginx.running = false), /NGINX serving/],
    [
      'drift between live and state',
      (w) => w.nginx.current && (w.nginx.current = { ...w.nginx.current, revision: 7, weights: green(10) }),
      /state matches NGINX: NGINX serves revision 7/,
    ],
    ['target not answering through NGINX', (w) => (w.prober.throughNginxHealthy.green = false), /green answers through NGINX: HTTP 502/],
    ['nginx.mode dynamic', () => undefined, /apply mode/],
  ];
  it.each(cases)('%s', async (name, breakIt, message) => {
    const w = makeContext(name === 'nginx.mode dynamic' ? { config: { nginx: { mode: 'dynamic' } } } : {});
    breakIt(w);
    const e = await failure(gradual(w.ctx, { color: 'green', version: '2.1.0' }));
    expect(e).toBeInstanceOf(PreflightError);
    expect(e.exitCode).toBe(ExitCode.PREFLIGHT);
    expect(e.message).toMatch(message);
    expect(w.nginx.applied).toEqual([]);
    expect(w.store.saves).toEqual([]);
    expect(w.lock.held).toBe(false);
  });
});

describe('canary', () => {
  it('holds green at the given share: status holding, blue stays stable', async () => {
    const w = makeContext();
    const r = await canary(w.ctx, { color: 'green', percent: 10 });
    expect(r.outcome).toBe('holding');
    expect(appliedGreen(w)).toEqual([10]);
    expect(w.store.state).toMatchObject({ stable: 'blue', weights: green(10), migration: { kind: 'canary', status: 'holding' } });
  });

  it('asking the stable color for a share gives the other color the rest', async () => {
    const w = makeContext();
    await canary(w.ctx, { color: 'blue', percent: 80 });
    expect(appliedGreen(w)).toEqual([20]);
    expect(w.store.state.migration).toMatchObject({ to: 'green', status: 'holding' });
  });

  it('gradual continues from the held weight: only higher steps are applied', async () => {
    const w = makeContext();
    await canary(w.ctx, { color: 'green', percent: 50 });
    const r = await gradual(w.ctx, { color: 'green', version: '2.1.0' });
    expect(r.outcome).toBe('completed');
    expect(appliedGreen(w)).toEqual([50, 75, 100]);
    expect(w.store.state).toMatchObject({ stable: 'green', weights: green(100) });
    expect(w.store.state.migration?.steps.map((s) => s.percent)).toEqual([50, 75, 100]);
    expect(w.store.state.history).toHaveLength(1); // one migration, continued
  });

  it('to 0 withdraws it: all traffic on blue, the canary recorded as rolled back', async () => {
    const w = makeContext();
    await canary(w.ctx, { color: 'green', percent: 10 });
    const r = await canary(w.ctx, { color: 'green', percent: 0 });
    expect(r.outcome).toBe('completed');
    expect(appliedGreen(w)).toEqual([10, 0]);
    expect(w.store.state).toMatchObject({
      stable: 'blue',
      weights: blue(100),
      migration: { status: 'rolled_back', outcome: 'canary withdrawn' },
    });
  });

  it('to 0 withdraws even when the canary color has become unhealthy', async () => {
    const w = makeContext();
    await canary(w.ctx, { color: 'green', percent: 10 });
    w.prober.setHealth('green', false);
    const r = await canary(w.ctx, { color: 'green', percent: 0 });
    expect(r.outcome).toBe('completed');
    expect(w.store.state.weights).toEqual(blue(100));
  });

  it('the same share again is a no-op', async () => {
    const w = makeContext();
    await canary(w.ctx, { color: 'green', percent: 10 });
    expect((await canary(w.ctx, { color: 'green', percent: 10 })).outcome).toBe('noop');
    expect(appliedGreen(w)).toEqual([10]);
  });

  it('refuses a migration to the other color while it holds (6)', async () => {
    const w = makeContext();
    await canary(w.ctx, { color: 'green', percent: 10 });
    const e = await failure(gradual(w.ctx, { color: 'blue', version: '2.0.0' }));
    expect(e).toBeInstanceOf(PreflightError);
    expect(e.message).toMatch(/a canary holds green at 10%; run `bgctl rollback` first/);
    expect(await failure(switchTo(w.ctx, { color: 'blue' }))).toBeInstanceOf(PreflightError);
    expect(appliedGreen(w)).toEqual([10]);
    expect(w.lock.held).toBe(false);
  });
});

describe('switch', () => {
  it('moves 100% at once after a health check', async () => {
    const w = makeContext();
    const r = await switchTo(w.ctx, { color: 'green' });
    expect(r.outcome).toBe('completed');
    expect(appliedGreen(w)).toEqual([100]);
    expect(w.store.state).toMatchObject({ stable: 'green', weights: green(100), migration: { kind: 'switch', status: 'completed' } });
  });

  it('refuses an unhealthy color (6)', async () => {
    const w = makeContext();
    w.prober.setHealth('green', false);
    expect(await failure(switchTo(w.ctx, { color: 'green' }))).toBeInstanceOf(PreflightError);
    expect(w.nginx.applied).toEqual([]);
  });

  it('to the color already live is a no-op', async () => {
    const w = makeContext();
    expect((await switchTo(w.ctx, { color: 'blue' })).outcome).toBe('noop');
    expect(w.nginx.calls).toEqual([]);
  });
});

describe('deploy', () => {
  it('refuses a color that carries traffic (6) and runs no hook', async () => {
    const w = makeContext({ deploy: true });
    const e = await failure(deploy(w.ctx, { color: 'blue', version: '2.2.0' }));
    expect(e).toBeInstanceOf(PreflightError);
    expect(e.message).toMatch(/blue carries 100% of traffic/);
    expect(w.deploy?.runs).toEqual([]);
    expect(w.nginx.applied).toEqual([]);
  });

  it('runs the hook on the inactive color, waits for the version, then switches', async () => {
    const w = makeContext({ deploy: true });
    w.prober.versions.green = '2.0.0';
    const r = await deploy(w.ctx, { color: 'green', version: '2.2.0' });
    expect(r.outcome).toBe('completed');
    expect(w.deploy?.runs.map((x) => [x.color, x.version])).toEqual([['green', '2.2.0']]);
    expect(w.deploy?.runs[0]?.signal).toBe(w.ctx.signal);
    expect(appliedGreen(w)).toEqual([100]);
    expect(w.store.state).toMatchObject({
      stable: 'green',
      versions: { green: '2.2.0' },
      migration: { kind: 'deploy', status: 'completed' },
    });
  });

  it('fails pre-flight (6) without touching NGINX when the color never reports the version', async () => {
    const w = makeContext({ deploy: true });
    const runner = w.deploy;
    if (!runner) throw new Error('no runner');
    w.prober.setHealth('green', false);
    const e = await failure(deploy(w.ctx, { color: 'green', version: '2.2.0' }));
    expect(e).toBeInstanceOf(PreflightError);
    expect(e.message).toMatch(/green did not become healthy within 10 s/);
    expect(w.nginx.applied).toEqual([]);
    expect(w.lock.held).toBe(false);
  });

  it('an interrupt while waiting for the deployed color exits 130, not 6', async () => {
    const w = makeContext({ deploy: true });
    w.prober.setHealth('green', false);
    w.clock.at(1500, () => w.abort.abort('SIGINT'));
    const e = await failure(deploy(w.ctx, { color: 'green', version: '2.2.0' }));
    expect(e).toBeInstanceOf(InterruptedError);
  });

  it('gradual runs the hook only when the color does not already run the version', async () => {
    const w = makeContext({ deploy: true });
    await gradual(w.ctx, { color: 'green', version: '2.1.0' });
    expect(w.deploy?.runs).toEqual([]);
    const w2 = makeContext({ deploy: true });
    await gradual(w2.ctx, { color: 'green', version: '2.3.0' });
    expect(w2.deploy?.runs.map((x) => x.version)).toEqual(['2.3.0']);
  });
});

describe('an interrupted migration (state says running, the lock is ours)', () => {
  it('is adopted from what NGINX serves and continued from there', async () => {
    // died after NGINX confirmed 50% but before state.json said so
    const state = interruptedState({ passed: [25], pending: 50 });
    const w = makeContext({ state, nginx: new FakeNginx({ revision: 3, weights: green(50) }) });
    const r = await gradual(w.ctx, { color: 'green', version: '2.1.0' });
    expect(r.outcome).toBe('completed');
    expect(w.logger.at('warn')).toContain('adopting what NGINX serves after an interrupted migration');
    expect(w.nginx.applied[0]?.revision).toBe(4); // after the live revision, not the remembered one
    expect(appliedGreen(w).every((p) => p >= 50)).toBe(true);
    expect(w.store.state).toMatchObject({
      stable: 'green',
      weights: green(100),
      migration: { id: 'dead1', pid: 4242, status: 'completed' },
    });
  });

  it('never jumps past the steps between what NGINX serves and the target', async () => {
    let state = interruptedState({ passed: [25, 50] });
    state = {
      ...state,
      migration: state.migration && {
        ...state.migration,
        steps: state.migration.steps.map((s, i) => (i === 1 ? { ...s, verdict: 'failed' as const } : s)),
      },
    };
    const w = makeContext({ state, nginx: new FakeNginx({ revision: state.revision + 1, weights: blue(100) }) });
    await gradual(w.ctx, { color: 'green', version: '2.1.0' });
    expect(appliedGreen(w)).toEqual([25, 50, 75, 100]);
  });

  it('is refused (6) when asked to migrate to the other color', async () => {
    const w = makeContext({ state: interruptedState({ passed: [25] }), nginx: new FakeNginx({ revision: 2, weights: green(25) }) });
    const e = await failure(gradual(w.ctx, { color: 'blue', version: '2.0.0' }));
    expect(e).toBeInstanceOf(PreflightError);
    expect(e.message).toMatch(/a migration to green was interrupted/);
    expect(w.nginx.applied).toEqual([]);
  });
});

describe('fakes', () => {
  it('FakeClock.sleep honours an already aborted signal without advancing', async () => {
    const clock = new FakeClock();
    const ac = new AbortController();
    ac.abort();
    await clock.sleep(5000, ac.signal);
    expect(clock.elapsed).toBe(0);
    expect(await new FakeProber(clock).color('green')).toMatchObject({ healthy: true, version: '2.1.0' });
  });
});

describe('gradual judged on real traffic', () => {
  // the fake log gains one read's worth of requests at every check (every 250 ms)
  const immediate = { thresholds: { errorRate: 0.05, errorRateForSeconds: 0, minRequests: 20, windowSeconds: 10, checkIntervalMs: 250 } };

  it('rolls back mid-step at the first window where green fails half its requests, explaining the figures', async () => {
    const w = makeContext({ config: immediate });
    w.traffic.perRead = () => ({ blue: [30, 0], green: w.clock.elapsed >= 4000 ? [20, 10] : [10, 0], atMs: w.clock.now() });
    const e = await failure(gradual(w.ctx, { color: 'green', version: '2.1.0' }));
    expect(e).toBeInstanceOf(RolledBackError);
    // the first failing read comes at 4.0 s, during step 2 (applied at 3 s); acted on at once
    expect(e.message).toMatch(/step 2: error rate 0\.\d+ > 0\.05 for 0\.0 s over \d+ requests; traffic is back on blue/);
    expect(appliedGreen(w)).toEqual([25, 50, 0]);
    const m = last(w.store.state.history);
    expect(m?.steps[1]).toMatchObject({ verdict: 'failed', decision: expect.stringMatching(/^step 2: error rate/) });
    expect(m?.steps[1]?.figures?.colors.green.errors).toBe(10);
    expect(m?.steps[0]).toMatchObject({ verdict: 'passed', figures: { colors: { green: { requests: 130, errors: 0 } } } });
    // how long green served and how fast it was pulled
    expect(m?.timeline).toMatchObject({ color: 'green', firstErrorAt: '2025-01-01T00:00:04.000Z', decidedAt: '2025-01-01T00:00:04.000Z' });
    expect(m?.timeline?.firstServedAt).toBe('2025-01-01T00:00:00.000Z');
    expect(m?.timeline?.servedSeconds).toBeGreaterThanOrEqual(4);
  });

  it('waits out errorRateForSeconds: a breach that clears in time rolls nothing back', async () => {
    const w = makeContext({ config: { thresholds: { errorRateForSeconds: 2, minRequests: 20, windowSeconds: 1 } } });
    // a 1 s burst of errors at 4-5 s: the 1 s window sees it for about 1 s < 2 s
    w.traffic.perRead = () => ({ green: [20, w.clock.elapsed >= 4000 && w.clock.elapsed < 5000 ? 10 : 0] });
    expect((await gradual(w.ctx, { color: 'green', version: '2.1.0' })).outcome).toBe('completed');
    const w2 = makeContext({ config: { thresholds: { errorRateForSeconds: 2, minRequests: 20, windowSeconds: 1 } } });
    w2.traffic.perRead = () => ({ green: [20, w2.clock.elapsed >= 4000 ? 10 : 0] });
    const e = await failure(gradual(w2.ctx, { color: 'green', version: '2.1.0' }));
    expect(e.message).toMatch(/error rate 0\.50 > 0\.05 for 2\.0 s over \d+ requests/);
  });

  it('never promotes a step blind: too little traffic extends it, then rolls back with the reason', async () => {
    const w = makeContext({ config: { thresholds: { minRequests: 20 }, migration: { maxExtendSeconds: 5 } } });
    w.traffic.perRead = () => ({ blue: [5, 0] }); // green gets nothing
    const e = await failure(gradual(w.ctx, { color: 'green', version: '2.1.0' }));
    expect(e).toBeInstanceOf(RolledBackError);
    expect(e.message).toMatch(/step 1 could not be judged after 5 s of extra time: .*0 requests/);
    expect(w.reporter.events).toContainEqual({ type: 'notice', message: expect.stringMatching(/^step 1 extended \(up to 5 s\): /) });
    expect(appliedGreen(w)).toEqual([25, 0]);
    expect(w.clock.elapsed).toBe(3000 + 5000 + 300);
  });

  it('a quiet step that gets traffic during its extension is promoted', async () => {
    const w = makeContext({ config: { thresholds: { minRequests: 20 }, migration: { maxExtendSeconds: 30 } } });
    w.traffic.perRead = () => ({ green: [w.clock.elapsed >= 4000 ? 10 : 0, 0] });
    expect((await gradual(w.ctx, { color: 'green', version: '2.1.0' })).outcome).toBe('completed');
    const steps = last(w.store.state.history)?.steps ?? [];
    expect(steps.map((s) => s.verdict)).toEqual(['passed', 'passed', 'passed', 'passed']);
  });

  it('says so when the access log cannot be read, and does not pass the step', async () => {
    const w = makeContext({ config: { migration: { maxExtendSeconds: 1 } } });
    w.traffic.perRead = () => ({ unreadable: '/var/log/access.json.log: EACCES' });
    const e = await failure(gradual(w.ctx, { color: 'green', version: '2.1.0' }));
    expect(e.message).toMatch(/step 1 could not be judged .*access log.*EACCES/);
  });

  it('with minRequests 0 a step without traffic is judged on health alone', async () => {
    const w = makeContext({ config: { thresholds: { minRequests: 0 } } });
    w.traffic.perRead = () => ({});
    expect((await gradual(w.ctx, { color: 'green', version: '2.1.0' })).outcome).toBe('completed');
  });

  it('switch and canary need no traffic: they are judged on health probes', async () => {
    const w = makeContext();
    w.traffic.perRead = () => ({});
    expect((await canary(w.ctx, { color: 'green', percent: 10 })).outcome).toBe('holding');
    const w2 = makeContext();
    w2.traffic.perRead = () => ({});
    expect((await switchTo(w2.ctx, { color: 'green' })).outcome).toBe('completed');
  });
});

describe('"nothing to do" is decided against what NGINX serves, not only state.json', () => {
  for (const [name, run] of [
    ['switch blue', (w: World) => switchTo(w.ctx, { color: 'blue' })],
    ['gradual blue 2.0.0', (w: World) => gradual(w.ctx, { color: 'blue', version: '2.0.0' })],
    ['canary green 0', (w: World) => canary(w.ctx, { color: 'green', percent: 0 })],
  ] as const) {
    it(`${name}: state says blue 100%, NGINX serves green 100% behind bgctl's back → the drift is named, exit 6`, async () => {
      const w = makeContext({ nginx: new FakeNginx({ revision: 9, weights: green(100) }) });
      const e = await failure(run(w));
      expect(e).toBeInstanceOf(PreflightError);
      expect(e.message).toMatch(/NGINX serves revision 9 \(blue 0% \/ green 100%\)/);
      expect(w.nginx.current?.weights).toEqual(green(100));
    });
  }

  it('switch blue when NGINX and state.json both say blue 100% is still nothing to do', async () => {
    const w = makeContext();
    expect(await switchTo(w.ctx, { color: 'blue' })).toMatchObject({ outcome: 'noop' });
  });
});

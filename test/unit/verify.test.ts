import { describe, expect, it } from 'vitest';
import { consent, exitCodeFor, failureOf, runVerify, summarize, type Row, type VerifyReport } from '../../src/app/verify.js';
import { performanceOutcome, upstreamOutcome, upstreamServers } from '../../src/app/verify-outcomes.js';
import { formatTable, parseVerifyFlags, type VerifyFlags } from '../../src/cli/verify.js';
import { canary } from '../../src/app/traffic-commands.js';
import { fakeRead, FakeTraffic } from '../fakes/recorders.js';
import { makeContext, type Overrides } from '../fakes/context.js';
import { FakeNginx } from '../fakes/nginx.js';
import { healthyUntil } from '../fakes/prober.js';
import { blue, interruptedState } from '../fakes/states.js';
import { MemoryLock } from '../fakes/store.js';
import { FakeVerifyProbes, siteWith, verifyOptions } from '../fakes/verify.js';

const row = (name: string, result: Row['result'], exitCode: Row['exitCode'] = result === 'FAIL' ? 6 : null): Row => ({
  name,
  result,
  detail: '',
  durationMs: 1,
  exitCode,
});

function world(o: Overrides = {}) {
  const w = makeContext(o);
  return { ...w, probes: new FakeVerifyProbes(w.nginx) };
}

const byName = (r: VerifyReport, name: string): Row => {
  const found = r.rows.find((x) => x.name === name);
  if (!found) throw new Error(`no row ${name} in:\n${r.rows.map((x) => x.name).join('\n')}`);
  return found;
};
const results = (r: VerifyReport): Record<string, string> => Object.fromEntries(r.rows.map((x) => [x.name, x.result]));

describe('verify: the table and its exit code', () => {
  it('passes with SKIP rows, and fails with the most serious failure', () => {
    expect(exitCodeFor([row('a', 'PASS'), row('b', 'SKIP')])).toBe(0);
    expect(exitCodeFor([row('a', 'FAIL', 6), row('b', 'FAIL', 3)])).toBe(3);
    expect(exitCodeFor([row('a', 'FAIL', 6), row('b', 'FAIL', 5)])).toBe(5);
    expect(exitCodeFor([row('a', 'FAIL', 3), row('b', 'FAIL', 4)])).toBe(4);
    expect(exitCodeFor([row('a', 'FAIL', 3), row('b', 'FAIL', 130)])).toBe(130);
    const r = summarize('validate', [row('a', 'PASS'), row('b', 'FAIL'), row('c', 'SKIP')], 1234);
    expect(r).toMatchObject({ result: 'FAIL', exitCode: 6, summary: { passed: 1, failed: 1, skipped: 1 }, durationMs: 1234 });
  });

  it('turns a failed report into an error carrying its exit code and the whole table', () => {
    expect(failureOf(summarize('validate', [row('a', 'PASS'), row('b', 'SKIP')], 1))).toBeNull();
    const e = failureOf(summarize('test', [row('x', 'PASS'), row('environment: green', 'FAIL'), row('cycle', 'FAIL', 3)], 1));
    expect(e?.exitCode).toBe(3);
    expect(e?.message).toBe('verify test: 2 of 3 checks failed: environment: green, cycle');
    expect((e?.details?.['rows'] as Row[]).map((r) => r.name)).toEqual(['x', 'environment: green', 'cycle']);
  });

  it('prints one line per row and the verdict with the exit code', () => {
    const lines = formatTable(summarize('validate', [row('system: NGINX running', 'PASS'), row('environment: green', 'FAIL')], 2500));
    expect(lines[0]).toMatch(/^CHECK\s+RESULT\s+TIME\s+DETAIL$/);
    expect(lines[2]).toMatch(/^environment: green\s+FAIL\s+1 ms/);
    expect(lines.at(-1)).toBe('FAIL (exit 6): 1 passed, 1 failed, 0 skipped in 2.5 s');
  });

  it('asks in a terminal, refuses elsewhere unless --yes; validate never asks', () => {
    expect(consent('validate', { yes: false, tty: false })).toBe('go');
    expect(consent('test', { yes: true, tty: false })).toBe('go');
    expect(consent('stress', { yes: false, tty: true })).toBe('ask');
    expect(consent('full', { yes: false, tty: false })).toBe('refuse');
  });

  it('refuses bad flags with exit 2, naming the flag', () => {
    const flags: VerifyFlags = {
      yes: false,
      apiPort: '9000',
      monitorPort: '8090',
      requireServe: false,
      path: '/',
      probeSeconds: '3',
      probeConnections: '4',
      steps: '50,100',
      stepSeconds: '2',
      cycles: '3',
      stressConnections: '8',
      maxFailed: '0',
    };
    expect(parseVerifyFlags('test', flags, 'http://127.0.0.1:8080')).toMatchObject({
      stress: { cycles: 3 },
      migration: { steps: [50, 100] },
    });
    for (const [key, value, flag] of [
      ['cycles', '0', '--cycles'],
      ['apiPort', '70000', '--api-port'],
      ['steps', '50,40', '--steps'],
      ['path', 'no-slash', '--path'],
      ['maxFailed', '-1', '--max-failed'],
      ['maxFailed', '101%', '--max-failed'],
    ] as const) {
      expect(() => parseVerifyFlags('test', { ...flags, [key]: value }, 'x')).toThrow(
        expect.objectContaining({ exitCode: 2, message: expect.stringContaining(flag) }),
      );
    }
  });
});

describe('verify validate', () => {
  it('passes every check on a healthy system; bgctl serve not running is SKIP, not PASS', async () => {
    const w = world();
    const r = await runVerify(w.ctx, w.probes, verifyOptions());
    const failing = r.rows.filter((x) => x.result === 'FAIL');
    expect(failing, JSON.stringify(failing)).toEqual([]);
    expect(results(r)).toMatchObject({ 'control API: GET /status': 'SKIP', 'monitoring: GET /health': 'SKIP' });
    expect(r.rows.filter((x) => x.result === 'PASS').length).toBe(r.rows.length - 2);
    expect(r.exitCode).toBe(0);
    expect(byName(r, 'performance: probe load').detail).toMatch(/0 failed \(0\.0%, limit 5\.0%\), p95 5\.0 ms \(limit 1000 ms\)/);
  });

  it('changes nothing: no apply, no state write, no lock', async () => {
    const w = world();
    await runVerify(w.ctx, w.probes, verifyOptions());
    expect(w.nginx.applied).toEqual([]);
    expect(w.store.saves).toEqual([]);
    expect(w.lock.acquired).toBe(0);
  });

  it('fails the named row with exit 6 when green is down', async () => {
    const w = world();
    w.prober.setHealth('green', false);
    const r = await runVerify(w.ctx, w.probes, verifyOptions());
    expect(byName(r, 'environment: green')).toMatchObject({ result: 'FAIL', detail: '127.0.0.1:8082: HTTP 503', exitCode: 6 });
    expect(byName(r, 'environment: blue').result).toBe('PASS');
    expect(r).toMatchObject({ result: 'FAIL', exitCode: 6 });
  });

  it('reports bgctl serve: PASS when it answers, FAIL when required but absent or when another program answers', async () => {
    const w = world();
    w.probes.serve = 'running';
    expect(results(await runVerify(w.ctx, w.probes, verifyOptions()))).toMatchObject({
      'control API: GET /status': 'PASS',
      'monitoring: GET /health': 'PASS',
    });
    w.probes.serve = 'absent';
    const required = await runVerify(
      w.ctx,
      w.probes,
      verifyOptions({ serve: { apiUrl: 'http://127.0.0.1:9000', monitorUrl: 'http://127.0.0.1:8090', required: true } }),
    );
    expect(byName(required, 'control API: GET /status')).toMatchObject({ result: 'FAIL', detail: expect.stringMatching(/not running/) });
    w.probes.serve = 'other';
    expect(byName(await runVerify(w.ctx, w.probes, verifyOptions()), 'control API: GET /status').detail).toMatch(
      /HTTP 404, not bgctl serve/,
    );
    w.probes.serve = 'degraded';
    expect(byName(await runVerify(w.ctx, w.probes, verifyOptions()), 'monitoring: GET /health')).toMatchObject({
      result: 'FAIL',
      detail: expect.stringMatching(/HTTP 503, degraded: green down/),
    });
  });

  it('fails when NGINX is down, and never reports the checks that need it as passed', async () => {
    const w = world({ nginx: new FakeNginx(null) });
    const r = await runVerify(w.ctx, w.probes, verifyOptions());
    expect(results(r)).toMatchObject({
      'system: NGINX running': 'FAIL',
      'system: front port answers': 'FAIL',
      'load balancing: live revision': 'FAIL',
      'performance: probe load': 'FAIL',
      'monitoring: access log': 'FAIL',
    });
  });

  it('fails readiness on an interrupted migration and on a lock held by a live process; a holding canary is ready', async () => {
    const interrupted = world({
      state: interruptedState({ passed: [25], pending: 50 }),
      nginx: new FakeNginx({ revision: 2, weights: { blue: 75, green: 25 } }),
    });
    expect(byName(await runVerify(interrupted.ctx, interrupted.probes, verifyOptions()), 'readiness: migration')).toMatchObject({
      result: 'FAIL',
      detail: expect.stringMatching(/interrupted: gradual blue → green with green at 25%: run `bgctl rollback`/),
    });
    const lock = new MemoryLock();
    lock.holdBy({ pid: 77, host: 'h', command: 'gradual green 2.1.0', startedAt: 'then', alive: true });
    const held = world({ lock });
    expect(byName(await runVerify(held.ctx, held.probes, verifyOptions()), 'readiness: lock')).toMatchObject({
      result: 'FAIL',
      detail: expect.stringMatching(/pid 77/),
    });
    const c = world();
    await canary(c.ctx, { color: 'green', percent: 10 });
    expect(byName(await runVerify(c.ctx, c.probes, verifyOptions()), 'readiness: migration')).toMatchObject({
      result: 'PASS',
      detail: expect.stringMatching(/a canary holds green at 10%/),
    });
  });

  it('checks that the live upstreams list exactly the configured servers', () => {
    const configured = { blue: ['127.0.0.1:8081'], green: ['127.0.0.1:8082', '127.0.0.1:8083'] };
    expect(upstreamServers(siteWith(configured))).toEqual(configured);
    expect(upstreamOutcome(siteWith(configured), configured, 'live').result).toBe('PASS');
    const stale = upstreamOutcome(siteWith({ blue: ['127.0.0.1:8081'], green: ['127.0.0.1:8082', '127.0.0.1:9999'] }), configured, 'live');
    expect(stale).toMatchObject({ result: 'FAIL' });
    expect(stale.detail).toMatch(/green lacks 127\.0\.0\.1:8083; green has 127\.0\.0\.1:9999, which bgctl.yaml does not list/);
  });

  it('judges the probe load on the error rate and p95, and never passes without latencies', () => {
    const limits = { errorRate: 0.05, p95LatencyMs: 100 };
    const o = { spanMs: 3000, connections: 4, url: 'http://x/' };
    const stats = (failed: number) => ({ total: 1000, ok: 1000 - failed, failed, byColor: { blue: 1000, green: 0, other: 0 }, errors: [] });
    expect(performanceOutcome(stats(0), fakeRead({ blue: [1000, 0], latencyMs: 20 }), limits, o).result).toBe('PASS');
    expect(performanceOutcome(stats(60), fakeRead({ blue: [1000, 0], latencyMs: 20 }), limits, o)).toMatchObject({
      result: 'FAIL',
      detail: expect.stringMatching(/60 failed \(6\.0%, limit 5\.0%\)/),
    });
    expect(performanceOutcome(stats(0), fakeRead({ blue: [1000, 0], latencyMs: 250 }), limits, o)).toMatchObject({
      result: 'FAIL',
      detail: expect.stringMatching(/p95 250 ms \(limit 100 ms\): too slow/),
    });
    expect(performanceOutcome(stats(0), fakeRead({ unreadable: 'EACCES' }), limits, o)).toMatchObject({
      result: 'FAIL',
      detail: expect.stringMatching(/no latencies \(EACCES\)/),
    });
  });

  it('fails the access log row when the log is unreadable or not written', async () => {
    const unreadable = world({ traffic: new FakeTraffic(() => ({ unreadable: 'permission denied' })) });
    expect(byName(await runVerify(unreadable.ctx, unreadable.probes, verifyOptions()), 'monitoring: access log')).toMatchObject({
      result: 'FAIL',
      detail: expect.stringMatching(/permission denied/),
    });
    const silent = world({ traffic: new FakeTraffic(() => ({})) });
    expect(byName(await runVerify(silent.ctx, silent.probes, verifyOptions()), 'monitoring: access log').detail).toMatch(
      /not one line was written for the \d+ answers/,
    );
  });

  it('skips the probe with --probe-seconds 0; judges state.json and its backup', async () => {
    const w = world();
    w.probes.backup = { path: '/fake/state/state.json.bak', status: 'missing', detail: 'missing' };
    const r = await runVerify(w.ctx, w.probes, verifyOptions({ probe: { seconds: 0, connections: 4 } }));
    expect(results(r)).toMatchObject({
      'performance: probe load': 'SKIP',
      'monitoring: access log': 'SKIP',
      'config: state backup': 'PASS',
    });
    expect(w.probes.loads).toEqual([]);
    // a state rewritten since (revision 2) must have its previous version kept
    await w.store.save({ ...w.store.state, revision: 2 });
    expect(
      byName(await runVerify(w.ctx, w.probes, verifyOptions({ probe: { seconds: 0, connections: 4 } })), 'config: state backup').result,
    ).toBe('FAIL');
    w.probes.backup = { path: '/fake/state/state.json.bak', status: 'invalid', detail: 'not valid JSON' };
    expect(
      byName(await runVerify(w.ctx, w.probes, verifyOptions({ probe: { seconds: 0, connections: 4 } })), 'config: state backup').result,
    ).toBe('FAIL');
    w.probes.stateExists = false;
    expect(
      byName(await runVerify(w.ctx, w.probes, verifyOptions({ probe: { seconds: 0, connections: 4 } })), 'config: state.json').result,
    ).toBe('SKIP');
  });
});

describe('verify test', () => {
  it('migrates to green and back under load, sees traffic move, and ends on blue', async () => {
    const w = world();
    const r = await runVerify(w.ctx, w.probes, verifyOptions({ suite: 'test' }));
    expect(r.rows.filter((x) => x.result === 'FAIL')).toEqual([]);
    expect(results(r)).toMatchObject({
      'cycle: starting point': 'PASS',
      'cycle: blue → green': 'PASS',
      'cycle: green → blue': 'PASS',
      'cycle: traffic moved': 'PASS',
      'cycle: ends on blue': 'PASS',
    });
    expect(byName(r, 'cycle: blue → green').detail).toMatch(/gradual green 2\.1\.0 .* 10\/10 fresh requests served by green/);
    expect(w.nginx.applied.map((c) => c.weights)).toEqual([
      { blue: 50, green: 50 },
      { blue: 0, green: 100 },
      { blue: 50, green: 50 },
      { blue: 100, green: 0 },
    ]);
    expect(w.store.state).toMatchObject({ stable: 'blue', weights: blue(100) });
    expect(r.exitCode).toBe(0);
  });

  it('exits 3 when the test migration is rolled back, and does not try the way back', async () => {
    const w = world();
    w.prober.setHealth('green', healthyUntil(1500)); // healthy for validate and pre-flight, then fails mid-step
    const r = await runVerify(w.ctx, w.probes, verifyOptions({ suite: 'test', probe: { seconds: 0, connections: 4 } }));
    expect(byName(r, 'cycle: blue → green')).toMatchObject({
      result: 'FAIL',
      exitCode: 3,
      detail: expect.stringMatching(/traffic is back on blue/),
    });
    expect(byName(r, 'cycle: green → blue').result).toBe('SKIP');
    expect(byName(r, 'cycle: ends on blue').result).toBe('PASS');
    expect(r.exitCode).toBe(3);
  });

  it('exits 4 when the way back fails and traffic stays on the other color', async () => {
    const w = world();
    w.prober.setHealth('blue', (_call, elapsed) => elapsed < 4000); // blue dies once traffic is on green
    const r = await runVerify(w.ctx, w.probes, verifyOptions({ suite: 'test', probe: { seconds: 0, connections: 4 } }));
    expect(byName(r, 'cycle: blue → green').result).toBe('PASS');
    expect(byName(r, 'cycle: green → blue').result).toBe('FAIL');
    expect(byName(r, 'cycle: ends on blue')).toMatchObject({
      result: 'FAIL',
      exitCode: 4,
      detail: expect.stringMatching(/stable green.*verify started on blue/),
    });
    expect(r.exitCode).toBe(4);
  });

  it('runs no migration when validation failed, or from a holding canary', async () => {
    const w = world();
    w.prober.setHealth('green', false);
    const r = await runVerify(w.ctx, w.probes, verifyOptions({ suite: 'test' }));
    expect(byName(r, 'deployment cycle')).toMatchObject({ result: 'SKIP', detail: 'not run: validation failed, nothing was changed' });
    expect(w.nginx.applied).toEqual([]);
    expect(r.exitCode).toBe(6);
    const c = world();
    await canary(c.ctx, { color: 'green', percent: 10 });
    const applied = c.nginx.applied.length;
    const rc = await runVerify(c.ctx, c.probes, verifyOptions({ suite: 'test' }));
    expect(byName(rc, 'cycle: starting point')).toMatchObject({
      result: 'FAIL',
      detail: expect.stringMatching(/a canary holds green at 10%/),
    });
    expect(c.nginx.applied.length).toBe(applied);
  });
});

describe('verify stress', () => {
  it('runs the round trips, prints the failed-request count and passes at 0', async () => {
    const w = world();
    const r = await runVerify(w.ctx, w.probes, verifyOptions({ suite: 'stress', probe: { seconds: 0, connections: 4 } }));
    expect(byName(r, 'stress: migrations')).toMatchObject({
      result: 'PASS',
      detail: expect.stringMatching(/^4 migrations \(2 round trips blue → green → blue\)/),
    });
    expect(byName(r, 'stress: failed requests')).toMatchObject({
      result: 'PASS',
      detail: expect.stringMatching(/8 keep-alive connections: \d+ requests, .*0 failed \(tolerance 0\)/),
    });
    expect(w.nginx.applied.length).toBe(8);
    expect(w.probes.loads.at(-1)).toMatchObject({ connections: 8 });
    expect(r.exitCode).toBe(0);
  });

  it('fails beyond the tolerance, and passes within it, with the count either way', async () => {
    const w = world();
    w.probes.failedRequests = 3;
    const strict = await runVerify(w.ctx, w.probes, verifyOptions({ suite: 'stress', probe: { seconds: 0, connections: 4 } }));
    expect(byName(strict, 'stress: failed requests')).toMatchObject({
      result: 'FAIL',
      detail: expect.stringMatching(/3 failed \(tolerance 0\); first failures: UND_ERR_SOCKET/),
    });
    expect(strict.exitCode).toBe(6);
    const tolerant = await runVerify(
      w.ctx,
      w.probes,
      verifyOptions({ suite: 'stress', maxFailed: { count: 3 }, probe: { seconds: 0, connections: 4 } }),
    );
    expect(byName(tolerant, 'stress: failed requests')).toMatchObject({
      result: 'PASS',
      detail: expect.stringMatching(/3 failed \(tolerance 3\)/),
    });
  });

  it('takes the tolerance as a share of all requests too', async () => {
    const w = world();
    w.probes.failedRequests = 3;
    const opts = (rate: number) => verifyOptions({ suite: 'stress', maxFailed: { rate }, probe: { seconds: 0, connections: 4 } });
    // the fake load answers 100 requests per color and step seen, plus the failed ones
    const loose = await runVerify(w.ctx, w.probes, opts(0.01));
    expect(byName(loose, 'stress: failed requests')).toMatchObject({
      result: 'PASS',
      detail: expect.stringMatching(/3 failed \(tolerance 1% = \d+ of \d+\)/),
    });
    expect(byName(await runVerify(w.ctx, w.probes, opts(0.001)), 'stress: failed requests').result).toBe('FAIL');
  });

  it('judges the test cycle load on thresholds.errorRate, not on --max-failed', async () => {
    const w = world();
    w.probes.failedRequests = 3;
    const r = await runVerify(w.ctx, w.probes, verifyOptions({ suite: 'test', probe: { seconds: 0, connections: 4 } }));
    expect(byName(r, 'cycle: traffic moved')).toMatchObject({
      result: 'PASS',
      detail: expect.stringMatching(/3 failed \(tolerance 5% \(thresholds\.errorRate\) = \d+ of \d+\)/),
    });
    w.probes.failedRequests = 500;
    expect(
      byName(
        await runVerify(w.ctx, w.probes, verifyOptions({ suite: 'test', probe: { seconds: 0, connections: 4 } })),
        'cycle: traffic moved',
      ).result,
    ).toBe('FAIL');
  });

  it('full runs validate, then the cycle, then stress', async () => {
    const w = world();
    const r = await runVerify(w.ctx, w.probes, verifyOptions({ suite: 'full', probe: { seconds: 0, connections: 4 } }));
    const names = r.rows.map((x) => x.name);
    expect(names.indexOf('environment: green')).toBeLessThan(names.indexOf('cycle: blue → green'));
    expect(names.indexOf('cycle: ends on blue')).toBeLessThan(names.indexOf('stress: migrations'));
    expect(w.nginx.applied.length).toBe(4 + 8);
    expect(r.exitCode).toBe(0);
  });
});

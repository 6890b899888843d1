import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startTraffic, type TrafficGenerator } from '../../src/demo/traffic.js';
import { jsonOf, waitForOutput } from '../helpers/cli.js';
import { makeSandbox, type Sandbox } from '../helpers/sandbox.js';
import { stopAllBackends } from '../helpers/backends.js';

/**
 * Steps judged on real traffic, end to end: real NGINX, real backend processes, live keep-alive
 * traffic on loopback (bounded: every generator stops by itself), bgctl as a child process.
 */

interface HistoryJson {
  migrations: {
    status: string;
    reason: string | null;
    steps: {
      percent: number;
      verdict: string;
      decision?: string | null;
      figures?: { colors: Record<string, { requests: number; errors: number }> };
    }[];
    timeline?: {
      color: string;
      firstErrorAt: string | null;
      decidedAt: string;
      restoredAt: string | null;
      firstServedAt: string | null;
      lastServedAt: string | null;
      servedSeconds: number | null;
    } | null;
  }[];
}

const boxes: Sandbox[] = [];
const loads: TrafficGenerator[] = [];
afterEach(async () => {
  await Promise.all(loads.splice(0).map((l) => l.stop()));
  await Promise.all(boxes.splice(0).map((b) => b.close()));
});
afterAll(stopAllBackends);

async function sandbox(name: string, greenVersion: string, overrides: Record<string, unknown>): Promise<Sandbox> {
  const box = await makeSandbox(name, { greenVersion, overrides });
  boxes.push(box);
  return box;
}

function load(box: Sandbox): TrafficGenerator {
  const l = startTraffic({ url: `http://127.0.0.1:${box.listen}/load`, connections: 4, keepAlive: true, maxSeconds: 60, pauseMs: 2 });
  loads.push(l);
  return l;
}

const ms = (a: string | null | undefined, b: string | null | undefined): number => (a && b ? Date.parse(b) - Date.parse(a) : NaN);

describe('gradual judged on the access log', () => {
  it('rolls back a release that passes its health checks but fails half its requests, at the first window with enough requests', async () => {
    const box = await sandbox('analysis-flaky', '2.1.0-flaky', {
      migration: { steps: [25, 50, 100], stepSeconds: 5 },
      thresholds: { errorRate: 0.05, errorRateForSeconds: 0, minRequests: 20, windowSeconds: 2 },
    });
    const traffic = load(box);
    const r = await box.cli(['gradual', 'green', '2.1.0-flaky', '--json']);
    expect(r.exitCode, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/step 1: error rate 0\.\d+ > 0\.05 for 0\.0 s over \d+ requests; traffic is back on blue/);
    // health never failed: only the real traffic showed it
    const h = jsonOf<HistoryJson>(await box.cli(['history', '--json']));
    const m = h.migrations[0];
    expect(m?.status).toBe('rolled_back');
    expect(m?.steps[0]).toMatchObject({ percent: 25, verdict: 'failed', decision: expect.stringMatching(/^step 1: error rate/) });
    const green = m?.steps[0]?.figures?.colors['green'];
    expect(green?.errors).toBeGreaterThan(0);
    expect((green?.errors ?? 0) / (green?.requests ?? 1)).toBeGreaterThan(0.05);
    const t = m?.timeline;
    expect(t).toMatchObject({ color: 'green' });
    expect(t?.firstErrorAt && t.decidedAt && t.restoredAt && t.firstServedAt && t.lastServedAt).toBeTruthy();
    // decided on a read that showed green failing, restored after deciding, green served until about then
    expect(ms(t?.firstErrorAt, t?.decidedAt)).toBeGreaterThanOrEqual(0);
    expect(ms(t?.decidedAt, t?.restoredAt)).toBeGreaterThanOrEqual(0);
    expect(t?.servedSeconds).toBeGreaterThan(0);
    // everything is on blue again, for real
    for (let i = 0; i < 10; i++) expect(await box.get()).toEqual({ status: 200, color: 'blue' });
    const s = traffic.stats();
    console.log(
      `[analysis] flaky green: first failure seen → decision ${ms(t?.firstErrorAt, t?.decidedAt)} ms, decision → traffic back on blue ` +
        `${ms(t?.decidedAt, t?.restoredAt)} ms; green served ${t?.servedSeconds?.toFixed(2)} s; clients: ${s.total} requests, ${s.failed} failed`,
    );
  });

  it('a dying color (process killed at 50%) rolls back by itself; idempotent clients barely notice', async () => {
    const box = await sandbox('analysis-dying', '2.1.0', {
      migration: { steps: [50, 100], stepSeconds: 30 },
      thresholds: { errorRate: 0.05, errorRateForSeconds: 0, minRequests: 20, windowSeconds: 2 },
    });
    const traffic = load(box);
    const run = box.spawn(['gradual', 'green', '2.1.0']);
    await waitForOutput(run, /step 1\/2 +applied/);
    await new Promise((r) => setTimeout(r, 1000)); // let green take its half for a moment
    traffic.reset();
    box.green.kill('SIGKILL');
    const r = await run;
    expect(r.exitCode, String(r.stdout)).toBe(3);
    expect(String(r.stdout)).toMatch(/ROLLBACK +→ blue 100% \/ green 0%: step 1: /);
    const s = await traffic.stop();
    loads.splice(0);
    for (let i = 0; i < 5; i++) expect(await box.get()).toEqual({ status: 200, color: 'blue' });
    console.log(`[analysis] green killed at 50%: ${s.failed} of ${s.total} client requests failed (${s.errors.join('; ') || 'none'})`);
    // NGINX retries an idempotent request that found green dead on blue: at most a handful can fail
    expect(s.total).toBeGreaterThan(100);
    expect(s.failed / s.total).toBeLessThan(0.01);
  });
});

describe('status --watch', () => {
  it('shows live per-color request rate, error rate and p95 from the access log', async () => {
    const box = await sandbox('analysis-watch', '2.1.0', {});
    expect((await box.cli(['canary', 'green', '50'])).exitCode).toBe(0);
    load(box);
    const watch = box.spawn(['status', '--watch', '--interval', '0.5']);
    const out = await waitForOutput(watch, /green now +[1-9][\d.]* req\/s, 5xx 0\.0%, p95 \d+ ms \(last [\d.]+ s\)/);
    expect(out).toMatch(/blue now +[1-9][\d.]* req\/s, 5xx 0\.0%, p95 \d+ ms/);
    watch.kill('SIGINT');
    const r = await watch;
    expect(r.exitCode).toBe(0);
  });
});

import { userInfo } from 'node:os';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTraffic, type TrafficGenerator } from '../../src/demo/traffic.js';
import { jsonOf, waitForOutput, type CliProcess } from '../helpers/cli.js';
import { makeSandbox, type Sandbox } from '../helpers/sandbox.js';

/**
 * pause / resume / promote / abort of a migration run by a CLI `gradual` in another process, and
 * SIGHUP, on a real NGINX with real backends under a bounded load to 127.0.0.1.
 */
const me = (): string => `${process.env['USER'] ?? userInfo().username}`;
const APPLIED_25 = /step 1\/\d\s+applied\s+blue 75% \/ green 25%/;

interface StatusMigration {
  status: string;
  step: number | null;
  paused: { by: string; since: string } | null;
}

describe('controlling a running migration from another terminal', () => {
  let box: Sandbox;
  let load: TrafficGenerator | null = null;
  let gradual: CliProcess | null = null;
  beforeAll(async () => {
    // judged on a long window so only the operator moves a step on
    box = await makeSandbox('control', { overrides: { migration: { maxExtendSeconds: 0 } } });
  });
  afterEach(async () => {
    if (gradual && gradual.exitCode === null) {
      gradual.kill('SIGTERM');
      await gradual;
    }
    gradual = null;
    await load?.stop();
    load = null;
  });
  afterAll(async () => {
    await box?.close();
  });

  const startLoad = (): void => {
    load = startTraffic({ url: `http://127.0.0.1:${box.listen}/load`, connections: 4, keepAlive: true, maxSeconds: 90, pauseMs: 5 });
  };
  const migration = async (): Promise<StatusMigration> => (await box.status()).migration as unknown as StatusMigration;

  it('refuses with exit 6 and changes nothing when no migration runs', async () => {
    for (const cmd of ['pause', 'resume', 'promote', 'abort']) {
      const r = await box.cli([cmd]);
      expect(r.exitCode, `${cmd}: ${r.stderr}`).toBe(6);
      expect(r.stderr).toMatch(new RegExp(`${cmd}: no migration is running; nothing was changed`));
    }
    expect((await box.status()).weights).toEqual({ blue: 100, green: 0 });
  });

  it('pauses (weights held past the step time), resumes, promotes and fully promotes a gradual under load', async () => {
    startLoad();
    gradual = box.spawn(['gradual', 'green', '2.1.0', '--steps', '25,50,75,100', '--step-seconds', '8']);
    await waitForOutput(gradual, APPLIED_25, 60_000);

    const p = await box.cli(['pause', '--json']);
    expect(p.exitCode, p.stderr).toBe(0);
    const paused = jsonOf<{ changed: boolean; paused: { by: string; since: string } }>(p);
    expect(paused).toMatchObject({ changed: true, paused: { by: expect.stringMatching(new RegExp(`^${me()}@`)) as string } });
    // held: past the 8 s step time, still at step 1 (25%), and status says who paused and since when
    const until = Date.now() + 10_000;
    while (Date.now() < until) {
      const s = await box.status();
      expect(s.weights).toEqual({ blue: 75, green: 25 });
      await new Promise((r) => setTimeout(r, 1000));
    }
    const m = await migration();
    expect(m).toMatchObject({ status: 'running', step: 1, paused: { by: paused.paused.by, since: paused.paused.since } });
    const text = await box.cli(['status']);
    expect(text.stdout).toMatch(/PAUSED by \S+@\S+ since \d{4}-/);
    // a second pause changes nothing
    const again = await box.cli(['pause', '--json']);
    expect(again.exitCode).toBe(0);
    expect(jsonOf(again)).toMatchObject({ changed: false, message: `already paused by ${paused.paused.by}` });

    const r = await box.cli(['resume', '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(jsonOf(r)).toMatchObject({ changed: true, paused: null });
    expect((await migration()).paused).toBeNull();

    // promote: step 1 ends now; the next one (50%) is applied
    const step2 = waitForOutput(gradual, /step 2\/4\s+applied\s+blue 50% \/ green 50%/, 30_000);
    const pr = await box.cli(['promote']);
    expect(pr.exitCode, pr.stderr).toBe(0);
    await step2;
    const full = await box.cli(['promote', '--full']);
    expect(full.exitCode, full.stderr).toBe(0);
    const g = await gradual;
    expect(g.exitCode, g.stderr).toBe(0);
    expect(String(g.stdout) + String(g.stderr)).toMatch(/promoted by .*\(full\)|completed/);
    const s = await box.status();
    expect(s).toMatchObject({ stable: 'green', weights: { blue: 0, green: 100 }, drift: null });
    const stats = await load!.stop();
    expect(stats.failed / stats.total).toBeLessThan(0.01);
    const h = jsonOf<{ migrations: { controls?: { action: string; by: string }[]; steps: { percent: number; decision?: string }[] }[] }>(
      await box.cli(['history', '--json']),
    );
    expect(h.migrations[0]?.controls?.map((c) => c.action)).toEqual(['pause', 'pause', 'resume', 'promote', 'promote']);
    const steps = h.migrations[0]?.steps ?? [];
    expect(steps.slice(0, 2).map((x) => x.percent)).toEqual([25, 50]);
    expect(steps[0]?.decision).toMatch(/^promoted by \S+@\S+$/);
    expect(steps[1]?.decision).toMatch(/^promoted by \S+@\S+ \(full\)$/);
    expect(steps.at(-1)).toMatchObject({ percent: 100, decision: expect.stringMatching(/^promoted by .+ \(full\)$/) as string });
    // back to blue for the next test
    expect((await box.cli(['rollback'])).exitCode).toBe(0);
  });

  it('abort: the gradual exits 3 naming who aborted; abort itself exits 0 once traffic is back on blue', async () => {
    startLoad();
    gradual = box.spawn(['gradual', 'green', '2.1.0', '--steps', '25,50,100', '--step-seconds', '60']);
    await waitForOutput(gradual, APPLIED_25, 60_000);
    const a = await box.cli(['abort', '--json']);
    expect(a.exitCode, a.stderr).toBe(0);
    expect(jsonOf(a)).toMatchObject({
      action: 'abort',
      weights: { blue: 100, green: 0 },
      stable: 'blue',
      migration: { status: 'rolled_back' },
    });
    const g = await gradual;
    expect(g.exitCode).toBe(3);
    expect(String(g.stderr)).toMatch(new RegExp(`gradual green 2\\.1\\.0: aborted by ${me()}@\\S+; traffic is back on blue \\(100%\\)`));
    expect(await box.status()).toMatchObject({ stable: 'blue', weights: { blue: 100, green: 0 }, drift: null });
    const seen = await Promise.all(Array.from({ length: 10 }, () => box.get()));
    expect(seen.every((x) => x.color === 'blue')).toBe(true);
    const stats = await load!.stop();
    expect(stats.failed / stats.total).toBeLessThan(0.01);
  });

  it('SIGHUP (terminal closed) returns traffic to the stable color and exits 130', async () => {
    startLoad();
    gradual = box.spawn(['gradual', 'green', '2.1.0', '--steps', '25,50,100', '--step-seconds', '60']);
    await waitForOutput(gradual, APPLIED_25, 60_000);
    gradual.kill('SIGHUP');
    const g = await gradual;
    expect(g.exitCode).toBe(130);
    expect(String(g.stderr)).toMatch(/SIGHUP received; returning traffic to the stable color/);
    expect(await box.status()).toMatchObject({ stable: 'blue', weights: { blue: 100, green: 0 }, drift: null });
    const m = await migration();
    expect(m.status).toBe('rolled_back');
  });
});

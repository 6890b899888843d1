import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTraffic } from '../../src/demo/traffic.js';
import { jsonOf } from '../helpers/cli.js';
import { makeSandbox, type Sandbox } from '../helpers/sandbox.js';

describe('bgctl migrations on a real NGINX', () => {
  let box: Sandbox;
  beforeAll(async () => {
    box = await makeSandbox('cli-migration');
  });
  afterAll(async () => {
    await box?.close();
  });

  it('starts on blue at 100% on a fresh install', async () => {
    const s = await box.status();
    expect(s).toMatchObject({ stable: 'blue', active: 'blue', weights: { blue: 100, green: 0 }, drift: null });
    expect(s.nginx.live?.revision).toBe(s.revision);
    const seen = await Promise.all(Array.from({ length: 10 }, () => box.get()));
    expect(seen.every((r) => r.status === 200 && r.color === 'blue')).toBe(true);
  });

  it('migrates 25 → 50 → 75 → 100 under continuous keep-alive load', async () => {
    const traffic = startTraffic({
      url: `http://127.0.0.1:${box.listen}/load`,
      connections: 8,
      keepAlive: true,
      maxSeconds: 60,
      pauseMs: 2,
    });
    const r = await box.cli(['gradual', 'green', '2.1.0', '--steps', '25,50,75,100', '--step-seconds', '1']);
    const stats = await traffic.stop();
    expect(r.exitCode, r.stderr).toBe(0);
    for (const w of ['blue 75% / green 25%', 'blue 50% / green 50%', 'blue 25% / green 75%', 'blue 0% / green 100%'])
      expect(r.stdout).toContain(w);
    const s = await box.status();
    expect(s).toMatchObject({ stable: 'green', active: 'green', weights: { blue: 0, green: 100 }, drift: null });
    // both colors really served traffic, and the site stayed up: reloads may reset a few keep-alive
    // requests (measured by the benchmarks), but never more than a sliver of them
    expect(stats.byColor.blue).toBeGreaterThan(50);
    expect(stats.byColor.green).toBeGreaterThan(50);
    expect(stats.failed / stats.total).toBeLessThan(0.01);
    console.log(`full migration under 8 keep-alive clients: ${stats.failed} failed of ${stats.total}`);
    const after = await Promise.all(Array.from({ length: 10 }, () => box.get()));
    expect(after.every((x) => x.color === 'green')).toBe(true);
  });

  it('reports the migration in history with every step', async () => {
    const r = await box.cli(['history', '--json']);
    const { migrations } = jsonOf<{
      migrations: { kind: string; status: string; to: string; steps: { percent: number; verdict: string; probes: { rounds: number } }[] }[];
    }>(r);
    expect(migrations[0]).toMatchObject({ kind: 'gradual', status: 'completed', to: 'green' });
    expect(migrations[0]?.steps.map((s) => s.percent)).toEqual([25, 50, 75, 100]);
    expect(migrations[0]?.steps.every((s) => s.verdict === 'passed' && s.probes.rounds >= 2)).toBe(true);
  });

  it('rolls back a completed migration, and a second rollback does not flip-flop', async () => {
    const r1 = await box.cli(['rollback', '--json']);
    expect(r1.exitCode, r1.stderr).toBe(0);
    expect(jsonOf(r1)).toMatchObject({ action: 'reverted', color: 'blue', weights: { blue: 100, green: 0 } });
    expect((await box.get()).color).toBe('blue');
    const r2 = await box.cli(['rollback', '--json']);
    expect(r2.exitCode, r2.stderr).toBe(0);
    expect(jsonOf(r2)).toMatchObject({ action: 'reasserted', color: 'blue' });
    const s = await box.status();
    expect(s).toMatchObject({ stable: 'blue', weights: { blue: 100, green: 0 }, drift: null });
    expect((await box.get()).color).toBe('blue');
  });

  it('holds a canary, continues it with gradual, and refuses a version mismatch with exit 6', async () => {
    const c = await box.cli(['canary', 'green', '10']);
    expect(c.exitCode, c.stderr).toBe(0);
    expect((await box.status()).migration).toMatchObject({ status: 'holding', to: 'green' });
    const bad = await box.cli(['gradual', 'green', '9.9.9']);
    expect(bad.exitCode).toBe(6);
    expect(bad.stderr).toMatch(/version mismatch: servers report 2\.1\.0, expected 9\.9\.9/);
    expect((await box.status()).weights).toEqual({ blue: 90, green: 10 });
    const g = await box.cli(['gradual', 'green', '2.1.0', '--steps', '50,100', '--step-seconds', '0']);
    expect(g.exitCode, g.stderr).toBe(0);
    expect(g.stdout).toContain('steps 50% → 100%');
    expect((await box.status()).weights).toEqual({ blue: 0, green: 100 });
  });

  it('--dry-run prints the plan and the configs and changes nothing', async () => {
    const before = await box.stateText();
    const r = await box.cli(['gradual', 'blue', '1.0.0', '--dry-run', '--steps', '50,100']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/dry run: nothing was changed/);
    expect(r.stdout).toMatch(/step 1: blue 50% \/ green 50%/);
    // IP-literal servers: an exact weighted round-robin upstream holding both colors at 50/50
    expect(r.stdout).toMatch(/upstream bgctl_split \{/);
    expect(await box.stateText()).toBe(before);
    expect((await box.get()).color).toBe('green');
  });

  it('switches directly and returns to blue after SIGINT during a migration (exit 130)', async () => {
    const sw = await box.cli(['switch', 'blue']);
    expect(sw.exitCode, sw.stderr).toBe(0);
    expect((await box.status()).weights).toEqual({ blue: 100, green: 0 });
    const child = box.spawn(['gradual', 'green', '2.1.0', '--steps', '50,100', '--step-seconds', '30']);
    const { waitForOutput } = await import('../helpers/cli.js');
    await waitForOutput(child, /step 1 +observe/);
    expect((await box.status()).weights).toEqual({ blue: 50, green: 50 });
    child.kill('SIGINT');
    const r = await child;
    expect(r.exitCode).toBe(130);
    expect(String(r.stderr)).toMatch(/returning traffic to the stable color/);
    const s = await box.status();
    expect(s).toMatchObject({ stable: 'blue', weights: { blue: 100, green: 0 }, drift: null });
    expect(s.migration).toMatchObject({ status: 'rolled_back' });
  });

  it('SIGTERM (a CI job cancelled) also returns traffic to the stable color and exits 130', async () => {
    const child = box.spawn(['canary', 'green', '30']);
    expect((await child).exitCode).toBe(0);
    const run = box.spawn(['gradual', 'green', '2.1.0', '--steps', '60,100', '--step-seconds', '30']);
    const { waitForOutput } = await import('../helpers/cli.js');
    // it continues the canary, whose 30% is step 1 of the record: its first own step is step 2, as history says
    await waitForOutput(run, /step 2 +observe/);
    expect((await box.status()).weights).toEqual({ blue: 40, green: 60 });
    run.kill('SIGTERM');
    const r = await run;
    expect(r.exitCode).toBe(130);
    expect(await box.status()).toMatchObject({ stable: 'blue', weights: { blue: 100, green: 0 }, drift: null });
  });
});

describe('automatic rollback of a failing target', () => {
  let box: Sandbox;
  beforeAll(async () => {
    box = await makeSandbox('cli-failing', { greenVersion: '2.2.0-broken' });
  });
  afterAll(async () => {
    await box?.close();
  });

  it('rolls back to blue and exits 3 when green fails its health checks mid-migration', async () => {
    const traffic = startTraffic({
      url: `http://127.0.0.1:${box.listen}/load`,
      connections: 4,
      keepAlive: true,
      maxSeconds: 60,
      pauseMs: 5,
    });
    const r = await box.cli(['gradual', 'green', '2.2.0-broken', '--steps', '25,50,75,100', '--step-seconds', '3']);
    await traffic.stop();
    expect(r.exitCode, r.stdout + r.stderr).toBe(3);
    // whichever sees it first: the health probe (HTTP 500) or the access log's error rate (checked every 100 ms)
    expect(r.stderr).toMatch(/(target failed its health checks .*HTTP 500|error rate [\d.]+ > 0\.05).*traffic is back on blue/);
    const s = await box.status();
    expect(s).toMatchObject({ stable: 'blue', weights: { blue: 100, green: 0 }, drift: null });
    expect(s.migration).toMatchObject({ status: 'rolled_back', to: 'green' });
    const seen = await Promise.all(Array.from({ length: 10 }, () => box.get()));
    expect(seen.every((x) => x.color === 'blue' && x.status === 200)).toBe(true);
    // a rollback after an automatic rollback re-asserts blue and exits 0
    const rb = await box.cli(['rollback']);
    expect(rb.exitCode).toBe(0);
    expect(rb.stdout).toMatch(/nothing to revert: blue has 100%/);
  });
});

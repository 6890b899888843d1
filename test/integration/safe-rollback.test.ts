import { chmod } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTraffic } from '../../src/demo/traffic.js';
import { startBackendProcess, stopAllBackends, type BackendProcess } from '../helpers/backends.js';
import { jsonOf, waitForOutput } from '../helpers/cli.js';
import { makeSandbox, type Sandbox } from '../helpers/sandbox.js';

/**
 * Rollback only onto a healthy color, and NGINX's own fallback: the idle color backs up the one at 100%
 * so a dead live color fails over with no bgctl process running. Both apply modes, real NGINX, real
 * backends killed with SIGKILL like crashing apps.
 */

interface FallbackJson {
  fallback: { enabled: boolean; color: string | null; detail: string };
}

async function batch(box: Sandbox, n: number): Promise<{ ok: number; byColor: Record<string, number> }> {
  const byColor: Record<string, number> = {};
  let ok = 0;
  for (let i = 0; i < n; i++) {
    const r = await box.get();
    if (r.status === 200) ok++;
    byColor[r.color ?? ''] = (byColor[r.color ?? ''] ?? 0) + 1;
  }
  return { ok, byColor };
}

/**
 * A backend of `color` again, on the port it had (a restarted app). NGINX keeps a failed server marked
 * down for nginx.failTimeout (10 s): `servesAgain` waits until requests reach it.
 */
const revive = (color: 'blue' | 'green', port: number, version: string): Promise<BackendProcess> =>
  startBackendProcess({ color, version, port });

async function servesAgain(box: Sandbox, color: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if ((await box.get()).color === color) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${color} did not serve again within 30 s`);
}

for (const mode of ['reload', 'dynamic'] as const) {
  describe(`health-checked rollback and NGINX fallback (${mode} mode)`, () => {
    let box: Sandbox;
    let blue: BackendProcess;
    let green: BackendProcess;
    beforeAll(async () => {
      box = await makeSandbox(`safe-rollback-${mode}`, { overrides: { nginx: { mode } }, noStart: true });
      // NGINX's workers (nobody) read the weights file in there
      await chmod(box.dir, 0o755);
      const r = await box.cli(['start']);
      if (r.exitCode !== 0) throw new Error(`bgctl start failed (${r.exitCode}):\n${r.stdout}\n${r.stderr}`);
      blue = box.blue;
      green = box.green;
    });
    afterAll(async () => {
      await box?.close();
      await stopAllBackends();
    });

    it('after a completed migration the idle color is armed as the fallback, and status says so', async () => {
      const r = await box.cli(['gradual', 'green', '2.1.0', '--steps', '50,100', '--step-seconds', '1']);
      expect(r.exitCode, r.stderr).toBe(0);
      const s = jsonOf<FallbackJson>(await box.cli(['status', '--json']));
      expect(s.fallback).toMatchObject({ enabled: true, color: 'blue' });
      expect((await box.cli(['status'])).stdout).toMatch(/fallback\s+on: blue takes green's traffic if every green server fails/);
    });

    it('a dead live color fails over to the fallback inside NGINX, under load, with no bgctl process running', async () => {
      const traffic = startTraffic({
        url: `http://127.0.0.1:${box.listen}/load`,
        connections: 4,
        keepAlive: true,
        maxSeconds: 30,
        pauseMs: 2,
      });
      await new Promise((r) => setTimeout(r, 500));
      green.kill('SIGKILL');
      await new Promise((r) => setTimeout(r, 1500));
      const stats = await traffic.stop();
      const after = await batch(box, 100);
      // every request after the crash is answered by blue; the load itself lost (almost) nothing
      expect(after).toEqual({ ok: 100, byColor: { blue: 100 } });
      expect(stats.failed / stats.total).toBeLessThan(0.01);
      console.log(`${mode}: green killed at 100%: ${stats.failed} failed of ${stats.total} under load, then 100/100 served by blue`);
      green = await revive('green', green.port, '2.1.0');
      await servesAgain(box, 'green');
      expect(await batch(box, 20)).toEqual({ ok: 20, byColor: { green: 20 } });
    });

    it('rollback onto a dead color is refused with exit 6 naming it and its server; nothing changes', async () => {
      blue.kill('SIGKILL');
      await new Promise((r) => setTimeout(r, 200));
      const before = await box.stateText();
      const r = await box.cli(['rollback']);
      expect(r.exitCode, r.stdout).toBe(6);
      expect(r.stderr).toMatch(new RegExp(`rollback: blue is not healthy \\(127\\.0\\.0\\.1:${blue.port}: [^)]+\\); nothing was changed`));
      expect(r.stderr).toMatch(/--force/);
      expect(await box.stateText()).toBe(before);
      expect(await batch(box, 20)).toEqual({ ok: 20, byColor: { green: 20 } });
    });

    it('rollback --force moves traffic anyway and says what it did', async () => {
      const r = await box.cli(['rollback', '--force', '--json']);
      expect(r.exitCode, r.stderr).toBe(0);
      const j = jsonOf<{ action: string; color: string; forced: string | null }>(r);
      expect(j).toMatchObject({ action: 'reverted', color: 'blue' });
      expect(j.forced).toMatch(/blue failed its health probe .*--force/);
      blue = await revive('blue', blue.port, '1.0.0');
      const ok = await box.cli(['rollback']);
      expect(ok.exitCode, ok.stderr).toBe(0);
      expect(await batch(box, 10)).toEqual({ ok: 10, byColor: { blue: 10 } });
    });

    it('the stable color dying mid-migration is said in plain words; the migration completes on its checks (exit 0)', async () => {
      const p = box.spawn(['gradual', 'green', '2.1.0', '--steps', '50,100', '--step-seconds', '3']);
      await waitForOutput(p, /step 1\/2.*applied|observe/i, 60_000);
      blue.kill('SIGKILL');
      const r = await p;
      expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
      expect(`${r.stdout}\n${r.stderr}`).toMatch(/the stable color fails its health probe \(blue: 127\.0\.0\.1:\d+: [^)]+\)/);
      const s = await box.status();
      expect(s).toMatchObject({ stable: 'green', weights: { blue: 0, green: 100 } });
      // blue is down: no fallback armed onto it
      expect(jsonOf<FallbackJson>(await box.cli(['status', '--json'])).fallback.color).toBeNull();
      blue = await revive('blue', blue.port, '1.0.0');
      const back = await box.cli(['rollback']);
      expect(back.exitCode, back.stderr).toBe(0);
    });

    it('interrupted with the stable color dead: traffic goes to the healthy new color, never back onto the dead one (exit 4)', async () => {
      const p = box.spawn(['gradual', 'green', '2.1.0', '--steps', '50,100', '--step-seconds', '30']);
      await waitForOutput(p, /observe/i, 60_000);
      blue.kill('SIGKILL');
      await new Promise((r) => setTimeout(r, 300));
      p.kill('SIGTERM');
      const r = await p;
      expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(4);
      expect(r.stderr).toMatch(/the stable color is down \(blue: [^)]+\), so traffic was not moved back onto it/);
      expect(r.stderr).toMatch(/the new color, healthy, carries all traffic/);
      const s = await box.status();
      expect(s).toMatchObject({ weights: { blue: 0, green: 100 }, stable: 'green', drift: null });
      expect(await batch(box, 20)).toEqual({ ok: 20, byColor: { green: 20 } });
      blue = await revive('blue', blue.port, '1.0.0');
    });
  });
}

import { copyFile, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForOutput } from '../helpers/cli.js';
import { makeSandbox, type Sandbox } from '../helpers/sandbox.js';

/**
 * Crash safety: bgctl killed with SIGKILL at several points of a migration. NGINX must keep serving
 * the last applied config, state.json must parse, status must say "interrupted", and both `rollback`
 * and re-running `gradual` must recover.
 */
describe('kill -9 during a migration', () => {
  let box: Sandbox;
  beforeAll(async () => {
    box = await makeSandbox('cli-crash');
  });
  afterAll(async () => {
    await box?.close();
  });

  const points: { at: RegExp; recover: 'rollback' | 'gradual' }[] = [
    { at: /step 1\/3 +applying/, recover: 'rollback' },
    { at: /step 1 +observe/, recover: 'gradual' },
    { at: /step 2\/3 +applied/, recover: 'rollback' },
    { at: /step 2 +observe .*health ok/, recover: 'gradual' },
  ];

  for (const [i, p] of points.entries()) {
    it(`point ${i + 1}: killed at ${p.at.source}, recovered by ${p.recover}`, async () => {
      const s0 = await box.status();
      const target = s0.stable === 'blue' ? 'green' : 'blue';
      const version = target === 'green' ? '2.1.0' : '1.0.0';
      const child = box.spawn(['gradual', target, version, '--steps', '25,50,100', '--step-seconds', '20']);
      await waitForOutput(child, p.at);
      child.kill('SIGKILL');
      await child;

      // NGINX keeps serving, with no error, whichever config was last applied
      const served = await Promise.all(Array.from({ length: 20 }, () => box.get()));
      expect(served.every((r) => r.status === 200)).toBe(true);
      // state.json is intact JSON and status tells the truth
      JSON.parse(await box.stateText());
      const s = await box.status();
      expect(s.migration).toMatchObject({ status: 'interrupted', to: target });
      expect(s.nginx.live).not.toBeNull();

      if (p.recover === 'rollback') {
        const r = await box.cli(['rollback']);
        expect(r.exitCode, r.stderr).toBe(0);
        expect(r.stderr).toMatch(/reclaim/i); // the dead holder's lock is reclaimed with a warning
        const after = await box.status();
        expect(after).toMatchObject({ stable: s0.stable, weights: s0.weights, drift: null });
        expect(after.migration?.status).toBe('rolled_back');
        const seen = await Promise.all(Array.from({ length: 10 }, () => box.get()));
        expect(seen.every((x) => x.color === s0.stable)).toBe(true);
      } else {
        const r = await box.cli(['gradual', target, version, '--steps', '25,50,100', '--step-seconds', '0']);
        expect(r.exitCode, r.stdout + r.stderr).toBe(0);
        const after = await box.status();
        expect(after).toMatchObject({ stable: target, drift: null });
        expect(after.weights[target]).toBe(100);
        const seen = await Promise.all(Array.from({ length: 10 }, () => box.get()));
        expect(seen.every((x) => x.color === target)).toBe(true);
      }
    });
  }
});

describe('two commands at once', () => {
  let box: Sandbox;
  beforeAll(async () => {
    box = await makeSandbox('cli-lock');
  });
  afterAll(async () => {
    await box?.close();
  });

  it('a second mutating command exits 5 naming the holder and changes nothing', async () => {
    // long steps: the checks below take a few seconds on a busy machine; the migration is interrupted after them
    const child = box.spawn(['gradual', 'green', '2.1.0', '--steps', '50,100', '--step-seconds', '60']);
    await waitForOutput(child, /step 1 +observe/);
    const before = await box.stateText();
    for (const args of [['canary', 'green', '10'], ['switch', 'blue'], ['gradual', 'green', '2.1.0'], ['stop']]) {
      const r = await box.cli(args);
      expect(r.exitCode, `${args.join(' ')}: ${r.stderr}`).toBe(5);
      expect(r.stderr).toMatch(/gradual green 2\.1\.0.*pid \d+/);
    }
    // read-only commands still work while the lock is held
    const s = await box.cli(['status']);
    expect(s.exitCode).toBe(0);
    expect(s.stdout).toMatch(/migration +gradual blue → green 2\.1\.0: running/);
    expect(JSON.parse(await box.stateText()).weights).toEqual(JSON.parse(before).weights);
    child.kill('SIGTERM');
    const r = await child;
    expect(r.exitCode, r.stderr).toBe(130);
    expect((await box.status()).weights).toEqual({ blue: 100, green: 0 });
  });
  it('rollback during a migration stops it first: traffic back on the stable color at once, exit 0', async () => {
    const s0 = await box.status();
    const target = s0.stable === 'blue' ? 'green' : 'blue';
    const child = box.spawn(['gradual', target, target === 'green' ? '2.1.0' : '1.0.0', '--steps', '50,100', '--step-seconds', '30']);
    await waitForOutput(child, /step 1 +observe/);
    const r = await box.cli(['rollback', '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ color: s0.stable, preempted: { pid: child.pid } });
    expect((await child).exitCode).toBe(130);
    const s = await box.status();
    expect(s).toMatchObject({ stable: s0.stable, weights: s0.weights, drift: null });
    expect(s.migration?.status).toBe('rolled_back');
    const again = await box.cli(['rollback']);
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toMatch(/nothing to revert/);
  });

  it('a corrupt state.json is refused with exit 4 and the way back from the backup, never overwritten', async () => {
    const file = path.join(box.dir, 'state', 'state.json');
    const good = await readFile(file, 'utf8');
    await writeFile(file, good.slice(0, good.length / 2)); // a torn write, as a full disk could leave
    for (const args of [['status'], ['rollback'], ['gradual', 'blue', '1.0.0']]) {
      const r = await box.cli(args);
      expect(r.exitCode, `${args.join(' ')}: ${r.stderr}`).toBe(4);
      expect(r.stderr).toMatch(/state\.json/);
      expect(r.stderr).toMatch(/cp .*state\.json\.bak .*state\.json/);
    }
    expect(await readFile(file, 'utf8')).toBe(good.slice(0, good.length / 2));
    await copyFile(`${file}.bak`, file);
    const s = await box.cli(['status', '--json']);
    expect(s.exitCode, s.stderr).toBe(0);
    // the site kept running on what NGINX served all along
    expect((await box.get()).status).toBe(200);
  });
});

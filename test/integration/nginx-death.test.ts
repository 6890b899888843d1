import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPidAlive, listWorkers, readMasterPid } from '../../src/adapters/nginx/workers.js';
import { stopAllBackends } from '../helpers/backends.js';
import { waitForOutput } from '../helpers/cli.js';
import { makeSandbox, type Sandbox } from '../helpers/sandbox.js';

/**
 * NGINX dies inside a step (its master gets SIGTERM, or SIGKILL) while `gradual` observes step 1 of
 * 30 s: bgctl notices at its next check, not at the step boundary. After SIGTERM the rollback starts
 * NGINX again on blue; after SIGKILL the orphaned workers keep serving: bgctl names them (exit 4),
 * `status` reports them and `start` refuses to start on top of them (exit 6).
 */

afterAll(stopAllBackends);

const pidFile = (box: Sandbox): string => path.join(box.dir, 'nginx', 'logs', 'nginx.pid');

async function live(box: Sandbox): Promise<{ blue: number; green: number; revision: number } | null> {
  const secret = (await readFile(path.join(box.dir, 'state', 'force-secret'), 'utf8').catch(() => '')).trim();
  try {
    const res = await request(`http://127.0.0.1:${box.listen}/__bgctl/status`, {
      headers: secret ? { 'x-bgctl-secret': secret } : {},
      reset: true,
    });
    return res.statusCode === 200 ? ((await res.body.json()) as { blue: number; green: number; revision: number }) : null;
  } catch {
    return null;
  }
}

async function startStep1(box: Sandbox) {
  const migration = box.spawn(['gradual', 'green', '2.1.0', '--steps', '50,100', '--step-seconds', '30']);
  await waitForOutput(migration, /step 1\/2 +applied/);
  expect(await live(box)).toMatchObject({ blue: 50, green: 50 });
  const master = await readMasterPid(pidFile(box));
  expect(master).not.toBeNull();
  return { migration, master: master ?? 0 };
}

describe('NGINX dies inside a step', () => {
  let box: Sandbox;
  let orphans: number[] = [];

  beforeAll(async () => {
    box = await makeSandbox('nginx-death');
  }, 60_000);

  afterAll(async () => {
    for (const pid of orphans) if (isPidAlive(pid)) process.kill(pid, 'SIGKILL');
    await box?.close();
  });

  it('SIGTERM to the master: noticed at the next check, the rollback starts NGINX again on blue (exit 3)', async () => {
    const { migration, master } = await startStep1(box);
    process.kill(master, 'SIGTERM');
    const r = await migration.catch((e: unknown) => e as Awaited<typeof migration>);
    const out = `${String(r.stdout)}\n${String(r.stderr)}`;
    expect(r.exitCode, out).toBe(3);
    expect(out).toMatch(/step 1: NGINX stopped running/);
    // a new master, serving blue only
    const now = await readMasterPid(pidFile(box));
    expect(now).not.toBe(master);
    expect(await live(box)).toMatchObject({ blue: 100, green: 0 });
    for (let i = 0; i < 5; i++) expect(await box.get()).toEqual({ status: 200, color: 'blue' });
    const s = await box.status();
    expect(s).toMatchObject({ stable: 'blue', weights: { blue: 100, green: 0 }, drift: null, nginx: { running: true } });
    expect(s.migration).toMatchObject({ status: 'rolled_back', reason: expect.stringMatching(/NGINX stopped running/) as unknown });
  }, 120_000);

  it('SIGKILL to the master: its orphaned workers are named by the migration (exit 4), by status, and refused by start (exit 6)', async () => {
    const { migration, master } = await startStep1(box);
    orphans = (await listWorkers(master)).map((w) => w.pid).sort((a, b) => a - b);
    expect(orphans.length).toBeGreaterThan(0);
    process.kill(master, 'SIGKILL');
    const r = await migration.catch((e: unknown) => e as Awaited<typeof migration>);
    const out = `${String(r.stdout)}\n${String(r.stderr)}`;
    expect(r.exitCode, out).toBe(4);
    expect(out).toMatch(/NGINX stopped running/);
    expect(out).toContain(`without a master still run for ${path.join(box.dir, 'nginx')} (pids ${orphans.join(', ')})`);
    expect(out).toContain(`kill ${orphans.join(' ')}`);
    // the orphans still serve the split config: that is what status must not hide
    expect((await box.get()).status).toBe(200);
    const st = await box.cli(['status', '--json']);
    const s = JSON.parse(st.stdout) as { drift: string | null; nginx: { running: boolean } };
    expect(s.nginx.running).toBe(false);
    expect(s.drift).toContain(`NGINX workers without a master still serve for ${path.join(box.dir, 'nginx')} (pids ${orphans.join(', ')})`);
    const text = await box.cli(['status']);
    expect(text.stdout).toMatch(/drift +NGINX workers without a master/);
    const start = await box.cli(['start']);
    expect(start.exitCode, start.stdout + start.stderr).toBe(6);
    expect(start.stderr).toContain(`pids ${orphans.join(', ')}`);
    expect(start.stderr).toContain(`kill ${orphans.join(' ')}`);
    expect(orphans.every(isPidAlive)).toBe(true);

    // done as the message says: the site comes back on blue
    for (const pid of orphans) process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 200 && orphans.some(isPidAlive); i++) await sleep(50);
    expect(orphans.filter(isPidAlive)).toEqual([]);
    const again = await box.cli(['start']);
    expect(again.exitCode, again.stdout + again.stderr).toBe(0);
    const rb = await box.cli(['rollback']);
    expect(rb.exitCode, rb.stdout + rb.stderr).toBe(0);
    expect(await box.status()).toMatchObject({ stable: 'blue', weights: { blue: 100, green: 0 }, drift: null });
    expect(await box.get()).toEqual({ status: 200, color: 'blue' });
  }, 120_000);
});

import { execFile } from 'node:child_process';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stopAllBackends } from '../helpers/backends.js';
import { waitForOutput } from '../helpers/cli.js';
import { makeSandbox, type Sandbox } from '../helpers/sandbox.js';

/**
 * A real fault in the state folder mid-migration: `stateDir` is a tiny tmpfs of its own (root mounts it),
 * filled up or made read-only (a read-only bind mount on top) while step 1 (green 50%) is observed. bgctl must put traffic back on
 * blue (NGINX confirms it), exit 4 naming the real cause (not "internal error"), and the next commands
 * reconcile the state from what NGINX serves.
 */

const run = promisify(execFile);

afterAll(stopAllBackends);

/** What NGINX really serves, asked on its status location with bgctl's secret. */
async function live(box: Sandbox): Promise<{ blue: number; green: number; revision: number }> {
  const secret = (await readFile(path.join(box.dir, 'state', 'force-secret'), 'utf8').catch(() => '')).trim();
  const res = await request(`http://127.0.0.1:${box.listen}/__bgctl/status`, {
    headers: secret ? { 'x-bgctl-secret': secret } : {},
    reset: true,
  });
  expect(res.statusCode).toBe(200);
  return (await res.body.json()) as { blue: number; green: number; revision: number };
}

/** A read-only view of the folder on top of it (a plain remount is refused while bgctl holds a file open). */
async function readOnly(dir: string): Promise<void> {
  await run('mount', ['--bind', dir, dir]);
  await run('mount', ['-o', 'remount,bind,ro', dir]);
}

/** Writes zeros into `file` until the file system is full. */
async function fill(file: string): Promise<void> {
  const fh = await open(file, 'w');
  const chunk = Buffer.alloc(4096);
  try {
    for (;;) await fh.write(chunk);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  } finally {
    await fh.close().catch(() => undefined);
  }
}

describe.each([
  ['full', /no space left on the device/],
  ['read-only', /read-only file system/],
] as const)('the state folder becomes %s during step 1', (fault, cause) => {
  let box: Sandbox;
  let stateDir = '';
  let mounted = false;

  beforeAll(async () => {
    box = await makeSandbox(`state-${fault}`, { noStart: true });
    stateDir = path.join(box.dir, 'state');
    await mkdir(stateDir, { recursive: true });
    await run('mount', ['-t', 'tmpfs', '-o', 'size=256k,mode=0700', 'tmpfs', stateDir]);
    mounted = true;
    const r = await box.cli(['start']);
    if (r.exitCode !== 0) throw new Error(`bgctl start failed (${r.exitCode}):\n${r.stdout}\n${r.stderr}`);
  }, 60_000);

  afterAll(async () => {
    if (mounted) {
      // the read-only bind on top, if still there, then the tmpfs
      while ((await run('findmnt', ['-n', stateDir]).catch(() => null)) !== null) {
        await box.cli(['stop']).catch(() => undefined);
        await run('umount', [stateDir]);
      }
    }
    await box?.close();
  });

  it('traffic returns to blue (confirmed), exit 4 with the real cause; the next commands reconcile from NGINX', async () => {
    const migration = box.spawn(['gradual', 'green', '2.1.0', '--steps', '50,100', '--step-seconds', '8']);
    await waitForOutput(migration, /step 1\/2 +applied/);
    expect(await live(box)).toMatchObject({ blue: 50, green: 50 });
    if (fault === 'full') await fill(path.join(stateDir, 'filler'));
    else await readOnly(stateDir);
    const r = await migration.catch((e: unknown) => e as Awaited<typeof migration>);
    const out = `${String(r.stdout)}\n${String(r.stderr)}`;
    expect(r.exitCode, out).toBe(4);
    expect(String(r.stderr)).toMatch(cause);
    expect(String(r.stderr)).toMatch(/traffic was returned to blue \(100%, confirmed by NGINX/);
    expect(out).not.toMatch(/internal error|a bug/);
    // the error is the real cause; a lock that could not be released is only a warning beside it
    const error = String(r.stderr)
      .split('\n')
      .find((l) => l.startsWith('bgctl: '));
    expect(error).toMatch(cause);
    expect(error).not.toMatch(/lock/i);
    // NGINX serves blue only, now, and every request says so
    expect(await live(box)).toMatchObject({ blue: 100, green: 0 });
    for (let i = 0; i < 10; i++) expect(await box.get()).toEqual({ status: 200, color: 'blue' });

    // the folder is writable again: status tells the truth, rollback settles the record with NGINX
    if (fault === 'full') await rm(path.join(stateDir, 'filler'));
    else await run('umount', [stateDir]);
    const before = await box.cli(['status', '--json']);
    expect(JSON.parse(before.stdout)).toMatchObject({ nginx: { running: true } });
    const rb = await box.cli(['rollback']);
    expect(rb.exitCode, rb.stdout + rb.stderr).toBe(0);
    const after = await box.status();
    expect(after).toMatchObject({ stable: 'blue', weights: { blue: 100, green: 0 }, drift: null });
    expect(after.migration?.status).not.toBe('running');
    expect(await live(box)).toMatchObject({ blue: 100, green: 0, revision: after.revision });
    expect(await box.get()).toEqual({ status: 200, color: 'blue' });
  }, 120_000);
});

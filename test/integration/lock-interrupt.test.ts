import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileLock } from '../../src/adapters/lock.js';
import type { Logger } from '../../src/app/ports.js';
import { PreflightError } from '../../src/core/errors.js';
import { cleanupTmpDirs, makeTmpDir } from '../helpers/tmp.js';

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** A process whose command line says "bgctl" but that never took the lock: it must never be signalled. */
function decoy(): ChildProcess {
  return spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', 'bgctl', 'gradual', 'green', '2.1.0'], { stdio: 'ignore' });
}

const alive = (c: ChildProcess): boolean => c.exitCode === null && c.signalCode === null;
const settle = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let dir: string;
let child: ChildProcess;
beforeEach(async () => {
  dir = await makeTmpDir('lock-interrupt');
  child = decoy();
  await new Promise((r) => child.once('spawn', r));
});
afterEach(() => {
  child.kill('SIGKILL');
});
afterAll(async () => {
  await cleanupTmpDirs();
});

describe('lock.interrupt signals only the process that holds the lock', () => {
  const holderOf = (pid: number) => ({ pid, host: hostname(), command: 'gradual green 2.1.0', startedAt: '2026-01-01T00:00:00.000Z' });

  it('a lock naming a reused pid (a process that merely has "bgctl" in its command line) is not signalled', async () => {
    const pid = child.pid ?? 0;
    // a lock as an older bgctl (or someone) wrote it: no start time recorded for the pid
    await writeFile(join(dir, 'lock'), JSON.stringify({ ...holderOf(pid), token: 't' }));
    const lock = new FileLock(dir, { logger: quiet });
    expect(await lock.interrupt(holderOf(pid))).toBe(false);
    // a recorded start time that is not this process's: the pid was reused
    await writeFile(join(dir, 'lock'), JSON.stringify({ ...holderOf(pid), token: 't', procStart: '1' }));
    expect(await lock.interrupt(holderOf(pid))).toBe(false);
    await settle(200);
    expect(alive(child)).toBe(true);
  });

  it('the process that took the lock (pid and start time match) gets SIGTERM', async () => {
    const pid = child.pid ?? 0;
    const held = await new FileLock(dir, { logger: quiet, pid }).acquire('gradual green 2.1.0');
    try {
      const other = new FileLock(dir, { logger: quiet });
      const holder = await other.holder();
      expect(holder).toMatchObject({ pid, alive: true });
      expect(await other.interrupt(holder!)).toBe(true);
      const deadline = Date.now() + 5000;
      while (alive(child) && Date.now() < deadline) await settle(50);
      expect(child.signalCode).toBe('SIGTERM');
    } finally {
      await held.release();
    }
  });
});

describe('a state folder bgctl cannot write', () => {
  it('acquire refuses with exit 6 naming the lock, before anything changed', async () => {
    const file = join(dir, 'not-a-folder');
    await writeFile(file, 'x');
    const lock = new FileLock(join(file, 'state'), { logger: quiet });
    const e = await lock.acquire('canary green 10').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(PreflightError);
    expect((e as PreflightError).exitCode).toBe(6);
    expect((e as Error).message).toContain(join(file, 'state', 'lock'));
  });
});

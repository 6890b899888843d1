import { chmod, mkdir, readFile, readdir, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSandbox, type Sandbox } from '../helpers/sandbox.js';
import { makeTmpDir, removeTmpDir } from '../helpers/tmp.js';

// Links and special files planted where bgctl writes (nginx.dir, its candidate tree, stateDir), through
// the real CLI and a real NGINX: every command refuses with exit 6 naming the path, nothing is written
// through the link, and traffic stays where it was.

let box: Sandbox;
let outside: string;
const nginxDir = (...p: string[]): string => path.join(box.dir, 'nginx', ...p);
const stateDir = (...p: string[]): string => path.join(box.dir, 'state', ...p);

beforeAll(async () => {
  box = await makeSandbox('symlinks');
  outside = await makeTmpDir('outside');
}, 60_000);

afterAll(async () => {
  await box?.close();
  if (outside) await removeTmpDir(outside);
});

/** A file outside bgctl's folders: its bytes and mode must never change. */
async function victim(name: string, text = `precious ${name}\n`): Promise<{ path: string; unchanged(): Promise<void> }> {
  const file = path.join(outside, name);
  await writeFile(file, text);
  await chmod(file, 0o640);
  return {
    path: file,
    async unchanged() {
      expect(await readFile(file, 'utf8')).toBe(text);
      expect((await stat(file)).mode & 0o777).toBe(0o640);
    },
  };
}

/** Weights and revision as NGINX and bgctl see them: must be the same after a refusal. */
async function servedNow(): Promise<string> {
  const s = await box.status();
  return JSON.stringify({ weights: s.weights, revision: s.revision, live: s.nginx.live?.revision });
}

/** `link -> target` for the duration of fn, removed after. */
async function withLink(link: string, target: string, fn: () => Promise<void>): Promise<void> {
  await symlink(target, link);
  try {
    await fn();
  } finally {
    await rm(link, { force: true });
  }
}

function refused(r: { exitCode: number; stderr: string; stdout: string; timedOut: boolean }, named: string): void {
  expect(r.timedOut).toBe(false);
  expect({ exit: r.exitCode, out: `${r.stdout}${r.stderr}`.includes(named) }, `${r.stdout}\n${r.stderr}`).toEqual({ exit: 6, out: true });
}

describe('links planted in nginx.dir', () => {
  it('a link at conf.d/bgctl.conf.prev: gradual, canary and start refuse with exit 6 naming it', async () => {
    const v = await victim('prev-target');
    const link = nginxDir('conf.d', 'bgctl.conf.prev');
    await rm(link, { force: true });
    const before = await servedNow();
    await withLink(link, v.path, async () => {
      refused(await box.cli(['gradual', 'green', '2.1.0', '--steps', '100', '--step-seconds', '0']), link);
      refused(await box.cli(['canary', 'green', '10']), link);
      refused(await box.cli(['start']), link);
      await v.unchanged();
    });
    expect(await servedNow()).toBe(before);
  }, 120_000);

  it('a link at the live conf.d/bgctl.conf: canary refuses with exit 6 naming it', async () => {
    const live = nginxDir('conf.d', 'bgctl.conf');
    const text = await readFile(live, 'utf8');
    const v = await victim('live-target', text);
    await rename(live, `${live}.saved`);
    try {
      const before = await servedNow();
      await withLink(live, v.path, async () => {
        refused(await box.cli(['canary', 'green', '10']), live);
        await v.unchanged();
        expect(await servedNow()).toBe(before);
      });
    } finally {
      await rename(`${live}.saved`, live);
    }
  }, 120_000);

  it('a symlinked candidate/ folder: validate and gradual refuse with exit 6 and write nothing there', async () => {
    const cand = nginxDir('candidate');
    const elsewhere = path.join(outside, 'cand-dir');
    await mkdir(elsewhere);
    await rm(cand, { recursive: true, force: true });
    const before = await servedNow();
    await withLink(cand, elsewhere, async () => {
      refused(await box.cli(['validate']), cand);
      refused(await box.cli(['gradual', 'green', '2.1.0', '--steps', '100', '--step-seconds', '0']), cand);
      expect(await readdir(elsewhere)).toEqual([]);
    });
    expect(await servedNow()).toBe(before);
  }, 120_000);

  it('a symlinked conf.d/ folder: canary and rollback refuse with exit 6 and change no file in it', async () => {
    const c = await box.cli(['canary', 'green', '10']); // so that rollback has something to revert
    expect(c.exitCode, c.stderr).toBe(0);
    const confd = nginxDir('conf.d');
    const real = path.join(outside, 'confd-real');
    await rename(confd, real);
    const names = (await readdir(real)).sort();
    const bytes = await Promise.all(names.map((n) => readFile(path.join(real, n), 'utf8')));
    try {
      await withLink(confd, real, async () => {
        refused(await box.cli(['canary', 'green', '20']), confd);
        refused(await box.cli(['rollback']), confd);
        expect((await readdir(real)).sort()).toEqual(names);
        expect(await Promise.all(names.map((n) => readFile(path.join(real, n), 'utf8')))).toEqual(bytes);
      });
    } finally {
      await rename(real, confd);
    }
    const r = await box.cli(['rollback']);
    expect(r.exitCode, r.stderr).toBe(0);
  }, 120_000);

  it('a link at an old fixed temporary name (nginx.conf.prev.tmp) is never written through: temp names are unique', async () => {
    const v = await victim('tmp-target');
    const link = nginxDir('nginx.conf.prev.tmp');
    await withLink(link, v.path, async () => {
      const c = await box.cli(['canary', 'green', '10']);
      expect(c.exitCode, c.stderr).toBe(0);
      const r = await box.cli(['rollback']);
      expect(r.exitCode, r.stderr).toBe(0);
      await v.unchanged();
      expect((await box.status()).weights).toEqual({ blue: 100, green: 0 });
    });
  }, 120_000);

  it('conf.d/bgctl.conf (it may hold routing.forceSecret) and its .prev are readable by their owner only', async () => {
    const c = await box.cli(['canary', 'green', '10']);
    expect(c.exitCode, c.stderr).toBe(0);
    const r = await box.cli(['rollback']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect((await stat(nginxDir('conf.d', 'bgctl.conf'))).mode & 0o777).toBe(0o600);
    expect((await stat(nginxDir('conf.d', 'bgctl.conf.prev'))).mode & 0o777).toBe(0o600);
    // and NGINX still serves it (reloads read it)
    expect((await box.get('/')).status).toBe(200);
  }, 120_000);
});

describe('links and FIFOs planted in stateDir', () => {
  it('a FIFO in place of state.json: gradual, canary and rollback refuse with exit 6 at once (no hang)', async () => {
    const file = stateDir('state.json');
    await rename(file, `${file}.saved`);
    await execa('mkfifo', [file]);
    try {
      for (const args of [
        ['gradual', 'green', '2.1.0', '--steps', '100', '--step-seconds', '0'],
        ['canary', 'green', '10'],
        ['rollback'],
      ]) {
        refused(await box.cli(args), file);
      }
    } finally {
      await rm(file, { force: true });
      await rename(`${file}.saved`, file);
    }
    expect((await box.status()).weights).toEqual({ blue: 100, green: 0 });
  }, 120_000);

  it('a link in place of state.json: canary refuses with exit 6 and the linked file is untouched', async () => {
    const file = stateDir('state.json');
    const v = await victim('state-target', await readFile(file, 'utf8'));
    await rename(file, `${file}.saved`);
    try {
      await withLink(file, v.path, async () => {
        refused(await box.cli(['canary', 'green', '10']), file);
        await v.unchanged();
      });
    } finally {
      await rename(`${file}.saved`, file);
    }
    expect((await box.status()).weights).toEqual({ blue: 100, green: 0 });
  }, 120_000);

  it('a read-only state folder: canary refuses with exit 6 naming the lock, traffic unchanged', async () => {
    if (process.getuid?.() === 0) {
      // root writes anyway: a read-only folder is simulated with a FIFO in place of the lock instead
      await execa('mkfifo', [stateDir('lock')]);
      try {
        refused(await box.cli(['canary', 'green', '10']), stateDir('lock'));
      } finally {
        await rm(stateDir('lock'), { force: true });
      }
    } else {
      await chmod(stateDir(), 0o555);
      try {
        refused(await box.cli(['canary', 'green', '10']), stateDir('lock'));
      } finally {
        await chmod(stateDir(), 0o755);
      }
    }
    expect((await box.status()).weights).toEqual({ blue: 100, green: 0 });
  }, 120_000);
});

describe('links planted beside the weights file (nginx.mode: dynamic)', () => {
  let dyn: Sandbox;
  beforeAll(async () => {
    dyn = await makeSandbox('symlinks-dyn', { overrides: { nginx: { mode: 'dynamic' } }, noStart: true });
    await chmod(dyn.dir, 0o755); // NGINX's workers (nobody under a root master) read the weights file
    const r = await dyn.cli(['start']);
    if (r.exitCode !== 0) throw new Error(`bgctl start failed (${r.exitCode}):\n${r.stdout}\n${r.stderr}`);
  }, 60_000);
  afterAll(async () => {
    await dyn?.close();
  });

  it('a link at the old fixed conf.d/bgctl-weights.json.prev.tmp: canary and rollback never write through it', async () => {
    const v = await victim('weights-tmp-target');
    const link = path.join(dyn.dir, 'nginx', 'conf.d', 'bgctl-weights.json.prev.tmp');
    await withLink(link, v.path, async () => {
      const c = await dyn.cli(['canary', 'green', '10']);
      expect(c.exitCode, c.stderr).toBe(0);
      const r = await dyn.cli(['rollback']);
      expect(r.exitCode, r.stderr).toBe(0);
      await v.unchanged();
    });
  }, 120_000);

  it('a link at conf.d/bgctl-weights.json.prev: canary refuses with exit 6 naming it, the weights stay', async () => {
    const v = await victim('weights-prev-target');
    const link = path.join(dyn.dir, 'nginx', 'conf.d', 'bgctl-weights.json.prev');
    await rm(link, { force: true });
    await withLink(link, v.path, async () => {
      refused(await dyn.cli(['canary', 'green', '10']), link);
      await v.unchanged();
    });
    expect((await dyn.status()).weights).toEqual({ blue: 100, green: 0 });
  }, 120_000);
});

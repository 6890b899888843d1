import { lstat, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureForceSecret } from '../../src/adapters/force-secret.js';
import { ExitCode, PreflightError } from '../../src/core/errors.js';
import { cleanupTmpDirs, makeTmpDir } from '../helpers/tmp.js';

// bgctl's own forced-route secret, on a real file system.

afterAll(cleanupTmpDirs);

describe('stateDir/force-secret', () => {
  it('is made once (0600, 32 URL-safe characters) in a state folder that may not exist yet, then reused', async () => {
    const stateDir = path.join(await makeTmpDir('secret'), 'state');
    const first = await ensureForceSecret(stateDir);
    expect(first).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const st = await lstat(path.join(stateDir, 'force-secret'));
    expect(st.isFile()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
    expect(await ensureForceSecret(stateDir)).toBe(first);
    // many at once agree on one secret
    const other = path.join(await makeTmpDir('secret'), 'state');
    const all = await Promise.all(Array.from({ length: 8 }, () => ensureForceSecret(other)));
    expect(new Set(all).size).toBe(1);
  });

  it('is never read or written through a symbolic link (exit 6, naming the file); the link target is untouched', async () => {
    const dir = await makeTmpDir('secret');
    const target = path.join(dir, 'elsewhere');
    await writeFile(target, 'do not touch\n');
    const stateDir = path.join(dir, 'state');
    await mkdir(stateDir);
    await symlink(target, path.join(stateDir, 'force-secret'));
    const e = await ensureForceSecret(stateDir).then(
      () => null,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(PreflightError);
    expect((e as PreflightError).exitCode).toBe(ExitCode.PREFLIGHT);
    expect((e as Error).message).toMatch(/force-secret: it is a symbolic link/);
    expect(await readFile(target, 'utf8')).toBe('do not touch\n');
  });

  it('refuses a file that holds no usable secret, without printing it', async () => {
    const stateDir = await makeTmpDir('secret');
    await writeFile(path.join(stateDir, 'force-secret'), 'short"; evil\n');
    const e = await ensureForceSecret(stateDir).then(
      () => null,
      (err: unknown) => err as Error,
    );
    expect(e).toBeInstanceOf(PreflightError);
    expect(e?.message).toMatch(/does not hold a usable forced-route secret/);
    expect(e?.message).not.toContain('evil');
  });
});

import { mkdtemp, realpath, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

const created = new Set<string>();

/**
 * A fresh folder under os.tmpdir(), e.g. /tmp/bgctl-load-Xa12bc. Realpath'd, so paths compare equal
 * to what the code under test resolves (macOS /var -> /private/var).
 */
export async function makeTmpDir(prefix = 'test'): Promise<string> {
  const safe = prefix.replace(/[^A-Za-z0-9_-]/g, '-');
  const dir = await realpath(await mkdtemp(path.join(os.tmpdir(), `bgctl-${safe}-`)));
  created.add(dir);
  return dir;
}

/** Removes one folder made by makeTmpDir; refuses anything outside the temp folder. */
export async function removeTmpDir(dir: string): Promise<void> {
  const root = await realpath(os.tmpdir());
  const abs = path.resolve(dir);
  if (!abs.startsWith(root + path.sep) || !path.basename(abs).startsWith('bgctl-')) {
    throw new Error(`refusing to remove ${abs}: not a bgctl temp folder`);
  }
  await rm(abs, { recursive: true, force: true, maxRetries: 3, retryDelay: 100 });
  created.delete(abs);
}

/** Removes every folder this test file made; call it in afterAll. */
export async function cleanupTmpDirs(): Promise<void> {
  await Promise.all([...created].map(removeTmpDir));
}

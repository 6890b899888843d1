import { constants } from 'node:fs';
import { copyFile, mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { WEIGHTS_FILE } from '../../render/dynamic.js';
import { writeFileAtomic } from '../atomic-file.js';

/**
 * The files the local driver owns under the NGINX prefix (see docs/DESIGN-NOTES.md).
 * Candidate and live trees share one folder so `rename` stays on one filesystem and is atomic.
 */
export interface NginxLayout {
  readonly dir: string;
  readonly main: string;
  readonly site: string;
  readonly mainPrev: string;
  readonly sitePrev: string;
  readonly candidateMain: string;
  readonly candidateSite: string;
  /** dynamic mode: the njs module, its `.prev` and candidate */
  readonly js: string;
  readonly jsPrev: string;
  readonly candidateJs: string;
  /** dynamic mode: the weights NGINX routes by (read per request), and the copy kept on every write */
  readonly weights: string;
  readonly weightsPrev: string;
  readonly pidFile: string;
  readonly errorLog: string;
  readonly accessLog: string;
}

export function nginxLayout(dir: string): NginxLayout {
  return {
    dir,
    main: join(dir, 'nginx.conf'),
    site: join(dir, 'conf.d', 'bgctl.conf'),
    mainPrev: join(dir, 'nginx.conf.prev'),
    sitePrev: join(dir, 'conf.d', 'bgctl.conf.prev'),
    candidateMain: join(dir, 'candidate', 'nginx.conf'),
    candidateSite: join(dir, 'candidate', 'conf.d', 'bgctl.conf'),
    js: join(dir, 'conf.d', 'bgctl.js'),
    jsPrev: join(dir, 'conf.d', 'bgctl.js.prev'),
    candidateJs: join(dir, 'candidate', 'conf.d', 'bgctl.js'),
    weights: join(dir, WEIGHTS_FILE),
    weightsPrev: join(dir, `${WEIGHTS_FILE}.prev`),
    pidFile: join(dir, 'logs', 'nginx.pid'),
    errorLog: join(dir, 'logs', 'error.log'),
    accessLog: join(dir, 'logs', 'access.json.log'),
  };
}

/**
 * (live, prev, candidate) triples, site first: nginx.conf includes the site, so it is the last to change.
 * `js`: the njs module too (dynamic mode), before the site that imports it.
 */
const pairs = (l: NginxLayout, js = false) => [
  ...(js ? [{ live: l.js, prev: l.jsPrev, candidate: l.candidateJs }] : []),
  { live: l.site, prev: l.sitePrev, candidate: l.candidateSite },
  { live: l.main, prev: l.mainPrev, candidate: l.candidateMain },
];

/** Creates the folders nginx expects: it creates temp/* itself but not their parent. */
export async function ensureTree(l: NginxLayout): Promise<void> {
  for (const sub of ['logs', 'temp', 'conf.d', join('candidate', 'conf.d')]) {
    await mkdir(join(l.dir, sub), { recursive: true });
  }
}

/** Writes the candidate tree, each file fsynced, so `nginx -t` and the swap see complete files. */
export async function writeCandidate(l: NginxLayout, main: string, site: string, js?: string): Promise<void> {
  await ensureTree(l);
  if (js !== undefined) await writeDurable(l.candidateJs, js);
  // the site config holds the forced-route secret: only its owner (NGINX's master) reads it
  await writeFileAtomic(l.candidateSite, site, 0o600, { exactMode: true });
  await writeDurable(l.candidateMain, main);
}

/**
 * Step 1 of the swap: each live file is copied (not moved, so it never disappears) to `.prev`.
 * A live file that does not exist leaves no `.prev`, so a restore removes the new file again.
 * If this fails, nothing live has changed yet.
 */
export async function backupLive(l: NginxLayout, js = false): Promise<void> {
  for (const p of pairs(l, js)) {
    if (await exists(p.live)) await copyDurable(p.live, p.prev);
    else await rm(p.prev, { force: true });
  }
}

/** Step 2 of the swap: rename each candidate file over its live file (atomic per file, same filesystem). */
export async function promoteCandidate(l: NginxLayout, js = false): Promise<void> {
  for (const p of pairs(l, js)) {
    await rename(p.candidate, p.live);
    await fsyncDir(dirname(p.live));
  }
  await fsyncDir(dirname(l.candidateSite));
  await fsyncDir(dirname(l.candidateMain));
}

/** Puts the `.prev` files back (they stay, so a restore can be repeated). */
export async function restorePrevious(l: NginxLayout, js = false): Promise<void> {
  for (const p of pairs(l, js)) {
    if (await exists(p.prev)) await copyDurable(p.prev, p.live);
    else await rm(p.live, { force: true });
    await fsyncDir(dirname(p.live));
  }
}

/**
 * dynamic mode: the weights file NGINX reads on every request. The current file is kept as `.prev` (njs
 * falls back to its color when the file is unreadable; a restore puts it back), then the new one is
 * written atomically (temp file in the same folder, fsync, rename) and the folder fsynced. A request
 * always reads either the old or the new file, whole.
 */
export async function writeWeights(l: NginxLayout, text: string): Promise<void> {
  await mkdir(dirname(l.weights), { recursive: true });
  if (await exists(l.weights)) await copyDurable(l.weights, l.weightsPrev);
  else await rm(l.weightsPrev, { force: true });
  // readable by NGINX's workers (nobody, under a root master) whatever bgctl's umask
  await writeFileAtomic(l.weights, text, 0o644, { exactMode: true });
  await fsyncDir(dirname(l.weights));
}

/** Puts the weights file of before the last write back (none before: removes it). */
export async function restoreWeights(l: NginxLayout): Promise<void> {
  if (await exists(l.weightsPrev)) await copyDurable(l.weightsPrev, l.weights);
  else await rm(l.weights, { force: true });
  await fsyncDir(dirname(l.weights));
}

/** The live nginx.conf, site config and njs module; null when one of them is missing. */
export async function readLive(l: NginxLayout): Promise<{ main: string; site: string; js: string } | null> {
  try {
    const [main, site, js] = await Promise.all([readFile(l.main, 'utf8'), readFile(l.site, 'utf8'), readFile(l.js, 'utf8')]);
    return { main, site, js };
  } catch (error) {
    if (isNotFound(error)) return null;
    throw error;
  }
}

/** Size of a file (0 if missing): remembered before a reload to read only what nginx logs after it. */
export async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch (error) {
    if (isNotFound(error)) return 0;
    throw error;
  }
}

/** Lines appended since `offset` (read from there only: the log may be large); from 0 if the file shrank. */
export async function readSince(path: string, offset: number): Promise<string[]> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (error) {
    if (isNotFound(error)) return [];
    throw error;
  }
  try {
    const size = (await fh.stat()).size;
    const from = size < offset ? 0 : offset;
    const buf = Buffer.alloc(size - from);
    await fh.read(buf, 0, buf.length, from);
    return buf
      .toString('utf8')
      .split('\n')
      .filter((line) => line.length > 0);
  } finally {
    await fh.close();
  }
}

const writeDurable = (path: string, text: string): Promise<void> => writeFileAtomic(path, text);

/** Copy to a temp name, fsync, rename: the target is always either the old or the new file. */
async function copyDurable(from: string, to: string): Promise<void> {
  const tmp = `${to}.tmp`;
  await copyFile(from, tmp);
  const fh = await open(tmp, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, to);
}

async function fsyncDir(path: string): Promise<void> {
  const fh = await open(path, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
}

const isNotFound = (error: unknown): boolean => (error as NodeJS.ErrnoException | null)?.code === 'ENOENT';

import { constants } from 'node:fs';
import { chmod, mkdir, open, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { WEIGHTS_FILE } from '../../render/dynamic.js';
import {
  assertRealDirOrMissing,
  assertRegularOrMissing,
  copySafe,
  ensureRealDir,
  readRegular,
  removeFile,
  renameRegular,
  writeExclusive,
} from '../safe-fs.js';

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

/** `weightsDir` (nginx.weightsDir, absolute): where the weights file and its copy live instead of conf.d. */
export function nginxLayout(dir: string, weightsDir: string | null = null): NginxLayout {
  const weights = weightsDir === null ? join(dir, WEIGHTS_FILE) : join(weightsDir, basename(WEIGHTS_FILE));
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
    weights,
    weightsPrev: `${weights}.prev`,
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

/**
 * Creates the folders nginx expects (it creates temp/* itself but not their parent). The folders bgctl
 * writes into (conf.d, candidate, candidate/conf.d) must be real folders, never links (exit 6).
 */
export async function ensureTree(l: NginxLayout): Promise<void> {
  for (const sub of ['logs', 'temp']) await mkdir(join(l.dir, sub), { recursive: true });
  await ensureRealDir(l.dir, 'conf.d');
  await ensureRealDir(l.dir, 'candidate/conf.d');
  const weightsDir = dirname(l.weights);
  if (weightsDir !== join(l.dir, 'conf.d')) await ensureWeightsDir(weightsDir);
}

/**
 * nginx.weightsDir: created when missing with mode 0755 whatever the umask (NGINX's workers, another
 * user under a root master, must enter it); an existing folder keeps its mode (workersBlocked says so).
 */
async function ensureWeightsDir(dir: string): Promise<void> {
  const existed = await stat(dir).then(
    () => true,
    () => false,
  );
  await ensureRealDir(dirname(dir), basename(dir), { mode: 0o755 });
  if (!existed) await chmod(dir, 0o755);
}

/** Every file bgctl writes or copies under nginx.dir: each must be a regular file or missing. */
const ownedFiles = (l: NginxLayout): string[] => [
  l.main,
  l.mainPrev,
  l.site,
  l.sitePrev,
  l.js,
  l.jsPrev,
  l.weights,
  l.weightsPrev,
  l.candidateMain,
  l.candidateSite,
  l.candidateJs,
];

/**
 * Refuses (exit 6, naming the path) a tree where a link or special file sits at a name bgctl writes,
 * or where conf.d/candidate are links: called before anything is written, so a refusal changes nothing.
 */
export async function checkTree(l: NginxLayout): Promise<void> {
  for (const sub of ['conf.d', 'candidate', 'candidate/conf.d']) await assertRealDirOrMissing(join(l.dir, sub));
  await assertRealDirOrMissing(dirname(l.weights));
  for (const f of ownedFiles(l)) await assertRegularOrMissing(f);
}

/** checkTree, then the folders created (before any write). */
async function readyTree(l: NginxLayout): Promise<void> {
  await checkTree(l);
  await ensureTree(l);
}

/** Writes the candidate tree, each file fsynced, so `nginx -t` and the swap see complete files. */
export async function writeCandidate(l: NginxLayout, main: string, site: string, js?: string): Promise<void> {
  await readyTree(l);
  await writeTree(dirname(l.candidateMain), main, site, js);
}

/**
 * A config tree (nginx.conf, conf.d/bgctl.conf, conf.d/bgctl.js) in `dir`, laid out like the candidate
 * tree. The site may hold the forced-route secret: it is readable by its owner only.
 */
export async function writeTree(dir: string, main: string, site: string, js?: string): Promise<void> {
  const confd = await ensureRealDir(dir, 'conf.d');
  if (js !== undefined) await writeExclusive(join(confd, 'bgctl.js'), js);
  await writeExclusive(join(confd, 'bgctl.conf'), site, SECRET);
  await writeExclusive(join(dir, 'nginx.conf'), main);
}

/** conf.d/bgctl.conf may hold routing.forceSecret: 0600 (NGINX's master reads its config as root or as bgctl's user). */
const SECRET = { mode: 0o600, exactMode: true } as const;

/**
 * Step 1 of the swap: each live file is copied (not moved, so it never disappears) to `.prev`.
 * A live file that does not exist leaves no `.prev`, so a restore removes the new file again.
 * If this fails, nothing live has changed yet.
 */
export async function backupLive(l: NginxLayout, js = false): Promise<void> {
  await readyTree(l);
  for (const p of pairs(l, js)) {
    if (!(await copyDurable(p.live, p.prev))) await removeFile(p.prev);
  }
}

/** Step 2 of the swap: rename each candidate file over its live file (atomic per file, same filesystem). */
export async function promoteCandidate(l: NginxLayout, js = false): Promise<void> {
  for (const p of pairs(l, js)) {
    await renameRegular(p.candidate, p.live);
    await fsyncDir(dirname(p.live));
  }
  await fsyncDir(dirname(l.candidateSite));
  await fsyncDir(dirname(l.candidateMain));
}

/** Puts the `.prev` files back (they stay, so a restore can be repeated). */
export async function restorePrevious(l: NginxLayout, js = false): Promise<void> {
  await readyTree(l);
  for (const p of pairs(l, js)) {
    if (!(await copyDurable(p.prev, p.live))) await removeFile(p.live);
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
  await readyTree(l);
  if (!(await copyDurable(l.weights, l.weightsPrev))) await removeFile(l.weightsPrev);
  // readable by NGINX's workers (nobody, under a root master) whatever bgctl's umask
  await writeExclusive(l.weights, text, { mode: 0o644, exactMode: true });
  await fsyncDir(dirname(l.weights));
}

/** Puts the weights file of before the last write back (none before: removes it). */
export async function restoreWeights(l: NginxLayout): Promise<void> {
  await readyTree(l);
  if (!(await copyDurable(l.weightsPrev, l.weights))) await removeFile(l.weights);
  await fsyncDir(dirname(l.weights));
}

/** The live nginx.conf, site config and njs module; null when one of them is missing. */
export async function readLive(l: NginxLayout): Promise<{ main: string; site: string; js: string } | null> {
  const [main, site, js] = await Promise.all([readRegular(l.main), readRegular(l.site), readRegular(l.js)]);
  return main === null || site === null || js === null ? null : { main, site, js };
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

/** Copy to a unique temp name, fsync, rename: the target is always either the old or the new file. false: no `from`. */
const copyDurable = (from: string, to: string): Promise<boolean> => copySafe(from, to);

async function fsyncDir(path: string): Promise<void> {
  const fh = await open(path, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

const isNotFound = (error: unknown): boolean => (error as NodeJS.ErrnoException | null)?.code === 'ENOENT';

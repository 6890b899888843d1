import { constants } from 'node:fs';
import { chmod, mkdir, mkdtemp, open, rm, stat } from 'node:fs/promises';
import type { NginxFiles } from '../../app/ports.js';
import { basename, dirname, join, posix } from 'node:path';
import { OWN_LAYOUT, prevOf, type FileLayout } from '../../render/layout.js';
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
import type { NginxFileStore } from './runtime.js';

/**
 * The files one NGINX target's driver owns, as absolute paths: render/layout.ts's names under nginx.dir.
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
  /** null: an NGINX bgctl did not start (its own pid file) */
  readonly pidFile: string | null;
  /** null: an NGINX bgctl did not start (its own error log) */
  readonly errorLog: string | null;
  readonly accessLog: string;
  /** the names these paths were made from */
  readonly files: FileLayout;
}

/** `weightsDir` (nginx.weightsDir, absolute): where the weights file and its copy live instead of beside the config. */
export function nginxLayout(dir: string, weightsDir: string | null = null, files: FileLayout = OWN_LAYOUT): NginxLayout {
  const at = (rel: string): string => join(dir, rel);
  const candidate = (rel: string): string => join(dir, files.candidate, rel);
  const weights = weightsDir === null ? at(files.weights) : join(weightsDir, basename(files.weights));
  return {
    dir,
    main: at(files.main),
    site: at(files.site),
    mainPrev: prevOf(at(files.main)),
    sitePrev: prevOf(at(files.site)),
    candidateMain: candidate(files.main),
    candidateSite: candidate(files.site),
    js: at(files.js),
    jsPrev: prevOf(at(files.js)),
    candidateJs: candidate(files.js),
    weights,
    weightsPrev: prevOf(weights),
    pidFile: files.pid === null ? null : at(files.pid),
    errorLog: files.errorLog === null ? null : at(files.errorLog),
    accessLog: at(files.accessLog),
    files,
  };
}

/**
 * (live, prev, candidate) triples, site first: nginx.conf includes the site, so it is the last to change.
 * `js`: the njs module too (dynamic mode), before the site that imports it.
 */
export const pairs = (l: NginxLayout, js = false) => [
  ...(js ? [{ live: l.js, prev: l.jsPrev, candidate: l.candidateJs }] : []),
  { live: l.site, prev: l.sitePrev, candidate: l.candidateSite },
  { live: l.main, prev: l.mainPrev, candidate: l.candidateMain },
];

/** The folders (relative to nginx.dir) the config files sit in, live and candidate: they must be real folders. */
export function configFolders(files: FileLayout): string[] {
  const live = [files.main, files.site, files.js].map((f) => posix.dirname(f)).filter((d) => d !== '.');
  return [...new Set([...live, files.candidate, ...live.map((d) => posix.join(files.candidate, d))])];
}

/**
 * Creates the folders nginx expects (bgctl's own NGINX: logs and temp, whose subfolders it creates
 * itself). The folders bgctl writes into (conf.d, candidate, candidate/conf.d) must be real folders,
 * never links (exit 6).
 */
export async function ensureTree(l: NginxLayout): Promise<void> {
  await mkdir(l.dir, { recursive: true });
  if (l.files.pid !== null) for (const sub of ['logs', 'temp']) await mkdir(join(l.dir, sub), { recursive: true });
  for (const sub of configFolders(l.files)) await ensureRealDir(l.dir, sub);
  const weightsDir = dirname(l.weights);
  if (weightsDir !== dirname(join(l.dir, l.files.weights))) await ensureWeightsDir(weightsDir);
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
export const ownedFiles = (l: NginxLayout): string[] => [
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
  for (const sub of configFolders(l.files)) await assertRealDirOrMissing(join(l.dir, sub));
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
  await writeTree(join(l.dir, l.files.candidate), { main, site, js }, l.files);
}

/**
 * A config tree (render/layout.ts: the main file, the site, the njs module) in `dir`, laid out like the
 * live one. The site may hold the forced-route secret: it is readable by its owner only. Returns the
 * paths written.
 */
export async function writeTree(
  dir: string,
  text: { readonly main: string; readonly site: string; readonly js?: string | undefined },
  files: FileLayout = OWN_LAYOUT,
): Promise<string[]> {
  const write = async (rel: string, content: string, o?: typeof SECRET): Promise<string> => {
    const folder = await ensureRealDir(dir, posix.dirname(rel));
    const file = join(folder, posix.basename(rel));
    await writeExclusive(file, content, o);
    return file;
  };
  const written: string[] = [];
  if (text.js !== undefined) written.push(await write(files.js, text.js));
  written.push(await write(files.site, text.site, SECRET));
  written.push(await write(files.main, text.main));
  return written.reverse();
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

/** Size of a file (0 if missing or none): remembered before a reload to read only what nginx logs after it. */
export async function fileSize(path: string | null): Promise<number> {
  if (path === null) return 0;
  try {
    return (await stat(path)).size;
  } catch (error) {
    if (isNotFound(error)) return 0;
    throw error;
  }
}

/** Lines appended since `offset` (read from there only: the log may be large); from 0 if the file shrank; none without a file. */
export async function readSince(path: string | null, offset: number): Promise<string[]> {
  if (path === null) return [];
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

/** The files of a target whose folder is on this machine (local and system drivers, docker with a bind mount). */
export class HostFileStore implements NginxFileStore {
  constructor(private readonly l: NginxLayout) {}

  check(): Promise<void> {
    return checkTree(this.l);
  }

  ensure(): Promise<void> {
    return ensureTree(this.l);
  }

  writeCandidate(files: NginxFiles): Promise<void> {
    return writeCandidate(this.l, files.main, files.site, files.js);
  }

  async withScratchTree<T>(files: NginxFiles, fn: (sub: string) => Promise<T>): Promise<T> {
    await readyTree(this.l);
    const dir = await mkdtemp(join(this.l.dir, '.validate-'));
    try {
      await writeTree(dir, files, this.l.files);
      return await fn(basename(dir));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  backup(js: boolean): Promise<void> {
    return backupLive(this.l, js);
  }

  promote(js: boolean): Promise<void> {
    return promoteCandidate(this.l, js);
  }

  restore(js: boolean): Promise<void> {
    return restorePrevious(this.l, js);
  }

  writeWeights(text: string): Promise<void> {
    return writeWeights(this.l, text);
  }

  restoreWeights(): Promise<void> {
    return restoreWeights(this.l);
  }

  readLive(): Promise<{ main: string; site: string; js: string } | null> {
    return readLive(this.l);
  }

  errorLogSize(): Promise<number> {
    return fileSize(this.l.errorLog);
  }

  errorLogSince(offset: number): Promise<string[]> {
    return readSince(this.l.errorLog, offset);
  }
}

import { randomBytes } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { lstat, mkdir, open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { UnsafePathError } from '../core/errors.js';

export { UnsafePathError };

/**
 * The one way bgctl writes into the folders it owns (nginx.dir, its candidate tree, stateDir). Those
 * folders may be reachable by others (the docker driver bind-mounts nginx.dir read-write into the NGINX
 * container), so nothing here follows a symbolic link or writes into anything but a regular file:
 * temporary names are unique and created with O_CREAT|O_EXCL|O_NOFOLLOW, reads use O_NOFOLLOW|O_NONBLOCK
 * (a FIFO cannot hang bgctl) and check the file type on the open descriptor, folders are checked with
 * lstat, and a link or special file where bgctl expects its own file is refused with exit 6, naming it.
 */

const WRITE_NEW = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
const READ_SAFE = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/** What a path is, without following a link; null: nothing there. */
async function kind(p: string): Promise<Stats | null> {
  try {
    return await lstat(p);
  } catch (e) {
    if (code(e) === 'ENOENT') return null;
    throw e;
  }
}

function describe(s: Stats): string {
  if (s.isSymbolicLink()) return 'a symbolic link';
  if (s.isDirectory()) return 'a folder';
  if (s.isFIFO()) return 'a named pipe (FIFO)';
  if (s.isSocket()) return 'a socket';
  if (s.isCharacterDevice() || s.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

/** Throws unless `p` is missing or a regular file (never a link, folder, FIFO, socket or device). */
export async function assertRegularOrMissing(p: string): Promise<void> {
  const s = await kind(p);
  if (s !== null && !s.isFile()) throw new UnsafePathError(p, describe(s));
}

/** Throws unless `p` is missing or a real folder (not a link to one). */
export async function assertRealDirOrMissing(p: string): Promise<void> {
  const s = await kind(p);
  if (s !== null && !s.isDirectory()) throw new UnsafePathError(p, describe(s));
}

/**
 * Makes sure `base/sub` and every folder between them are real folders (not links to one), creating the
 * missing ones (0755, or `mode`). `base` itself is configured by the operator and trusted (created if missing).
 */
export async function ensureRealDir(base: string, sub: string, o: { mode?: number } = {}): Promise<string> {
  let d = path.resolve(base);
  await mkdir(d, { recursive: true });
  for (const part of sub.split('/').filter((x) => x !== '' && x !== '.')) {
    if (part === '..') throw new Error(`ensureRealDir: ${sub} leaves ${base}`);
    d = path.join(d, part);
    const s = await kind(d);
    if (s === null) {
      await mkdir(d, { mode: o.mode ?? 0o755 }).catch((e: unknown) => {
        if (code(e) !== 'EEXIST') throw e;
      });
      const again = await kind(d);
      if (again === null || !again.isDirectory()) throw new UnsafePathError(d, again === null ? 'gone' : describe(again));
    } else if (!s.isDirectory()) {
      throw new UnsafePathError(d, describe(s));
    }
  }
  return d;
}

/**
 * The text of a regular file; null when it does not exist. A link or special file there is refused
 * (a FIFO is opened non-blocking, so it never hangs the caller).
 */
export async function readRegular(p: string): Promise<string | null> {
  const buf = await readRegularBuffer(p);
  return buf === null ? null : buf.data.toString('utf8');
}

async function readRegularBuffer(p: string): Promise<{ data: Buffer; mode: number } | null> {
  let fh;
  try {
    fh = await open(p, READ_SAFE);
  } catch (e) {
    if (code(e) === 'ENOENT') return null;
    if (code(e) === 'ELOOP') throw new UnsafePathError(p, 'a symbolic link');
    throw e;
  }
  try {
    const s = await fh.stat();
    if (!s.isFile()) throw new UnsafePathError(p, describe(s));
    return { data: await fh.readFile(), mode: s.mode & 0o7777 };
  } finally {
    await fh.close();
  }
}

export interface WriteOptions {
  /** file mode; default 0644 */
  readonly mode?: number;
  /** `mode` whatever the umask (a file another user's process must read, or one that must stay private) */
  readonly exactMode?: boolean;
}

/**
 * Writes `data` to `target` so the target is always either the old or the new file, whole: a temp file
 * in the same folder (unique name, created exclusively, never through a link), fsync, rename over the
 * target. The target itself must be missing or a regular file. The caller fsyncs the folder when the
 * rename itself must survive a power cut.
 */
export async function writeExclusive(target: string, data: string | Buffer, o: WriteOptions = {}): Promise<void> {
  await assertRegularOrMissing(target);
  const mode = o.mode ?? 0o644;
  const tmp = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let created = false;
  try {
    const fh = await open(tmp, WRITE_NEW, mode).catch((e: unknown) => {
      throw code(e) === 'EEXIST' || code(e) === 'ELOOP' ? new UnsafePathError(tmp, 'something that already exists') : e;
    });
    created = true;
    try {
      await fh.writeFile(data);
      if (o.exactMode) await fh.chmod(mode);
      await fh.sync();
    } finally {
      await fh.close();
    }
    // the target may have been swapped for a link meanwhile: rename replaces the link itself, never its target
    await rename(tmp, target);
  } catch (e) {
    if (created) await unlink(tmp).catch(() => undefined);
    throw e;
  }
}

/**
 * Copies the regular file `from` to `to` (its mode kept exactly): read without following a link, then
 * written like writeExclusive. false when `from` does not exist (nothing written).
 */
export async function copySafe(from: string, to: string): Promise<boolean> {
  const src = await readRegularBuffer(from);
  if (src === null) return false;
  await writeExclusive(to, src.data, { mode: src.mode & 0o777, exactMode: true });
  return true;
}

/** Removes a file bgctl owns (a link there is removed itself, never what it points to); a folder is refused. */
export async function removeFile(p: string): Promise<void> {
  const s = await kind(p);
  if (s === null) return;
  if (s.isDirectory()) throw new UnsafePathError(p, 'a folder');
  await unlink(p).catch((e: unknown) => {
    if (code(e) !== 'ENOENT') throw e;
  });
}

/** Renames the regular file `from` over `to` (missing or a regular file): atomic on one filesystem. */
export async function renameRegular(from: string, to: string): Promise<void> {
  const s = await kind(from);
  if (s !== null && !s.isFile()) throw new UnsafePathError(from, describe(s));
  await assertRegularOrMissing(to);
  await rename(from, to);
}

/** Whether a regular file is there (a link or special file is refused). */
export async function regularExists(p: string): Promise<boolean> {
  const s = await kind(p);
  if (s === null) return false;
  if (!s.isFile()) throw new UnsafePathError(p, describe(s));
  return true;
}

/** Opens `p` for appending, creating it with `mode`; never through a link, never into a special file. */
export async function openAppend(p: string, mode = 0o600) {
  const fh = await open(
    p,
    constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK,
    mode,
  ).catch((e: unknown) => {
    throw code(e) === 'ELOOP' ? new UnsafePathError(p, 'a symbolic link') : e;
  });
  const s = await fh.stat();
  if (!s.isFile()) {
    await fh.close();
    throw new UnsafePathError(p, describe(s));
  }
  return fh;
}

export const code = (e: unknown): string | undefined => (e as NodeJS.ErrnoException | null)?.code;

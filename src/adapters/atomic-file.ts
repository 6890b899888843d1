import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';

/**
 * Writes `text` to `target` so the target is always either the old or the new file, whole: a temp file
 * in the same folder (unique name, so concurrent writers never share one), fsync, rename over the target.
 * The caller fsyncs the folder when the rename itself must survive a power cut. `exactMode`: `mode`
 * whatever the umask (a file other users' processes must read, e.g. NGINX's workers).
 */
export async function writeFileAtomic(target: string, text: string, mode = 0o644, o: { exactMode?: boolean } = {}): Promise<void> {
  const tmp = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const fh = await open(tmp, 'wx', mode);
    try {
      await fh.writeFile(text, 'utf8');
      if (o.exactMode) await fh.chmod(mode);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, target);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
}

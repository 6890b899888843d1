import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';

/**
 * Writes `text` to `target` so the target is always either the old or the new file, whole: a temp file
 * in the same folder (unique name, so concurrent writers never share one), fsync, rename over the target.
 * The caller fsyncs the folder when the rename itself must survive a power cut.
 */
export async function writeFileAtomic(target: string, text: string, mode = 0o644): Promise<void> {
  const tmp = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const fh = await open(tmp, 'wx', mode);
    try {
      await fh.writeFile(text, 'utf8');
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

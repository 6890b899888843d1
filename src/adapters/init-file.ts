import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '../core/errors.js';
import { writeExclusive } from './safe-fs.js';

// `bgctl init`'s write: config/init.ts renders the YAML (pure), this puts it on disk.

export interface WriteInitOptions {
  readonly force: boolean;
}

/** Writes the file atomically (temp file in the same folder, fsync, rename); never clobbers without force. */
export async function writeInitConfig(file: string, text: string, { force }: WriteInitOptions): Promise<void> {
  // The text is YAML; a .json name would make loadConfig parse it as JSON and fail.
  if (!/\.ya?ml$/i.test(file)) throw new UsageError(`${file}: bgctl init writes YAML; use a .yaml or .yml file name`);
  const exists = await stat(file).then(
    (s) => s,
    () => null,
  );
  if (exists && !force) {
    throw new UsageError(`${path.basename(file)} already exists; use --force to overwrite`, { details: { path: file } });
  }
  if (exists?.isDirectory()) throw new UsageError(`${file}: is a folder`);
  const dir = path.dirname(file);
  await mkdir(dir, { recursive: true });
  try {
    await writeExclusive(file, text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new UsageError(`cannot write ${file}: ${reason}`, { cause: error });
  }
}

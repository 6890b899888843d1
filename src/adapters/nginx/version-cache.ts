import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { NjsSupport } from '../../app/ports.js';
import { readRegular, writeExclusive } from '../safe-fs.js';

/**
 * `nginx -V` answers the same until the binary changes, and running it costs a CLI a process spawn on
 * every command that resolves nginx.mode. Its output is kept in the state folder, keyed on the binary's
 * real path, modification time and size: an upgraded or replaced NGINX is asked again. Any problem
 * with the cache (unreadable, unwritable, binary not found on PATH) just means asking NGINX.
 */

interface Entry {
  readonly mtimeMs: number;
  readonly size: number;
  readonly text: string;
}

/** The file `binary` names: as given when it has a slash, else the first match on PATH. */
export async function resolveBinary(binary: string, pathEnv: string | undefined): Promise<string | null> {
  const candidates = binary.includes('/')
    ? [path.resolve(binary)]
    : (pathEnv ?? '')
        .split(path.delimiter)
        .filter((dir) => dir !== '')
        .map((dir) => path.join(dir, binary));
  for (const file of candidates) {
    const s = await stat(file).catch(() => null);
    if (s?.isFile()) return file;
  }
  return null;
}

/** `run()`'s answer (nginx -V's text, or why it failed), from `cacheFile` when the binary is unchanged. */
export async function cachedVersionText(
  binary: string,
  cacheFile: string | null | undefined,
  run: () => Promise<string | NjsSupport>,
  pathEnv = process.env['PATH'],
): Promise<string | NjsSupport> {
  if (!cacheFile) return run();
  const file = await resolveBinary(binary, pathEnv);
  const s = file === null ? null : await stat(file).catch(() => null);
  if (file === null || s === null) return run();
  const cache = await readCache(cacheFile);
  const hit = cache[file];
  if (hit && hit.mtimeMs === s.mtimeMs && hit.size === s.size) return hit.text;
  const text = await run();
  if (typeof text !== 'string') return text; // failures are not remembered
  const next: Record<string, Entry> = { ...cache, [file]: { mtimeMs: s.mtimeMs, size: s.size, text } };
  // never through a planted link (safe-fs); a cache that cannot be written just means asking NGINX next time
  await writeExclusive(cacheFile, `${JSON.stringify(next)}\n`).catch(() => undefined);
  return text;
}

async function readCache(cacheFile: string): Promise<Record<string, Entry>> {
  try {
    const parsed = JSON.parse((await readRegular(cacheFile)) ?? 'null') as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return {};
    const out: Record<string, Entry> = {};
    for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
      const e = v as Partial<Entry> | null;
      if (typeof e?.mtimeMs === 'number' && typeof e.size === 'number' && typeof e.text === 'string')
        out[k] = { mtimeMs: e.mtimeMs, size: e.size, text: e.text };
    }
    return out;
  } catch {
    return {};
  }
}

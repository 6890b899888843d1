import { constants } from 'node:fs';
import { mkdir, open, unlink } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { writeExclusive } from './control-file.js';

/**
 * `stateDir/serve.json`: where the running `bgctl serve` of this install answers, so `gradual --detach`
 * can hand it a migration. Written 0600 when serve starts, removed when it stops.
 */
const schema = z.strictObject({ pid: z.number().int(), host: z.string(), api: z.string().url() });
export type ServeRecord = z.infer<typeof schema>;

export const serveFile = (stateDir: string): string => path.join(stateDir, 'serve.json');

export async function writeServeRecord(stateDir: string, r: ServeRecord): Promise<void> {
  await mkdir(stateDir, { recursive: true });
  await writeExclusive(serveFile(stateDir), JSON.stringify(r));
}

export async function readServeRecord(stateDir: string): Promise<ServeRecord | null> {
  try {
    const fh = await open(serveFile(stateDir), constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      const r = schema.safeParse(JSON.parse(await fh.readFile('utf8')));
      return r.success ? r.data : null;
    } finally {
      await fh.close();
    }
  } catch {
    return null;
  }
}

/** Removes the record only when it is this process's (a newer serve may have replaced it). */
export async function removeServeRecord(stateDir: string, pid: number): Promise<void> {
  const r = await readServeRecord(stateDir);
  if (r?.pid === pid) await unlink(serveFile(stateDir)).catch(() => undefined);
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

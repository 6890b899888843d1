import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, mkdir, open, readdir, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { ControlChannel } from '../app/control.js';
import { controlAckSchema, controlRequestSchema, type ControlFileAck, type ControlFileRequest } from '../core/control.js';

/**
 * Control requests as files in `stateDir/control/`: `req-<id>.json` written by `bgctl pause|resume|
 * promote|abort` (or `bgctl serve`), taken by the process that runs the migration at its next check
 * tick, answered with `ack-<id>.json`. Written whole (temp file created O_EXCL|O_NOFOLLOW, 0600,
 * renamed), read without following links; a planted symlink folder is refused.
 */
const REQ = /^req-([0-9A-Za-z-]{1,64})\.json$/;
const ACK = /^ack-([0-9A-Za-z-]{1,64})\.json$/;
/** an answer nobody took (its command was killed) is removed after this long */
const STALE_ACK_MS = 10 * 60_000;

export class ControlFiles implements ControlChannel {
  readonly dir: string;

  constructor(stateDir: string) {
    this.dir = path.join(stateDir, 'control');
  }

  async send(req: ControlFileRequest): Promise<void> {
    await this.ensureDir();
    await writeExclusive(path.join(this.dir, `req-${req.id}.json`), JSON.stringify(req));
  }

  async pending(): Promise<ControlFileRequest[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return [];
    }
    const out: ControlFileRequest[] = [];
    for (const name of names.filter((n) => ACK.test(n))) {
      const file = path.join(this.dir, name);
      const st = await lstat(file).catch(() => null);
      if (st && Date.now() - st.mtimeMs > STALE_ACK_MS) await unlink(file).catch(() => undefined);
    }
    for (const name of names.filter((n) => REQ.test(n)).sort()) {
      const file = path.join(this.dir, name);
      const parsed = controlRequestSchema.safeParse(await readJson(file));
      if (parsed.success && `req-${parsed.data.id}.json` === name) out.push(parsed.data);
      else await unlink(file).catch(() => undefined); // malformed: dropped, never acted on
    }
    return out.sort((a, b) => a.at.localeCompare(b.at));
  }

  async answer(ack: ControlFileAck): Promise<void> {
    await this.ensureDir();
    await writeExclusive(path.join(this.dir, `ack-${ack.id}.json`), JSON.stringify(ack));
    await unlink(path.join(this.dir, `req-${ack.id}.json`)).catch(() => undefined);
  }

  async withdraw(id: string): Promise<boolean> {
    try {
      await unlink(path.join(this.dir, `req-${id}.json`));
      return true;
    } catch {
      return false;
    }
  }

  async takeAnswer(id: string): Promise<ControlFileAck | null> {
    const file = path.join(this.dir, `ack-${id}.json`);
    const raw = await readJson(file);
    if (raw === undefined) return null;
    await unlink(file).catch(() => undefined);
    const parsed = controlAckSchema.safeParse(raw);
    return parsed.success ? parsed.data : null;
  }

  private async ensureDir(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const st = await lstat(this.dir);
    if (!st.isDirectory()) throw new Error(`${this.dir} is not a folder (a link?); refusing to write control requests through it`);
  }
}

/** Writes a whole 0600 file through a temp created O_EXCL|O_NOFOLLOW, renamed over the target. */
export async function writeExclusive(target: string, text: string): Promise<void> {
  const tmp = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
  try {
    const fh = await open(tmp, flags, 0o600);
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

/** The parsed file, or undefined when it is missing, a link, or not JSON. */
async function readJson(file: string): Promise<unknown> {
  try {
    const fh = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      return JSON.parse(await fh.readFile('utf8')) as unknown;
    } finally {
      await fh.close();
    }
  } catch {
    return undefined;
  }
}

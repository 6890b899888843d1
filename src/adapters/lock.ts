import { randomUUID } from 'node:crypto';
import { mkdir, open, readFile, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Lock, LockHandle, LockInfo, Logger } from '../app/ports.js';
import { BgctlError, LockHeldError, PreflightError } from '../core/errors.js';
import { readRegular } from './safe-fs.js';

export interface FileLockOptions {
  readonly logger: Logger;
  /** An empty/corrupt lock file younger than this may be one being written right now. Default 5000. */
  readonly corruptGraceMs?: number;
  /** For tests: the identity written into the lock. */
  readonly pid?: number;
  readonly host?: string;
}

interface LockFile extends LockInfo {
  /** unique per acquire: tells our lock from another handle of the same process */
  readonly token: string;
  /** the holder's start time (/proc/PID/stat field 22): a reused pid has another one */
  readonly procStart?: string;
}

export type Seen = { kind: 'none' } | { kind: 'held'; info: LockFile } | { kind: 'corrupt'; ageMs: number };

/**
 * One lock for every mutating operation: `stateDir/lock`, created with O_EXCL (`wx`) so exactly one
 * process can create it. A lock whose holder died is reclaimed with a warning. Reclaiming goes through
 * a second O_EXCL file (`lock.reclaim`) so two reclaimers cannot both delete-and-recreate: the second
 * one re-reads the lock under the guard, finds the first one's live lock and stops.
 */
export class FileLock implements Lock {
  readonly path: string;
  private readonly guardPath: string;
  private readonly pid: number;
  private readonly host: string;
  private readonly graceMs: number;

  constructor(
    readonly stateDir: string,
    private readonly options: FileLockOptions,
  ) {
    this.path = join(stateDir, 'lock');
    this.guardPath = join(stateDir, 'lock.reclaim');
    this.pid = options.pid ?? process.pid;
    this.host = options.host ?? hostname();
    this.graceMs = options.corruptGraceMs ?? 5000;
  }

  async acquire(command: string): Promise<LockHandle> {
    try {
      return await this.take(command);
    } catch (e) {
      if (e instanceof BgctlError) throw e;
      // a read-only or full state folder: refused before anything changed
      throw new PreflightError(`cannot take the lock ${this.path}: ${(e as Error).message}`, {
        cause: e,
        details: { path: this.path },
        hint: `bgctl needs to write in ${this.stateDir} (is it read-only or full?)`,
      });
    }
  }

  private async take(command: string): Promise<LockHandle> {
    await mkdir(this.stateDir, { recursive: true });
    const procStart = await processStart(this.pid);
    const mine: LockFile = {
      pid: this.pid,
      host: this.host,
      command,
      startedAt: new Date().toISOString(),
      token: randomUUID(),
      ...(procStart === null ? {} : { procStart }),
    };
    let waitedForWriter = 0;
    for (let attempt = 0; attempt < 50; attempt++) {
      if (await createExclusive(this.path, JSON.stringify(mine))) {
        // belt and braces: what is on disk now must be ours (someone may have broken the lock by hand)
        const now = await this.read();
        if (now.kind === 'held' && now.info.token === mine.token) return { release: () => this.release(mine.token) };
        throw this.heldError(now);
      }
      const seen = await this.read();
      if (seen.kind === 'none') continue; // released meanwhile: try again
      if (seen.kind === 'held' && this.isAlive(seen.info)) throw this.heldError(seen);
      if (seen.kind === 'corrupt' && seen.ageMs < this.graceMs) {
        // probably a lock being written this very moment: give the writer a moment, not forever
        if (++waitedForWriter > 5) throw this.heldError(seen);
        await delay(100);
        continue;
      }
      await this.reclaim(seen);
    }
    throw this.heldError(await this.read());
  }

  async holder(): Promise<(LockInfo & { alive: boolean }) | null> {
    const seen = await this.read();
    if (seen.kind === 'none') return null;
    if (seen.kind === 'corrupt') {
      const since = new Date(Date.now() - seen.ageMs).toISOString();
      return { pid: 0, host: '', command: '(unreadable lock file)', startedAt: since, alive: seen.ageMs < this.graceMs };
    }
    const { pid, host, command, startedAt } = seen.info;
    return { pid, host, command, startedAt, alive: this.isAlive(seen.info) };
  }

  async interrupt(holder: LockInfo): Promise<boolean> {
    if (holder.host !== this.host || holder.pid <= 0 || holder.pid === this.pid) return false;
    // a pid can be reused after a crash: only ever signal the very process that took the lock now on
    // disk (same pid, and the process start time it recorded), never any process that merely looks like bgctl
    const seen: Seen = await this.read().catch((): Seen => ({ kind: 'none' }));
    if (seen.kind !== 'held' || seen.info.pid !== holder.pid || seen.info.host !== holder.host) return false;
    if (seen.info.startedAt !== holder.startedAt) return false;
    const recorded = seen.info.procStart;
    if (recorded === undefined || recorded !== (await processStart(holder.pid))) return false;
    try {
      process.kill(holder.pid, 'SIGTERM');
      return true;
    } catch {
      return false; // gone already, or not ours to signal
    }
  }

  /** Removes the lock only if it is still ours: a reclaimed-and-retaken lock belongs to someone else now. */
  private async release(token: string): Promise<void> {
    const seen = await this.read();
    if (seen.kind === 'held' && seen.info.token === token) {
      await unlink(this.path).catch(ignoreEnoent);
    } else if (seen.kind !== 'none') {
      this.options.logger.warn('lock is no longer ours; left in place', { path: this.path });
    }
  }

  /** Deletes a dead holder's lock, under the reclaim guard, only if it is still the same dead lock. */
  private async reclaim(judged: Seen): Promise<void> {
    if (!(await createExclusive(this.guardPath, String(this.pid)))) {
      // another process is reclaiming; a guard left by a crash is removed once clearly stale
      const age = await ageMs(this.guardPath);
      if (age !== null && age > this.graceMs) await unlink(this.guardPath).catch(ignoreEnoent);
      else await delay(50);
      return;
    }
    try {
      const now = await this.read();
      const same =
        (judged.kind === 'held' && now.kind === 'held' && sameLock(now.info, judged.info)) ||
        (judged.kind === 'corrupt' && now.kind === 'corrupt' && now.ageMs >= this.graceMs);
      if (!same) return; // it changed under us: the caller's loop looks again
      const log = this.options.logger;
      if (now.kind === 'held') {
        const { pid, host, command, startedAt } = now.info;
        log.warn(`lock held by dead pid ${pid} reclaimed`, { path: this.path, pid, host, command, startedAt });
      } else {
        log.warn('unreadable stale lock file reclaimed', { path: this.path });
      }
      await unlink(this.path).catch(ignoreEnoent);
    } finally {
      await unlink(this.guardPath).catch(ignoreEnoent);
    }
  }

  private isAlive(info: LockInfo): boolean {
    // a process on another host (shared folder) cannot be checked: never steal its lock
    if (info.host !== this.host) return true;
    if (!Number.isInteger(info.pid) || info.pid <= 0) return false;
    try {
      process.kill(info.pid, 0);
      return true;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by another user
    }
  }

  private async read(): Promise<Seen> {
    // never through a link, never blocking on a FIFO planted in its place (refused, exit 6)
    const text = await readRegular(this.path);
    if (text === null) return { kind: 'none' };
    const info = parseLockFile(text);
    if (info !== null) return { kind: 'held', info };
    const age = await ageMs(this.path);
    return age === null ? { kind: 'none' } : { kind: 'corrupt', ageMs: age };
  }

  private heldError(seen: Seen): LockHeldError {
    const who =
      seen.kind === 'held'
        ? `\`${seen.info.command}\` (pid ${seen.info.pid} on host ${seen.info.host}) since ${seen.info.startedAt}`
        : seen.kind === 'corrupt'
          ? `an unknown process (the lock file is unreadable, written ${Math.round(seen.ageMs / 1000)} s ago)`
          : 'another bgctl (the lock kept changing)';
    return new LockHeldError(`locked by ${who}`, {
      details: { path: this.path, ...(seen.kind === 'held' ? { holder: { ...seen.info, token: undefined } } : {}) },
      hint: lockHint(seen, this.host, this.path),
    });
  }
}

/**
 * What is true about waiting: a holder on this host is checked on every try and its lock reclaimed
 * once it is gone; only a holder on another host (a shared folder) cannot be checked.
 */
export function lockHint(seen: Seen, host: string, path: string): string {
  if (seen.kind === 'held' && seen.info.host !== host)
    return `it runs on host ${seen.info.host}, which bgctl cannot check from here: wait for it there; only if that process is gone for sure, remove ${path}`;
  if (seen.kind === 'corrupt') return 'try again in a few seconds: an unreadable lock file is reclaimed automatically once it is stale';
  return 'wait for it to finish (`bgctl status` shows what it does); once that process is gone, the next bgctl reclaims the lock by itself, no need to delete anything';
}

/** Pure: lock file text → its content, or null when empty/corrupt. */
export function parseLockFile(text: string): LockFile | null {
  try {
    const v = JSON.parse(text) as Partial<LockFile> | null;
    if (v === null || typeof v !== 'object') return null;
    const { pid, host, command, startedAt, token, procStart } = v;
    if (typeof pid !== 'number' || typeof host !== 'string' || typeof command !== 'string' || typeof startedAt !== 'string') return null;
    return {
      pid,
      host,
      command,
      startedAt,
      token: typeof token === 'string' ? token : '',
      ...(typeof procStart === 'string' ? { procStart } : {}),
    };
  } catch {
    return null;
  }
}

const sameLock = (a: LockFile, b: LockFile): boolean =>
  a.token === b.token && a.pid === b.pid && a.host === b.host && a.startedAt === b.startedAt;

/** O_EXCL create + write + fsync; false when the file already exists. */
async function createExclusive(path: string, text: string): Promise<boolean> {
  let fh;
  try {
    fh = await open(path, 'wx', 0o644);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
  try {
    await fh.writeFile(text, 'utf8');
    await fh.sync();
  } finally {
    await fh.close();
  }
  return true;
}

/** A process's start time in clock ticks since boot (/proc/PID/stat field 22); null: unknown (gone, or no /proc). */
export async function processStart(pid: number): Promise<string | null> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const end = text.lastIndexOf(')');
  if (end < 0) return null;
  // after "pid (comm) " come the fields from 3 (state) on: starttime is field 22
  return text.slice(end + 2).split(' ')[19] ?? null;
}

async function ageMs(path: string): Promise<number | null> {
  try {
    return Date.now() - (await stat(path)).mtimeMs;
  } catch {
    return null;
  }
}

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const ignoreEnoent = (e: unknown): void => {
  if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
};

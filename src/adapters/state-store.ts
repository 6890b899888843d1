import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock, StateStore } from '../app/ports.js';
import { BgctlError, StateWriteError, UnknownStateError } from '../core/errors.js';
import { STATE_SCHEMA_VERSION, initialState, stateSchema } from '../core/state.js';
import type { State } from '../core/state.js';
import { readRegular, writeExclusive } from './safe-fs.js';
import { systemClock } from './clock.js';

type Parsed = { ok: true; state: State; text: string } | { ok: false; why: string };

/** Pure: text of a state file → state or a one-line reason why it is not a valid state. */
export function parseStateText(text: string): Parsed {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return { ok: false, why: text.trim() === '' ? 'the file is empty' : `not valid JSON (${(e as Error).message})` };
  }
  const schema = (raw as { schema?: unknown } | null)?.schema;
  if (typeof schema === 'number' && schema !== STATE_SCHEMA_VERSION) {
    return { ok: false, why: `schema version ${schema} is not supported (this bgctl reads version ${STATE_SCHEMA_VERSION})` };
  }
  // jitless: a few parses per command; zod's compiled fast path (generated code) would cost more than it saves
  const r = stateSchema.safeParse(raw, { jitless: true });
  if (r.success) return { ok: true, state: r.data, text };
  const issues = r.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
  return { ok: false, why: `not a valid state (${issues.join('; ')}${r.error.issues.length > 3 ? '; ...' : ''})` };
}

/**
 * `stateDir/state.json`, written atomically: temp file in the same folder → fsync → rename → fsync the
 * folder, so a crash leaves either the old or the new file, never half of one. The previous valid
 * state is kept as `state.json.bak`. A damaged file is never silently replaced: it stops bgctl with
 * exit 4 and tells the operator how to restore the backup.
 */
export class FileStateStore implements StateStore {
  readonly path: string;
  readonly backupPath: string;

  constructor(
    readonly stateDir: string,
    private readonly clock: Pick<Clock, 'now'> = systemClock,
  ) {
    this.path = join(stateDir, 'state.json');
    this.backupPath = join(stateDir, 'state.json.bak');
  }

  async load(): Promise<State> {
    const text = await this.readOrNull(this.path);
    if (text === null) {
      // no state yet = fresh install, unless a backup says there was one: don't pretend blue is stable
      if ((await this.readOrNull(this.backupPath)) === null) return initialState(new Date(this.clock.now()).toISOString());
      throw await this.damaged('is missing but a backup exists');
    }
    const parsed = parseStateText(text);
    if (parsed.ok) return parsed.state;
    throw await this.damaged(`is unusable: ${parsed.why}`);
  }

  async save(state: State): Promise<void> {
    // never write what we could not read back (a bug upstream must not corrupt the truth)
    const text = `${JSON.stringify(stateSchema.parse(state, { jitless: true }), null, 2)}\n`;
    try {
      await mkdir(this.stateDir, { recursive: true });
      const current = await this.readOrNull(this.path);
      if (current !== null && parseStateText(current).ok) await writeExclusive(this.backupPath, current);
      await writeExclusive(this.path, text);
    } catch (e) {
      // refusals that already say what is wrong (a planted link: exit 6) pass through
      if (e instanceof BgctlError) throw e;
      const err = e as NodeJS.ErrnoException;
      const why = err.code === 'ENOSPC' ? 'no space left on the device' : err.code === 'EROFS' ? 'read-only file system' : err.message;
      throw new StateWriteError(`cannot save the state in ${this.stateDir}: ${why}`, {
        cause: e,
        details: { path: this.path, code: err.code ?? null },
        hint: `make ${this.stateDir} writable (free space, remount read-write), then run \`bgctl status\``,
      });
    }
    await fsyncDir(this.stateDir);
  }

  private async readOrNull(path: string): Promise<string | null> {
    try {
      // a link or FIFO in its place is refused (exit 6) and never blocks
      return await readRegular(path);
    } catch (e) {
      if (e instanceof BgctlError) throw e;
      throw new UnknownStateError(`cannot read ${path}: ${(e as Error).message}`, { cause: e });
    }
  }

  /** The error for a state file we cannot trust, saying whether the backup can replace it. */
  private async damaged(what: string): Promise<UnknownStateError> {
    const bak = await this.readOrNull(this.backupPath).catch(() => null);
    const parsed = bak === null ? null : parseStateText(bak);
    const restore = `cp ${shellQuote(this.backupPath)} ${shellQuote(this.path)}`;
    let advice: string;
    if (parsed?.ok === true) {
      const s = parsed.state;
      advice =
        `The backup ${this.backupPath} is valid (written ${s.updatedAt}, stable ${s.stable}, ` +
        `weights blue ${s.weights.blue} / green ${s.weights.green}); check it against what NGINX serves, then restore it with: ${restore}`;
    } else {
      advice =
        (parsed === null
          ? `There is no backup (${this.backupPath} does not exist)`
          : `The backup ${this.backupPath} is not usable either: ${parsed.why}`) +
        `; repair ${this.path} by hand, or remove it to start fresh (blue stable at 100%) only if that is what NGINX serves`;
    }
    return new UnknownStateError(`state file ${this.path} ${what}. ${advice}`, {
      details: { path: this.path, backup: this.backupPath, backupValid: parsed?.ok === true },
      hint: parsed?.ok === true ? restore : `repair ${this.path} by hand`,
    });
  }
}

/** Quotes a path for the copy-paste command in the error message. */
function shellQuote(path: string): string {
  return /^[\w@%+=:,./-]+$/.test(path) ? path : `'${path.replaceAll("'", `'\\''`)}'`;
}

/** Makes the rename itself durable. Some platforms cannot open a folder for fsync; that is not fatal. */
async function fsyncDir(dir: string): Promise<void> {
  let fh;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch {
    // EISDIR/EPERM/EINVAL on platforms without directory fsync: the file itself was fsynced
  } finally {
    await fh?.close();
  }
}

import { mkdir, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { openAppend } from '../../adapters/safe-fs.js';

/** One line of the audit log. The token, the headers and the raw body are never written. */
export interface AuditEntry {
  readonly time: string;
  /** remote address of the caller */
  readonly source: string;
  /** method and path, e.g. `POST /switch/green` */
  readonly action: string;
  /** HTTP status answered */
  readonly status: number;
  /** what happened, in a few words: `started gradual blue → green`, `unauthorized: wrong API token` */
  readonly result: string;
  /** whether the bearer token matched (false: denied before that, or no/wrong token) */
  readonly authorized: boolean;
  /** validated request parameters (color, version, steps...), when there were any */
  readonly params?: Readonly<Record<string, unknown>>;
}

export interface AuditSink {
  append(entry: AuditEntry): Promise<void>;
}

const MAX_FIELD = 500;
const clip = (s: string): string => (s.length > MAX_FIELD ? `${s.slice(0, MAX_FIELD - 3)}...` : s);

/** Pure: the JSON line for an entry (one line, long strings clipped). */
export function auditLine(e: AuditEntry): string {
  const clipped: AuditEntry = { ...e, source: clip(e.source), action: clip(e.action), result: clip(e.result) };
  return `${JSON.stringify(clipped)}\n`;
}

export interface AuditFileOptions {
  /** past this size the file is renamed to `.1` (the older `.1` to `.2`) and a new one started; default 5 MiB */
  readonly maxBytes?: number;
  /** rotated generations kept (1 or 2); default 2 */
  readonly keep?: 1 | 2;
}

/**
 * Appends JSON lines to `stateDir/audit.jsonl` (mode 0600, never through a link or into a special file),
 * one write at a time in call order. Bounded: past `maxBytes` the file rotates to `.1` (and `.1` to
 * `.2`), so the audit log never takes more than (keep + 1) × maxBytes of the state folder.
 * `check()` at start-up makes sure the file can be written: serve refuses to start without its audit log.
 * A failed write rejects that append only (the caller logs it): it never blocks the next one.
 */
export class AuditFile implements AuditSink {
  private chain: Promise<void> = Promise.resolve();
  private size: number | null = null;
  readonly maxBytes: number;
  private readonly keep: number;

  constructor(
    readonly path: string,
    o: AuditFileOptions = {},
  ) {
    this.maxBytes = o.maxBytes ?? 5 * 1024 * 1024;
    this.keep = o.keep ?? 2;
  }

  async check(): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    const fh = await openAppend(this.path);
    try {
      this.size = (await fh.stat()).size;
    } finally {
      await fh.close();
    }
  }

  append(entry: AuditEntry): Promise<void> {
    const line = auditLine(entry);
    const next = this.chain.then(() => this.write(line));
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async write(line: string): Promise<void> {
    const bytes = Buffer.byteLength(line);
    if (this.size !== null && this.size > 0 && this.size + bytes > this.maxBytes) await this.rotate();
    const fh = await openAppend(this.path);
    try {
      const before = (await fh.stat()).size;
      await fh.write(line);
      this.size = before + bytes;
    } finally {
      await fh.close();
    }
  }

  /** audit.jsonl → .1 (→ .2): a rename replaces a link planted there, never what it points to. */
  private async rotate(): Promise<void> {
    if (this.keep >= 2) await rename(`${this.path}.1`, `${this.path}.2`).catch(ignoreMissing);
    await rename(this.path, `${this.path}.1`).catch(ignoreMissing);
    this.size = 0;
  }
}

const ignoreMissing = (e: unknown): void => {
  if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
};

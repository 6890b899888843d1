import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';

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

/**
 * Appends JSON lines to `stateDir/audit.jsonl` (mode 0600), one write at a time in call order.
 * `check()` at start-up makes sure the file can be written: serve refuses to start without its audit log.
 */
export class AuditFile implements AuditSink {
  private chain: Promise<void> = Promise.resolve();

  constructor(readonly path: string) {}

  async check(): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    await appendFile(this.path, '', { mode: 0o600 });
  }

  append(entry: AuditEntry): Promise<void> {
    const line = auditLine(entry);
    const next = this.chain.then(() => appendFile(this.path, line, { mode: 0o600 }));
    this.chain = next.catch(() => undefined);
    return next;
  }
}

import type { Logger } from '../app/ports.js';
import type { AuditEntry, AuditSink } from './adapters/audit-file.js';

/** The statuses that are refusals before any work (bad token, wrong Host, rate limit): counted, not logged one by one. */
export const REFUSED = new Set([401, 403, 421, 429]);

const MAX_SOURCES = 1000;
const TOP = 5;

export interface RefusalOptions {
  readonly audit: AuditSink;
  readonly logger: Logger;
  readonly now: () => number;
  /** one summary line per interval (none when nothing was refused); default 60 000 */
  readonly intervalMs?: number;
  /** each refusal, e.g. for a metric */
  readonly onRefused?: (status: number) => void;
}

/**
 * Refused calls are counted and written to the audit log as one summary line per interval (counts per
 * status, the busiest sources), so a flood of unauthenticated calls cannot grow the state folder.
 */
export class RefusalLog {
  private counts = new Map<number, number>();
  private sources = new Map<string, number>();
  private since: number | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly o: RefusalOptions) {}

  note(status: number, source: string): void {
    this.o.onRefused?.(status);
    this.since ??= this.o.now();
    this.counts.set(status, (this.counts.get(status) ?? 0) + 1);
    if (this.sources.has(source) || this.sources.size < MAX_SOURCES) this.sources.set(source, (this.sources.get(source) ?? 0) + 1);
    if (this.timer === null) {
      this.timer = setTimeout(() => void this.flush(), this.o.intervalMs ?? 60_000);
      this.timer.unref();
    }
  }

  /** Writes the summary of what was refused since the last one (audit errors are logged, never thrown). */
  async flush(): Promise<void> {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const entry = this.summary();
    if (entry === null) return;
    await this.o.audit.append(entry).catch((e: unknown) => this.o.logger.error('cannot write the audit log', { error: String(e) }));
  }

  private summary(): AuditEntry | null {
    if (this.since === null) return null;
    const counts = [...this.counts].sort((a, b) => b[1] - a[1]);
    const total = counts.reduce((n, [, c]) => n + c, 0);
    const top = [...this.sources].sort((a, b) => b[1] - a[1]).slice(0, TOP);
    const entry: AuditEntry = {
      time: new Date(this.o.now()).toISOString(),
      source: top.map(([s]) => s).join(', '),
      action: 'refused calls',
      status: counts[0]?.[0] ?? 0,
      result: `refused ${total} call${total === 1 ? '' : 's'} since ${new Date(this.since).toISOString()}: ${counts.map(([s, c]) => `${s} x${c}`).join(', ')}`,
      authorized: false,
      params: { total, byStatus: Object.fromEntries(counts.map(([s, c]) => [String(s), c])), topSources: Object.fromEntries(top) },
    };
    this.counts = new Map();
    this.sources = new Map();
    this.since = null;
    return entry;
  }
}

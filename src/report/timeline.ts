import { otherColor, type Color } from '../core/color.js';
import type { Migration } from '../core/state.js';

/**
 * The data of a migration's timeline chart, pure: requests per color, errors and retries counted in
 * time buckets from access-log lines, and the moments worth marking (steps, the rollback) from the
 * history record. `timeline-svg.ts` draws it; the access-log adapter feeds the counter.
 */

export interface TimelineBucket {
  /** epoch ms at which the bucket starts */
  readonly atMs: number;
  /** requests finally served by each color */
  readonly blue: number;
  readonly green: number;
  /** requests whose final status was 5xx: what clients saw fail */
  readonly errors: number;
  /** failed upstream attempts NGINX retried on another server (the client got an answer) */
  readonly retried: number;
}

export type MarkerKind = 'step' | 'failure' | 'rollback' | 'restored' | 'done';

export interface TimelineMarker {
  readonly atMs: number;
  readonly label: string;
  readonly kind: MarkerKind;
}

export interface TimelineData {
  readonly title: string;
  readonly subtitle: string;
  readonly fromMs: number;
  readonly toMs: number;
  /** x = 0 on the axis (the migration's start) */
  readonly zeroMs: number;
  readonly bucketMs: number;
  readonly buckets: readonly TimelineBucket[];
  readonly markers: readonly TimelineMarker[];
}

/** The few fields of a parsed access-log line the chart needs (adapters/traffic-log.ts ParsedLine has them). */
export interface LoggedRequest {
  readonly atMs: number | null;
  readonly status: number;
  readonly color: Color | null;
  readonly attempts: readonly { readonly color: Color | null; readonly failed: boolean }[];
  readonly forced: boolean;
}

const NICE_BUCKETS_MS = [
  100, 200, 250, 500, 1000, 2000, 5000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 1_800_000, 3_600_000,
];

/** The smallest round bucket that keeps the chart at or under `maxBuckets` points. */
export function bucketFor(spanMs: number, maxBuckets = 120): number {
  return NICE_BUCKETS_MS.find((b) => spanMs / b <= maxBuckets) ?? NICE_BUCKETS_MS[NICE_BUCKETS_MS.length - 1] ?? 3_600_000;
}

interface MutableBucket {
  blue: number;
  green: number;
  errors: number;
  retried: number;
}

/** Counts lines into buckets over [fromMs, toMs); lines outside, forced and internal ones are left out. */
export class TimelineCounter {
  private readonly counts: MutableBucket[];
  /** lines counted (inside the span) */
  counted = 0;

  constructor(
    readonly fromMs: number,
    readonly toMs: number,
    readonly bucketMs: number,
  ) {
    const n = Math.max(1, Math.ceil((toMs - fromMs) / bucketMs));
    this.counts = Array.from({ length: n }, () => ({ blue: 0, green: 0, errors: 0, retried: 0 }));
  }

  add(line: LoggedRequest): void {
    // forced requests (testers, bgctl's own probes) did not follow the weights
    if (line.forced || line.atMs === null || line.atMs < this.fromMs || line.atMs >= this.toMs) return;
    const color = line.color ?? line.attempts.at(-1)?.color ?? null;
    if (color === null && line.attempts.length === 0) return; // not traffic (an internal location)
    const b = this.counts[Math.floor((line.atMs - this.fromMs) / this.bucketMs)];
    if (!b) return;
    this.counted++;
    if (color !== null) b[color]++;
    const failed = line.status >= 500 && line.status <= 599;
    if (failed) b.errors++;
    // attempts that failed before the one that answered: NGINX rescued the client
    b.retried += line.attempts.slice(0, -1).filter((a) => a.failed).length;
  }

  buckets(): TimelineBucket[] {
    return this.counts.map((c, i) => ({ atMs: this.fromMs + i * this.bucketMs, ...c }));
  }
}

const ms = (iso: string | null | undefined): number | null => {
  if (!iso) return null;
  const t = Date.parse(iso);
  return Number.isFinite(t) ? t : null;
};

/** The span to chart for a migration: a little before its start to a little after its end (or `now`). */
export function migrationSpan(m: Migration, nowMs: number): { fromMs: number; toMs: number; bucketMs: number } {
  const start = ms(m.startedAt) ?? nowMs;
  // a manual rollback after the migration ended (completed, then reverted) is part of its story
  const ends = [m.endedAt, m.rolledBackAt, m.timeline?.restoredAt].map(ms).filter((x): x is number => x !== null);
  const end = Math.max(start + 1000, ends.length > 0 ? Math.max(...ends) : nowMs);
  const margin = Math.max(1000, Math.round((end - start) * 0.05));
  const bucketMs = bucketFor(end - start + 2 * margin);
  const fromMs = Math.floor((start - margin) / bucketMs) * bucketMs;
  const toMs = Math.ceil((end + margin) / bucketMs) * bucketMs;
  return { fromMs, toMs, bucketMs };
}

/** Steps, the failure bgctl saw, the rollback and the moment traffic was back, from the history record. */
export function migrationMarkers(m: Migration): TimelineMarker[] {
  const out: TimelineMarker[] = [];
  const push = (iso: string | null | undefined, label: string, kind: MarkerKind): void => {
    const at = ms(iso);
    if (at !== null) out.push({ atMs: at, label, kind });
  };
  for (const s of m.steps) push(s.appliedAt, `${m.to} ${s.percent}%`, 'step');
  const t = m.timeline;
  if (t) {
    push(t.firstErrorAt, `${t.color} 5xx seen`, 'failure');
    push(t.decidedAt, 'rollback decided', 'rollback');
    push(t.restoredAt, `all on ${otherColor(t.color)}`, 'restored');
  } else if (m.status === 'rolled_back') {
    const ended = ms(m.endedAt);
    const reverted = ms(m.rolledBackAt);
    // it had finished (every step passed) before someone rolled it back
    if (ended !== null && reverted !== null && ended < reverted) push(m.endedAt, 'completed', 'done');
    push(
      m.rolledBackAt,
      `${ended !== null && reverted !== null && ended < reverted ? 'manual rollback' : 'rolled back'}: all on ${m.from}`,
      'restored',
    );
  } else if (m.status === 'completed') {
    push(m.endedAt, 'completed', 'done');
  }
  return out.sort((a, b) => a.atMs - b.atMs);
}

/** Everything the chart of one migration shows; `extra` adds markers the record does not hold (a bench's injected failure). */
export function migrationTimeline(
  m: Migration,
  counter: Pick<TimelineCounter, 'fromMs' | 'toMs' | 'bucketMs' | 'buckets'>,
  extra: readonly TimelineMarker[] = [],
): TimelineData {
  const version = m.version ? ` ${m.version}` : '';
  const outcome = m.status === 'rolled_back' ? 'rolled back' : m.status;
  return {
    title: `${m.kind} ${m.from} → ${m.to}${version}: ${outcome}`,
    subtitle: `migration ${m.id}, started ${m.startedAt}${m.reason ? `; ${m.reason}` : ''}`,
    fromMs: counter.fromMs,
    toMs: counter.toMs,
    zeroMs: ms(m.startedAt) ?? counter.fromMs,
    bucketMs: counter.bucketMs,
    buckets: counter.buckets(),
    markers: [...migrationMarkers(m), ...extra].sort((a, b) => a.atMs - b.atMs),
  };
}

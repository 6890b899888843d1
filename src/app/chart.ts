import type { Color } from '../core/color.js';
import { UsageError } from '../core/errors.js';
import { HISTORY_LIMIT, type Migration } from '../core/state.js';
import { renderTimelineSvg } from '../report/timeline-svg.js';
import { migrationSpan, migrationTimeline, TimelineCounter } from '../report/timeline.js';
import { history } from './admin.js';
import type { AppContext } from './context.js';

/** Reads the access-log lines of a time span into the counter (adapters/access-log-span.ts). */
export type LogSpanReader = (
  log: string,
  servers: Readonly<Record<Color, readonly string[]>>,
  counter: TimelineCounter,
) => Promise<{ files: string[]; lines: number }>;

export interface MigrationChart {
  readonly migration: Migration;
  readonly svg: string;
  /** requests of the span found in the access log */
  readonly requests: number;
  readonly files: readonly string[];
  readonly from: string;
  readonly to: string;
  readonly bucketMs: number;
}

/**
 * The timeline of one migration (default: the newest) as an SVG: its time span read back from the
 * NGINX access log, its steps and rollback from the history record.
 */
export async function migrationChart(ctx: AppContext, o: { id?: string; readLog: LogSpanReader }): Promise<MigrationChart> {
  const list = await history(ctx, HISTORY_LIMIT + 1);
  const migration = o.id === undefined ? list[0] : list.find((m) => m.id === o.id);
  if (!migration) {
    throw new UsageError(
      o.id === undefined ? 'history --chart: no migrations yet' : `history --chart: no migration ${JSON.stringify(o.id)} in the history`,
      { hint: `\`bgctl history\` lists the migrations, each line starting with its id${list[0] ? ` (the newest: ${list[0].id})` : ''}` },
    );
  }
  const span = migrationSpan(migration, ctx.clock.now());
  const counter = new TimelineCounter(span.fromMs, span.toMs, span.bucketMs);
  const { environments } = ctx.loaded.config;
  const read = await o.readLog(ctx.nginx.accessLog, { blue: environments.blue.servers, green: environments.green.servers }, counter);
  return {
    migration,
    svg: renderTimelineSvg(migrationTimeline(migration, counter)),
    requests: counter.counted,
    files: read.files,
    from: new Date(span.fromMs).toISOString(),
    to: new Date(span.toMs).toISOString(),
    bucketMs: span.bucketMs,
  };
}

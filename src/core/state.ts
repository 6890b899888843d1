import { z } from 'zod';
import type { Color } from './color.js';
import { controlEntrySchema, pausedSchema } from './control.js';
import { STRATEGIES } from './strategy.js';
import type { Weights } from './weights.js';

/**
 * The persisted truth of what is live. Pure data + its schema; the store adapter reads and writes it
 * atomically. `weights` and `revision` only change after NGINX confirmed it serves them.
 */
export const STATE_SCHEMA_VERSION = 1;
export const HISTORY_LIMIT = 50;

const color = z.enum(['blue', 'green']);
const weights = z
  .strictObject({ blue: z.number().min(0).max(100), green: z.number().min(0).max(100) })
  .refine((w) => Math.abs(w.blue + w.green - 100) < 1e-9, { message: 'blue and green must total 100' });

export const MIGRATION_KINDS = ['gradual', 'deploy', 'canary', 'switch', 'rollback'] as const;
export type MigrationKind = (typeof MIGRATION_KINDS)[number];

/** running: steps being applied/observed by a live process; holding: a canary kept at a weight. */
export const MIGRATION_STATUSES = ['running', 'holding', 'completed', 'rolled_back', 'failed'] as const;
export type MigrationStatus = (typeof MIGRATION_STATUSES)[number];

const probeTally = z.strictObject({ rounds: z.number(), healthy: z.number(), unhealthy: z.number() });
const observed = z.strictObject({ blue: z.number(), green: z.number(), errors: z.strictObject({ blue: z.number(), green: z.number() }) });

const colorFigures = z.strictObject({
  requests: z.number(),
  errors: z.number(),
  errorRate: z.number().nullable(),
  availability: z.number().nullable(),
  p50: z.number().nullable(),
  p95: z.number().nullable(),
  p99: z.number().nullable(),
});
/** Real-traffic figures of a step, from the access log (see core/metrics.ts WindowFigures). */
const figures = z.strictObject({
  colors: z.strictObject({ blue: colorFigures, green: colorFigures }),
  client: z.strictObject({ requests: z.number(), failures: z.number() }),
  spanMs: z.number(),
});

/** How long a failing color served traffic, and how fast it was pulled (recorded when a migration rolls back on its own). */
const rollbackTimeline = z.strictObject({
  color,
  /** the first read of the log that showed the target failing */
  firstErrorAt: z.string().nullable(),
  decidedAt: z.string(),
  restoredAt: z.string().nullable(),
  /** first and last request the failing color served during this migration (from the log's msec) */
  firstServedAt: z.string().nullable(),
  lastServedAt: z.string().nullable(),
  servedSeconds: z.number().nullable(),
});
export type RollbackTimeline = z.infer<typeof rollbackTimeline>;

export const stepRecordSchema = z.strictObject({
  index: z.number().int(),
  percent: z.number(),
  weights,
  revision: z.number().int().nullable(),
  startedAt: z.string(),
  appliedAt: z.string().nullable(),
  endedAt: z.string().nullable(),
  verdict: z.enum(['pending', 'passed', 'failed']),
  reason: z.string().nullable(),
  probes: probeTally,
  observed: observed.nullable(),
  /** per-color requests, error rate, availability, p50/p95/p99 over the whole step (absent in older records) */
  figures: figures.nullable().optional(),
  /** why the step was promoted or not, with the figures that decided it */
  decision: z.string().nullable().optional(),
});
export type StepRecord = z.infer<typeof stepRecordSchema>;

export const migrationSchema = z.strictObject({
  id: z.string(),
  kind: z.enum(MIGRATION_KINDS),
  /** the color that was stable before this migration */
  from: color,
  /** the color traffic moves to */
  to: color,
  version: z.string().nullable(),
  strategy: z.enum(STRATEGIES),
  plannedSteps: z.array(z.number()),
  status: z.enum(MIGRATION_STATUSES),
  startedAt: z.string(),
  endedAt: z.string().nullable(),
  outcome: z.string().nullable(),
  reason: z.string().nullable(),
  pid: z.number().int(),
  host: z.string(),
  steps: z.array(stepRecordSchema),
  rolledBackAt: z.string().nullable(),
  timeline: rollbackTimeline.nullable().optional(),
  /** held by an operator (`bgctl pause`): by whom, since when; null or absent when not */
  paused: pausedSchema.nullable().optional(),
  /** pause, resume, promote, abort taken on it, oldest first (at most CONTROL_LIMIT) */
  controls: z.array(controlEntrySchema).optional(),
  /** who started it: user@host, or the CI job (absent in older records) */
  by: z.string().max(300).optional(),
});
export type Migration = z.infer<typeof migrationSchema>;

export const stateSchema = z.strictObject({
  schema: z.literal(STATE_SCHEMA_VERSION),
  /** the color that is safe to return to */
  stable: color,
  /** confirmed live weights */
  weights,
  /** revision of the config NGINX confirmed serving; 0 before the first apply */
  revision: z.number().int().min(0),
  strategy: z.enum(STRATEGIES),
  /** the color NGINX falls back to while the other carries 100% (nginx.fallback); null or absent: none armed */
  backup: color.nullable().optional(),
  versions: z.strictObject({ blue: z.string().nullable(), green: z.string().nullable() }),
  /** the latest migration, in progress or finished */
  migration: migrationSchema.nullable(),
  /** finished migrations, newest last, at most HISTORY_LIMIT */
  history: z.array(migrationSchema),
  updatedAt: z.string(),
});
export type State = z.infer<typeof stateSchema>;

export function initialState(nowIso: string): State {
  return {
    schema: STATE_SCHEMA_VERSION,
    stable: 'blue',
    weights: { blue: 100, green: 0 },
    revision: 0,
    strategy: 'weighted',
    versions: { blue: null, green: null },
    migration: null,
    history: [],
    updatedAt: nowIso,
  };
}

export const isActive = (m: Migration | null): m is Migration => m !== null && (m.status === 'running' || m.status === 'holding');

/** Moves a finished migration into the bounded history. */
export function archive(state: State, migration: Migration): State {
  const history = [...state.history.filter((m) => m.id !== migration.id), migration].slice(-HISTORY_LIMIT);
  return { ...state, history };
}

export type { Color, Weights };

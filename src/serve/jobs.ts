import type { AppContext } from '../app/context.js';
import type { MigrationResult } from '../app/migrate.js';
import type { ProgressEvent } from '../app/ports.js';
import { ExitCode, exitCodeOf, InterruptedError, LockHeldError } from '../core/errors.js';
import { Ring } from './ring.js';

/**
 * Migrations started over the API run here, in the background, through the same use cases as the
 * CLI (same engine, lock and state.json). One at a time; each gets its own AbortSignal, also aborted
 * when the server shuts down, so the engine returns traffic to the stable color before exit.
 */
export interface JobView {
  readonly id: string;
  readonly action: string;
  readonly source: string;
  readonly state: 'running' | 'succeeded' | 'failed';
  readonly startedAt: string;
  readonly endedAt: string | null;
  readonly outcome: string | null;
  readonly error: { readonly message: string; readonly code: number } | null;
  /** the latest progress events (bounded) */
  readonly events: readonly ProgressEvent[];
}

export type StartResult =
  | { readonly kind: 'started'; readonly job: JobView; readonly plan: Extract<ProgressEvent, { type: 'plan' }> | null }
  | { readonly kind: 'finished'; readonly job: JobView; readonly result: MigrationResult };

interface Job {
  view: JobView;
  readonly events: Ring<ProgressEvent>;
  readonly controller: AbortController;
  readonly done: Promise<void>;
}

/** Events after which a migration is under way (its pre-flight passed, or a deploy hook is running). */
const UNDER_WAY = new Set<ProgressEvent['type']>(['plan', 'deploy']);

export class MigrationJobs {
  private current: Job | null = null;
  private last: Job | null = null;
  private seq = 0;
  private closing = false;

  constructor(
    private readonly ctx: AppContext,
    /** how long start() waits for the migration to get under way before answering "started" anyway */
    private readonly acceptWithinMs = 15_000,
  ) {}

  get running(): boolean {
    return this.current !== null;
  }

  view(): JobView | null {
    const j = this.current ?? this.last;
    return j ? { ...j.view, events: j.events.toArray() } : null;
  }

  /**
   * Runs `use` in the background. Resolves once it is under way ("started") or finished early (a
   * no-op, a dry run); rejects with the use case's error when it fails before getting under way
   * (lock held → exit 5, pre-flight → exit 6, bad input → exit 2), so the caller answers that.
   */
  async start(action: string, source: string, use: (ctx: AppContext) => Promise<MigrationResult>): Promise<StartResult> {
    if (this.closing) throw new InterruptedError('bgctl serve is shutting down; no new migration is started');
    if (this.current) {
      throw new LockHeldError(`a migration started over the API is running (${this.current.view.action}); follow it at GET /migration`);
    }
    const controller = new AbortController();
    const events = new Ring<ProgressEvent>(200);
    let underWay: (e: ProgressEvent) => void = () => undefined;
    const started = new Promise<ProgressEvent>((resolve) => (underWay = resolve));
    const jobCtx: AppContext = {
      ...this.ctx,
      signal: AbortSignal.any([this.ctx.signal, controller.signal]),
      reporter: {
        event: (e) => {
          events.push(e);
          if (UNDER_WAY.has(e.type)) underWay(e);
          if (e.type === 'rollback') this.ctx.logger.warn('API migration rolling back', { action, reason: e.reason });
        },
      },
    };
    const at = (): string => new Date(this.ctx.clock.now()).toISOString();
    const id = `api-${++this.seq}`;
    const settled: { result?: MigrationResult; failure?: unknown } = {};
    const job: Job = {
      view: { id, action, source, state: 'running', startedAt: at(), endedAt: null, outcome: null, error: null, events: [] },
      events,
      controller,
      done: use(jobCtx).then(
        (r) => {
          settled.result = r;
          job.view = { ...job.view, state: 'succeeded', endedAt: at(), outcome: r.outcome };
        },
        (e: unknown) => {
          settled.failure = e;
          const message = e instanceof Error ? e.message : String(e);
          const code = exitCodeOf(e);
          job.view = { ...job.view, state: 'failed', endedAt: at(), outcome: outcomeOf(code), error: { message, code } };
          this.ctx.logger.warn('API migration ended', { action, code, message });
        },
      ),
    };
    this.current = job;
    void job.done.finally(() => {
      if (this.current === job) this.current = null;
      this.last = job;
    });
    let timer: NodeJS.Timeout | undefined;
    const first = await Promise.race([
      job.done.then(() => 'done' as const),
      started.then((e) => e),
      new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), this.acceptWithinMs))),
    ]);
    clearTimeout(timer);
    if (first === 'done') {
      if (this.current === job) this.current = null;
      this.last = job;
      if (settled.result === undefined) throw settled.failure;
      return { kind: 'finished', job: job.view, result: settled.result };
    }
    return { kind: 'started', job: job.view, plan: first !== 'timeout' && first.type === 'plan' ? first : null };
  }

  /** Interrupts the running migration (it returns traffic to its stable color) and waits for it. */
  async stop(reason: string): Promise<JobView | null> {
    const job = this.current;
    if (!job) return null;
    job.controller.abort(reason);
    await job.done;
    return job.view;
  }

  /** Shutdown: refuses new migrations, interrupts the running one and waits until traffic is back. */
  async close(reason: string): Promise<JobView | null> {
    this.closing = true;
    return this.stop(reason);
  }
}

function outcomeOf(code: number): string {
  switch (code) {
    case ExitCode.ROLLED_BACK:
      return 'rolled_back';
    case ExitCode.INTERRUPTED:
      return 'interrupted';
    case ExitCode.UNKNOWN_STATE:
      return 'unknown_state';
    case ExitCode.LOCKED:
      return 'locked';
    case ExitCode.PREFLIGHT:
      return 'preflight_failed';
    case ExitCode.USAGE:
      return 'refused';
    default:
      return 'error';
  }
}

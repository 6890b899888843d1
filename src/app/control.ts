import { randomBytes } from 'node:crypto';
import type { ControlAction, ControlFileAck, ControlFileRequest, ControlRequest } from '../core/control.js';
import { controlRecorded } from '../core/control-record.js';
import type { Transition } from '../core/engine.js';
import { PreflightError, UnknownStateError } from '../core/errors.js';
import type { Migration, State } from '../core/state.js';
import { nowIso, type AppContext } from './context.js';

/** Where control requests travel between a command and the process running the migration (adapters/control-file.ts). */
export interface ControlChannel {
  send(req: ControlFileRequest): Promise<void>;
  /** requests waiting, oldest first; malformed ones are dropped */
  pending(): Promise<ControlFileRequest[]>;
  /** files the answer and removes the request */
  answer(ack: ControlFileAck): Promise<void>;
  /** removes a request nobody took yet; true when it was still waiting */
  withdraw(id: string): Promise<boolean>;
  /** the answer to a request once filed (taken: removed) */
  takeAnswer(id: string): Promise<ControlFileAck | null>;
}

export interface ControlResult {
  readonly action: ControlAction;
  readonly ack: ControlFileAck;
  readonly migration: Migration | null;
  readonly state: State;
}

/** How long a command waits for the running migration to take its request (it reads them at every check tick). */
export const ACK_TIMEOUT_MS = 20_000;
/** abort: how long to wait for traffic to be back on the stable color once the rollback began */
export const ABORT_TIMEOUT_MS = 120_000;
const POLL_MS = 100;

/**
 * pause / resume / promote / abort of the running migration, whichever process runs it (a CLI `gradual`
 * or `bgctl serve`): needs no lock (the migration holds it). The request is filed for that migration and
 * answered by its engine at its next check tick. No migration running, or no answer in time: exit 6,
 * and the request is withdrawn so nothing happens later. abort returns once traffic is back on the
 * stable color (exit 4 when the rollback failed).
 */
export async function controlMigration(
  ctx: AppContext,
  action: ControlAction,
  by: string,
  o: { readonly full?: boolean; readonly waitForEnd?: boolean } = {},
): Promise<ControlResult> {
  const full = o.full ?? false;
  const channel = ctx.control;
  if (!channel) throw new PreflightError(`${action}: control requests are not available here`);
  const m = await runningMigration(ctx, action);
  const id = `${Date.now().toString(36)}-${randomBytes(6).toString('hex')}`;
  await channel.send({ id, migration: m.id, action, by, full, at: nowIso(ctx) });
  const ack = await awaitAnswer(ctx, channel, id, action, m);
  if (!ack.accepted) throw new PreflightError(`${action}: ${ack.message}; nothing was changed`);
  if (action !== 'abort' || o.waitForEnd === false) {
    const state = await ctx.store.load();
    return { action, ack, migration: state.migration, state };
  }
  return { action, ack, ...(await awaitEnd(ctx, m)) };
}

async function runningMigration(ctx: AppContext, action: ControlAction): Promise<Migration> {
  const [state, holder] = await Promise.all([ctx.store.load(), ctx.lock.holder()]);
  const m = state.migration;
  const hint = 'start one with `bgctl gradual COLOR VERSION` (or POST /switch/:color); `bgctl status` shows what runs';
  if (!m || m.status !== 'running') {
    if (m?.status === 'holding') {
      throw new PreflightError(`${action}: a canary holds ${m.to} at ${state.weights[m.to]}% and nothing runs; nothing was changed`, {
        hint: `continue it with \`bgctl gradual ${m.to} ${m.version ?? 'VERSION'}\` or revert it with \`bgctl rollback\``,
      });
    }
    throw new PreflightError(`${action}: no migration is running; nothing was changed`, { hint });
  }
  if (!holder?.alive || holder.pid !== m.pid) {
    throw new PreflightError(`${action}: the migration to ${m.to} was interrupted (its process is gone); nothing was changed`, {
      hint: 'continue it with `bgctl gradual` or revert it with `bgctl rollback`',
    });
  }
  if (holder.host !== ctx.host) {
    throw new PreflightError(`${action}: the migration runs on ${holder.host}; control it from there`);
  }
  return m;
}

async function awaitAnswer(
  ctx: AppContext,
  channel: ControlChannel,
  id: string,
  action: ControlAction,
  m: Migration,
): Promise<ControlFileAck> {
  const deadline = ctx.clock.now() + ACK_TIMEOUT_MS;
  for (;;) {
    const ack = await channel.takeAnswer(id);
    if (ack) return ack;
    const holder = await ctx.lock.holder();
    const gone = !holder?.alive || holder.pid !== m.pid;
    if (gone || ctx.clock.now() >= deadline) {
      if (await channel.withdraw(id)) {
        const why = gone
          ? 'the migration ended before it took the request'
          : `the migration did not take the request within ${ACK_TIMEOUT_MS / 1000} s (a step being applied, or the deploy hook running?)`;
        throw new PreflightError(`${action}: ${why}; nothing was changed`, { hint: 'run `bgctl status`, then try again' });
      }
      // taken meanwhile: its answer is being written
      if (ctx.clock.now() >= deadline + 5000)
        throw new UnknownStateError(`${action}: the request was taken but never answered; run \`bgctl status\``);
    }
    await ctx.clock.sleep(POLL_MS);
  }
}

/** abort: waits until the migration ended (rolled back: traffic on the stable color; failed: a human must look). */
async function awaitEnd(ctx: AppContext, m: Migration): Promise<{ migration: Migration | null; state: State }> {
  const deadline = ctx.clock.now() + ABORT_TIMEOUT_MS;
  for (let last = false; ;) {
    const state = await ctx.store.load();
    const now = state.migration?.id === m.id ? state.migration : null;
    if (now?.status === 'rolled_back') return { migration: now, state };
    if (now?.status !== 'running' || last) {
      const how = now ? `ended as ${now.status}${now.reason ? ` (${now.reason})` : ''}` : 'is no longer the latest';
      throw new UnknownStateError(`abort: the migration to ${m.to} ${how}; a human must look: run \`bgctl status\``);
    }
    const holder = await ctx.lock.holder();
    // the process saves the rollback before it lets go of the lock: one more read decides
    if (!holder?.alive || holder.pid !== m.pid) last = true;
    else if (ctx.clock.now() >= deadline)
      throw new UnknownStateError(`abort: traffic was not back on ${m.from} within ${ABORT_TIMEOUT_MS / 1000} s; run \`bgctl status\``);
    else await ctx.clock.sleep(POLL_MS);
  }
}

/**
 * The engine's side, at a check tick: every waiting request is answered. One for another migration, or
 * that comes once this one is ending, is refused (nothing changes); the others go through the pure
 * engine (`feed`), are recorded in the state (paused by whom since when, the action) and acknowledged.
 */
export async function answerControl(
  ctx: AppContext,
  state: State,
  t: Transition,
  feed: (t: Transition, request: ControlRequest) => Transition,
): Promise<{ state: State; t: Transition }> {
  const channel = ctx.control;
  if (!channel) return { state, t };
  // a control folder that cannot be read or written never stops the migration's own checks
  const requests = await channel.pending().catch((e: unknown) => {
    ctx.logger.warn('cannot read control requests', { error: e instanceof Error ? e.message : String(e) });
    return [];
  });
  const reply = (ack: ControlFileAck): Promise<void> =>
    channel.answer(ack).catch((e: unknown) => {
      ctx.logger.warn('cannot answer a control request', { id: ack.id, error: e instanceof Error ? e.message : String(e) });
    });
  for (const r of requests) {
    const base = { id: r.id, action: r.action, by: r.by, at: nowIso(ctx) };
    if (r.migration !== state.migration?.id || t.state.phase !== 'observing') {
      const message = r.migration !== state.migration?.id ? 'the request was for another migration' : 'the migration is ending';
      await reply({ ...base, changed: false, accepted: false, message });
      continue;
    }
    t = feed(t, { action: r.action, by: r.by, full: r.full });
    const ack = t.ack ?? { action: r.action, by: r.by, changed: false, message: 'no answer' };
    state = controlRecorded(state, ack, nowIso(ctx));
    await ctx.store.save(state);
    await reply({ ...base, changed: ack.changed, accepted: true, message: ack.message });
    ctx.logger.warn(`${ack.message} (${r.action} by ${r.by})`);
    ctx.reporter.event({ type: 'notice', message: `${ack.message} (${r.action} by ${r.by})` });
  }
  return { state, t };
}

import type { ControlAck } from './control.js';
import type { State } from './state.js';

/** How many control actions a migration remembers (a script pausing in a loop must not grow state.json). */
export const CONTROL_LIMIT = 50;

/** The state after the engine answered a control request: who paused it and since when, and the action logged. */
export function controlRecorded(state: State, ack: ControlAck, nowIso: string): State {
  const m = state.migration;
  if (!m) return state;
  let paused = m.paused ?? null;
  if (ack.action === 'pause' && ack.changed) paused = { by: ack.by, since: nowIso };
  if (ack.action !== 'pause' && ack.changed) paused = null;
  const entry = { action: ack.action, by: ack.by, at: nowIso, message: ack.message };
  const controls = [...(m.controls ?? []), entry].slice(-CONTROL_LIMIT);
  return { ...state, migration: { ...m, paused, controls }, updatedAt: nowIso };
}

/** A migration that ends is paused no more. */
export function pauseCleared(state: State): State {
  const m = state.migration;
  if (!m?.paused) return state;
  return { ...state, migration: { ...m, paused: null } };
}

import type { NginxDriver, NjsSupport } from './ports.js';

/**
 * How weight changes reach NGINX (nginx.mode). dynamic: njs reads the weights from a file on every
 * request, so a step, a hold or a rollback is a file write, never a reload. reload: every change is
 * nginx -t, reload, confirm. auto: dynamic when every NGINX has the njs module, else reload. Decided
 * once per process from what the driver finds (chooseMode is pure).
 */

export type ConfiguredMode = 'auto' | 'dynamic' | 'reload';

export interface ApplyMode {
  readonly configured: ConfiguredMode;
  /** how steps are rendered and applied */
  readonly mode: 'dynamic' | 'reload';
  /** false: nginx.mode is dynamic and an NGINX lacks the njs module; pre-flight fails (exit 6), rollback reloads */
  readonly ok: boolean;
  /** one line for people: the mode and why */
  readonly detail: string;
  /** dynamic: each target's `load_module` path (null: njs built in), by target name */
  readonly modules: Readonly<Record<string, string | null>>;
  /** dynamic: every target's njs has `js_shared_dict_zone` (0.8+), so requests read the weights from shared memory, not the file */
  readonly sharedDict?: boolean;
  /** auto fell back to reload for a reason the operator should fix (workers cannot read the weights file); every command warns */
  readonly warning?: string | null;
}

const DYNAMIC = 'dynamic (njs reads the weights file per request: weight changes never reload)';
const DYNAMIC_SHARED =
  'dynamic (njs routes by the weights file, which the workers share in memory for up to 1 s (js_shared_dict_zone, njs 0.8+) and every confirmation refreshes: weight changes never reload)';
const RELOAD = 'reload (every change: nginx -t, reload, confirm)';

export function chooseMode(configured: ConfiguredMode, support: Readonly<Record<string, NjsSupport>> | null): ApplyMode {
  if (configured === 'reload') return { configured, mode: 'reload', ok: true, detail: RELOAD, modules: {} };
  const entries = Object.entries(support ?? {});
  const named = (name: string, text: string): string => (entries.length > 1 ? `target ${name}: ${text}` : text);
  const missing = entries.filter(([, s]) => !s.available).map(([name, s]) => named(name, s.detail));
  if (entries.length === 0) missing.push('this NGINX driver cannot tell');
  if (missing.length > 0) {
    const why = missing.join('; ');
    const blocked = entries.filter(([, s]) => !s.available && s.blocked === true).map(([name, s]) => named(name, s.detail));
    const warning = blocked.length > 0 ? blocked.join('; ') : null;
    return configured === 'auto'
      ? { configured, mode: 'reload', ok: true, detail: `auto: ${RELOAD}; njs not available: ${why}`, modules: {}, warning }
      : { configured, mode: 'reload', ok: false, detail: `nginx.mode is dynamic but the njs module is not available: ${why}`, modules: {} };
  }
  const found = entries.map(([name, s]) => named(name, s.sharedDict === true ? `${s.detail}, js_shared_dict_zone` : s.detail)).join('; ');
  const modules = Object.fromEntries(entries.map(([name, s]) => [name, s.module]));
  // all or none: one rendering serves every target of a fleet
  const sharedDict = entries.every(([, s]) => s.sharedDict === true);
  const how = sharedDict ? DYNAMIC_SHARED : DYNAMIC;
  return { configured, mode: 'dynamic', ok: true, detail: `${configured === 'auto' ? 'auto: ' : ''}${how}; ${found}`, modules, sharedDict };
}

/** Asks the driver only when the answer matters (not for nginx.mode: reload). */
export async function detectMode(configured: ConfiguredMode, nginx: Pick<NginxDriver, 'njs'>): Promise<ApplyMode> {
  if (configured === 'reload' || !nginx.njs) return chooseMode(configured, null);
  return chooseMode(configured, await nginx.njs());
}

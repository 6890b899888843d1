import { createHash } from 'node:crypto';
import type { Color } from '../core/color.js';
import type { RenderRequest } from '../app/ports.js';
import { OWN_LAYOUT } from './layout.js';

/**
 * Pure helpers of dynamic mode (nginx.mode: dynamic): njs routes every request by a weights file, so the
 * config text depends only on the structure (servers, listen, forced routes), never on the weights or
 * the revision. The weights file and the structure's id are computed here.
 */

/** The weights file, relative to the folder of nginx.conf (njs: `ngx.conf_prefix`). */
export const WEIGHTS_FILE = OWN_LAYOUT.weights;

/** Rendered in place of the id, then replaced by it (the id cannot cover itself). */
export const CONFIG_ID_PENDING = '-';

/** The two lines of the site config that are not structure: the id itself, and the color baked in as the last resort. */
const VOLATILE = /^js_var \$bgctl_(config|stable) \S+;$/gm;

/**
 * The id of a config's structure: a hash of nginx.conf, the site config and the njs module, with the id
 * line and the baked-in fallback color left out (the fallback is refreshed at the next reload; it is
 * never a reason for one). Equal ids: a weight change needs no reload.
 */
export function configIdOf(files: { readonly main: string; readonly site: string; readonly js: string }): string {
  const pending = (text: string): string => text.replace(VOLATILE, (_line, name: string) => `js_var $bgctl_${name} ${CONFIG_ID_PENDING};`);
  return createHash('sha256')
    .update(pending(files.main))
    .update('\0')
    .update(pending(files.site))
    .update('\0')
    .update(files.js)
    .digest('hex')
    .slice(0, 16);
}

/** Whether `text` holds the config id line (the site config; a system NGINX's http.conf). */
export const holdsConfigId = (text: string): boolean => text.includes(`js_var $bgctl_config ${CONFIG_ID_PENDING};`);

/** The site config with its id filled in. */
export function withConfigId(site: string, id: string): string {
  const pending = `js_var $bgctl_config ${CONFIG_ID_PENDING};`;
  if (site.split(pending).length !== 2) throw new Error('render: the site config must hold exactly one config id line');
  if (!/^[0-9a-f]{16}$/.test(id)) throw new Error(`render: impossible config id ${JSON.stringify(id)}`);
  return site.replace(pending, `js_var $bgctl_config ${id};`);
}

/**
 * Where everything goes when the weights file cannot be read: the color at 100% if there is one (a
 * rollback's or a finished migration's), else the stable color (mid-migration).
 */
export function fallbackColor(opts: Pick<RenderRequest, 'weights' | 'stable'>): Color {
  if (opts.weights.blue === 100) return 'blue';
  if (opts.weights.green === 100) return 'green';
  return opts.stable;
}

/** The weights file's content: one JSON object and a newline (njs parses it with JSON.parse). */
export function weightsDocument(opts: RenderRequest): string {
  const { revision, weights, growing, stable, strategy } = opts;
  const backup = opts.backup ?? null;
  const doc = {
    revision,
    blue: weights.blue,
    green: weights.green,
    growing,
    stable,
    fallback: fallbackColor(opts),
    strategy,
    // nginx.fallback: the idle color may take the retry (error_page) of a request the live color failed
    ...(backup !== null && weights[backup] === 0 ? { backup } : {}),
  };
  return `${JSON.stringify(doc)}\n`;
}

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Handlebars from 'handlebars';
import type { RenderedConfig } from '../app/ports.js';
import type { Config } from '../config/schema.js';
import { mainView, siteView } from './view.js';
import type { RenderOptions } from './view.js';

export { splitPlan } from './view.js';
export type { RenderOptions, SplitEntry, Strategy } from './view.js';

/**
 * Config + step → the two NGINX files, as strings. Writing, testing and reloading them is the
 * driver's job. The only I/O here is reading the templates once, from the package's templates/
 * folder: `../../templates` from both src/render (vitest) and dist/render (built).
 */

type Template = (view: object) => string;

interface Templates {
  readonly main: Template;
  readonly site: Template;
}

const TEMPLATE_DIR = new URL('../../templates/', import.meta.url);

let cached: Templates | undefined;

function templates(): Templates {
  if (cached) return cached;
  // An isolated environment: no global helpers or partials can leak in. strict: a missing field
  // throws instead of printing nothing. noEscape: this is NGINX, not HTML; safety comes from
  // validating every value (see view.ts), not from HTML entities.
  const hbs = Handlebars.create();
  const compile = (name: string): Template =>
    hbs.compile(readFileSync(fileURLToPath(new URL(name, TEMPLATE_DIR)), 'utf8'), { strict: true, noEscape: true });
  cached = { main: compile('nginx.conf.hbs'), site: compile('site.conf.hbs') };
  return cached;
}

export function renderConfig(config: Config, opts: RenderOptions): RenderedConfig {
  const t = templates();
  const site = t.site(siteView(config, opts));
  const main = t.main(mainView(opts));
  return { main, site, revision: opts.revision, weights: { blue: opts.weights.blue, green: opts.weights.green } };
}

/** The config text with the forced-route secret replaced, for printing (files written for NGINX keep it). */
export function redactSecret(text: string, secret: string | null): string {
  return secret ? text.split(secret).join('<routing.forceSecret>') : text;
}

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type Handlebars from 'handlebars';
import HandlebarsRuntime from 'handlebars/runtime.js';
import type { RenderedConfig, RenderRequest } from '../app/ports.js';
import type { Config } from '../config/schema.js';
import { regexLiteral } from './address.js';
import { configIdOf, holdsConfigId, weightsDocument, withConfigId } from './dynamic.js';
import { compileOptions, precompiledSpec } from './precompiled.js';
import { ALL_PARTS, mainView, siteView, type SiteParts } from './view.js';
import type { DynamicOptions } from './view.js';

export { splitPlan } from './view.js';
export type { RenderRequest } from '../app/ports.js';
export type { DynamicOptions, SplitEntry } from './view.js';

/**
 * Config + step → the NGINX files, as strings: nginx.conf and the site config; in dynamic mode also the
 * njs module (nginx/njs/bgctl.js, verbatim) and the weights file. Writing, testing and reloading them is
 * the driver's job. The only I/O here is reading the templates once, from the package's templates/
 * folder: `../../templates` from both src/render (vitest) and dist/render (built).
 */

type Template = (view: object) => string;

interface Templates {
  readonly main: Template;
  readonly site: Template;
  /** the njs module of dynamic mode: no values go into it */
  readonly js: string;
}

/** the NGINX side of the package: `../../nginx/` from both src/render (vitest) and dist/render (built) */
const NGINX_DIR = new URL('../../nginx/', import.meta.url);

let cached: Templates | undefined;

function templates(): Templates {
  if (cached) return cached;
  // An isolated environment: no global helpers or partials can leak in. strict: a missing field
  // throws instead of printing nothing. noEscape: this is NGINX, not HTML; safety comes from
  // validating every value (see view.ts), not from HTML entities.
  // The build precompiles the templates: running them needs only Handlebars' runtime. Its compiler
  // (and the source-map library under it) loads only for a template edited since the build.
  const hbs = (HandlebarsRuntime as unknown as Pick<typeof Handlebars, 'create'>).create();
  const read = (name: string): string => readFileSync(fileURLToPath(new URL(name, NGINX_DIR)), 'utf8');
  const compile = (name: string): Template => {
    const source = read(`templates/${name}`);
    const spec = precompiledSpec(name, source); // made by the build from this very source, or null
    return spec ? hbs.template(spec) : compiler().compile(source, compileOptions());
  };
  cached = { main: compile('nginx.conf.hbs'), site: compile('site.conf.hbs'), js: read('njs/bgctl.js') };
  return cached;
}

/** The whole Handlebars (compiler included), in an environment of its own, when a template needs compiling. */
function compiler(): typeof Handlebars {
  const full = createRequire(import.meta.url)('handlebars') as typeof Handlebars;
  return full.create();
}

const HTTP_PART: SiteParts = { http: true, block: false, server: false };
const SERVER_PART: SiteParts = { http: false, block: false, server: true };

/** `dynamic`: render for nginx.mode dynamic (null, the default: reload mode). */
export function renderConfig(config: Config, opts: RenderRequest, dynamic: DynamicOptions | null = null): RenderedConfig {
  const t = templates();
  // a system NGINX includes two files: the http level of the site (in place of bgctl's nginx.conf) and what goes inside its server block
  const system = config.nginx.driver === 'system';
  const site = t.site(siteView(config, opts, dynamic, system ? SERVER_PART : ALL_PARTS));
  const main = system ? t.site(siteView(config, opts, dynamic, HTTP_PART)) : t.main(mainView(opts, dynamic));
  const base = { main, site, revision: opts.revision, weights: { blue: opts.weights.blue, green: opts.weights.green } };
  if (dynamic === null) return base;
  const configId = configIdOf({ main, site, js: t.js });
  // the id line is in the http level: bgctl's site config, or a system NGINX's http.conf
  const ids = holdsConfigId(site) ? { site: withConfigId(site, configId) } : { main: withConfigId(main, configId) };
  return { ...base, ...ids, js: t.js, configId, weightsFile: weightsDocument(opts) };
}

/** The config text with the forced-route secret replaced, for printing (files written for NGINX keep it). */
export function redactSecret(text: string, secret: string | null): string {
  if (!secret) return text;
  // the maps hold it as a regex literal too (`.` escaped)
  return text.split(secret).join('<routing.forceSecret>').split(regexLiteral(secret)).join('<routing.forceSecret>');
}

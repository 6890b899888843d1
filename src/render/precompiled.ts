import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type Handlebars from 'handlebars';

/** Handlebars.template's argument (its global TemplateSpecification type is not exported by name). */
type TemplateSpec = Parameters<typeof Handlebars.template>[0];

/**
 * Templates precompiled by `npm run build` (scripts/bundle.mjs): parsing and compiling the two .hbs
 * files costs a command that renders (every apply, a rollback) tens of milliseconds. Each entry
 * carries the hash of the source it was made from and the compile options: a template edited since,
 * or other options, falls back to compiling at run time, so the output is always the template's.
 */

/**
 * How render.ts compiles: strict (a missing field throws), noEscape (NGINX, not HTML). Handlebars adds
 * its defaults to the options object it is given: always pass a copy (compileOptions()).
 */
export const COMPILE_OPTIONS = Object.freeze({ strict: true, noEscape: true });
export const compileOptions = (): { strict: boolean; noEscape: boolean } => ({ ...COMPILE_OPTIONS });

export interface PrecompiledEntry {
  readonly hash: string;
  readonly options: string;
  /** Handlebars.precompile's output: JavaScript source of the template spec */
  readonly spec: string;
}

export const sourceHash = (text: string): string => createHash('sha256').update(text).digest('hex');

/** What the build writes for one template (`hbs`: the Handlebars module). */
export function precompileEntry(hbs: Pick<typeof Handlebars, 'precompile'>, source: string): PrecompiledEntry {
  return {
    hash: sourceHash(source),
    options: JSON.stringify(COMPILE_OPTIONS),
    spec: hbs.precompile(source, compileOptions()) as unknown as string,
  }; // JS source text, despite its type
}

/** Where the build writes them: dist/, two folders up from src/render, dist/render and dist/bundle alike. */
export const PRECOMPILED_FILE = new URL('../../dist/templates.precompiled.json', import.meta.url);

let file: Record<string, PrecompiledEntry> | null | undefined;

/** The precompiled spec of `name` when it was made from exactly `source` with COMPILE_OPTIONS, else null. */
export function precompiledSpec(name: string, source: string, from: URL = PRECOMPILED_FILE): TemplateSpec | null {
  if (file === undefined || from !== PRECOMPILED_FILE) {
    try {
      const parsed = JSON.parse(readFileSync(fileURLToPath(from), 'utf8')) as Record<string, PrecompiledEntry>;
      if (from !== PRECOMPILED_FILE) return specOf(parsed[name], source);
      file = parsed;
    } catch {
      if (from !== PRECOMPILED_FILE) return null;
      file = null;
    }
  }
  return specOf(file?.[name], source);
}

function specOf(e: PrecompiledEntry | undefined, source: string): TemplateSpec | null {
  if (!e || e.options !== JSON.stringify(COMPILE_OPTIONS) || e.hash !== sourceHash(source)) return null;
  // the build's own output for the package's own template (same trust as the code itself)
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  const make = new Function(`return ${e.spec};`) as () => TemplateSpec;
  return make();
}

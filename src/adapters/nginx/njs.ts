import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { NjsSupport } from '../../app/ports.js';
import { NJS_MODULE_RE } from '../../config/schema.js';
import { cachedVersionText } from './version-cache.js';

/**
 * Finding the njs module dynamic mode needs (nginx.mode): from `nginx -V` (its --modules-path, or njs
 * compiled in with --add-module), unless nginx.njsModule names it. How the file is looked for differs
 * between a local NGINX and one in a container; the words are the same.
 */

const NJS_MODULE_FILE = 'ngx_http_js_module.so';

/** `nginx -V` prints its build options on stderr. */
export const versionCommand = (): readonly string[] => ['-V'];

/** Pure: `nginx -V` output → njs compiled in, or the folder of its dynamic modules (nginx's own default when not set), and its prefix. */
export function modulesOf(versionText: string): { builtIn: boolean; modulesPath: string; prefix: string } {
  const builtIn = /--add-module=\S*njs\S*/.test(versionText);
  const modules = /--modules-path=(\S+)/.exec(versionText)?.[1];
  const prefix = /--prefix=(\S+)/.exec(versionText)?.[1] ?? '/usr/local/nginx';
  return { builtIn, modulesPath: modules ?? path.posix.join(prefix, 'modules'), prefix };
}

/** Pure: the file a `load_module` argument names: relative paths resolve against NGINX's prefix (`nginx -V`). */
export const loadModuleFile = (arg: string, versionText: string): string =>
  path.posix.isAbsolute(arg) ? arg : path.posix.join(modulesOf(versionText).prefix, arg);

/**
 * The directive njs 0.8 added for memory shared by the workers. A module's directives are named in its
 * directive table, so the module file holds the name exactly when it has the directive: one read, no
 * NGINX run (and no version number to compare).
 */
export const SHARED_DICT_DIRECTIVE = 'js_shared_dict_zone';

/**
 * Whether the njs module file has `js_shared_dict_zone`, remembered like `nginx -V` (keyed on the file's
 * path, time and size); false when it cannot be read.
 */
export async function sharedDictIn(module: string, cacheFile: string | null | undefined): Promise<boolean> {
  const answer = await cachedVersionText(module, cacheFile, async () => {
    try {
      return (await readFile(module)).includes(SHARED_DICT_DIRECTIVE) ? SHARED_DICT_DIRECTIVE : 'none';
    } catch (e) {
      return notAvailable(String(e)); // not remembered
    }
  });
  return answer === SHARED_DICT_DIRECTIVE;
}

/** The module path inside `modulesPath`, or null when it could not go into nginx.conf safely. */
export function modulePathIn(modulesPath: string): string | null {
  const p = path.posix.join(modulesPath, NJS_MODULE_FILE);
  return NJS_MODULE_RE.test(p) && !p.split('/').includes('..') ? p : null;
}

/** The njs module file to look for, and how it was found (for messages). */
export interface NjsCandidate {
  readonly module: string;
  readonly how: string;
}

/**
 * nginx.njsModule when set, else the module `nginx -V` points to. `version` runs `nginx -V` and answers
 * its output, or why it could not (an answer already, like njs compiled in: `builtIn`).
 */
export async function njsCandidate(
  configured: string | null | undefined,
  version: () => Promise<string | NjsSupport>,
  builtIn: string,
): Promise<NjsCandidate | NjsSupport> {
  if (configured != null) return { module: configured, how: 'nginx.njsModule' };
  const text = await version();
  if (typeof text !== 'string') return text;
  const found = modulesOf(text);
  if (found.builtIn) return { available: true, module: null, detail: builtIn };
  const how = `nginx -V: --modules-path=${found.modulesPath}`;
  const module = modulePathIn(found.modulesPath);
  return module === null ? notAvailable(`cannot use the modules path ${JSON.stringify(found.modulesPath)} (${how})`) : { module, how };
}

export const notAvailable = (detail: string): NjsSupport => ({ available: false, module: null, detail });
/** The module is there, the workers cannot read the files: a problem every command warns about. */
export const blockedBy = (detail: string): NjsSupport => ({ available: false, module: null, detail, blocked: true });

export const INSTALL_HINT = 'Debian/Ubuntu: apt-get install libnginx-mod-http-js; the official nginx image ships it';

/**
 * A master started as root runs its workers as an unprivileged user (nobody, NGINX's default; bgctl's
 * nginx.conf sets no `user`), and njs reads the weights file in the workers: every folder on the way
 * must be enterable by others (up to nginx.weightsDir when set, else conf.d). Returns why not, or null. Only a root master matters: otherwise the
 * workers run as this user, who writes the file.
 */
export async function workersBlocked(
  dir: string,
  isRoot: boolean,
  statOf = stat,
  weightsDir: string | null = null,
): Promise<string | null> {
  if (!isRoot) return null;
  const target = weightsDir ?? path.join(path.resolve(dir), 'conf.d');
  const folders: string[] = [];
  for (let p = target; ; p = path.dirname(p)) {
    folders.unshift(p);
    if (path.dirname(p) === p) break;
  }
  for (const folder of folders) {
    let mode: number;
    try {
      mode = (await statOf(folder)).mode;
    } catch {
      return null; // not created yet: bgctl creates it readable (mode 0755 with the usual umask)
    }
    if ((mode & 0o001) === 0) {
      const octal = (mode & 0o777).toString(8).padStart(4, '0');
      return `NGINX's workers run as an unprivileged user (bgctl starts NGINX as root) and cannot enter ${folder} (mode ${octal}) to read the weights file: set nginx.weightsDir: /run/bgctl (a folder they can enter), chmod o+x ${folder}, or use nginx.mode: reload`;
    }
  }
  return null;
}

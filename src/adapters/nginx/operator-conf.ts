import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { readRegular } from '../safe-fs.js';

/**
 * Reads an NGINX config that bgctl did not write (the system driver's `nginx.conf`), following its
 * `include`s as NGINX does (relative to the folder of the main file, `*` and `?` in the last part),
 * to answer what bgctl needs before it changes anything: are its two include lines where they must be
 * (which line is missing, in which file), where is the master's pid file, which user runs the workers,
 * is the njs module loaded. Only reads; what NGINX itself thinks of the config, `nginx -t` says.
 */

/** One directive, where it is written. */
export interface Directive {
  readonly name: string;
  readonly args: readonly string[];
  readonly file: string;
  readonly line: number;
  /** the directives of its `{ }` block; null: a simple directive */
  readonly block: readonly Directive[] | null;
}

/** Pure: the directives of one file's text (comments, quotes and escapes as NGINX reads them). */
export function parseConf(text: string, file: string): Directive[] {
  const tokens = tokenize(text);
  let i = 0;
  const parseBlock = (closing: boolean): Directive[] => {
    const out: Directive[] = [];
    let words: { value: string; line: number }[] = [];
    while (i < tokens.length) {
      const t = tokens[i++] as Token;
      if (t.kind === 'word') {
        words.push(t);
        continue;
      }
      if (t.kind === '}') {
        if (!closing) throw new ConfSyntaxError(file, t.line, 'unexpected "}"');
        return out;
      }
      const [head, ...args] = words;
      if (head === undefined) throw new ConfSyntaxError(file, t.line, `unexpected "${t.kind}"`);
      const block = t.kind === '{' ? parseBlock(true) : null;
      out.push({ name: head.value, args: args.map((a) => a.value), file, line: head.line, block });
      words = [];
    }
    if (closing || words.length > 0) throw new ConfSyntaxError(file, tokens.at(-1)?.line ?? 1, 'unexpected end of file');
    return out;
  };
  return parseBlock(false);
}

export class ConfSyntaxError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    what: string,
  ) {
    super(`${file}:${line}: ${what}`);
  }
}

type Token = { kind: 'word'; value: string; line: number } | { kind: '{' | '}' | ';'; line: number };

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let line = 1;
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    if (c === '\n') line++;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '#') {
      while (i < text.length && text[i] !== '\n') i++;
      continue;
    }
    if (c === '{' || c === '}' || c === ';') {
      out.push({ kind: c, line });
      i++;
      continue;
    }
    const start = line;
    let value = '';
    if (c === '"' || c === "'") {
      i++;
      while (i < text.length && text[i] !== c) {
        if (text[i] === '\\' && i + 1 < text.length) i++;
        if (text[i] === '\n') line++;
        value += text[i];
        i++;
      }
      i++;
    } else {
      while (i < text.length && !/[\s;{}]/.test(text[i] as string)) {
        if (text[i] === '\\' && i + 1 < text.length) i++;
        value += text[i];
        i++;
      }
    }
    out.push({ kind: 'word', value, line: start });
  }
  return out;
}

/** The whole config: the main file with every include replaced by the directives of the files it names (in NGINX's order). */
export async function readConf(main: string): Promise<Directive[]> {
  const prefix = path.dirname(main);
  const seen = new Set<string>();
  const load = async (file: string): Promise<Directive[]> => {
    if (seen.has(file)) return []; // an include loop: NGINX itself refuses it; nothing more to learn here
    seen.add(file);
    const text = await readRegular(file);
    if (text === null) return [];
    return expand(parseConf(text, file));
  };
  const expand = async (list: readonly Directive[]): Promise<Directive[]> => {
    const out: Directive[] = [];
    for (const d of list) {
      if (d.name === 'include' && d.block === null && d.args[0] !== undefined) {
        out.push(d); // kept: where an include line is written is what bgctl looks for
        for (const f of await matches(path.resolve(prefix, d.args[0]))) out.push(...(await load(f)));
      } else {
        out.push(d.block === null ? d : { ...d, block: await expand(d.block) });
      }
    }
    return out;
  };
  return load(path.resolve(main));
}

/** The files an include pattern names: itself, or with `*`/`?` in its last part the matching files, sorted. */
async function matches(pattern: string): Promise<string[]> {
  const base = path.basename(pattern);
  if (!/[*?[]/.test(base)) return [pattern];
  const re = new RegExp(
    `^${base
      .replace(/[.+^${}()|\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  );
  const dir = path.dirname(pattern);
  const names = await readdir(dir).catch(() => [] as string[]);
  return names
    .filter((n) => re.test(n))
    .sort()
    .map((n) => path.join(dir, n));
}

/** What bgctl learns from the operator's config. */
export interface OperatorConf {
  /** the `http {` block; null: none */
  readonly http: Directive | null;
  /** `include <dir>/http.conf;` inside it */
  readonly httpInclude: Directive | null;
  /** the server blocks that listen on the port */
  readonly servers: readonly Directive[];
  /** `include <dir>/server.conf;` inside one of them, or inside any server block (with the port it listens on) */
  readonly serverInclude: { readonly include: Directive; readonly server: Directive; readonly onPort: boolean } | null;
  /** the `pid` file (absolute); null: NGINX's compiled-in one */
  readonly pid: string | null;
  /** the `user` directive's user; null: none */
  readonly user: string | null;
  /** a `load_module` of the njs module */
  readonly njs: Directive | null;
}

/** Pure: reads what bgctl needs from the parsed config. `files`: the two include files bgctl writes (absolute). */
export function inspectConf(
  conf: readonly Directive[],
  files: { http: string; server: string },
  port: number,
  prefix: string,
): OperatorConf {
  const http = conf.find((d) => d.name === 'http' && d.block !== null) ?? null;
  const names = (d: Directive, file: string): boolean =>
    d.name === 'include' && d.args[0] !== undefined && path.resolve(prefix, d.args[0]) === file;
  const within = (list: readonly Directive[], pick: (d: Directive) => boolean): Directive | null => {
    for (const d of list) {
      if (pick(d)) return d;
    }
    return null;
  };
  const httpBody = http?.block ?? [];
  const serverBlocks = httpBody.filter((d) => d.name === 'server' && d.block !== null);
  const listensOn = (s: Directive): boolean =>
    (s.block ?? []).some((d) => d.name === 'listen' && d.args[0] !== undefined && portOf(d.args[0]) === port);
  let serverInclude: OperatorConf['serverInclude'] = null;
  for (const s of serverBlocks) {
    const include = deepFind(s.block ?? [], (d) => names(d, files.server));
    if (include !== null && (serverInclude === null || (!serverInclude.onPort && listensOn(s)))) {
      serverInclude = { include, server: s, onPort: listensOn(s) };
    }
  }
  const pidDirective = conf.find((d) => d.name === 'pid');
  const userDirective = conf.find((d) => d.name === 'user');
  return {
    http,
    httpInclude: within(httpBody, (d) => names(d, files.http)),
    servers: serverBlocks.filter(listensOn),
    serverInclude,
    pid: pidDirective?.args[0] === undefined ? null : path.resolve(prefix, pidDirective.args[0]),
    user: userDirective?.args[0] ?? null,
    njs: conf.find((d) => d.name === 'load_module' && (d.args[0] ?? '').includes('ngx_http_js_module')) ?? null,
  };
}

/** A directive anywhere below (locations nest; an include may sit inside one). */
function deepFind(list: readonly Directive[], pick: (d: Directive) => boolean): Directive | null {
  for (const d of list) {
    if (pick(d)) return d;
    if (d.block !== null) {
      const found = deepFind(d.block, pick);
      if (found !== null) return found;
    }
  }
  return null;
}

/** The port of a `listen` argument: `443`, `*:80`, `127.0.0.1:8080`, `[::]:443`; null: a unix socket. */
export function portOf(arg: string): number | null {
  if (arg.startsWith('unix:')) return null;
  const m = /(?:^|:)(\d{1,5})$/.exec(arg);
  if (m?.[1] !== undefined) return Number(m[1]);
  return /^\[.*\]$|^[\d.]+$|^\*$|^[A-Za-z]/.test(arg) ? 80 : null;
}

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { UsageError } from '../core/errors.js';
import { DOCKER_HOST_RE, type Config, type LoadedConfig } from './schema.js';
import { locator } from './locate.js';
import { validateConfig } from './validate.js';

export const DEFAULT_CONFIG_FILE = 'bgctl.yaml';
const INIT_HINT = 'run `bgctl init` to write one, or pass --config PATH';

export interface ResolveConfigOptions {
  readonly flag?: string | undefined;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
}

/** The contract's order: --config, else env BGCTL_CONFIG, else ./bgctl.yaml. Always absolute. */
export function resolveConfigPath({ flag, env, cwd }: ResolveConfigOptions): string {
  if (flag !== undefined) {
    if (flag.trim() === '') throw new UsageError('--config: needs a file path');
    return path.resolve(cwd, flag);
  }
  const fromEnv = env['BGCTL_CONFIG'];
  // An empty variable is treated as unset: CI systems often export empty values.
  if (fromEnv !== undefined && fromEnv.trim() !== '') return path.resolve(cwd, fromEnv);
  return path.resolve(cwd, DEFAULT_CONFIG_FILE);
}

type Format = 'yaml' | 'json';

function formatOf(file: string): Format {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.yaml' || ext === '.yml') return 'yaml';
  if (ext === '.json') return 'json';
  throw new UsageError(`${file}: unsupported config file extension ${JSON.stringify(ext || '(none)')} (use .yaml, .yml or .json)`);
}

/**
 * Reads, parses, validates and resolves a config file. Every failure is a UsageError (exit 2).
 * `env`: BGCTL_DOCKER_HOST, when set and not empty, is nginx.dockerHost for this run (a CI job that
 * names the engine in a variable); targets with a dockerHost of their own keep it.
 */
export async function loadConfig(file: string, env: NodeJS.ProcessEnv = {}): Promise<LoadedConfig> {
  const abs = path.resolve(file);
  const format = formatOf(abs);
  const text = await readText(abs);
  if (text.trim() === '') throw new UsageError(`${abs}: the config file is empty`, { hint: INIT_HINT });
  const raw = format === 'yaml' ? parseYaml(abs, text) : parseJson(abs, text);
  if (raw === null || raw === undefined) {
    // A YAML file holding only comments parses to null.
    throw new UsageError(`${abs}: the config file has no settings`, { hint: INIT_HINT });
  }
  const baseDir = path.dirname(abs);
  const config = resolvePaths(validateConfig(withDockerHost(raw, env['BGCTL_DOCKER_HOST']), abs, locator(text)), baseDir);
  checkWeightsDir(config, abs);
  return { file: abs, baseDir, config };
}

/** The parsed file with nginx.dockerHost set to `host` (checked first, so an error names the variable). */
export function withDockerHost(raw: unknown, host: string | undefined): unknown {
  if (host === undefined || host.trim() === '') return raw;
  if (!DOCKER_HOST_RE.test(host) || host.split('/').includes('..')) {
    throw new UsageError(
      `BGCTL_DOCKER_HOST: ${JSON.stringify(host.slice(0, 100))} is not a DOCKER_HOST value (unix:///PATH, tcp://HOST:PORT or ssh://[USER@]HOST[:PORT])`,
    );
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return raw;
  const nginx = (raw as { nginx?: unknown }).nginx;
  const given = typeof nginx === 'object' && nginx !== null && !Array.isArray(nginx) ? nginx : {};
  return { ...raw, nginx: { ...given, dockerHost: host } };
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new UsageError(`config file not found: ${file}`, { hint: INIT_HINT, cause: error });
    }
    if (code === 'EISDIR') throw new UsageError(`${file}: is a folder, not a config file`, { cause: error });
    const reason = error instanceof Error ? error.message : String(error);
    throw new UsageError(`${file}: cannot read the config file: ${reason}`, { cause: error });
  }
}

function parseYaml(file: string, text: string): unknown {
  // A fresh LineCounter per parse: it accumulates line starts.
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const [first] = doc.errors;
  if (first) {
    const { line, col } = lineCounter.linePos(first.pos[0]);
    const more = doc.errors.length > 1 ? ` (and ${doc.errors.length - 1} more)` : '';
    throw new UsageError(`${file}:${line}:${col}: invalid YAML: ${oneLine(first.message)}${more}`);
  }
  try {
    return doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    // e.g. an alias to an unknown anchor, or too many aliases (a "billion laughs" document)
    const reason = error instanceof Error ? error.message : String(error);
    throw new UsageError(`${file}: invalid YAML: ${oneLine(reason)}`, { cause: error });
  }
}

function parseJson(file: string, text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    // V8's messages differ by version and some carry no position ("Unexpected token '}', "..." is not
    // valid JSON"), so the reason comes from V8 and the position from our own scan.
    const message = error instanceof Error ? error.message : String(error);
    const reason = message
      .replace(/,\s*"[\s\S]*" is not valid JSON$/, '')
      .replace(/\s*in JSON at position \d+(?:\s*\(line \d+ column \d+\))?/, '');
    const { line, col } = lineColAt(text, jsonErrorOffset(text));
    throw new UsageError(`${file}:${line}:${col}: invalid JSON: ${oneLine(reason)}`, { cause: error });
  }
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const LITERAL = /true|false|null/y;
const ESCAPE = /\\(?:["\\/bfnrt]|u[0-9A-Fa-f]{4})/y;

/** Offset of the first character a strict JSON parser rejects (text.length if it is cut short). */
export function jsonErrorOffset(text: string): number {
  let i = 0;
  const fail = (): never => {
    throw new RangeError(String(i));
  };
  const ws = (): void => {
    while (i < text.length && ' \t\n\r'.includes(text.charAt(i))) i++;
  };
  const token = (re: RegExp): boolean => {
    re.lastIndex = i;
    if (!re.test(text)) return false;
    i = re.lastIndex;
    return true;
  };
  const string = (): void => {
    i++; // opening quote
    for (;;) {
      const c = text.charAt(i);
      if (c === '"') return void i++;
      if (c === '\\') {
        if (!token(ESCAPE)) fail();
      } else if (c === '' || c < ' ') fail();
      else i++;
    }
  };
  const list = (close: string, item: () => void): void => {
    i++;
    ws();
    if (text.charAt(i) === close) return void i++;
    for (;;) {
      item();
      ws();
      if (text.charAt(i) === ',') i++;
      else if (text.charAt(i) === close) return void i++;
      else fail();
    }
  };
  const value = (): void => {
    ws();
    const c = text.charAt(i);
    if (c === '{') {
      list('}', () => {
        ws();
        if (text.charAt(i) !== '"') fail();
        string();
        ws();
        if (text.charAt(i) !== ':') fail();
        i++;
        value();
      });
    } else if (c === '[') list(']', value);
    else if (c === '"') string();
    else if (!token(NUMBER) && !token(LITERAL)) fail();
  };
  try {
    value();
    ws();
    if (i < text.length) fail();
    return text.length;
  } catch (error) {
    // our RangeError carries the offset; a stack overflow on absurd nesting just points at the end
    return error instanceof RangeError && /^\d+$/.test(error.message) ? Number(error.message) : text.length;
  }
}

/** 1-based line and column of a character offset. */
export function lineColAt(text: string, offset: number): { line: number; col: number } {
  const before = text.slice(0, Math.max(0, Math.min(offset, text.length)));
  const lines = before.split('\n');
  return { line: lines.length, col: (lines[lines.length - 1] ?? '').length + 1 };
}

const oneLine = (s: string): string => s.replace(/\s*\n\s*/g, ' ').trim();

/** Paths inside the config are relative to the config file's folder (the contract), not to cwd. */
export function resolvePaths(config: Config, baseDir: string): Config {
  const binary = config.nginx.binary;
  return {
    ...config,
    nginx: {
      ...config.nginx,
      dir: path.resolve(baseDir, config.nginx.dir),
      weightsDir: config.nginx.weightsDir === null ? null : path.resolve(baseDir, config.nginx.weightsDir),
      conf: config.nginx.conf === null ? null : path.resolve(baseDir, config.nginx.conf),
      // A bare name ("nginx") is looked up on PATH; anything with a slash is a path.
      binary: binary.includes('/') || binary.includes('\\') ? path.resolve(baseDir, binary) : binary,
    },
    stateDir: path.resolve(baseDir, config.stateDir),
    tls: config.tls
      ? { ...config.tls, certificate: path.resolve(baseDir, config.tls.certificate), key: path.resolve(baseDir, config.tls.key) }
      : null,
  };
}

/**
 * docker: NGINX runs in the container and sees only the bind mount of nginx.dir, so nginx.weightsDir
 * must be a folder inside nginx.dir (exit 2 otherwise). `config`: paths already resolved.
 */
export function checkWeightsDir(config: Config, file: string): void {
  const { driver, dir, weightsDir } = config.nginx;
  if (driver !== 'docker' || weightsDir === null) return;
  const rel = path.relative(dir, weightsDir);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) {
    throw new UsageError(
      `${file}: nginx.weightsDir ${weightsDir} is outside nginx.dir ${dir}: with the docker driver NGINX only sees nginx.dir (mounted at nginx.containerDir)`,
      { hint: 'use a folder inside nginx.dir, or remove nginx.weightsDir' },
    );
  }
}

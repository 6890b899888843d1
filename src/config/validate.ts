import type { z } from 'zod';
import { UsageError } from '../core/errors.js';
import { closest } from '../core/suggest.js';
import { keysAt } from './keys.js';
import { listenClashes, warmupProblems } from './listen-check.js';
import type { Locate } from './locate.js';
import { configSchema, type Config } from './schema.js';

/** Formats a zod path the way users write it: environments.green.servers[0] */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out === '' ? '(top level)' : out;
}

export function formatIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') {
      const where = issue.path.length > 0 ? `${formatPath(issue.path)}: ` : '';
      return `${where}unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
    }
    if (issue.code === 'invalid_type' && issue.input === undefined) {
      return `${formatPath(issue.path)}: is required`;
    }
    return `${formatPath(issue.path)}: ${issue.message}`;
  });
}

/** One config problem: its text, and the key path (plus the unknown key) to find it in the file. */
interface Problem {
  readonly text: string;
  readonly path: readonly PropertyKey[];
  readonly key?: string;
}

/** Each issue as problems; an unknown key gets its own line, with the closest accepted key when it looks like a typo. */
function problemsOf(issues: readonly z.core.$ZodIssue[]): Problem[] {
  const unknown: Problem[] = [];
  const other: Problem[] = [];
  issues.forEach((issue, i) => {
    if (issue.code === 'unrecognized_keys') {
      const where = issue.path.length > 0 ? `${formatPath(issue.path)}: ` : '';
      const accepted = keysAt(issue.path);
      for (const key of issue.keys) {
        const near = closest(key, accepted);
        unknown.push({
          text: `${where}unknown key ${JSON.stringify(key)}${near ? ` (did you mean ${JSON.stringify(near)}?)` : ''}`,
          path: issue.path,
          key,
        });
      }
    } else other.push({ text: formatIssues([issue])[0] ?? `issue ${i}`, path: issue.path });
  });
  // a mistyped key also makes the real one "required": the unknown key, which says why, comes first
  return [...unknown, ...other];
}

/**
 * Pure: raw parsed document → Config with defaults, or a UsageError naming every bad key path
 * (with `file:line:col` when `locate` can find it in the text).
 */
export function validateConfig(raw: unknown, source = 'config', locate?: Locate): Config {
  // jitless: the config is parsed once per command; zod's compiled fast path would cost more than it saves
  const result = configSchema.safeParse(raw, { reportInput: true, jitless: true });
  const problems: Problem[] = result.success
    ? [...listenClashes(result.data), ...warmupProblems(result.data)]
    : problemsOf(result.error.issues);
  if (result.success && problems.length === 0) return result.data;
  const placed = problems.map((p) => {
    const pos = locate?.(p.path, p.key) ?? null;
    return { text: p.text, at: pos ? `${source}:${pos.line}:${pos.col}` : source };
  });
  const message =
    placed.length === 1
      ? `${placed[0]?.at ?? source}: ${placed[0]?.text ?? 'invalid'}`
      : `${source}: ${placed.length} problems in the config:\n${placed.map((p) => `  ${p.at}: ${p.text}`).join('\n')}`;
  return fail(message, placed);
}

function fail(message: string, placed: readonly { text: string; at: string }[]): never {
  throw new UsageError(message, {
    details: { problems: placed.map((p) => p.text), at: placed.map((p) => p.at) },
  });
}

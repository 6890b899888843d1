import type { z } from 'zod';
import { UsageError } from '../core/errors.js';
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

/** Pure: raw parsed document → Config with defaults, or a UsageError naming every bad key path. */
export function validateConfig(raw: unknown, source = 'config'): Config {
  const result = configSchema.safeParse(raw, { reportInput: true });
  if (result.success) return result.data;
  const lines = formatIssues(result.error.issues);
  const first = lines[0] ?? 'invalid';
  throw new UsageError(`${source}: ${first}${lines.length > 1 ? ` (and ${lines.length - 1} more)` : ''}`, {
    details: { problems: lines },
  });
}

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONFIG_SCHEMA_ID, configJsonSchema } from '../../src/config/json-schema.js';

const SHIPPED = new URL('../../schema/bgctl.schema.json', import.meta.url);
const REGENERATE = 'schema/bgctl.schema.json is stale: run `npm run build && node scripts/gen-schema.mjs`';

type Node = Record<string, unknown>;

/** Every (path, schema) of an object property, anywhere in the schema. */
function properties(node: unknown, path = ''): [string, Node][] {
  if (node === null || typeof node !== 'object') return [];
  const n = node as Node;
  const own = Object.entries((n.properties ?? {}) as Record<string, Node>).flatMap(([k, v]): [string, Node][] => [
    [`${path}${path ? '.' : ''}${k}`, v],
    ...properties(v, `${path}${path ? '.' : ''}${k}`),
  ]);
  const nested = ['items', 'additionalProperties', 'anyOf', 'oneOf', 'allOf', '$defs']
    .flatMap((k) => (n[k] && typeof n[k] === 'object' ? Object.values(Array.isArray(n[k]) ? n[k] : { x: n[k] }) : []))
    .flatMap((v) => properties(v, path));
  return [...own, ...nested];
}

describe('JSON Schema', () => {
  const schema = configJsonSchema();

  it('is the shipped schema/bgctl.schema.json (so the file cannot go stale)', () => {
    const shipped = JSON.parse(readFileSync(SHIPPED, 'utf8')) as unknown;
    expect(shipped, REGENERATE).toEqual(schema);
  });

  it('has an id, a title and a 2020-12 dialect', () => {
    expect(schema.$id).toBe(CONFIG_SCHEMA_ID);
    expect(schema.title).toBe('bgctl configuration');
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
  });

  it('describes every property', () => {
    const props = properties(schema);
    expect(props.length).toBeGreaterThan(30);
    const undescribed = props.filter(([, v]) => typeof v.description !== 'string' || v.description === '').map(([p]) => p);
    expect(undescribed).toEqual([]);
  });

  it('requires only what has no default, and refuses unknown keys', () => {
    expect(schema.required).toEqual(['environments']);
    expect(schema.additionalProperties).toBe(false);
    const env = (schema.properties as Record<string, Node>).environments as Node;
    const blue = (env.properties as Record<string, Node>).blue as Node;
    expect(blue.required).toEqual(['servers']);
  });
});

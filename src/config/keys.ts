import { configJsonSchema } from './json-schema.js';

type Node = Record<string, unknown>;
const isNode = (v: unknown): v is Node => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Every schema a value at `path` may match (unions give several). */
function schemasAt(root: Node, path: readonly PropertyKey[]): Node[] {
  let nodes = [root];
  for (const seg of path) {
    const next: Node[] = [];
    for (const n of expand(nodes)) {
      if (typeof seg === 'number') {
        if (isNode(n['items'])) next.push(n['items']);
      } else {
        const props = n['properties'];
        if (isNode(props) && isNode(props[String(seg)])) next.push(props[String(seg)] as Node);
        else if (isNode(n['additionalProperties'])) next.push(n['additionalProperties']);
      }
    }
    nodes = next;
  }
  return expand(nodes);
}

function expand(nodes: readonly Node[]): Node[] {
  const out: Node[] = [];
  for (const n of nodes) {
    out.push(n);
    for (const k of ['anyOf', 'oneOf', 'allOf']) {
      const list = n[k];
      if (Array.isArray(list)) out.push(...expand(list.filter(isNode)));
    }
  }
  return out;
}

let cached: Node | null = null;

/** The keys the config accepts in the object at `path` (from the schema, which is the documentation). */
export function keysAt(path: readonly PropertyKey[]): string[] {
  cached ??= configJsonSchema();
  const keys = new Set<string>();
  for (const n of schemasAt(cached, path)) {
    const props = n['properties'];
    if (isNode(props)) for (const k of Object.keys(props)) if (k !== '$schema') keys.add(k);
  }
  return [...keys];
}

/** Pure route table matching: `/switch/:color` patterns, 404 vs 405 with the allowed methods. */

export type Method = 'GET' | 'POST';

export interface Route<H> {
  readonly method: Method;
  /** literal segments and `:name` parameters, e.g. `/switch/:color` */
  readonly path: string;
  /** changes something: needs the bearer token, and is written to the audit log */
  readonly mutating: boolean;
  readonly handler: H;
}

export type Match<H> =
  | { readonly kind: 'found'; readonly route: Route<H>; readonly params: Readonly<Record<string, string>> }
  | { readonly kind: 'not_found' }
  | { readonly kind: 'wrong_method'; readonly allow: readonly string[] };

function matchPath(pattern: string, pathname: string): Record<string, string> | null {
  const want = pattern.split('/');
  const got = pathname.split('/');
  if (want.length !== got.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    const w = want[i] ?? '';
    const g = got[i] ?? '';
    if (w.startsWith(':')) {
      if (g === '') return null;
      try {
        params[w.slice(1)] = decodeURIComponent(g);
      } catch {
        return null; // malformed %-escape: no such resource
      }
    } else if (w !== g) return null;
  }
  return params;
}

/** HEAD is answered like GET (without a body). */
export function matchRoute<H>(routes: readonly Route<H>[], method: string, pathname: string): Match<H> {
  const asked = method === 'HEAD' ? 'GET' : method;
  const allow = new Set<string>();
  for (const route of routes) {
    const params = matchPath(route.path, pathname);
    if (params === null) continue;
    if (route.method === asked) return { kind: 'found', route, params };
    allow.add(route.method);
    if (route.method === 'GET') allow.add('HEAD');
  }
  return allow.size > 0 ? { kind: 'wrong_method', allow: [...allow].sort() } : { kind: 'not_found' };
}

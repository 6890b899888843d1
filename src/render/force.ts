import { COLORS } from '../core/color.js';
import type { Config } from '../config/schema.js';
import { regexLiteral } from './address.js';
import type { PatternEntry } from './routing.js';
import { SECRET_RE } from '../config/patterns.js';

/**
 * Pure: forced routes (config `routing`) as `map` blocks. A request whose header or cookie names a
 * color goes to that color's upstream whatever the weights, and never fails over to the other one, but
 * only with the exact value `COLOR:SECRET`, from anywhere: where the request comes from does not count
 * (behind a proxy on the same host every client is loopback), so the maps read the header or the
 * Cookie header alone. Without a secret there are no forced routes (bgctl always renders with one: the
 * configured one or its own, see adapters/force-secret.ts). Regexes (`~`) match case-sensitively; an
 * empty header is an exact key, so a request without it runs no regex.
 */

export interface ForceMap {
  /** the map's source, e.g. `$http_x_bgctl_color` */
  readonly source: string;
  /** the variable set, without `$` */
  readonly output: string;
  readonly patterns: readonly PatternEntry[];
}

export interface ForceView {
  readonly maps: readonly ForceMap[];
  /** both a header and a cookie: a last map prefers the header */
  readonly combine: boolean;
  /** the request header to drop before proxying (it may carry the secret); null when bgctl sets it anyway */
  readonly strip: string | null;
  /** the cookie to take out of the Cookie header before proxying (it may carry the secret) */
  readonly stripCookie: string | null;
}

const HEADER = /^[A-Za-z0-9-]{1,64}$/;
const COOKIE = /^[A-Za-z0-9_-]{1,64}$/;
const SECRET = SECRET_RE;
/** request headers the site config sets itself: a second proxy_set_header would fight it */
const SET_BY_BGCTL = ['connection', 'host', 'x-real-ip', 'x-forwarded-for', 'x-forwarded-proto', 'x-request-id', 'x-bgctl-secret'];

function checked(what: string, value: string | null, re: RegExp): string | null {
  if (value !== null && (typeof value !== 'string' || !re.test(value))) {
    // never print a secret, even one that failed validation
    throw new Error(`render: impossible ${what}${what === 'routing.forceSecret' ? '' : `: ${JSON.stringify(value)}`}`);
  }
  return value;
}

export function forceView(routing: Config['routing']): ForceView | null {
  const header = checked('routing.forceHeader', routing.forceHeader, HEADER);
  const cookie = checked('routing.forceCookie', routing.forceCookie, COOKIE);
  const secret = checked('routing.forceSecret', routing.forceSecret, SECRET);
  if ((header === null && cookie === null) || secret === null) return null;
  const value = (color: string): string => `${color}:${regexLiteral(secret)}`;
  const both = header !== null && cookie !== null;
  const maps: ForceMap[] = [];
  if (header !== null) {
    maps.push({
      source: `$http_${header.toLowerCase().replace(/-/g, '_')}`,
      output: both ? 'bgctl_force_header' : 'bgctl_force',
      patterns: COLORS.map((color) => ({ pattern: `~^${value(color)}$`, color })),
    });
  }
  if (cookie !== null) {
    // read from the Cookie header itself: `$cookie_NAME` cannot name a cookie with `-` in it
    maps.push({
      source: '$http_cookie',
      output: both ? 'bgctl_force_cookie' : 'bgctl_force',
      patterns: COLORS.map((color) => ({ pattern: `~^(?:.*;\\s*)?${cookie}=${value(color)}\\s*(?:;|$)`, color })),
    });
  }
  const strip = header !== null && !SET_BY_BGCTL.includes(header.toLowerCase()) ? header : null;
  return { maps, combine: both, strip, stripCookie: cookie };
}

/**
 * Pure: the regex (a map key) of what the `/__bgctl/` locations need: loopback and the header
 * `X-Bgctl-Secret: SECRET`, matched on `$bgctl_loopback:$http_x_bgctl_secret`. null: nobody (no secret).
 */
export function trustPattern(routing: Config['routing']): string | null {
  const secret = checked('routing.forceSecret', routing.forceSecret, SECRET);
  return secret === null ? null : `~^1:${regexLiteral(secret)}$`;
}

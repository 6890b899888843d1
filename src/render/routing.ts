import { COLORS, otherColor } from '../core/color.js';
import type { Color } from '../core/color.js';
import type { Weights } from '../core/weights.js';
import { regexLiteral, upstreamAddrText } from './address.js';

/**
 * Pure: how traffic is divided between the colors, as values for the site template. Every input has
 * been validated (view.ts); these functions only do arithmetic and build regexes from checked text.
 */

function fail(what: string, value: unknown): never {
  throw new Error(`render: impossible ${what}: ${JSON.stringify(value)}`);
}

function int(what: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) fail(what, value);
  return value;
}

export function checkColor(what: string, value: unknown): Color {
  if (!(COLORS as readonly unknown[]).includes(value)) fail(what, value);
  return value as Color;
}

export function checkWeights(weights: Weights): void {
  const blue = int('weight of blue', weights.blue, 0, 100);
  const green = int('weight of green', weights.green, 0, 100);
  if (blue + green !== 100) fail('weights (must total 100)', weights);
}

/** One split_clients entry: `25% green;` or `* blue;`. */
export interface SplitEntry {
  readonly color: Color;
  readonly percent: string;
}

/**
 * The split_clients entries, growing color first. Its bucket is the start of the hash range, so as it
 * grows from 25% to 50% the clients it already had stay on it. `0%` never appears (an empty bucket is
 * pointless) and `*` always closes the list, so the shares total exactly 100% whatever the rounding:
 * a color at 0% gets nothing, at 100% everything.
 */
export function splitPlan(weights: Weights, growing: Color): SplitEntry[] {
  checkWeights(weights);
  const first = checkColor('growing color', growing);
  const rest = otherColor(first);
  const share = weights[first];
  if (share === 0) return [{ color: rest, percent: '*' }];
  if (share === 100) return [{ color: first, percent: '*' }];
  return [
    { color: first, percent: `${share}%` },
    { color: rest, percent: '*' },
  ];
}

export interface WeightedServer {
  readonly color: Color;
  readonly server: string;
  readonly weight: number;
  /** an NGINX `backup` server: used only when every other server of the group has failed */
  readonly backup: boolean;
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/**
 * The servers of the exact split, each with its NGINX `weight=`. A color's percentage is divided
 * evenly among its servers by multiplying it by the other color's server count: with blue 25% on 1
 * server and green 75% on 3, blue's server weighs 25·3 and each green one 75·1, so blue gets 75 of
 * 300. Weights are reduced by their common divisor (1 and 1 rather than 50 and 50), which keeps
 * NGINX's round-robin cycle short. A color at 0% is left out; NGINX rejects `weight=0`.
 */
export function exactSplit(
  weights: Weights,
  servers: Readonly<Record<Color, readonly string[]>>,
  backup: Color | null = null,
): WeightedServer[] {
  checkWeights(weights);
  const count = (c: Color): number => int(`server count of ${c}`, servers[c].length, 1, 64);
  const raw = COLORS.filter((c) => weights[c] > 0).flatMap((c) =>
    servers[c].map((server) => ({ color: c, server, weight: weights[c] * count(otherColor(c)), backup: false })),
  );
  const divisor = raw.reduce((d, s) => gcd(s.weight, d), 0);
  const live = raw.map((s) => ({ ...s, weight: s.weight / divisor }));
  // nginx.fallback at 100/0: the idle color's servers stand by as `backup` (never weighted, never picked while one live server is up)
  if (backup === null || weights[backup] !== 0) return live;
  return [...live, ...servers[backup].map((server) => ({ color: backup, server, weight: 1, backup: true }))];
}

/** An entry of a `map`: a regex (`"~^1:blue$" blue;`) or an exact value (`"127.0.0.1:8081" blue;`). */
export interface PatternEntry {
  readonly pattern: string;
  readonly color: Color;
}

/**
 * Exact map keys no longer than this go into NGINX's hash of exact keys: an entry takes the key's length
 * + 2, rounded up to a pointer, + a pointer, and a bucket must hold one and a closing pointer, so 22
 * characters fit the smallest default bucket (map_hash_bucket_size: a 32-byte cache line, 32-bit
 * pointers; 46 with 64-byte lines and 64-bit pointers). Longer addresses are matched by the regexes alone.
 */
const EXACT_KEY_MAX = 22;

/**
 * The `$upstream_addr` → color map entries, or null when some server is a host name (its addresses
 * are only known once NGINX resolves it) or two colors' servers are the same address. `$upstream_addr`
 * lists every server tried (`, ` within an upstream, ` : ` across redirects): the last one answered.
 * When no server of an upstream was live NGINX writes the upstream's name instead. The common case, one
 * server tried, is an exact key (a hash lookup); the regexes (PCRE on every request otherwise) only run
 * for the rest.
 */
export function servedByAddress(servers: Readonly<Record<Color, readonly string[]>>): PatternEntry[] | null {
  const owner = new Map<string, Color>();
  for (const c of COLORS) {
    for (const server of servers[c]) {
      const text = upstreamAddrText(server);
      if (text === null) return null;
      if ((owner.get(text) ?? c) !== c) return null;
      owner.set(text, c);
    }
  }
  const last = (text: string): string => `~(?:^|\\s)${regexLiteral(text)}$`;
  const all: [string, Color][] = [...owner, ...COLORS.map((color): [string, Color] => [`bgctl_${color}`, color])];
  return [
    ...all.filter(([text]) => text.length <= EXACT_KEY_MAX).map(([text, color]) => ({ pattern: text, color })),
    ...all.map(([text, color]) => ({ pattern: last(text), color })),
  ];
}

export interface StickyBuckets {
  /** split_clients entries for a client without a bucket: `1% 0;` … `1% 98;` `* 99;` */
  readonly newBuckets: readonly { readonly percent: string; readonly bucket: number }[];
  /** the buckets listed in the bucket → color map, all of `owner`: 0 … share-1 of the growing color */
  readonly owned: readonly number[];
  readonly owner: Color;
  /** the color of every bucket not listed */
  readonly otherwise: Color;
}

export const BUCKETS = 100;

/**
 * Sticky routing: 100 buckets of 1%. The growing color owns buckets 0 … share-1, the other color the
 * rest, so growing from 25% to 50% hands buckets 25 … 49 over and takes none back. At 0% and 100%
 * the map is a single default.
 */
export function stickyBuckets(weights: Weights, growing: Color): StickyBuckets {
  checkWeights(weights);
  const first = checkColor('growing color', growing);
  const share = weights[first];
  return {
    newBuckets: Array.from({ length: BUCKETS }, (_, bucket) => ({ percent: bucket === BUCKETS - 1 ? '*' : '1%', bucket })),
    owned: share === BUCKETS ? [] : Array.from({ length: share }, (_, bucket) => bucket),
    owner: first,
    otherwise: share === BUCKETS ? first : otherColor(first),
  };
}

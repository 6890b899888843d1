import { COLORS, isColor, type Color } from '../core/color.js';
import type { DeltaBuilder } from '../core/traffic.js';
import { upstreamAddrText } from '../render/address.js';

/**
 * One line of NGINX's JSON access log (`log_format bgctl_json` in nginx/templates/site.conf.hbs) parsed into
 * per-color attempts, and counted. Pure; the readers (traffic-log.ts, access-log-span.ts) feed it.
 */

/** Server address as NGINX logs it (`127.0.0.1:8081`, `[::1]:8082`) → its color. */
export type AddressColors = ReadonlyMap<string, Color>;

export interface Attempt {
  /** color of the server tried; null: bgctl cannot tell */
  readonly color: Color | null;
  /** 5xx: the backend's own, or NGINX's 502/504 for a server that did not answer */
  readonly failed: boolean;
  /** upstream response time, ms; null when NGINX logged `-` */
  readonly latencyMs: number | null;
}

export interface ParsedLine {
  /** epoch ms (`msec` × 1000); null when missing */
  readonly atMs: number | null;
  /** the final status the client got */
  readonly status: number;
  /** the color that finally served (`color`), null when empty */
  readonly color: Color | null;
  readonly attempts: readonly Attempt[];
  /** sent to a color by a forced route (a tester, or bgctl's own through-NGINX probe), not by the weights */
  readonly forced: boolean;
  /** a warmup request of bgctl (forced to the new color and marked): judged, but counted apart */
  readonly warmup?: boolean;
}

/** NGINX logs the group's name instead of an address when none of its servers was live. */
const UPSTREAM_NAMES: ReadonlyMap<string, Color> = new Map(COLORS.map((c) => [`bgctl_${c}`, c]));

/**
 * The address → color map for `parseLogLine`: each server as configured and as NGINX prints it in
 * `$upstream_addr` (render/address.ts). An address configured for both colors stays unknown.
 */
export function addressColors(servers: Readonly<Record<Color, readonly string[]>>): AddressColors {
  const map = new Map<string, Color | null>();
  for (const color of COLORS) {
    for (const server of servers[color]) {
      const printed = upstreamAddrText(server);
      for (const form of new Set(printed === null ? [server] : [server, printed])) {
        map.set(form, map.has(form) && map.get(form) !== color ? null : color);
      }
    }
  }
  return new Map([...map].filter((e): e is [string, Color] => e[1] !== null));
}

const toNumber = (v: unknown): number | null => {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : null;
};
const is5xx = (status: number | null): boolean => status !== null && status >= 500 && status <= 599;
/** NGINX separates attempts with ", " (next server of one upstream) and " : " (internal redirect). */
const items = (v: unknown): string[] => (typeof v === 'string' || typeof v === 'number' ? String(v).split(/, | : /) : []);

/** Pure: one log line, or null for a blank line or one that is not a JSON object with a status. */
export function parseLogLine(line: string, addrColors: AddressColors): ParsedLine | null {
  const text = line.trim();
  if (text === '') return null;
  let rec: unknown;
  try {
    rec = JSON.parse(text);
  } catch {
    return null;
  }
  if (rec === null || typeof rec !== 'object' || Array.isArray(rec)) return null;
  const r = rec as Record<string, unknown>;
  const status = toNumber(r['status']);
  if (status === null) return null;
  const color = isColor(r['color']) ? r['color'] : null;
  const msec = toNumber(r['msec']);
  const addrs = typeof r['upstream_addr'] === 'string' && !['', '-'].includes(r['upstream_addr'].trim()) ? items(r['upstream_addr']) : [];
  const statuses = items(r['upstream_status']);
  const times = items(r['upstream_response_time']);
  const attempts = addrs.map((raw, i): Attempt => {
    const addr = raw.trim();
    const seconds = toNumber(times[i]);
    return {
      color: addrColors.get(addr) ?? UPSTREAM_NAMES.get(addr) ?? (addrs.length === 1 ? color : null),
      failed: is5xx(toNumber(statuses[i])),
      latencyMs: seconds === null ? null : Math.round(seconds * 1_000_000) / 1000,
    };
  });
  const forced = typeof r['forced'] === 'string' && r['forced'] !== '';
  const warmup = forced && typeof r['warmup'] === 'string' && r['warmup'] !== '';
  return { atMs: msec === null ? null : Math.round(msec * 1000), status, color, attempts, forced, ...(warmup ? { warmup } : {}) };
}

/** Pure: adds one parsed line: each attempt to its color (or unknown), then the request as the client saw it. */
export function addLine(parsed: ParsedLine, into: DeltaBuilder): void {
  // forced requests did not follow the weights: they would skew the split and could make up minRequests;
  // bgctl's own warmup requests are there to be judged, and are counted apart as well
  if (parsed.forced && !parsed.warmup) return;
  if (parsed.warmup) into.warmup();
  for (const a of parsed.attempts) {
    if (a.color === null) into.unknown();
    else into.attempt(a.color, a.failed, a.latencyMs, parsed.atMs);
  }
  // lines with neither a color nor an attempt (internal locations) are not traffic
  if (parsed.color !== null || parsed.attempts.length > 0) into.request(is5xx(parsed.status));
}

/** Pure: blank lines are skipped, lines that are not JSON objects count as unattributed. */
export function countLine(line: string, addrColors: AddressColors, into: DeltaBuilder): void {
  if (line.trim() === '') return;
  const parsed = parseLogLine(line, addrColors);
  if (parsed === null) into.unknown();
  else addLine(parsed, into);
}

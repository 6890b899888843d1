import { COLORS, type Color } from './color.js';
import type { ColorFigures } from './metrics.js';

/**
 * The one-line verdict of `status`, `/health` and the dashboard badge. Pure: it is given what was
 * seen (NGINX, drift, the migration, each color's probes and recent traffic, alerts) and answers
 * OK, DEGRADED or CRITICAL with every reason, worst first.
 *
 * CRITICAL: clients are (or may be) failing now: NGINX down or not answering, a color that carries
 * traffic failing every probe or over the error-rate threshold, an open critical alert.
 * DEGRADED: traffic flows but something needs a person soon: drift between NGINX and state.json, an
 * interrupted migration, a color with traffic over the latency threshold or with some servers failing,
 * a color without traffic failing its probes (nothing could move onto it), NGINX routing by a fallback
 * instead of its weights file.
 */
export type VerdictLevel = 'OK' | 'DEGRADED' | 'CRITICAL';

export interface VerdictReason {
  readonly level: Exclude<VerdictLevel, 'OK'>;
  /** stable identifier for scripts: nginx_down, drift, interrupted, probes, error_rate, p95_latency, fallback, alert */
  readonly code: string;
  readonly text: string;
}

export interface StatusVerdict {
  readonly level: VerdictLevel;
  readonly reasons: readonly VerdictReason[];
  /** `OK`, `DEGRADED: reason; reason` or `CRITICAL: reason; reason` */
  readonly line: string;
}

export interface ColorInput {
  /** live share, 0-100 */
  readonly weight: number;
  readonly servers: number;
  readonly healthyServers: number;
  /** figures of the last window from the access log; null: not read */
  readonly traffic: ColorFigures | null;
}

export interface VerdictInput {
  /** null: NGINX is down or does not answer its status location (the text says which) */
  readonly nginxDown: string | null;
  readonly drift: string | null;
  /** a migration whose process is gone, e.g. `gradual blue → green 2.1.0 at step 2/4 (50%)` */
  readonly interrupted: string | null;
  readonly colors: Readonly<Record<Color, ColorInput>>;
  readonly thresholds: { readonly errorRate: number; readonly p95LatencyMs: number; readonly minRequests: number };
  /** length of the traffic window, seconds */
  readonly windowSeconds: number;
  /** why NGINX routes by a fallback instead of its weights file; null: it does not */
  readonly fallback: string | null;
  /** open critical alerts of a running `serve` (summaries); empty when none or serve not running */
  readonly criticalAlerts: readonly string[];
}

/** Exit code of `status` for each level: 0, 6 (checks failed, traffic flows), 4 (a human must look now). */
export const VERDICT_EXIT: Readonly<Record<VerdictLevel, 0 | 4 | 6>> = { OK: 0, DEGRADED: 6, CRITICAL: 4 };

const pct = (r: number): string => `${(r * 100).toFixed(r > 0 && r < 0.001 ? 2 : 1)}%`;

/**
 * Does a color carry traffic: a share of the weights NGINX serves. A color at 0% is not judged on what
 * it served earlier in the window (right after a rollback, its failures are history, not clients failing).
 */
const carries = (c: ColorInput): boolean => c.weight > 0;

function colorReasons(color: Color, c: ColorInput, i: VerdictInput): VerdictReason[] {
  if (!carries(c)) {
    // no client sees it now, but nothing could move onto it (a rollback to it would be refused)
    if (c.healthyServers >= c.servers) return [];
    const which = c.healthyServers === 0 ? 'every server' : `${c.servers - c.healthyServers}/${c.servers} servers`;
    return [{ level: 'DEGRADED', code: 'probes_idle', text: `${color} (no traffic) fails its health probes on ${which}` }];
  }
  const out: VerdictReason[] = [];
  const share = `${color} (${c.weight}% of traffic)`;
  if (c.servers > 0 && c.healthyServers === 0)
    out.push({ level: 'CRITICAL', code: 'probes', text: `${share} fails its health probes on every server` });
  else if (c.healthyServers < c.servers)
    out.push({
      level: 'DEGRADED',
      code: 'probes',
      text: `${share}: ${c.servers - c.healthyServers}/${c.servers} servers fail their health probe`,
    });
  const t = c.traffic;
  if (t && t.requests >= Math.max(1, i.thresholds.minRequests)) {
    const window = `${t.requests} requests in the last ${i.windowSeconds} s`;
    if (t.errorRate !== null && t.errorRate > i.thresholds.errorRate)
      out.push({
        level: 'CRITICAL',
        code: 'error_rate',
        text: `${color} answers ${pct(t.errorRate)} 5xx (threshold ${pct(i.thresholds.errorRate)}, ${window})`,
      });
    if (t.p95 !== null && t.p95 > i.thresholds.p95LatencyMs)
      out.push({
        level: 'DEGRADED',
        code: 'p95_latency',
        text: `${color} p95 latency ${Math.round(t.p95)} ms (threshold ${i.thresholds.p95LatencyMs} ms, ${window})`,
      });
  }
  return out;
}

export function decideVerdict(i: VerdictInput): StatusVerdict {
  const reasons: VerdictReason[] = [];
  if (i.nginxDown) reasons.push({ level: 'CRITICAL', code: 'nginx_down', text: i.nginxDown });
  for (const color of COLORS) reasons.push(...colorReasons(color, i.colors[color], i));
  for (const a of i.criticalAlerts) reasons.push({ level: 'CRITICAL', code: 'alert', text: `alert firing: ${a}` });
  if (i.interrupted) reasons.push({ level: 'DEGRADED', code: 'interrupted', text: `migration interrupted: ${i.interrupted}` });
  // NGINX down already says it all; its drift line would only repeat it
  if (i.drift && !i.nginxDown) reasons.push({ level: 'DEGRADED', code: 'drift', text: `drift: ${i.drift}` });
  if (i.fallback) reasons.push({ level: 'DEGRADED', code: 'fallback', text: `fallback in use: ${i.fallback}` });
  const sorted = [...reasons.filter((r) => r.level === 'CRITICAL'), ...reasons.filter((r) => r.level === 'DEGRADED')];
  const level: VerdictLevel = sorted[0]?.level ?? 'OK';
  const line = level === 'OK' ? 'OK' : `${level}: ${sorted.map((r) => r.text).join('; ')}`;
  return { level, reasons: sorted, line };
}

import { COLORS, type Color } from '../core/color.js';
import type { StatusVerdict } from '../core/verdict.js';
import type { Snapshot } from './monitor.js';

export interface HealthReport {
  /** ok only when the verdict is OK (given one), else degraded; HTTP 200 / 503 */
  readonly status: 'ok' | 'degraded';
  /** the verdict `bgctl status` gives: OK, DEGRADED or CRITICAL with its reasons */
  readonly verdict?: StatusVerdict;
  readonly checkedAt: string | null;
  readonly bgctl: { readonly up: boolean; readonly pid: number; readonly lastSampleAgeMs: number | null; readonly problem: string | null };
  readonly nginx: { readonly up: boolean; readonly revision: number | null };
  readonly colors: Readonly<
    Record<
      Color,
      {
        readonly up: boolean;
        readonly servers: readonly { server: string; up: boolean; status: number | null; version: string | null; error: string | null }[];
      }
    >
  >;
}

/** Why bgctl's own monitor cannot be trusted now (no or stale sample, unreadable state.json), or null. */
export function monitorProblem(s: Snapshot, now: number, staleMs: number): string | null {
  const age = s.sampledAt === null ? null : now - s.sampledAt;
  if (age === null) return 'no sample taken yet';
  if (age > staleMs) return `the monitor loop has not sampled for ${Math.round(age / 1000)} s`;
  return s.stateError ? `state.json: ${s.stateError}` : null;
}

/**
 * Pure: is everything up? bgctl itself (its monitor loop sampled recently and state.json reads),
 * NGINX (answers its status location) and each color (every server healthy).
 */
export function healthReport(s: Snapshot, now: number, staleMs: number, pid: number, verdict?: StatusVerdict): HealthReport {
  const age = s.sampledAt === null ? null : now - s.sampledAt;
  const problem = monitorProblem(s, now, staleMs);
  const colorOf = (c: Color): HealthReport['colors'][Color] => {
    const h = s.health?.[c];
    const servers = (h?.servers ?? []).map((x) => ({
      server: x.server,
      up: x.healthy,
      status: x.status,
      version: x.version,
      error: x.error,
    }));
    return { up: h?.healthy ?? false, servers };
  };
  const colors: HealthReport['colors'] = { blue: colorOf('blue'), green: colorOf('green') };
  const bgctlUp = problem === null;
  const nginxUp = s.live !== null;
  const all = verdict ? bgctlUp && verdict.level === 'OK' : bgctlUp && nginxUp && COLORS.every((c) => colors[c].up);
  return {
    status: all ? 'ok' : 'degraded',
    ...(verdict ? { verdict } : {}),
    checkedAt: s.sampledAt === null ? null : new Date(s.sampledAt).toISOString(),
    bgctl: { up: bgctlUp, pid, lastSampleAgeMs: age, problem },
    nginx: { up: nginxUp, revision: s.live?.revision ?? null },
    colors,
  };
}

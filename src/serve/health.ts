import { COLORS, type Color } from '../core/color.js';
import type { Snapshot } from './monitor.js';

export interface HealthReport {
  readonly status: 'ok' | 'degraded';
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

/**
 * Pure: is everything up? bgctl itself (its monitor loop sampled recently and state.json reads),
 * NGINX (answers its status location) and each color (every server healthy).
 */
export function healthReport(s: Snapshot, now: number, staleMs: number, pid: number): HealthReport {
  const age = s.sampledAt === null ? null : now - s.sampledAt;
  const problem =
    age === null
      ? 'no sample taken yet'
      : age > staleMs
        ? `the monitor loop has not sampled for ${Math.round(age / 1000)} s`
        : s.stateError
          ? `state.json: ${s.stateError}`
          : null;
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
  const all = bgctlUp && nginxUp && COLORS.every((c) => colors[c].up);
  return {
    status: all ? 'ok' : 'degraded',
    checkedAt: s.sampledAt === null ? null : new Date(s.sampledAt).toISOString(),
    bgctl: { up: bgctlUp, pid, lastSampleAgeMs: age, problem },
    nginx: { up: nginxUp, revision: s.live?.revision ?? null },
    colors,
  };
}

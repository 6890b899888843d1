import { COLORS, type Color } from '../core/color.js';
import type { WindowFigures } from '../core/metrics.js';
import type { Weights } from '../core/weights.js';
import type { VerdictInput } from '../core/verdict.js';
import type { ColorHealth, LiveNginx } from './ports.js';

export interface VerdictParts {
  readonly nginxDown: string | null;
  readonly drift: string | null;
  readonly interrupted: string | null;
  readonly weights: Weights;
  readonly live: LiveNginx | null;
  readonly health: Readonly<Record<Color, ColorHealth>> | null;
  /** the last window's figures; null: the access log could not be read */
  readonly window: WindowFigures | null;
  readonly thresholds: { readonly errorRate: number; readonly p95LatencyMs: number; readonly minRequests: number };
  readonly windowSeconds: number;
  readonly criticalAlerts: readonly string[];
}

/** What NGINX routes by when its weights file is not usable (dynamic mode), or null. */
export function fallbackOf(live: LiveNginx | null): string | null {
  if (!live || (live.source !== 'prev' && live.source !== 'config')) return null;
  const from = live.source === 'prev' ? 'bgctl-weights.json.prev' : "the config's fallback color";
  return `NGINX cannot use its weights file (${live.problem ?? 'unknown problem'}) and routes by ${from}`;
}

/** The verdict's input from what status (or serve's monitor) saw. */
export function verdictInput(p: VerdictParts): VerdictInput {
  const colors = Object.fromEntries(
    COLORS.map((c) => {
      const servers = p.health?.[c].servers ?? [];
      return [
        c,
        {
          weight: p.weights[c],
          servers: servers.length,
          healthyServers: servers.filter((s) => s.healthy).length,
          traffic: p.window?.colors[c] ?? null,
        },
      ];
    }),
  ) as VerdictInput['colors'];
  return {
    nginxDown: p.nginxDown,
    drift: p.drift,
    interrupted: p.interrupted,
    colors,
    thresholds: p.thresholds,
    windowSeconds: p.windowSeconds,
    fallback: fallbackOf(p.live),
    criticalAlerts: p.criticalAlerts,
  };
}

import type { LiveNginx } from '../../app/ports.js';
import { isColor } from '../../core/color.js';

/**
 * The status JSON NGINX answers on `/__bgctl/status` (rendered by site.conf.hbs, or by the njs module in
 * dynamic mode) as LiveNginx, or null when it is not one. Dynamic mode adds mode, source, config, problem.
 */
export function parseStatus(text: string): LiveNginx | null {
  try {
    const { revision, blue, green, strategy, stable, mode, source, problem, config, backup } = JSON.parse(text) as Record<string, unknown>;
    // a revision bgctl could never have written (negative, beyond 2^53 - 1) is no answer
    if (typeof revision !== 'number' || !Number.isSafeInteger(revision) || revision < 0) return null;
    if (typeof blue !== 'number' || typeof green !== 'number') return null;
    if (typeof strategy !== 'string' || !isColor(stable)) return null;
    const live: LiveNginx = { revision, weights: { blue, green }, strategy, stable, ...(isColor(backup) ? { backup } : {}) };
    if (mode !== 'dynamic') return live;
    return {
      ...live,
      mode: 'dynamic',
      ...(source === 'file' || source === 'prev' || source === 'config' ? { source } : {}),
      ...(typeof problem === 'string' ? { problem: problem.slice(0, 500) } : {}),
      ...(typeof config === 'string' ? { config } : {}),
    };
  } catch {
    return null;
  }
}

import { otherColor, type Color } from '../core/color.js';
import { isActive, type State } from '../core/state.js';

/** Pure: what `canary COLOR PERCENT` would take away from COLOR, or null when it does not lower its share. */
export function canaryRisk(state: State, color: Color, percent: number): string | null {
  const now = state.weights[color];
  if (percent >= now) return null;
  const other = otherColor(color);
  const v = state.versions[other];
  return `it lowers ${color} from ${now}% to ${percent}%: ${now - percent}% of traffic moves back to ${other}${v ? ` (${v})` : ''}`;
}

/** Pure: why stopping the front now would surprise: a canary or migration holds traffic on both colors. */
export function stopRisk(state: State): string | null {
  const m = state.migration;
  if (m && isActive(m)) {
    const w = state.weights[m.to];
    return `${m.kind} ${m.from} → ${m.to}${m.version ? ` ${m.version}` : ''} is ${m.status} (${m.to} at ${w}%): stopping NGINX takes the service down for every client`;
  }
  return null;
}

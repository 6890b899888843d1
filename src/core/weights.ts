import type { Color } from './color.js';
import { otherColor } from './color.js';

/** Share of traffic per color, whole percent, always summing to 100. */
export type Weights = Readonly<Record<Color, number>>;

export function weightsFor(color: Color, percent: number): Weights {
  const p = Math.max(0, Math.min(100, Math.round(percent)));
  return color === 'blue' ? { blue: p, green: 100 - p } : { blue: 100 - p, green: p };
}

export const allOn = (color: Color): Weights => weightsFor(color, 100);

export function sameWeights(a: Weights, b: Weights): boolean {
  return a.blue === b.blue && a.green === b.green;
}

/** The color carrying all traffic, or null while traffic is split. */
export function soleColor(w: Weights): Color | null {
  if (w.blue === 100) return 'blue';
  if (w.green === 100) return 'green';
  return null;
}

export function formatWeights(w: Weights): string {
  return `blue ${w.blue}% / green ${w.green}%`;
}

export { otherColor };

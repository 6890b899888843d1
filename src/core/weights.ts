import type { Color } from './color.js';

/** Share of traffic per color, whole percent, always summing to 100. */
export type Weights = Readonly<Record<Color, number>>;

export function weightsFor(color: Color, percent: number): Weights {
  const p = Math.max(0, Math.min(100, Math.round(percent)));
  return color === 'blue' ? { blue: p, green: 100 - p } : { blue: 100 - p, green: p };
}

export const allOn = (color: Color): Weights => weightsFor(color, 100);

/** The color at 0% while the other carries 100%; null mid-split. */
export function idleColor(weights: Weights): Color | null {
  if (weights.blue === 100 && weights.green === 0) return 'green';
  if (weights.green === 100 && weights.blue === 0) return 'blue';
  return null;
}

export function sameWeights(a: Weights, b: Weights): boolean {
  return a.blue === b.blue && a.green === b.green;
}

export function formatWeights(w: Weights): string {
  return `blue ${w.blue}% / green ${w.green}%`;
}

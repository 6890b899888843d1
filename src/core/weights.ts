import type { Color } from './color.js';

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

export function formatWeights(w: Weights): string {
  return `blue ${w.blue}% / green ${w.green}%`;
}

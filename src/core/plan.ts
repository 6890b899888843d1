import type { Color } from './color.js';
import { weightsFor, type Weights } from './weights.js';

/** One stage of a migration: the growing color gets `percent`, the other the rest. */
export interface StepPlan {
  readonly index: number;
  readonly percent: number;
  readonly weights: Weights;
}

/**
 * The steps still to take to move traffic to `to`: every planned percentage above what `to` carries
 * now. A held canary at 40% with steps 25,50,75,100 continues with 50,75,100.
 */
export function planSteps(current: Weights, to: Color, steps: readonly number[]): StepPlan[] {
  const now = current[to];
  return steps.filter((p) => p > now).map((percent, index) => ({ index, percent, weights: weightsFor(to, percent) }));
}

/**
 * Reads a list of steps such as `25,50,75,100`; returns what is wrong instead of throwing, without
 * naming where the list came from (the caller does: `--steps`, or a request body's `steps`).
 */
export function readSteps(text: string): { steps: number[] } | { problem: string } {
  const parts = text.split(',').map((s) => s.trim());
  if (parts.length === 0 || parts.some((p) => !/^\d{1,3}$/.test(p))) {
    return { problem: `${JSON.stringify(text)} is not a comma-separated list of whole percentages` };
  }
  const steps = parts.map(Number);
  for (const [i, p] of steps.entries()) {
    if (p < 1 || p > 100) return { problem: `${p} is outside 1-100` };
    const prev = steps[i - 1];
    if (prev !== undefined && p <= prev) return { problem: `steps must be strictly increasing (${prev} then ${p})` };
  }
  if (steps[steps.length - 1] !== 100) return { problem: 'the last step must be 100' };
  return { steps };
}

/** Parses `--steps 25,50,75,100`; returns an error message naming the flag instead of throwing. */
export function parseSteps(text: string): { steps: number[] } | { error: string } {
  const r = readSteps(text);
  return 'problem' in r ? { error: `--steps: ${r.problem}` } : r;
}

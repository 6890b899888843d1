import { UsageError } from './errors.js';

export const COLORS = ['blue', 'green'] as const;
export type Color = (typeof COLORS)[number];

/** The contract's version format: no spaces, quotes, braces, `$` or `;` can get through. */
export const VERSION_RE = /^[0-9A-Za-z][0-9A-Za-z._+-]{0,63}$/;

/** VERSION_RE in words, for the messages that refuse a version. */
export const VERSION_RULE = 'letters, digits and . _ + -, starting with a letter or digit, at most 64 characters';

export const otherColor = (color: Color): Color => (color === 'blue' ? 'green' : 'blue');

export function isColor(value: unknown): value is Color {
  return value === 'blue' || value === 'green';
}

export function parseColor(value: string, what = 'COLOR'): Color {
  if (isColor(value)) return value;
  throw new UsageError(`${what}: ${quote(value)} is not a color (expected blue or green)`);
}

export function parseVersion(value: string, what = 'VERSION'): string {
  if (VERSION_RE.test(value)) return value;
  throw new UsageError(`${what}: ${quote(value)} is not a valid version (${VERSION_RULE})`);
}

export function parsePercent(value: string, what = 'PERCENT'): number {
  if (!/^\d{1,3}$/.test(value.trim())) {
    throw new UsageError(`${what}: ${quote(value)} is not a whole number from 0 to 100`);
  }
  const n = Number(value.trim());
  if (n > 100) throw new UsageError(`${what}: ${n} is above 100`);
  return n;
}

/** Quotes a user value for an error message, making control characters visible. */
export function quote(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
}

import type { Migration } from '../core/state.js';

/** A bounded set of label values for `bgctl_rollbacks_total{reason}` (free-text reasons carry addresses). */
export const ROLLBACK_REASONS = [
  'manual',
  'interrupted',
  'canary_withdrawn',
  'health_check',
  'error_rate',
  'latency',
  'apply_failed',
  'not_judged',
  'other',
] as const;
export type RollbackReason = (typeof ROLLBACK_REASONS)[number];

/** Pure: why a rolled-back migration was rolled back, as one of ROLLBACK_REASONS. */
export function rollbackReason(m: Pick<Migration, 'outcome' | 'reason'>): RollbackReason {
  const outcome = m.outcome ?? '';
  const reason = m.reason ?? '';
  if (outcome === 'rolled back by operator' || reason === 'manual rollback') return 'manual';
  if (outcome.startsWith('interrupted') || reason.startsWith('interrupted')) return 'interrupted';
  if (outcome === 'canary withdrawn' || reason === 'canary withdrawn') return 'canary_withdrawn';
  if (/health check/.test(reason)) return 'health_check';
  if (/p95 latency/.test(reason)) return 'latency';
  if (/error rate/.test(reason)) return 'error_rate';
  if (/could not be applied/.test(reason)) return 'apply_failed';
  if (/could not be judged/.test(reason)) return 'not_judged';
  return 'other';
}

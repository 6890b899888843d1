import { z } from 'zod';
import { UsageError } from '../core/errors.js';

/**
 * Prometheus Alertmanager's webhook payload (version 4), pure. Only what bgctl acts on is required;
 * other fields (receiver, groupLabels, externalURL, truncatedAlerts...) pass through unchecked.
 */
const labels = z.record(z.string(), z.string());
const alert = z.looseObject({
  status: z.enum(['firing', 'resolved']),
  labels,
  annotations: labels.optional(),
  startsAt: z.string().optional(),
  fingerprint: z.string().optional(),
});
const payload = z.looseObject({
  version: z.literal('4'),
  status: z.enum(['firing', 'resolved']),
  groupKey: z.string().optional(),
  alerts: z.array(alert).max(1000),
});
export type AlertmanagerPayload = z.infer<typeof payload>;

/** The label an Alertmanager alert carries to roll a migration back. */
export const ROLLBACK_LABEL = 'bgctl_rollback';

/** A malformed payload is refused (HTTP 400) with what is wrong. */
export function parseAlertmanager(body: unknown): AlertmanagerPayload {
  const r = payload.safeParse(body);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  throw new UsageError(`not an Alertmanager webhook payload (version 4): ${where}${issue?.message ?? 'invalid'}`);
}

export interface RollbackAlert {
  readonly name: string;
  /** `alert HighErrorRate (Alertmanager: error rate of green above 5%)`: who rolled back, as state and history say */
  readonly by: string;
}

/** The first firing alert labelled bgctl_rollback="true", or null: resolved and unlabelled alerts change nothing. */
export function rollbackAlertOf(p: AlertmanagerPayload): RollbackAlert | null {
  const a = p.alerts.find((x) => x.status === 'firing' && x.labels[ROLLBACK_LABEL] === 'true');
  if (!a) return null;
  const name = clip(a.labels['alertname'] ?? 'unnamed', 80);
  const summary = a.annotations?.['summary'];
  return { name, by: `alert ${name} (Alertmanager${summary ? `: ${clip(summary, 100)}` : ''})` };
}

const clip = (s: string, n: number): string => {
  // eslint-disable-next-line no-control-regex
  const clean = s.replace(/[\u0000-\u001f\u007f]/g, ' ');
  return clean.length > n ? `${clean.slice(0, n)}…` : clean;
};

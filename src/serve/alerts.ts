import { COLORS } from '../core/color.js';
import type { WindowFigures } from '../core/metrics.js';

/**
 * Threshold alerts, pure: `findings` says what breaches now, `advance` turns that into alerts with
 * start and resolve times (pending until a breach lasted `forMs`, then firing, then resolved).
 */
export type Severity = 'warning' | 'critical';
export const RULE_IDS = ['p95_latency', 'error_rate', 'availability', 'host_cpu', 'host_memory'] as const;
export type RuleId = (typeof RULE_IDS)[number];

export interface AlertRule {
  readonly id: RuleId;
  readonly severity: Severity;
  /** ms for p95_latency; a ratio 0-1 for error_rate and availability; percent for host_cpu/host_memory */
  readonly threshold: number;
  /** how long the breach must last before the alert fires (0 = at once) */
  readonly forMs: number;
  /** once firing, roll back the running migration (the new color's error rate, the site's availability) */
  readonly rollback: boolean;
}

export interface AlertPolicy {
  readonly p95LatencyMs: number;
  readonly latencyForSeconds: number;
  readonly errorRate: number;
  readonly errorRateForSeconds: number;
  /** share of client requests answered without 5xx, 0-1 */
  readonly availability: number;
  readonly cpuPercent: number;
  readonly memoryPercent: number;
  readonly hostForSeconds: number;
}

/** Defaults: p95 1000 ms, error rate 5%, availability 99%, host CPU 80%, host memory 90%. */
export const DEFAULT_POLICY: AlertPolicy = {
  p95LatencyMs: 1000,
  latencyForSeconds: 30,
  errorRate: 0.05,
  errorRateForSeconds: 60,
  availability: 0.99,
  cpuPercent: 80,
  memoryPercent: 90,
  hostForSeconds: 30,
};

/** Rules that roll back by default: what the new color does to users. Host CPU and memory only warn. */
export const DEFAULT_ROLLBACK_RULES: readonly RuleId[] = ['error_rate', 'availability'];

export function rulesOf(p: AlertPolicy, rollback: readonly RuleId[] = DEFAULT_ROLLBACK_RULES): AlertRule[] {
  const ms = (s: number): number => Math.round(s * 1000);
  const rb = (id: RuleId): boolean => rollback.includes(id);
  return [
    { id: 'p95_latency', severity: 'warning', threshold: p.p95LatencyMs, forMs: ms(p.latencyForSeconds), rollback: rb('p95_latency') },
    { id: 'error_rate', severity: 'critical', threshold: p.errorRate, forMs: ms(p.errorRateForSeconds), rollback: rb('error_rate') },
    { id: 'availability', severity: 'critical', threshold: p.availability, forMs: ms(p.errorRateForSeconds), rollback: rb('availability') },
    { id: 'host_cpu', severity: 'warning', threshold: p.cpuPercent, forMs: ms(p.hostForSeconds), rollback: rb('host_cpu') },
    { id: 'host_memory', severity: 'warning', threshold: p.memoryPercent, forMs: ms(p.hostForSeconds), rollback: rb('host_memory') },
  ];
}

export interface Observation {
  /** the traffic window, null when the access log could not be read */
  readonly traffic: WindowFigures | null;
  /** fewer requests than this in the window judges nothing (no alert opens, open ones resolve) */
  readonly minRequests: number;
  readonly cpuPercent: number | null;
  readonly memoryPercent: number | null;
}

export interface Finding {
  /** rule and subject: `error_rate:green`, `host_cpu:host` */
  readonly key: string;
  readonly rule: RuleId;
  readonly subject: string;
  readonly severity: Severity;
  readonly value: number;
  readonly threshold: number;
  readonly summary: string;
}

const pct = (r: number): string => `${(r * 100).toFixed(r >= 0.01 || r === 0 ? 1 : 2)}%`;
const seconds = (ms: number): string => `${Math.round(ms / 100) / 10} s`;

/** Pure: every rule that breaches in this observation. */
export function findings(rules: readonly AlertRule[], o: Observation): Finding[] {
  const out: Finding[] = [];
  const add = (rule: AlertRule, subject: string, value: number, summary: string): void => {
    out.push({ key: `${rule.id}:${subject}`, rule: rule.id, subject, severity: rule.severity, value, threshold: rule.threshold, summary });
  };
  const enough = (n: number): boolean => n > 0 && n >= o.minRequests;
  for (const rule of rules) {
    const t = o.traffic;
    switch (rule.id) {
      case 'p95_latency':
      case 'error_rate':
        if (!t) break;
        for (const color of COLORS) {
          const f = t.colors[color];
          if (!enough(f.requests)) continue;
          const over = `(last ${seconds(t.spanMs)}, ${f.requests} requests)`;
          if (rule.id === 'p95_latency' && f.p95 !== null && f.p95 > rule.threshold)
            add(rule, color, f.p95, `p95 latency of ${color} ${Math.round(f.p95)} ms > ${rule.threshold} ms ${over}`);
          if (rule.id === 'error_rate' && f.errorRate !== null && f.errorRate > rule.threshold)
            add(rule, color, f.errorRate, `error rate of ${color} ${pct(f.errorRate)} > ${pct(rule.threshold)} ${over}`);
        }
        break;
      case 'availability': {
        if (!t || !enough(t.client.requests)) break;
        const availability = 1 - t.client.failures / t.client.requests;
        if (availability < rule.threshold)
          add(
            rule,
            'site',
            availability,
            `availability ${pct(availability)} < ${pct(rule.threshold)}: ${t.client.failures} of ${t.client.requests} client requests failed (last ${seconds(t.spanMs)})`,
          );
        break;
      }
      case 'host_cpu':
        if (o.cpuPercent !== null && o.cpuPercent > rule.threshold)
          add(rule, 'host', o.cpuPercent, `host CPU ${o.cpuPercent.toFixed(0)}% > ${rule.threshold}%`);
        break;
      case 'host_memory':
        if (o.memoryPercent !== null && o.memoryPercent > rule.threshold)
          add(rule, 'host', o.memoryPercent, `host memory ${o.memoryPercent.toFixed(0)}% > ${rule.threshold}%`);
        break;
    }
  }
  return out;
}

export interface Alert {
  readonly id: string;
  readonly key: string;
  readonly rule: RuleId;
  readonly subject: string;
  readonly severity: Severity;
  readonly state: 'pending' | 'firing' | 'resolved';
  /** epoch ms: first breach, fired (null while pending), resolved (null while open) */
  readonly startedAt: number;
  readonly firedAt: number | null;
  readonly resolvedAt: number | null;
  /** the latest value seen while breaching, and the threshold */
  readonly value: number;
  readonly threshold: number;
  readonly summary: string;
}

export interface AlertBook {
  /** pending and firing alerts */
  readonly active: readonly Alert[];
  /** alerts that fired and resolved, newest last, at most `maxResolved` */
  readonly resolved: readonly Alert[];
}

export const emptyBook = (): AlertBook => ({ active: [], resolved: [] });

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** An alert as JSON shows it (`/alerts`, the webhook): its times as ISO strings. */
export function alertJson(a: Alert) {
  return { ...a, startedAt: new Date(a.startedAt).toISOString(), firedAt: iso(a.firedAt), resolvedAt: iso(a.resolvedAt) };
}

export interface AlertChange {
  readonly kind: 'firing' | 'resolved';
  readonly alert: Alert;
}

/** Pure: the book after an observation at `now`, and the alerts that started firing or resolved. */
export function advance(
  book: AlertBook,
  breaching: readonly Finding[],
  now: number,
  rules: readonly AlertRule[],
  maxResolved = 100,
): { book: AlertBook; changes: AlertChange[] } {
  const changes: AlertChange[] = [];
  const forMs = new Map(rules.map((r) => [r.id, r.forMs]));
  const byKey = new Map(breaching.map((f) => [f.key, f]));
  const active: Alert[] = [];
  const resolved = [...book.resolved];
  for (const a of book.active) {
    const f = byKey.get(a.key);
    if (f) {
      byKey.delete(a.key);
      active.push(fire({ ...a, value: f.value, threshold: f.threshold, summary: f.summary }, now, forMs.get(a.rule) ?? 0, changes));
    } else if (a.state === 'firing') {
      const done: Alert = { ...a, state: 'resolved', resolvedAt: now };
      resolved.push(done);
      changes.push({ kind: 'resolved', alert: done });
    } // a pending alert that stopped breaching never fired: it is forgotten
  }
  for (const f of byKey.values()) {
    const opened: Alert = {
      id: `${f.key}@${now}`,
      key: f.key,
      rule: f.rule,
      subject: f.subject,
      severity: f.severity,
      state: 'pending',
      startedAt: now,
      firedAt: null,
      resolvedAt: null,
      value: f.value,
      threshold: f.threshold,
      summary: f.summary,
    };
    active.push(fire(opened, now, forMs.get(f.rule) ?? 0, changes));
  }
  return { book: { active, resolved: resolved.slice(-maxResolved) }, changes };
}

function fire(a: Alert, now: number, forMs: number, changes: AlertChange[]): Alert {
  if (a.state !== 'pending' || now - a.startedAt < forMs) return a;
  const firing: Alert = { ...a, state: 'firing', firedAt: now };
  changes.push({ kind: 'firing', alert: firing });
  return firing;
}

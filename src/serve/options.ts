import { z } from 'zod';
import { parseColor } from '../core/color.js';
import { UsageError } from '../core/errors.js';
import { gradualOptionsSchema } from '../core/gradual-options.js';
import type { Strategy } from '../core/strategy.js';
import { HOSTNAME_RE, IPV4_RE, IPV6_RE } from '../config/patterns.js';
import { formatIssues } from '../config/validate.js';
import type { Color } from '../core/color.js';
import { DEFAULT_POLICY, DEFAULT_ROLLBACK_RULES, RULE_IDS, type RuleId } from './alerts.js';
import { isLoopback } from './security.js';

/** Validated options of `bgctl serve` (flags and environment). */
export interface ServeOptions {
  readonly host: string;
  readonly apiPort: number;
  readonly monitorPort: number;
  readonly allowHosts: readonly string[];
  /** null: mutating calls are refused */
  readonly token: string | null;
  /** calls per second per source address (burst: twice that); 0 = no limit */
  readonly rateLimit: number;
  readonly maxBodyBytes: number;
  readonly bodyTimeoutMs: number;
  readonly webhook: string | null;
  readonly alerts: {
    readonly cpuPercent: number;
    readonly memoryPercent: number;
    readonly availability: number;
    readonly hostForSeconds: number;
    /** rules that, once firing, roll back the running migration */
    readonly rollback: readonly RuleId[];
  };
}

/** What commander hands over (strings) plus the environment. */
export interface ServeFlags {
  readonly apiPort?: string;
  readonly monitorPort?: string;
  readonly host?: string;
  readonly allowHost?: readonly string[];
  readonly rateLimit?: string;
  readonly alertWebhook?: string;
  /** a file holding the webhook URL (kept out of the process list) */
  readonly alertWebhookFile?: string;
  readonly alertCpu?: string;
  readonly alertMemory?: string;
  readonly alertAvailability?: string;
  readonly alertFor?: string;
  readonly alertRollback?: string;
}

/** An IPv6 address, bracketed or not (`::1`, `[::1]`). */
const isIpv6 = (s: string): boolean => s.includes(':') && IPV6_RE.test(s.replace(/^\[/, '').replace(/\]$/, ''));

const num = (what: string, min: number, max: number, int = false) =>
  z
    .string()
    .regex(int ? /^\d{1,5}$/ : /^\d+(\.\d+)?$/, `${what}: not a ${int ? 'whole ' : ''}number`)
    .transform(Number)
    .refine((n) => n >= min && n <= max, `${what}: must be ${min}-${max}`);

const bindAddress = z
  .string()
  .refine((s) => IPV4_RE.test(s) || isIpv6(s), '--host: not an IP address (e.g. 127.0.0.1, ::1, 0.0.0.0)')
  .transform((s) => s.replace(/^\[(.*)\]$/, '$1'));

const hostName = z
  .string()
  .refine((s) => IPV4_RE.test(s) || HOSTNAME_RE.test(s) || isIpv6(s), '--allow-host: not a host name or IP address');

const webhookUrl = z
  .string()
  .max(2048, '--alert-webhook: at most 2048 characters')
  .refine((s) => {
    try {
      const u = new URL(s);
      return (u.protocol === 'http:' || u.protocol === 'https:') && u.username === '' && u.password === '';
    } catch {
      return false;
    }
  }, '--alert-webhook: not an http:// or https:// URL (credentials belong in the path or query, not user:pass@)');

const token = z.string().regex(/^[\x21-\x7e]{16,512}$/, 'BGCTL_API_TOKEN: must be 16-512 printable characters without spaces');

const flagsSchema = z.object({
  apiPort: num('--api-port', 0, 65535, true).default(9000),
  monitorPort: num('--monitor-port', 0, 65535, true).default(8090),
  host: bindAddress.default('127.0.0.1'),
  allowHost: z.array(hostName).max(32).default([]),
  rateLimit: num('--rate-limit', 0, 100_000).default(10),
  alertWebhook: webhookUrl.optional(),
  alertCpu: num('--alert-cpu', 1, 100).default(DEFAULT_POLICY.cpuPercent),
  alertMemory: num('--alert-memory', 1, 100).default(DEFAULT_POLICY.memoryPercent),
  alertAvailability: num('--alert-availability', 0, 100).default(DEFAULT_POLICY.availability * 100),
  alertFor: num('--alert-for', 0, 3600).default(DEFAULT_POLICY.hostForSeconds),
  alertRollback: z
    .string()
    .max(200)
    .transform((s) => (s === 'none' ? [] : s.split(',').map((x) => x.trim())))
    .pipe(z.array(z.enum(RULE_IDS, `--alert-rollback: a comma-separated list of ${RULE_IDS.join(', ')}, or none`)))
    .default([...DEFAULT_ROLLBACK_RULES]),
});

function usage(issues: readonly z.core.$ZodIssue[]): UsageError {
  const lines = issues.map((i) => i.message);
  return new UsageError(`serve: ${lines[0] ?? formatIssues(issues)[0] ?? 'invalid options'}`, { details: { problems: lines } });
}

/** Pure: flags + environment → options, or a UsageError (exit 2) saying what is wrong. */
export function parseServeOptions(flags: ServeFlags, env: NodeJS.ProcessEnv): ServeOptions {
  const { alertWebhookFile: _file, ...rest } = flags;
  const parsed = flagsSchema.safeParse({ ...rest, alertWebhook: flags.alertWebhook ?? (env['BGCTL_ALERT_WEBHOOK'] || undefined) });
  if (!parsed.success) throw usage(parsed.error.issues);
  const f = parsed.data;
  const raw = env['BGCTL_API_TOKEN'];
  let apiToken: string | null = null;
  if (raw !== undefined && raw !== '') {
    const t = token.safeParse(raw);
    if (!t.success) throw usage(t.error.issues);
    apiToken = t.data;
  }
  if (!isLoopback(f.host) && apiToken === null) {
    throw new UsageError(`serve: refusing to listen on ${f.host} without an API token: set BGCTL_API_TOKEN (or bind 127.0.0.1)`);
  }
  if (f.apiPort !== 0 && f.apiPort === f.monitorPort) throw new UsageError(`serve: --api-port and --monitor-port are both ${f.apiPort}`);
  return {
    host: f.host,
    apiPort: f.apiPort,
    monitorPort: f.monitorPort,
    allowHosts: f.allowHost,
    token: apiToken,
    rateLimit: f.rateLimit,
    maxBodyBytes: 16 * 1024,
    bodyTimeoutMs: 10_000,
    webhook: f.alertWebhook ?? null,
    alerts: {
      cpuPercent: f.alertCpu,
      memoryPercent: f.alertMemory,
      availability: f.alertAvailability / 100,
      hostForSeconds: f.alertFor,
      rollback: f.alertRollback,
    },
  };
}

export interface SwitchRequest {
  readonly color: Color;
  readonly version: string | null;
  readonly steps: number[] | undefined;
  readonly stepSeconds: number | undefined;
  readonly strategy: Strategy | undefined;
  readonly dryRun: boolean;
}

/**
 * Pure: path parameter + JSON body → a gradual request, or a UsageError (HTTP 400) naming the field. The
 * body is checked by the schema `bgctl gradual` maps its flags onto: the same values are refused.
 */
export function parseSwitchRequest(colorParam: string, body: unknown): SwitchRequest {
  const color = parseColor(colorParam, 'color');
  const r = gradualOptionsSchema.safeParse(body ?? {}, { reportInput: true });
  if (!r.success) {
    const lines = formatIssues(r.error.issues);
    throw new UsageError(`body: ${lines[0] ?? 'invalid'}${lines.length > 1 ? ` (and ${lines.length - 1} more)` : ''}`, {
      details: { problems: lines },
    });
  }
  return {
    color,
    version: r.data.version ?? null,
    steps: r.data.steps,
    stepSeconds: r.data.stepSeconds,
    strategy: r.data.strategy,
    dryRun: r.data.dryRun ?? false,
  };
}

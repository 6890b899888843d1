import { BgctlError, ExitCode, type ExitCodeValue } from '../core/errors.js';
import type { AppContext } from './context.js';

/**
 * The model of `bgctl verify`: every check becomes one row of a PASS/FAIL/SKIP table, and the exit
 * code is decided from the failed rows alone (pure). Also the ports verify needs beyond AppContext.
 */

export const SUITES = ['validate', 'test', 'stress', 'full'] as const;
export type Suite = (typeof SUITES)[number];

export type RowResult = 'PASS' | 'FAIL' | 'SKIP';

export interface Row {
  readonly name: string;
  readonly result: RowResult;
  readonly detail: string;
  readonly durationMs: number;
  /** FAIL only: the exit code this failure stands for (see exitCodeFor); null for PASS and SKIP */
  readonly exitCode: ExitCodeValue | null;
}

/** What a check decided; `code` overrides the default exit code of a FAIL. */
export interface Outcome {
  readonly result: RowResult;
  readonly detail: string;
  readonly code?: ExitCodeValue;
}

export const pass = (detail: string): Outcome => ({ result: 'PASS', detail });
export const fail = (detail: string, code?: ExitCodeValue): Outcome =>
  code === undefined ? { result: 'FAIL', detail } : { result: 'FAIL', detail, code };
export const skip = (detail: string): Outcome => ({ result: 'SKIP', detail });

/** An HTTP answer on a fresh connection. Never thrown: `error` says what went wrong. */
export interface HttpAnswer {
  readonly status: number | null;
  /** X-Bgctl-Color of the answer, if any */
  readonly color: string | null;
  readonly body: string;
  readonly ms: number;
  readonly error: string | null;
  /** the connection was refused: nothing listens there */
  readonly refused: boolean;
}

export interface LoadStats {
  readonly total: number;
  readonly ok: number;
  readonly failed: number;
  readonly byColor: Readonly<{ blue: number; green: number; other: number }>;
  readonly errors: readonly string[];
}

export interface LoadRun {
  stats(): LoadStats;
  stop(): Promise<LoadStats>;
}

export interface BackupInfo {
  readonly path: string;
  readonly status: 'missing' | 'valid' | 'invalid';
  readonly detail: string;
}

/** The outside world verify needs beyond the AppContext (wired in adapters/verify-probes.ts, faked in tests). */
export interface VerifyProbes {
  get(url: string, timeoutMs: number): Promise<HttpAnswer>;
  /** bounded keep-alive load; a request fails when it gets no answer or a non-2xx answer */
  load(o: { url: string; connections: number; maxSeconds: number }): LoadRun;
  /** the site config NGINX runs now; null when it cannot be read (the rendered one is checked instead) */
  liveSite(): Promise<string | null>;
  stateFileExists(): Promise<boolean>;
  stateBackup(): Promise<BackupInfo>;
}

export interface VerifyOptions {
  readonly suite: Suite;
  /** http://127.0.0.1:8080: the NGINX front on loopback */
  readonly frontUrl: string;
  /** URL path the probe loads and the cycles sample; must answer 2xx */
  readonly path: string;
  readonly serve: { readonly apiUrl: string; readonly monitorUrl: string; readonly required: boolean };
  readonly probe: { readonly seconds: number; readonly connections: number };
  readonly migration: { readonly steps: readonly number[]; readonly stepSeconds: number };
  readonly stress: { readonly cycles: number; readonly connections: number };
  /** failed client requests tolerated by stress (the test cycle allows thresholds.errorRate) */
  readonly maxFailed: Tolerance;
}

/** How many failed client requests are acceptable: a count, or a share of all requests. */
export type Tolerance = { readonly count: number } | { readonly rate: number; readonly label?: string };

/** The number of failed requests a tolerance allows out of `total`. */
export const allowedFailures = (t: Tolerance, total: number): number => ('count' in t ? t.count : Math.floor(t.rate * total + 1e-9));

export function describeTolerance(t: Tolerance, total: number): string {
  if ('count' in t) return `tolerance ${t.count}`;
  const pct = `${Number((t.rate * 100).toFixed(3))}%`;
  return `tolerance ${pct}${t.label ? ` (${t.label})` : ''} = ${allowedFailures(t, total)} of ${total}`;
}

export interface VerifyReport {
  readonly suite: Suite;
  readonly result: 'PASS' | 'FAIL';
  readonly exitCode: ExitCodeValue;
  readonly summary: { readonly passed: number; readonly failed: number; readonly skipped: number };
  readonly durationMs: number;
  readonly rows: readonly Row[];
}

/** The most serious failure decides: a human must look > interrupted > rolled back > bug > locked > check failed. */
const SEVERITY: readonly ExitCodeValue[] = [
  ExitCode.UNKNOWN_STATE,
  ExitCode.INTERRUPTED,
  ExitCode.ROLLED_BACK,
  ExitCode.INTERNAL,
  ExitCode.LOCKED,
  ExitCode.PREFLIGHT,
];

export function exitCodeFor(rows: readonly Row[]): ExitCodeValue {
  const codes = new Set(rows.filter((r) => r.result === 'FAIL').map((r) => r.exitCode ?? ExitCode.PREFLIGHT));
  if (codes.size === 0) return ExitCode.OK;
  return SEVERITY.find((c) => codes.has(c)) ?? ExitCode.PREFLIGHT;
}

export function summarize(suite: Suite, rows: readonly Row[], durationMs: number): VerifyReport {
  const count = (r: RowResult): number => rows.filter((x) => x.result === r).length;
  const exitCode = exitCodeFor(rows);
  return {
    suite,
    result: exitCode === ExitCode.OK ? 'PASS' : 'FAIL',
    exitCode,
    summary: { passed: count('PASS'), failed: count('FAIL'), skipped: count('SKIP') },
    durationMs,
    rows,
  };
}

/** A failed suite, carrying its exit code and the whole report (printed under error.details with --json). */
export class VerifyFailedError extends BgctlError {}

export function failureOf(report: VerifyReport): VerifyFailedError | null {
  if (report.exitCode === ExitCode.OK) return null;
  const failed = report.rows.filter((r) => r.result === 'FAIL').map((r) => r.name);
  return new VerifyFailedError(
    `verify ${report.suite}: ${failed.length} of ${report.rows.length} checks failed: ${failed.join(', ')}`,
    report.exitCode,
    { details: { ...report } },
  );
}

/** test and stress move live traffic: a terminal asks first, anything else needs --yes. */
export function consent(suite: Suite, o: { yes: boolean; tty: boolean }): 'go' | 'ask' | 'refuse' {
  if (suite === 'validate' || o.yes) return 'go';
  return o.tty ? 'ask' : 'refuse';
}

/** Runs one check: times it, and turns anything it throws into a FAIL row (never a PASS). */
export async function timed(
  ctx: Pick<AppContext, 'clock'>,
  name: string,
  check: () => Promise<Outcome>,
  defaultCode: ExitCodeValue = ExitCode.PREFLIGHT,
): Promise<Row> {
  const t0 = ctx.clock.now();
  let o: Outcome;
  try {
    o = await check();
  } catch (e) {
    o =
      e instanceof BgctlError
        ? fail(e.message, e.exitCode)
        : fail(`internal error: ${e instanceof Error ? e.message : String(e)}`, ExitCode.INTERNAL);
  }
  return rowOf(name, o, ctx.clock.now() - t0, defaultCode);
}

export function rowOf(name: string, o: Outcome, durationMs: number, defaultCode: ExitCodeValue = ExitCode.PREFLIGHT): Row {
  const exitCode = o.result === 'FAIL' ? (o.code ?? defaultCode) : null;
  return { name, result: o.result, detail: o.detail, durationMs: Math.max(0, Math.round(durationMs)), exitCode };
}

export const skipped = (name: string, detail: string): Row => ({ name, result: 'SKIP', detail, durationMs: 0, exitCode: null });

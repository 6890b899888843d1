import { COLORS, type Color } from '../core/color.js';
import { mergeHistograms, quantile } from '../core/histogram.js';
import type { TrafficRead } from '../core/metrics.js';
import type { State } from '../core/state.js';
import type { ColorHealth, LockInfo, ServerHealth } from './ports.js';
import { describeHealth } from './preflight.js';
import type { MigrationView } from './status.js';
import { fail, pass, skip, type HttpAnswer, type LoadStats, type Outcome } from './verify-model.js';

/** Pure verdicts of `verify validate`: plain values in, one row's outcome out. */

const pct = (rate: number): string => `${(rate * 100).toFixed(rate > 0 && rate < 0.001 ? 3 : 1)}%`;
const ms = (v: number): string => (v < 10 ? `${v.toFixed(1)} ms` : `${Math.round(v)} ms`);

/** The `server` lines of `upstream bgctl_blue { ... }` and `upstream bgctl_green { ... }` in a site config. */
export function upstreamServers(site: string): Record<Color, string[]> {
  const out: Record<Color, string[]> = { blue: [], green: [] };
  for (const m of site.matchAll(/^\s*upstream\s+bgctl_(blue|green)\s*\{([^}]*)\}/gm)) {
    const color = m[1] as Color;
    for (const s of (m[2] ?? '').matchAll(/^\s*server\s+([^\s;]+)/gm)) out[color].push(s[1] ?? '');
  }
  return out;
}

/** Every configured server is in its color's upstream, and nothing else is. */
export function upstreamOutcome(site: string, configured: Readonly<Record<Color, readonly string[]>>, source: string): Outcome {
  const found = upstreamServers(site);
  const problems: string[] = [];
  for (const c of COLORS) {
    const missing = configured[c].filter((s) => !found[c].includes(s));
    const extra = found[c].filter((s) => !configured[c].includes(s));
    if (missing.length) problems.push(`${c} lacks ${missing.join(', ')}`);
    if (extra.length) problems.push(`${c} has ${extra.join(', ')}, which bgctl.yaml does not list`);
  }
  if (problems.length) return fail(`${source}: ${problems.join('; ')} (apply the config again: \`bgctl start\`)`);
  return pass(`${source} lists every configured server: ${COLORS.map((c) => `${c} ${found[c].join(', ')}`).join('; ')}`);
}

/** Every server healthy, one version per color, and the color reachable through NGINX. */
export function environmentOutcome(h: ColorHealth, through: ServerHealth | null, remembered: string | null): Outcome {
  if (!h.healthy) return fail(describeHealth(h));
  const versions = [...new Set(h.servers.map((s) => s.version ?? 'none'))];
  if (versions.length > 1)
    return fail(`servers disagree on the version: ${h.servers.map((s) => `${s.server} ${s.version ?? 'none'}`).join(', ')}`);
  const version = h.version ? `version ${h.version}` : 'no version reported';
  const memory = remembered && h.version && remembered !== h.version ? ` (state.json remembers ${remembered})` : '';
  const base = `${h.servers.length}/${h.servers.length} servers healthy, ${version}${memory}`;
  if (!through) return pass(`${base}; not checked through NGINX (it does not answer)`);
  if (!through.healthy) return fail(`${base}, but not through NGINX: ${through.error ?? `HTTP ${through.status ?? '?'}`}`);
  return pass(`${base}; through NGINX HTTP ${through.status ?? '?'} in ${ms(through.latencyMs)}`);
}

/** Ready for a migration: none in progress or interrupted, the stable color at 100% or a canary holding. */
export function readinessOutcome(state: State, m: MigrationView | null): Outcome {
  if (m?.status === 'running')
    return fail(
      `a migration is in progress: ${m.kind} ${m.from} → ${m.to}, step ${m.step ?? 0}/${m.totalSteps} (wait, or \`bgctl rollback\`)`,
    );
  if (m?.status === 'interrupted')
    return fail(
      `a migration was interrupted: ${m.kind} ${m.from} → ${m.to} with ${m.to} at ${state.weights[m.to]}%: run \`bgctl rollback\` (or continue it)`,
    );
  if (m?.status === 'failed')
    return fail(`the last migration's rollback failed (${m.reason ?? 'unknown'}): a human must look (\`bgctl status\`)`);
  if (m?.status === 'holding')
    return pass(`a canary holds ${m.to} at ${state.weights[m.to]}%: \`gradual\` continues it, \`rollback\` reverts it`);
  if (state.weights[state.stable] !== 100)
    return fail(
      `${state.stable} is stable but carries ${state.weights[state.stable]}% with no migration holding that: run \`bgctl rollback\``,
    );
  return pass(`no migration in progress; ${state.stable} stable at 100%`);
}

export function lockOutcome(holder: (LockInfo & { alive: boolean }) | null): Outcome {
  if (!holder) return pass('free');
  const who = `\`${holder.command}\` (pid ${holder.pid} on ${holder.host}) since ${holder.startedAt}`;
  return holder.alive ? fail(`held by ${who}`) : pass(`free: a stale lock of ${who}, which is gone, is reclaimed by the next command`);
}

const jsonOf = (body: string): Record<string, unknown> | null => {
  try {
    const v: unknown = JSON.parse(body);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
};

/** Nothing listening is SKIP (FAIL with --require-serve); anything but bgctl serve answering is FAIL. */
function notRunning(url: string, required: boolean): Outcome {
  const what = `bgctl serve is not running (nothing listens on ${url})`;
  return required ? fail(`${what}; --require-serve asks for it`) : skip(`${what}; --require-serve makes this a failure`);
}

export function serveOutcome(a: HttpAnswer, url: string, required: boolean): Outcome {
  if (a.refused) return notRunning(url, required);
  if (a.error) return fail(`${url}: ${a.error}`);
  const body = jsonOf(a.body);
  if (a.status !== 200 || !body || typeof body['stable'] !== 'string' || typeof body['revision'] !== 'number')
    return fail(`${url}: HTTP ${a.status ?? '?'}, not bgctl serve's status (is another program on that port?)`);
  return pass(`${url}: HTTP 200 in ${ms(a.ms)}, stable ${body['stable']}, revision ${body['revision']}`);
}

export function monitorOutcome(a: HttpAnswer, url: string, required: boolean): Outcome {
  if (a.refused) return notRunning(url, required);
  if (a.error) return fail(`${url}: ${a.error}`);
  const body = jsonOf(a.body);
  const status = body?.['status'];
  if (a.status === 200 && status === 'ok') return pass(`${url}: HTTP 200 in ${ms(a.ms)}, status ok`);
  if (status === 'degraded') {
    const down = COLORS.filter((c) => (body?.['colors'] as Record<string, { up?: boolean }> | undefined)?.[c]?.up === false);
    const nginx = (body?.['nginx'] as { up?: boolean } | undefined)?.up === false ? ['NGINX'] : [];
    const bgctl = (body?.['bgctl'] as { problem?: string | null } | undefined)?.problem;
    const what = [...nginx, ...down, ...(bgctl ? [`bgctl: ${bgctl}`] : [])].join(', ');
    return fail(`${url}: HTTP ${a.status ?? '?'}, degraded${what ? `: ${what} down` : ''}`);
  }
  return fail(`${url}: HTTP ${a.status ?? '?'}, not bgctl serve's /health (is another program on that port?)`);
}

/** p95 from the access log lines the probe produced (upstream time, as thresholds.p95LatencyMs means it). */
export function probeP95(read: TrafficRead | null): number | null {
  if (!read?.readable) return null;
  return quantile(mergeHistograms(read.delta.colors.blue.latency, read.delta.colors.green.latency), 0.95);
}

export function performanceOutcome(
  stats: LoadStats,
  read: TrafficRead | null,
  limits: { readonly errorRate: number; readonly p95LatencyMs: number },
  o: { readonly spanMs: number; readonly connections: number; readonly url: string },
): Outcome {
  if (stats.total === 0) return fail(`no request to ${o.url} completed in ${(o.spanMs / 1000).toFixed(1)} s`);
  const rate = stats.failed / stats.total;
  const p95 = probeP95(read);
  const rps = (stats.total * 1000) / o.spanMs;
  const figures =
    `${stats.total} requests in ${(o.spanMs / 1000).toFixed(1)} s (${Math.round(rps)}/s, ${o.connections} keep-alive connections): ` +
    `${stats.failed} failed (${pct(rate)}, limit ${pct(limits.errorRate)}), ` +
    `p95 ${p95 === null ? 'unknown' : ms(p95)} (limit ${ms(limits.p95LatencyMs)})`;
  const first = stats.errors[0] ? `; first failure: ${stats.errors[0]}` : '';
  if (rate > limits.errorRate) return fail(`${figures}${first}`);
  if (p95 === null) return fail(`${figures}: the access log gave no latencies${read?.problem ? ` (${read.problem})` : ''}`);
  if (p95 > limits.p95LatencyMs) return fail(`${figures}: too slow`);
  return pass(figures);
}

/** The log is readable and grew by the lines of the probe's answers. */
export function accessLogOutcome(read: TrafficRead | null, problem: string | null, answered: number, file: string): Outcome {
  if (!read) return fail(`${file}: could not be read${problem ? `: ${problem}` : ''}`);
  if (!read.readable) return fail(`${file}: ${read.problem ?? 'not readable'}`);
  const lines = read.delta.client.requests + read.delta.unattributed;
  if (answered === 0) return fail(`${file}: readable, but the probe got no answer, so nothing could be logged`);
  if (lines === 0) return fail(`${file}: readable, but not one line was written for the ${answered} answers of the probe`);
  return pass(`${file}: readable, ${lines} lines written during the probe (${answered} answers)`);
}

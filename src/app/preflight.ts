import type { Color } from '../core/color.js';
import { PreflightError } from '../core/errors.js';
import type { State } from '../core/state.js';
import { formatWeights, sameWeights } from '../core/weights.js';
import type { AppContext } from './context.js';
import type { ColorHealth, LiveNginx, RenderRequest } from './ports.js';

export interface CheckResult {
  readonly check: string;
  readonly ok: boolean;
  readonly detail: string;
}

export function describeHealth(h: ColorHealth): string {
  const bad = h.servers.filter((s) => !s.healthy);
  if (bad.length === 0) return `${h.servers.length}/${h.servers.length} servers healthy${h.version ? `, version ${h.version}` : ''}`;
  return bad.map((s) => `${s.server}: ${s.error ?? 'unhealthy'}`).join('; ');
}

export function healthCheck(h: ColorHealth, role: string, version?: string | null): CheckResult {
  if (!h.healthy) return { check: `${h.color} healthy (${role})`, ok: false, detail: describeHealth(h) };
  if (version) {
    const reported = h.servers.map((s) => s.version).filter((v): v is string => v !== null);
    // A health body that carries no version cannot be checked; one that carries another version fails.
    if (reported.length === 0) {
      return {
        check: `${h.color} healthy (${role})`,
        ok: true,
        detail: `${describeHealth(h)}; no version reported, ${version} not checked`,
      };
    }
    if (h.version !== version || reported.length !== h.servers.length) {
      const seen = [...new Set(h.servers.map((s) => s.version ?? 'none'))].join(', ');
      return { check: `${h.color} runs ${version}`, ok: false, detail: `version mismatch: servers report ${seen}, expected ${version}` };
    }
  }
  return {
    check: version ? `${h.color} healthy and runs ${version}` : `${h.color} healthy (${role})`,
    ok: true,
    detail: describeHealth(h),
  };
}

/** Compares what NGINX serves with what the state remembers. Live beats remembered. */
export function driftCheck(state: State, live: LiveNginx | null): CheckResult {
  if (!live)
    return { check: 'NGINX serving', ok: false, detail: 'NGINX does not answer on its status location (is it started? `bgctl start`)' };
  if (live.revision !== state.revision || !sameWeights(live.weights, state.weights)) {
    return {
      check: 'state matches NGINX',
      ok: false,
      detail: `NGINX serves revision ${live.revision} (${formatWeights(live.weights)}), state says revision ${state.revision} (${formatWeights(state.weights)})`,
    };
  }
  return { check: 'state matches NGINX', ok: true, detail: `revision ${live.revision}, ${formatWeights(live.weights)}` };
}

export async function configTestCheck(ctx: AppContext, req: RenderRequest): Promise<CheckResult> {
  try {
    await ctx.nginx.test(ctx.render(req));
    return { check: 'nginx -t on the next config', ok: true, detail: 'syntax ok, test successful' };
  } catch (e) {
    return { check: 'nginx -t on the next config', ok: false, detail: e instanceof Error ? e.message : String(e) };
  }
}

export async function throughNginxCheck(ctx: AppContext, color: Color): Promise<CheckResult> {
  const r = await ctx.prober.throughNginx(color);
  return {
    check: `${color} answers through NGINX`,
    ok: r.healthy,
    detail: r.healthy ? `HTTP ${r.status ?? '?'} in ${Math.round(r.latencyMs)} ms` : (r.error ?? 'unhealthy'),
  };
}

/** nginx.mode as this process resolved it (src/app/mode.ts): `dynamic` without the njs module fails. */
export function modeCheck(ctx: AppContext): CheckResult {
  return { check: 'apply mode', ok: ctx.mode.ok, detail: ctx.mode.detail };
}

/** Reports every check, then refuses with exit 6 naming each failure. */
export function enforce(ctx: AppContext, results: readonly CheckResult[], what: string): void {
  for (const r of results) ctx.reporter.event({ type: 'preflight', check: r.check, ok: r.ok, detail: r.detail });
  const failed = results.filter((r) => !r.ok);
  if (failed.length > 0) {
    throw new PreflightError(`${what}: pre-flight failed: ${failed.map((f) => `${f.check}: ${f.detail}`).join('; ')}`, {
      details: { checks: results },
    });
  }
}

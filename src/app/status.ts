import { otherColor, type Color } from '../core/color.js';
import { isActive, type Migration, type State } from '../core/state.js';
import { idleColor, sameWeights, type Weights } from '../core/weights.js';
import type { AppContext } from './context.js';
import type { ColorHealth, LiveNginx, LockInfo, NginxTargetStatus } from './ports.js';
import { decideVerdict, type StatusVerdict } from '../core/verdict.js';
import { figuresOf } from '../core/traffic.js';
import type { WindowFigures } from '../core/metrics.js';
import { verdictInput } from './verdict-input.js';

export interface MigrationView {
  readonly id: string;
  readonly kind: string;
  readonly from: Color;
  readonly to: Color;
  readonly version: string | null;
  /** running (a live process drives it), interrupted (its process is gone), holding, or finished status */
  readonly status: string;
  readonly step: number | null;
  readonly totalSteps: number;
  readonly percent: number | null;
  readonly startedAt: string;
  readonly reason: string | null;
  /** held by an operator (`bgctl pause`): by whom, since when; null when not */
  readonly paused: { readonly by: string; readonly since: string } | null;
}

/** One NGINX instance (a fleet has several): what it serves and how that differs from state.json. */
export interface TargetView {
  readonly name: string;
  readonly kind: 'local' | 'docker' | 'system';
  readonly where: string;
  readonly running: boolean;
  readonly revision: number | null;
  readonly weights: Weights | null;
  readonly drift: string | null;
  /** why it does not answer, when known (e.g. docker's error) */
  readonly problem: string | null;
}

/** How weight changes reach NGINX: nginx.mode, what this bgctl resolved it to, and what NGINX runs. */
export interface ModeView {
  readonly configured: 'auto' | 'dynamic' | 'reload';
  /** what bgctl renders and applies (auto: dynamic when the njs module is available) */
  readonly resolved: 'dynamic' | 'reload';
  /** false: nginx.mode is dynamic and the njs module is missing (migrations are refused, exit 6) */
  readonly ok: boolean;
  readonly detail: string;
  /** what the running NGINX routes by: dynamic (the weights file) or reload (weights in its config); null: no answer */
  readonly live: 'dynamic' | 'reload' | null;
  /** dynamic: where NGINX took the weights from: the file, its .prev copy, or (neither readable) the config's fallback color */
  readonly source: 'file' | 'prev' | 'config' | null;
  /** dynamic: why the weights file is not used */
  readonly problem: string | null;
  /** auto fell back to reload for a reason to fix (NGINX's workers cannot read the weights file); null: none */
  readonly warning: string | null;
}

/** nginx.fallback: whether the idle color backs up the one at 100% inside NGINX right now. */
export interface FallbackView {
  readonly enabled: boolean;
  /** the idle color NGINX falls back to (per what NGINX answers, else state.json); null: none armed */
  readonly color: Color | null;
  /** why none is armed, or what is armed */
  readonly detail: string;
}

export function fallbackView(enabled: boolean, weights: Weights, armed: Color | null): FallbackView {
  if (!enabled) return { enabled, color: null, detail: 'off (nginx.fallback: false)' };
  const idle = idleColor(weights);
  if (idle === null) return { enabled, color: null, detail: 'on; not needed while both colors carry traffic (NGINX retries on the other)' };
  if (armed === null)
    return { enabled, color: null, detail: `on, but NOT armed: the idle color failed its health probe at the last change` };
  return {
    enabled,
    color: armed,
    detail: `on: ${armed} takes ${otherColor(armed)}'s traffic if every ${otherColor(armed)} server fails (it runs ${armed}'s version)`,
  };
}

export interface StatusReport {
  readonly stable: Color;
  /** the color carrying most traffic per NGINX (or per state if NGINX does not answer) */
  readonly active: Color;
  readonly weights: Weights;
  readonly versions: State['versions'];
  readonly revision: number;
  readonly strategy: string;
  readonly mode: ModeView;
  readonly fallback: FallbackView;
  readonly nginx: { readonly running: boolean; readonly live: LiveNginx | null };
  readonly drift: string | null;
  /** every NGINX instance bgctl drives (one, or each target of a fleet) */
  readonly targets: readonly TargetView[];
  readonly migration: MigrationView | null;
  readonly health: Readonly<Record<Color, ColorHealth>>;
  readonly lock: (LockInfo & { alive: boolean }) | null;
  /** the last window of real traffic from the access log (null: not read, e.g. no log yet) */
  readonly window: { readonly figures: WindowFigures | null; readonly problem: string | null };
  /** OK, DEGRADED or CRITICAL with the reasons: the last line of `status`, and its exit code */
  readonly verdict: StatusVerdict;
}

export interface StatusOptions {
  /** critical alerts a running `serve` has firing (none when it does not run) */
  readonly criticalAlerts?: () => Promise<readonly string[]>;
}

/** Live beats remembered: compares what NGINX serves with state.json and says where they differ. */
export async function status(ctx: AppContext, o: StatusOptions = {}): Promise<StatusReport> {
  const thresholds = ctx.loaded.config.thresholds;
  const windowMs = thresholds.windowSeconds * 1000;
  const [state, live, running, blue, green, lock, instances, read, alerts] = await Promise.all([
    ctx.store.load(),
    ctx.nginx.live(),
    ctx.nginx.isRunning(),
    ctx.prober.color('blue'),
    ctx.prober.color('green'),
    ctx.lock.holder(),
    ctx.nginx.targets?.() ?? null,
    ctx.traffic.recent?.(windowMs, ctx.clock.now()) ?? null,
    o.criticalAlerts?.() ?? [],
  ]);
  const weights = live?.weights ?? state.weights;
  const single: NginxTargetStatus = {
    name: 'nginx',
    kind: ctx.nginx.kind === 'docker' ? 'docker' : 'local',
    where: '',
    running,
    live,
    problem: null,
  };
  const targets = (instances ?? [single]).map((t) => targetView(state, t));
  const drifted = targets.filter((t) => t.drift !== null);
  const orphaned = orphanDrift(instances ?? []);
  const drift =
    orphaned ??
    (targets.length > 1
      ? drifted.length > 0
        ? drifted.map((t) => `target ${t.name}: ${t.drift ?? ''}`).join('; ')
        : null
      : driftOf(state, live, running));
  const migration = state.migration ? viewOf(state.migration, lock) : null;
  const window = read?.readable ? figuresOf(read.delta, windowMs) : null;
  const verdict = decideVerdict(
    verdictInput({
      nginxDown: nginxDownOf(targets),
      drift,
      interrupted: migration?.status === 'interrupted' ? interruptedText(migration) : null,
      weights,
      live,
      health: { blue, green },
      window,
      thresholds,
      windowSeconds: thresholds.windowSeconds,
      criticalAlerts: alerts,
    }),
  );
  return {
    stable: state.stable,
    active: weights.green > weights.blue ? 'green' : 'blue',
    weights,
    versions: { blue: blue.version ?? state.versions.blue, green: green.version ?? state.versions.green },
    revision: state.revision,
    strategy: state.strategy,
    mode: {
      configured: ctx.mode.configured,
      resolved: ctx.mode.mode,
      ok: ctx.mode.ok,
      detail: ctx.mode.detail,
      live: live ? (live.mode ?? 'reload') : null,
      source: live?.source ?? null,
      problem: live?.problem ?? null,
      warning: ctx.mode.warning ?? null,
    },
    fallback: fallbackView(ctx.loaded.config.nginx.fallback, weights, live ? (live.backup ?? null) : (state.backup ?? null)),
    nginx: { running, live },
    drift,
    targets,
    migration,
    health: { blue, green },
    lock,
    window: { figures: window, problem: read === null ? 'no access log reader' : read.problem },
    verdict,
  };
}

/** Which NGINX does not serve: not running, or not answering its status location. */
function nginxDownOf(targets: readonly TargetView[]): string | null {
  const down = targets.filter((t) => !t.running || t.revision === null);
  const one = (t: TargetView): string =>
    `${targets.length > 1 ? `target ${t.name}` : 'NGINX'} ${t.running ? 'is running but does not answer its status location' : 'is not running (`bgctl start`)'}`;
  return down.length > 0 ? down.map(one).join('; ') : null;
}

const interruptedText = (m: MigrationView): string =>
  `${m.kind} ${m.from} → ${m.to}${m.version ? ` ${m.version}` : ''}${m.step ? ` at step ${m.step}/${m.totalSteps} (${m.percent ?? 0}%)` : ''}, its process is gone (\`bgctl rollback\` or re-run it)`;

/**
 * Why what one NGINX serves differs from state.json, or null. `named`: the sentence names NGINX (the
 * single instance); a fleet target's line already carries its name.
 */
function driftOf(state: State, live: LiveNginx | null, running: boolean, named = true): string | null {
  const is = named ? 'NGINX is ' : '';
  if (!live) return running ? `${is}running but does not answer its status location` : state.revision > 0 ? `${is}not running` : null;
  if (live.revision === state.revision && sameWeights(live.weights, state.weights)) return null;
  return `${weightsFileProblem(live)}${named ? 'NGINX ' : ''}serves revision ${live.revision} (blue ${live.weights.blue}% / green ${live.weights.green}%) but state.json says revision ${state.revision} (blue ${state.weights.blue}% / green ${state.weights.green}%)`;
}

/** Workers whose master is gone, still serving: worse than any drift, and how to stop them. */
function orphanDrift(targets: readonly NginxTargetStatus[]): string | null {
  const lines = targets
    .filter((t) => (t.orphans ?? []).length > 0)
    .map((t) => {
      const pids = t.orphans ?? [];
      return `NGINX workers without a master still serve for ${t.where} (pids ${pids.join(', ')}): stop them with \`kill ${pids.join(' ')}\`, then \`bgctl start\``;
    });
  return lines.length > 0 ? lines.join('; ') : null;
}

/** dynamic mode, weights file unusable: what NGINX does instead, as the start of a drift message. */
function weightsFileProblem(live: LiveNginx): string {
  if (live.source !== 'prev' && live.source !== 'config') return '';
  const from = live.source === 'prev' ? 'the fallback of bgctl-weights.json.prev' : "the config's fallback color";
  return `NGINX cannot use its weights file (${live.problem ?? 'unknown problem'}) and sends all traffic to ${live.stable} (${from}); `;
}

function targetView(state: State, t: NginxTargetStatus): TargetView {
  const drift = driftOf(state, t.live, t.running, false);
  return {
    name: t.name,
    kind: t.kind,
    where: t.where,
    running: t.running,
    revision: t.live?.revision ?? null,
    weights: t.live?.weights ?? null,
    drift,
    problem: t.problem,
  };
}

export function viewOf(m: Migration, lock: (LockInfo & { alive: boolean }) | null): MigrationView {
  const driven = lock !== null && lock.alive && lock.pid === m.pid;
  const status = m.status === 'running' && !driven ? 'interrupted' : m.status;
  const last = m.steps.at(-1);
  return {
    id: m.id,
    kind: m.kind,
    from: m.from,
    to: m.to,
    version: m.version,
    status,
    step: last ? last.index + 1 : null,
    totalSteps: m.steps.length + (isActive(m) ? m.plannedSteps.filter((p) => p > (last?.percent ?? 0)).length : 0),
    percent: last?.percent ?? null,
    startedAt: m.startedAt,
    reason: m.reason,
    paused: status === 'running' ? (m.paused ?? null) : null,
  };
}

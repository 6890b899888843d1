import type { Color } from '../core/color.js';
import { isActive, type Migration, type State } from '../core/state.js';
import { sameWeights, type Weights } from '../core/weights.js';
import type { AppContext } from './context.js';
import type { ColorHealth, LiveNginx, LockInfo } from './ports.js';

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
}

export interface StatusReport {
  readonly stable: Color;
  /** the color carrying most traffic per NGINX (or per state if NGINX does not answer) */
  readonly active: Color;
  readonly weights: Weights;
  readonly versions: State['versions'];
  readonly revision: number;
  readonly strategy: string;
  readonly nginx: { readonly running: boolean; readonly live: LiveNginx | null };
  readonly drift: string | null;
  readonly migration: MigrationView | null;
  readonly health: Readonly<Record<Color, ColorHealth>>;
  readonly lock: (LockInfo & { alive: boolean }) | null;
}

/** Live beats remembered: compares what NGINX serves with state.json and says where they differ. */
export async function status(ctx: AppContext): Promise<StatusReport> {
  const [state, live, running, blue, green, lock] = await Promise.all([
    ctx.store.load(),
    ctx.nginx.live(),
    ctx.nginx.isRunning(),
    ctx.prober.color('blue'),
    ctx.prober.color('green'),
    ctx.lock.holder(),
  ]);
  const weights = live?.weights ?? state.weights;
  return {
    stable: state.stable,
    active: weights.green > weights.blue ? 'green' : 'blue',
    weights,
    versions: { blue: blue.version ?? state.versions.blue, green: green.version ?? state.versions.green },
    revision: state.revision,
    strategy: state.strategy,
    nginx: { running, live },
    drift: driftOf(state, live, running),
    migration: state.migration ? viewOf(state.migration, lock) : null,
    health: { blue, green },
    lock,
  };
}

function driftOf(state: State, live: LiveNginx | null, running: boolean): string | null {
  if (!live)
    return running ? 'NGINX is running but does not answer its status location' : state.revision > 0 ? 'NGINX is not running' : null;
  if (live.revision !== state.revision || !sameWeights(live.weights, state.weights)) {
    return `NGINX serves revision ${live.revision} (blue ${live.weights.blue}% / green ${live.weights.green}%) but state.json says revision ${state.revision} (blue ${state.weights.blue}% / green ${state.weights.green}%)`;
  }
  return null;
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
  };
}

import type { LoadedConfig } from '../config/schema.js';
import type { State } from '../core/state.js';
import { sameWeights, type Weights } from '../core/weights.js';
import type { ControlChannel } from './control.js';
import type { ApplyMode } from './mode.js';
import type {
  Clock,
  DeployRunner,
  Lock,
  Logger,
  NginxDriver,
  Prober,
  RenderedConfig,
  RenderRequest,
  Reporter,
  StateStore,
  TrafficSource,
  Warmup,
} from './ports.js';

/** Everything a use case needs, wired by main.ts (real adapters) or by tests (fakes). No globals. */
export interface AppContext {
  readonly loaded: LoadedConfig;
  readonly nginx: NginxDriver;
  readonly prober: Prober;
  readonly store: StateStore;
  readonly lock: Lock;
  readonly traffic: TrafficSource;
  readonly deploy: DeployRunner | null;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly reporter: Reporter;
  /** nginx.mode as resolved for this process (dynamic needs the njs module); `render` renders for it */
  readonly mode: ApplyMode;
  readonly render: (req: RenderRequest) => RenderedConfig;
  /** aborted on SIGINT/SIGTERM */
  readonly signal: AbortSignal;
  readonly pid: number;
  readonly host: string;
  readonly newId: () => string;
  /** tls: checks the certificate and key (readable, matching) before a command writes NGINX files; UsageError (exit 2) */
  readonly checkTls?: () => Promise<void>;
  /** pause/resume/promote/abort requests for the running migration; absent: not controllable from outside */
  readonly control?: ControlChannel;
  /** who runs this bgctl, recorded with each migration: user@host, or the CI job */
  readonly actor?: string;
  /** migration.warmup when enabled (and a forced route is configured); absent: no warmup */
  readonly warmup?: Warmup;
}

export const isoAt = (ms: number): string => new Date(ms).toISOString();
export const nowIso = (ctx: Pick<AppContext, 'clock'>): string => isoAt(ctx.clock.now());

/** The render request that reproduces what the state says is live. */
export function renderRequestFor(state: State, weights: Weights = state.weights, revision = state.revision): RenderRequest {
  const growing =
    state.migration && (state.migration.status === 'running' || state.migration.status === 'holding')
      ? state.migration.to
      : state.stable === 'blue'
        ? 'green'
        : 'blue';
  // the fallback armed at the last apply, while the weights are still the ones it was armed for
  const backup = state.backup && weights[state.backup] === 0 && sameWeights(weights, state.weights) ? state.backup : null;
  return { weights, revision, stable: state.stable, growing, strategy: state.strategy, backup };
}

import type { AppContext } from '../../src/app/context.js';
import { chooseMode } from '../../src/app/mode.js';
import type { NjsSupport, RenderedConfig, RenderRequest } from '../../src/app/ports.js';
import { configSchema, type ConfigInput, type LoadedConfig } from '../../src/config/schema.js';
import type { State } from '../../src/core/state.js';
import { FakeClock } from './clock.js';
import { FakeNginx } from './nginx.js';
import { FakeProber } from './prober.js';
import { FakeDeployRunner, FakeTraffic, RecordingLogger, RecordingReporter } from './recorders.js';
import { startedState } from './states.js';
import { MemoryLock, MemoryStateStore } from './store.js';

export const PID = 4242;
export const HOST = 'test-host';

/** Short steps so a whole migration is a few hundred fake probes: 3 s per step, a probe per second. */
const BASE: ConfigInput = {
  listen: 8080,
  environments: { blue: { servers: ['127.0.0.1:8081'] }, green: { servers: ['127.0.0.1:8082'] } },
  migration: { steps: [25, 50, 75, 100], stepSeconds: 3, strategy: 'weighted' },
  probe: { intervalMs: 1000, timeoutMs: 500, failuresBeforeRollback: 1, waitHealthySeconds: 10 },
  stateDir: '/fake/state',
};

export interface World {
  readonly ctx: AppContext;
  readonly nginx: FakeNginx;
  readonly prober: FakeProber;
  readonly store: MemoryStateStore;
  readonly lock: MemoryLock;
  readonly traffic: FakeTraffic;
  readonly clock: FakeClock;
  readonly reporter: RecordingReporter;
  readonly logger: RecordingLogger;
  readonly deploy: FakeDeployRunner | null;
  readonly abort: AbortController;
  readonly renders: RenderRequest[];
}

export interface Overrides {
  /** what state.json holds; default: a started system (revision 1, blue at 100%) */
  readonly state?: State | null;
  /** default: NGINX running and serving exactly what `state` says */
  readonly nginx?: FakeNginx;
  readonly prober?: FakeProber;
  readonly lock?: MemoryLock;
  readonly traffic?: FakeTraffic;
  readonly clock?: FakeClock;
  /** true: a FakeDeployRunner that makes the prober report the deployed version */
  readonly deploy?: boolean;
  /** merged section by section over BASE */
  readonly config?: Partial<{ [K in keyof ConfigInput]: ConfigInput[K] }>;
  /** what the NGINX driver found of njs, by target (default: nothing found, so auto means reload) */
  readonly njs?: Readonly<Record<string, NjsSupport>>;
}

/** The render port: a config that carries its request, so FakeNginx knows what it serves. */
export function fakeRender(req: RenderRequest): RenderedConfig {
  return {
    main: `# fake nginx.conf revision ${req.revision}\npid logs/nginx.pid;\n`,
    site: JSON.stringify(req),
    revision: req.revision,
    weights: req.weights,
  };
}

function mergeConfig(over: Overrides['config'] = {}): ConfigInput {
  const out: Record<string, unknown> = { ...BASE };
  for (const [key, value] of Object.entries(over)) {
    const base = out[key];
    const plain = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
    out[key] = plain(base) && plain(value) ? { ...base, ...value } : value;
  }
  return out as ConfigInput;
}

/** An AppContext wired with fakes only: no NGINX, no network, no files, no real time. */
export function makeContext(o: Overrides = {}): World {
  const state = o.state === undefined ? startedState() : o.state;
  const clock = o.clock ?? new FakeClock();
  const prober = o.prober ?? new FakeProber(clock);
  const nginx = o.nginx ?? new FakeNginx(state ? { revision: state.revision, weights: state.weights, stable: state.stable } : null);
  const store = new MemoryStateStore(state);
  const lock = o.lock ?? new MemoryLock({ pid: PID, host: HOST });
  const traffic = o.traffic ?? new FakeTraffic();
  const reporter = new RecordingReporter();
  const logger = new RecordingLogger();
  const deploy = o.deploy ? new FakeDeployRunner(prober) : null;
  const abort = new AbortController();
  const renders: RenderRequest[] = [];
  const loaded: LoadedConfig = { file: '/fake/bgctl.yaml', baseDir: '/fake', config: configSchema.parse(mergeConfig(o.config)) };
  let ids = 0;
  const ctx: AppContext = {
    loaded,
    nginx,
    prober,
    store,
    lock,
    traffic,
    deploy,
    clock,
    logger,
    reporter,
    mode: chooseMode(loaded.config.nginx.mode, o.njs ?? null),
    render: (req) => {
      renders.push(req);
      return fakeRender(req);
    },
    signal: abort.signal,
    pid: PID,
    host: HOST,
    newId: () => `m${++ids}`,
  };
  return { ctx, nginx, prober, store, lock, traffic, clock, reporter, logger, deploy, abort, renders };
}

/** Awaits a promise that must reject and returns what it rejected with. */
export async function failure(p: Promise<unknown>): Promise<Error & { exitCode?: number }> {
  try {
    await p;
  } catch (e) {
    return e as Error & { exitCode?: number };
  }
  throw new Error('expected the call to fail, it succeeded');
}

import type { Color } from '../core/color.js';
import type { State } from '../core/state.js';
import type { TrafficRead, WindowFigures } from '../core/metrics.js';
import type { Strategy } from '../core/strategy.js';
import type { Weights } from '../core/weights.js';

/** Time is injected everywhere so the engine can be driven tick by tick in tests. */
export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** What one step's NGINX config is rendered from (with the config): src/render turns it into a RenderedConfig. */
export interface RenderRequest {
  readonly weights: Weights;
  /** written into the status JSON; NGINX answering it proves the config is live */
  readonly revision: number;
  readonly strategy: Strategy;
  readonly stable: Color;
  /**
   * the color whose share grows: first in split_clients (so growth only moves clients old → new), owner
   * of the low sticky buckets
   */
  readonly growing: Color;
  /**
   * nginx.fallback: the color at 0% whose servers back up the one at 100% (they take over when every
   * live server fails); null or absent: none. Only at 100/0.
   */
  readonly backup?: Color | null;
}

/**
 * The files bgctl renders for NGINX: nginx.conf and the site config; in dynamic mode (nginx.mode) also
 * the njs module and the weights file NGINX routes by, read per request (absent in reload mode).
 */
export interface RenderedConfig extends NginxFiles {
  readonly revision: number;
  readonly weights: Weights;
  /**
   * dynamic mode: conf.d/bgctl-weights.json, what NGINX routes by. When the running config already has
   * this step's structure (`configId`), a step writes only this file: no nginx -t, no reload.
   */
  readonly weightsFile?: string;
  /**
   * Fleets (`nginx.targets`): the files of each target, by target name, when a target's own listen
   * port or address makes them differ from `main`/`site` (which are rendered for the top-level listen).
   */
  readonly byTarget?: Readonly<Record<string, NginxFiles>>;
}

/** The config files of one NGINX instance. */
export interface NginxFiles {
  /** full nginx.conf, including `site` through an include (the docker driver runs it in the container too) */
  readonly main: string;
  /** the http-context site config: upstreams, split, server, access log */
  readonly site: string;
  /** dynamic mode: conf.d/bgctl.js, the njs module that routes by the weights file */
  readonly js?: string;
  /** dynamic mode: the id of the structure of main + site + js (not of weights or revision) */
  readonly configId?: string;
}

/** What NGINX answers on its loopback-only status location. */
export interface LiveNginx {
  readonly revision: number;
  readonly weights: Weights;
  readonly strategy: string;
  readonly stable: Color;
  /** nginx.fallback: the idle color armed as NGINX's fallback for the one at 100%; null: none */
  readonly backup?: Color | null;
  /** how the running config routes: dynamic (njs, weights file) or reload (weights in the config) */
  readonly mode?: 'dynamic' | 'reload';
  /** dynamic: where the weights came from: the file, its .prev copy or (neither readable) the config's fallback */
  readonly source?: 'file' | 'prev' | 'config';
  /** dynamic: why the weights file was not used */
  readonly problem?: string;
  /** dynamic: the id of the running config's structure */
  readonly config?: string;
}

/** Whether an NGINX can run dynamic mode: its njs module. */
export interface NjsSupport {
  readonly available: boolean;
  /** the module to `load_module`; null when njs is built into the binary, or not available */
  readonly module: string | null;
  /** where it was found, or why it is not available */
  readonly detail: string;
  /** the module is there but NGINX's workers cannot read the files (a folder they cannot enter): a problem to fix */
  readonly blocked?: boolean;
  /** the module has `js_shared_dict_zone` (njs 0.8 and newer): the workers can share the checked weights */
  readonly sharedDict?: boolean;
}

/** One NGINX instance as `bgctl status` shows it (a fleet has several). */
export interface NginxTargetStatus {
  /** the target's name (`nginx.targets[].name`; `nginx` for a single instance) */
  readonly name: string;
  readonly kind: 'local' | 'docker' | 'system';
  /** where it lives: the prefix folder (local) or the container (docker) */
  readonly where: string;
  readonly running: boolean;
  /** what it answers on its status location right now; null: no answer */
  readonly live: LiveNginx | null;
  /** why it is not running or not answering, when known (e.g. docker's own error) */
  readonly problem: string | null;
  /** NGINX workers whose master is gone that still serve (local: found in /proc); empty or absent: none */
  readonly orphans?: readonly number[];
}

/**
 * Drives NGINX: one instance (local process or docker container), or a fleet of them applied as one
 * (every step is tested on all, then swapped and reloaded on all, confirmed on all, or restored on all).
 * Every method throws ApplyError on failure.
 */
export interface NginxDriver {
  readonly kind: 'local' | 'docker' | 'system' | 'fleet';
  /** Writes the config as the candidate, tests it with nginx -t, and returns the test output. */
  test(config: RenderedConfig): Promise<string>;
  /**
   * render → candidate → nginx -t → atomic swap → reload → confirm; on failure restores and reloads.
   * dynamic mode, same structure as the running config: write the weights file → confirm; on failure
   * the previous weights file is put back and confirmed. Never a reload.
   */
  apply(config: RenderedConfig): Promise<ApplyReport>;
  /** Starts NGINX with the given config (writes it first, tested). No-op if already running with it. */
  start(config: RenderedConfig): Promise<void>;
  stop(): Promise<void>;
  /** set when `stop` stops nothing (an NGINX bgctl did not start): what to do instead */
  readonly stopHint?: string | null;
  isRunning(): Promise<boolean>;
  /**
   * Reads the revision NGINX is serving right now on the listen port; null if it does not answer.
   * A fleet answers only when every target answers the same revision and weights.
   */
  live(): Promise<LiveNginx | null>;
  /** Each instance with what it serves (status shows them and flags the one that drifted). */
  targets?(): Promise<readonly NginxTargetStatus[]>;
  /** Whether each instance (by target name) has the njs module dynamic mode needs. */
  njs?(): Promise<Readonly<Record<string, NjsSupport>>>;
  /** Absolute path of the JSON access log (a fleet: the first target's; the traffic source reads all). */
  readonly accessLog: string;
}

export interface ApplyReport {
  readonly revision: number;
  readonly ms: number;
  readonly stages: Readonly<Record<string, number>>;
  /** false: only the weights file changed (dynamic mode), NGINX did not reload */
  readonly reloaded?: boolean;
}

export interface ServerHealth {
  readonly server: string;
  readonly healthy: boolean;
  readonly status: number | null;
  readonly version: string | null;
  readonly latencyMs: number;
  readonly error: string | null;
}

export interface ColorHealth {
  readonly color: Color;
  readonly healthy: boolean;
  readonly servers: readonly ServerHealth[];
  /** the single version all servers report, null if none or they disagree */
  readonly version: string | null;
}

export interface Prober {
  color(color: Color): Promise<ColorHealth>;
  /** Probes a color's health path through NGINX (loopback-only location). */
  throughNginx(color: Color): Promise<ServerHealth>;
}

export interface StateStore {
  /** Returns the state, or the initial state when none exists yet. Throws UnknownStateError if corrupt. */
  load(): Promise<State>;
  save(state: State): Promise<void>;
  readonly path: string;
}

export interface LockInfo {
  readonly pid: number;
  readonly host: string;
  readonly command: string;
  readonly startedAt: string;
}

export interface Lock {
  /** Takes the lock or throws LockHeldError naming the holder. Reclaims a dead holder's lock with a warning. */
  acquire(command: string): Promise<LockHandle>;
  /** Who holds it now, if anyone (and whether that process is alive). */
  holder(): Promise<(LockInfo & { alive: boolean }) | null>;
  /**
   * Asks the holder to stop (SIGTERM), only if it is alive on this host. A migration that receives it
   * returns traffic to its stable color and releases the lock. Returns whether a signal was sent.
   */
  interrupt(holder: LockInfo): Promise<boolean>;
}

export interface LockHandle {
  release(): Promise<void>;
}

/**
 * Real-traffic figures from NGINX's access log (the analysis reads it continuously during a step).
 * `tail()` starts at the current end of the log; each `read()` returns only what was appended since
 * the previous read (never re-reads the file; copes with rotation and truncation).
 */
export interface TrafficSource {
  tail(): Promise<TrafficTail>;
  /** What the log recorded in the `windowMs` up to `now` (epoch ms), for `status`'s verdict. */
  recent?(windowMs: number, now: number): Promise<TrafficRead>;
}

export interface TrafficTail {
  read(): Promise<TrafficRead>;
  /** Lets go of what follows the log (a stream from a remote engine); absent: nothing to let go of. */
  close?(): Promise<void>;
}

/** migration.warmup: requests forced to the new color so a quiet service can be judged. */
export interface Warmup {
  start(color: Color): WarmupRun;
}

export interface WarmupRun {
  stop(): Promise<{ sent: number; failed: number }>;
}

export interface DeployRunner {
  run(color: Color, version: string, signal?: AbortSignal): Promise<void>;
}

/** Progress events, printed by the CLI as live lines, plain lines or JSON. */
export type ProgressEvent =
  | { type: 'plan'; migration: string; from: Color; to: Color; steps: readonly number[] }
  | { type: 'preflight'; check: string; ok: boolean; detail?: string }
  | { type: 'deploy'; color: Color; version: string; phase: 'start' | 'done' }
  | {
      type: 'step';
      index: number;
      total: number;
      weights: Weights;
      phase: 'applying' | 'applied' | 'observing' | 'passed';
      /** passed: why (the figures of the whole step), so a quiet window followed by "passed" reads right */
      reason?: string;
    }
  | {
      type: 'observe';
      index: number;
      elapsedMs: number;
      totalMs: number;
      /** null: not probed this round */
      health: boolean | null;
      /** the sliding window the thresholds were checked on; null: no traffic read yet */
      figures: WindowFigures | null;
      verdict: 'ok' | 'watching' | 'insufficient' | 'breach' | null;
      /** why the window decided nothing, or which breach is being watched */
      note: string | null;
    }
  | { type: 'notice'; message: string }
  | { type: 'rollback'; reason: string; weights: Weights }
  | { type: 'done'; outcome: string };

export interface Reporter {
  event(e: ProgressEvent): void;
}

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

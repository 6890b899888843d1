import type { Command } from 'commander';
import type { AppContext } from '../app/context.js';
import type { ProgressEvent } from '../app/ports.js';
import { createOutput, type Output, type Streams } from './output.js';

export interface GlobalOptions {
  readonly config?: string;
  readonly json: boolean;
  readonly jsonOut?: string;
  readonly logLevel: string;
  readonly verbose: boolean;
}

/** What the thin CLI needs from main.ts: streams, and a factory that wires real adapters. */
export interface CliDeps {
  readonly streams: Streams;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  readonly signal: AbortSignal;
  readonly version: string;
  /** sees every result document a command produces (what --json prints): main.ts saves it for --json-out */
  readonly onResult?: (value: unknown) => void;
  createContext(opts: GlobalOptions, events: ProgressEvent[], out: Output): Promise<AppContext>;
  /** wires real adapters around a config bgctl wrote itself (the demo's sandbox): warn-level logs unless verbose */
  contextForFile(file: string, opts: { readonly verbose: boolean; readonly json: boolean }, events: ProgressEvent[]): Promise<AppContext>;
}

/** Per-command helpers: global options, output, and the app context (config loaded lazily, once per command). */
export interface Run {
  readonly opts: GlobalOptions;
  readonly out: Output;
  readonly events: ProgressEvent[];
  context(): Promise<AppContext>;
  readonly deps: CliDeps;
}

export function makeRun(cmd: Command, deps: CliDeps): Run {
  const opts = cmd.optsWithGlobals<GlobalOptions>();
  const out = createOutput(deps.streams, opts.json, deps.onResult);
  const events: ProgressEvent[] = [];
  // built once: loading the config, wiring the adapters and resolving nginx.mode (an `nginx -V`) are not free
  let context: Promise<AppContext> | undefined;
  return { opts, out, events, deps, context: () => (context ??= deps.createContext(opts, events, out)) };
}

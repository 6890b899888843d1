import { Command, Option } from 'commander';
import type { AppContext } from '../app/context.js';
import type { ProgressEvent } from '../app/ports.js';
import { registerControl } from './control.js';
import { registerInspect } from './inspect.js';
import { registerLifecycle } from './lifecycle.js';
import { registerMigrations } from './migrations.js';
import { registerServe } from './serve.js';
import { registerVerify } from './verify.js';
import { createOutput, createReporter, type Output, type Streams } from './output.js';

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
}

/** Per-command helpers: global options, output, and the app context (config loaded lazily). */
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
  return { opts, out, events, deps, context: () => deps.createContext(opts, events, out) };
}

export { createReporter };

export function buildProgram(deps: CliDeps): Command {
  const program = new Command('bgctl')
    .description('Move production traffic blue → green through NGINX, safely: staged, checked, rolled back on failure.')
    .version(deps.version, '-V, --version')
    .option('-c, --config <path>', 'config file (default: $BGCTL_CONFIG, else ./bgctl.yaml)')
    .option('--json', 'print one JSON document as the result (logs stay on stderr)', false)
    .option('--json-out <file>', 'also write that JSON document to FILE (atomically), while stdout keeps the human progress')
    .addOption(new Option('--log-level <level>', 'stderr log level').choices(['debug', 'info', 'warn', 'error', 'silent']).default('warn'))
    .option('-v, --verbose', 'debug logs and stack traces', false)
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({
      writeOut: (s) => deps.streams.stdout.write(s),
      writeErr: (s) => deps.streams.stderr.write(s),
    })
    .exitOverride();
  program.addHelpText(
    'after',
    `
Examples:
  $ bgctl init --blue 127.0.0.1:8081 --green 127.0.0.1:8082 --listen 8080
  $ bgctl start
  $ bgctl gradual green 2.1.0            # 25 → 50 → 75 → 100, checked at every step
  $ bgctl status
  $ bgctl rollback                       # everything back on the stable color now
  $ bgctl demo                           # a self-contained sandbox, no config needed
  $ bgctl gradual green 2.1.0 --json-out result.json   # live progress in the log, the result in a file

Exit codes: 0 done, 1 internal error, 2 bad input (nothing changed), 3 rolled back automatically,
4 a human must look, 5 locked by another bgctl, 6 pre-flight failed (nothing changed), 130 interrupted.`,
  );
  registerLifecycle(program, deps);
  registerInspect(program, deps);
  registerMigrations(program, deps);
  registerControl(program, deps);
  registerServe(program, deps);
  registerVerify(program, deps);
  return program;
}

import { Command, Option } from 'commander';
import { registerControl } from './control.js';
import { registerInspect } from './inspect.js';
import { registerLifecycle } from './lifecycle.js';
import { registerMigrations } from './migrations.js';
import { registerServe } from './serve.js';
import { registerVerify } from './verify.js';
import { createReporter } from './output.js';
import type { CliDeps } from './run.js';

export type { CliDeps, GlobalOptions, Run } from './run.js';

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

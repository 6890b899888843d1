import { readFileSync } from 'node:fs';
import { CommanderError } from 'commander';
import type { ProgressEvent } from './app/ports.js';
import { buildProgram, type CliDeps, type GlobalOptions } from './cli/program.js';
import { commandOf, signalKind, signalMessage } from './cli/signals.js';
import type { Output, Streams } from './cli/output.js';
import type { LogLevel } from './adapters/logger.js';
import { loadConfig, resolveConfigPath } from './config/load.js';
import { BgctlError, ExitCode, exitCodeOf } from './core/errors.js';

const packageVersion = (): string => {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
};

/** Runs the CLI and returns the exit code. The only place that decides how the process ends. */
export async function main(
  argv: readonly string[],
  streams: Streams = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  const controller = new AbortController();
  const kind = signalKind(commandOf(argv));
  const onSignal = (signal: NodeJS.Signals): void => {
    if (controller.signal.aborted) {
      if (kind !== 'read-only') streams.stderr.write(`bgctl: ${signal} again; still returning traffic to the stable color, please wait\n`);
      return;
    }
    streams.stderr.write(`${signalMessage(kind, signal)}\n`);
    controller.abort(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let verbose = argv.includes('--verbose') || argv.includes('-v') || argv.includes('debug');
  let json = argv.includes('--json');
  const deps: CliDeps = {
    streams,
    env: process.env,
    cwd: process.cwd(),
    signal: controller.signal,
    version: packageVersion(),
    async createContext(opts: GlobalOptions, events: ProgressEvent[], _out: Output) {
      verbose = opts.verbose || opts.logLevel === 'debug';
      json = opts.json;
      const file = resolveConfigPath({ flag: opts.config, env: process.env, cwd: process.cwd() });
      const loaded = await loadConfig(file);
      const logLevel = (opts.verbose ? 'debug' : opts.logLevel) as LogLevel;
      // adapters (undici, execa, pino, handlebars) load only when a command needs them: --help stays quick
      const { wireContext } = await import('./wire.js');
      return wireContext(loaded, { logLevel, json: opts.json, signal: controller.signal, streams, events });
    },
  };
  try {
    await buildProgram(deps).parseAsync(argv);
    // serve ends normally on a signal (it throws itself when it had to interrupt a migration)
    return controller.signal.aborted && kind !== 'serve' && !isWatch(argv) ? ExitCode.INTERRUPTED : ExitCode.OK;
  } catch (e) {
    return report(e, streams, { verbose, json });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

const isWatch = (argv: readonly string[]): boolean => argv.includes('--watch') || argv.includes('-w');

function report(e: unknown, streams: Streams, o: { verbose: boolean; json: boolean }): number {
  if (e instanceof CommanderError) {
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return ExitCode.OK;
    return ExitCode.USAGE; // commander already printed the reason
  }
  const code = exitCodeOf(e);
  if (e instanceof BgctlError && e.reported) return code; // its output already said everything
  const message = e instanceof Error ? e.message : String(e);
  if (o.json) {
    const details = e instanceof BgctlError ? e.details : undefined;
    const hint = e instanceof BgctlError ? e.hint : undefined;
    // the same shape as the control API's errors: {"error": {"code", "message", "kind", "hint"?, "details"?}};
    // `exitCode` repeats `code` for scripts written against earlier versions
    const body = {
      code,
      message,
      kind: e instanceof Error ? e.name : 'Error',
      ...(hint ? { hint } : {}),
      ...(details ? { details } : {}),
      exitCode: code,
    };
    streams.stdout.write(`${JSON.stringify({ error: body }, null, 2)}\n`);
  }
  const hint = e instanceof BgctlError && e.hint ? `\n  hint: ${e.hint}` : '';
  streams.stderr.write(`bgctl: ${code === ExitCode.INTERNAL ? 'internal error (a bug): ' : ''}${message}${hint}\n`);
  if ((o.verbose || code === ExitCode.INTERNAL) && e instanceof Error && e.stack) {
    if (o.verbose) streams.stderr.write(`${e.stack}\n`);
    else streams.stderr.write('  (run with --verbose for the stack trace)\n');
  }
  return code;
}

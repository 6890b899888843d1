import { readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { CommanderError } from 'commander';
import type { ProgressEvent } from './app/ports.js';
import { buildProgram, type CliDeps, type GlobalOptions } from './cli/program.js';
import { commandOf, signalKind, signalMessage } from './cli/signals.js';
import type { Output, Streams } from './cli/output.js';
import { writeExclusive } from './adapters/safe-fs.js';
import type { LogLevel } from './adapters/logger.js';
import { loadConfig, resolveConfigPath } from './config/load.js';
import { BgctlError, ExitCode, exitCodeOf } from './core/errors.js';

/** package.json is one folder up from dist/main.js and two from the bundle (dist/bundle/main.js). */
const packageVersion = (): string => {
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'bgctl') return pkg.version ?? '0.0.0';
    } catch {
      // not this one
    }
  }
  return '0.0.0';
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
  // a reader that went away (a cancelled CI job's log, `| head`) must not kill a command halfway through
  // moving traffic: what it would still print is dropped, the work (e.g. returning traffic) goes on
  const onWriteError = (e: NodeJS.ErrnoException): void => {
    if (e.code !== 'EPIPE') throw e;
  };
  streams.stdout.on('error', onWriteError);
  streams.stderr.on('error', onWriteError);
  // a closed terminal must not leave a migration half way with nothing watching it
  process.on('SIGHUP', onSignal);
  let verbose = argv.includes('--verbose') || argv.includes('-v') || argv.includes('debug');
  let json = argv.includes('--json');
  // --json-out FILE: the document --json would print goes to FILE too (the last one, or the error)
  const jsonOut = optionValue(argv, '--json-out');
  const jsonOutProblem = jsonOut === undefined ? null : await unwritable(jsonOut);
  if (jsonOutProblem) {
    streams.stderr.write(`bgctl: --json-out ${jsonOut}: ${jsonOutProblem}; nothing was changed\n`);
    return ExitCode.USAGE;
  }
  const last: { doc?: unknown } = {};
  const deps: CliDeps = {
    streams,
    env: process.env,
    cwd: process.cwd(),
    signal: controller.signal,
    version: packageVersion(),
    onResult: (value) => {
      last.doc = value;
    },
    async createContext(opts: GlobalOptions, events: ProgressEvent[], _out: Output) {
      verbose = opts.verbose || opts.logLevel === 'debug';
      json = opts.json;
      const file = resolveConfigPath({ flag: opts.config, env: process.env, cwd: process.cwd() });
      const loaded = await loadConfig(file, process.env);
      const logLevel = (opts.verbose ? 'debug' : opts.logLevel) as LogLevel;
      // adapters (undici, execa, pino, handlebars) load only when a command needs them: --help stays quick
      const { wireContext } = await import('./wire.js');
      return wireContext(loaded, { logLevel, json: opts.json, signal: controller.signal, streams, events });
    },
    async contextForFile(file, opts, events) {
      const { wireContext } = await import('./wire.js');
      const logLevel = opts.verbose ? 'debug' : 'warn';
      return wireContext(await loadConfig(file, process.env), { logLevel, json: opts.json, signal: controller.signal, streams, events });
    },
  };
  let code: number;
  try {
    await buildProgram(deps).parseAsync(argv);
    // serve ends normally on a signal (it throws itself when it had to interrupt a migration)
    code = controller.signal.aborted && kind !== 'serve' && !isWatch(argv) ? ExitCode.INTERRUPTED : ExitCode.OK;
  } catch (e) {
    code = report(e, streams, { verbose, json });
    // commander's own usage errors print no JSON document with --json, so none is saved either
    // a command that printed its result and then exits non-zero (status' verdict) keeps that result
    if (e instanceof CommanderError) last.doc = undefined;
    else if (!(e instanceof BgctlError && e.reported && last.doc !== undefined)) last.doc = errorDocument(e);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onSignal);
  }
  if (jsonOut !== undefined && last.doc !== undefined) {
    try {
      await writeExclusive(path.resolve(jsonOut), `${JSON.stringify(last.doc, null, 2)}\n`);
    } catch (e) {
      // what the command did stands (the exit code says it); only its record is missing
      streams.stderr.write(`bgctl: could not write --json-out ${jsonOut}: ${e instanceof Error ? e.message : String(e)}\n`);
    }
  }
  streams.stdout.off('error', onWriteError);
  streams.stderr.off('error', onWriteError);
  return code;
}

/** The value of `--name VALUE` or `--name=VALUE` in argv (global options may come anywhere). */
function optionValue(argv: readonly string[], name: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === name) return argv[i + 1];
    if (a?.startsWith(`${name}=`)) return a.slice(name.length + 1);
  }
  return undefined;
}

/** Why FILE cannot take the result (checked before anything runs), or null. */
async function unwritable(file: string): Promise<string | null> {
  if (file === '' || file.startsWith('-')) return 'needs a file name';
  const target = await stat(file).catch(() => null);
  if (target?.isDirectory()) return 'is a folder';
  const dir = await stat(path.dirname(path.resolve(file))).catch(() => null);
  return dir?.isDirectory() ? null : `folder ${path.dirname(path.resolve(file))} does not exist`;
}

/** The one JSON document --json prints for a failed command. */
/**
 * The same shape as the control API's errors: {"error": {"code", "message", "kind", "hint"?, "details"?}};
 * `exitCode` repeats `code` for scripts written against earlier versions.
 */
function errorDocument(e: unknown): { error: Record<string, unknown> } {
  const code = exitCodeOf(e);
  const details = e instanceof BgctlError ? e.details : undefined;
  const hint = e instanceof BgctlError ? e.hint : undefined;
  const message = e instanceof Error ? e.message : String(e);
  const kind = e instanceof Error ? e.name : 'Error';
  return { error: { code, message, kind, ...(hint ? { hint } : {}), ...(details ? { details } : {}), exitCode: code } };
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
  if (o.json) streams.stdout.write(`${JSON.stringify(errorDocument(e), null, 2)}\n`);
  const hint = e instanceof BgctlError && e.hint ? `\n  hint: ${e.hint}` : '';
  streams.stderr.write(`bgctl: ${code === ExitCode.INTERNAL ? 'internal error (a bug): ' : ''}${message}${hint}\n`);
  if ((o.verbose || code === ExitCode.INTERNAL) && e instanceof Error && e.stack) {
    if (o.verbose) streams.stderr.write(`${e.stack}\n`);
    else streams.stderr.write('  (run with --verbose for the stack trace)\n');
  }
  return code;
}

import type { DeployRunner } from '../app/ports.js';
import { parseColor, parseVersion } from '../core/color.js';
import type { Color } from '../core/color.js';
import { PreflightError } from '../core/errors.js';

/** The config's `deploy` section. */
export interface DeployConfig {
  readonly command: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  readonly timeoutSeconds: number;
}

export interface DeployCommand {
  readonly file: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
}

const PLACEHOLDER = /\{\{(color|version)\}\}/g;

/**
 * Pure: fills `{{color}}` and `{{version}}` into every argv word and env value. Plain text
 * substitution inside each word — there is no shell, so a value can never split a word, start a
 * second command or expand a variable. Color and version are re-checked here as a second line of defence.
 */
export function expandDeployCommand(deploy: DeployConfig, color: Color, version: string): DeployCommand {
  const values = { color: parseColor(color), version: parseVersion(version) };
  // a replacer function: `$&`-style patterns in a replacement string are never interpreted
  const fill = (word: string): string => word.replace(PLACEHOLDER, (_m, key: 'color' | 'version') => values[key]);
  const [file, ...args] = deploy.command.map(fill);
  if (file === undefined || file === '') throw new PreflightError('deploy.command is empty: nothing to run');
  const env = Object.fromEntries(Object.entries(deploy.env ?? {}).map(([k, v]) => [k, fill(v)]));
  return { file, args, env };
}

export interface ExecDeployRunnerOptions {
  readonly deploy: DeployConfig;
  /** Folder the command runs in: the config file's folder. */
  readonly cwd: string;
  /** Receives every output line of the command; default: `[deploy] line` on stderr (stdout is for results). */
  readonly onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
}

const TAIL_LINES = 20;

/** Runs the configured deploy hook with execa: argv array, no shell, timeout, cancellable. */
export class ExecDeployRunner implements DeployRunner {
  constructor(private readonly options: ExecDeployRunnerOptions) {}

  async run(color: Color, version: string, signal?: AbortSignal): Promise<void> {
    const cmd = expandDeployCommand(this.options.deploy, color, version);
    const onLine = this.options.onLine ?? ((line: string) => process.stderr.write(`[deploy] ${line}\n`));
    const tail: string[] = [];
    // generator transforms see whole lines; yielding nothing means nothing is buffered in memory
    // eslint-disable-next-line require-yield
    const out = function* (line: unknown) {
      onLine(String(line), 'stdout');
    };
    // eslint-disable-next-line require-yield
    const err = function* (line: unknown) {
      const text = String(line);
      tail.push(text);
      if (tail.length > TAIL_LINES) tail.shift();
      onLine(text, 'stderr');
    };
    // for messages only (never executed): words that need it are quoted so the argv stays readable
    const shown = [cmd.file, ...cmd.args].map((w) => (/^[\w@%+=:,./-]+$/.test(w) ? w : JSON.stringify(w))).join(' ');
    // execa loads when a hook runs: commands without one start faster
    const { ExecaError, execa } = await import('execa');
    try {
      await execa(cmd.file, cmd.args, {
        cwd: this.options.cwd,
        env: cmd.env, // added to the inherited environment
        shell: false,
        stdin: 'ignore',
        stdout: [out],
        stderr: [err],
        timeout: this.options.deploy.timeoutSeconds * 1000,
        forceKillAfterDelay: 5000,
        ...(signal === undefined ? {} : { cancelSignal: signal }),
      });
    } catch (e) {
      if (!(e instanceof ExecaError)) throw e;
      const why = e.timedOut
        ? `timed out after ${this.options.deploy.timeoutSeconds} s`
        : e.isCanceled
          ? 'was cancelled'
          : e.code === 'ENOENT'
            ? `could not start: ${cmd.file} not found`
            : e.exitCode !== undefined
              ? `failed with exit code ${e.exitCode}`
              : `failed: ${e.signal !== undefined ? `killed by ${e.signal}` : e.shortMessage}`;
      const lastLines = tail.length > 0 ? `; last stderr lines:\n${tail.map((l) => `  ${l}`).join('\n')}` : '';
      throw new PreflightError(`deploy command \`${shown}\` ${why}${lastLines}`, {
        cause: e,
        details: { command: [cmd.file, ...cmd.args], exitCode: e.exitCode ?? null, signal: e.signal ?? null, stderrTail: tail },
        hint: 'no traffic was moved; fix the deploy command (its output is above) and run again',
      });
    }
  }
}

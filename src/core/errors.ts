/** Exit codes of the contract. Only main.ts turns them into a process exit. */
export const ExitCode = {
  OK: 0,
  INTERNAL: 1,
  USAGE: 2,
  ROLLED_BACK: 3,
  UNKNOWN_STATE: 4,
  LOCKED: 5,
  PREFLIGHT: 6,
  INTERRUPTED: 130,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export interface ErrorOptions {
  readonly cause?: unknown;
  /** Extra machine-readable facts, printed with --json. */
  readonly details?: Record<string, unknown>;
  /** A hint for the operator: what to do next. */
  readonly hint?: string;
  /** The command already printed its result (e.g. `status` and its verdict): only the exit code is left to give. */
  readonly reported?: boolean;
}

export class BgctlError extends Error {
  readonly details: Record<string, unknown> | undefined;
  readonly hint: string | undefined;
  readonly reported: boolean;
  constructor(
    message: string,
    readonly exitCode: ExitCodeValue,
    options: ErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.details = options.details;
    this.hint = options.hint;
    this.reported = options.reported ?? false;
  }
}

/** Bad usage, bad config or bad input; nothing was changed. */
export class UsageError extends BgctlError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, ExitCode.USAGE, options);
  }
}

/** The migration failed its checks and traffic is back on the stable color. */
export class RolledBackError extends BgctlError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, ExitCode.ROLLED_BACK, options);
  }
}

/** Rollback failed or the system is in an unknown state: a human must look. */
export class UnknownStateError extends BgctlError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, ExitCode.UNKNOWN_STATE, options);
  }
}

/** The state folder refused a write (read-only, full...): what NGINX serves is the truth until it is saved. */
export class StateWriteError extends UnknownStateError {}

/** Another bgctl operation holds the lock; nothing was changed. */
export class LockHeldError extends BgctlError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, ExitCode.LOCKED, options);
  }
}

/** Pre-flight validation failed; nothing was changed. */
export class PreflightError extends BgctlError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, ExitCode.PREFLIGHT, options);
  }
}

/** A link or special file where bgctl keeps its own file or folder: refused before anything was written through it. */
export class UnsafePathError extends PreflightError {
  constructor(
    readonly path: string,
    what: string,
  ) {
    super(`refusing to use ${path}: it is ${what}, not what bgctl keeps there`, {
      details: { path },
      hint: `remove ${path} (nothing was written through it), check who put it there, then run the command again`,
    });
  }
}

/** SIGINT/SIGTERM: traffic was returned to the stable color before exiting. */
export class InterruptedError extends BgctlError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, ExitCode.INTERRUPTED, options);
  }
}

/** A failure applying an NGINX config (nginx -t, reload, confirm); the previous config is restored. */
export class ApplyError extends BgctlError {
  constructor(
    message: string,
    readonly stage: 'render' | 'test' | 'swap' | 'reload' | 'confirm' | 'restore',
    options?: ErrorOptions,
  ) {
    super(message, ExitCode.PREFLIGHT, options);
  }
}

export function exitCodeOf(error: unknown): ExitCodeValue {
  return error instanceof BgctlError ? error.exitCode : ExitCode.INTERNAL;
}

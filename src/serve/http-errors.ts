import { BgctlError, ExitCode, exitCodeOf, type ExitCodeValue } from '../core/errors.js';

/**
 * Errors of the control API. Every error body is `{"error": {"message", "code", "kind"}}` where `code`
 * is the CLI exit code with the same meaning, so a script handles `bgctl gradual` and
 * `POST /switch/green` alike. Errors of the HTTP layer itself (auth, limits, routing) changed nothing:
 * they carry code 2.
 */
export const HTTP_STATUS_OF_EXIT: Readonly<Record<ExitCodeValue, number>> = {
  [ExitCode.OK]: 200,
  [ExitCode.INTERNAL]: 500,
  [ExitCode.USAGE]: 400,
  [ExitCode.ROLLED_BACK]: 502,
  [ExitCode.UNKNOWN_STATE]: 500,
  [ExitCode.LOCKED]: 409,
  [ExitCode.PREFLIGHT]: 422,
  [ExitCode.INTERRUPTED]: 503,
};

export interface ErrorBody {
  readonly error: {
    readonly message: string;
    /** the CLI exit code with the same meaning (see the README's error-code table) */
    readonly code: number;
    /** a stable name: the bgctl error class, or the HTTP-level reason (unauthorized, rate_limited...) */
    readonly kind: string;
    readonly hint?: string;
    readonly details?: Record<string, unknown>;
  };
}

/** An HTTP-level refusal (nothing was changed), or a bgctl error already mapped to a status. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly kind: string,
    readonly options: { code?: number; headers?: Record<string, string>; hint?: string; details?: Record<string, unknown> } = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export interface ErrorReply {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: ErrorBody;
}

/** Pure: any thrown value → status, headers and JSON body. Internal errors never leak a stack. */
export function errorReply(e: unknown): ErrorReply {
  if (e instanceof HttpError) {
    const { code = ExitCode.USAGE, headers = {}, hint, details } = e.options;
    return {
      status: e.status,
      headers,
      body: { error: { message: e.message, code, kind: e.kind, ...(hint ? { hint } : {}), ...(details ? { details } : {}) } },
    };
  }
  const code = exitCodeOf(e);
  const message = e instanceof Error ? e.message : String(e);
  if (e instanceof BgctlError) {
    return {
      status: HTTP_STATUS_OF_EXIT[code],
      headers: {},
      body: {
        error: { message, code, kind: e.name, ...(e.hint ? { hint: e.hint } : {}), ...(e.details ? { details: e.details } : {}) },
      },
    };
  }
  return { status: 500, headers: {}, body: { error: { message: `internal error (a bug): ${message}`, code, kind: 'InternalError' } } };
}

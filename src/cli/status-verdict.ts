import { BgctlError } from '../core/errors.js';
import { VERDICT_EXIT, type StatusVerdict } from '../core/verdict.js';

/** Help text of `status`: the verdict line and its exit codes. */
export const STATUS_HELP = `
The last line is the verdict:
  OK                    everything bgctl can see is fine
  DEGRADED: reasons     traffic flows, but something needs a person soon: drift between NGINX and
                        state.json, an interrupted migration, a color with traffic over the p95
                        latency threshold or with some servers failing their probe, NGINX routing by
                        a fallback instead of its weights file
  CRITICAL: reasons     clients are (or may be) failing now: NGINX down, a color with traffic failing
                        every probe or over the error-rate threshold in the last window
                        (thresholds.windowSeconds of the access log), a critical alert firing in a
                        running \`bgctl serve\`
Exit codes: 0 OK, 6 DEGRADED (like a failed pre-flight: nothing was changed, do not start a migration
on it), 4 CRITICAL (a human must look now), 2 bad config or usage.
--json: the same report with "verdict": {"level", "reasons": [{"level", "code", "text"}], "line"}.
--watch: every refresh prints a timestamped verdict; ends (Ctrl-C) with the last verdict's exit code.

Examples:
  $ bgctl status
  $ bgctl status --json | jq .weights
  $ bgctl status --json | jq -r .verdict.line
  $ bgctl status --watch
  $ bgctl status || echo "not healthy: exit $?"   # a CI gate before a deploy`;

/** The verdict as a line; with a timestamp (HH:MM:SS UTC) in --watch. */
export const verdictLine = (v: StatusVerdict, at: number | null): string =>
  `${at === null ? '' : `${new Date(at).toISOString().slice(11, 19)}Z  `}${v.line}`;

/** Not OK: the exit code of the verdict, with nothing more printed (the report said it all). */
export function verdictExit(v: StatusVerdict): BgctlError | null {
  if (v.level === 'OK') return null;
  return new BgctlError(v.line, VERDICT_EXIT[v.level], { reported: true });
}

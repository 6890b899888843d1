/** What a command does with SIGINT/SIGTERM, so the message says what is true for it. */

/** Commands that only read: a signal just stops them; there is no traffic to put back. */
const READ_ONLY = new Set(['status', 'history', 'render', 'validate', 'init', 'help']);

/** Options of the program that take a value (so the word after them is not the command). */
const WITH_VALUE = new Set(['-c', '--config', '--log-level']);

/** The command word of `argv` (node, script, then options and the command), or null. */
export function commandOf(argv: readonly string[]): string | null {
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (WITH_VALUE.has(a)) i++;
    else if (!a.startsWith('-')) return a;
  }
  return null;
}

export type SignalKind = 'read-only' | 'serve' | 'mutating';

export function signalKind(command: string | null): SignalKind {
  if (command === null || READ_ONLY.has(command)) return 'read-only';
  return command === 'serve' ? 'serve' : 'mutating';
}

/** The line printed on the first signal. */
export function signalMessage(kind: SignalKind, signal: string): string {
  if (kind === 'read-only') return `bgctl: ${signal} received; stopping (this command only reads: nothing to undo)`;
  if (kind === 'serve') return `bgctl serve: ${signal} received; shutting down (a running migration is returned to its stable color first)`;
  return `bgctl: ${signal} received; returning traffic to the stable color before exiting`;
}

import { createInterface } from 'node:readline/promises';
import { InterruptedError, UsageError } from '../core/errors.js';
import type { CliDeps } from './run.js';

/** Pure: --yes goes on; a terminal is asked; anything else (CI, a pipe) is refused. */
export function decide(o: { yes: boolean; tty: boolean }): 'go' | 'ask' | 'refuse' {
  return o.yes ? 'go' : o.tty ? 'ask' : 'refuse';
}

/**
 * A command that could surprise (lower a color's share, take the front down mid-migration): asks on a
 * terminal, needs --yes elsewhere. Throws UsageError (exit 2, nothing changed) when not confirmed.
 */
export async function confirmRisky(o: { command: string; risk: string; yes: boolean; deps: CliDeps; signal: AbortSignal }): Promise<void> {
  const decision = decide({ yes: o.yes, tty: Boolean(process.stdin.isTTY) && Boolean(o.deps.streams.stderr.isTTY) });
  if (decision === 'go') return;
  if (decision === 'refuse')
    throw new UsageError(`${o.command}: ${o.risk}; pass --yes to do it without a terminal; nothing was changed`, {
      hint: `\`bgctl ${o.command} --yes\` if that is what you want`,
    });
  const rl = createInterface({ input: process.stdin, output: o.deps.streams.stderr });
  try {
    const answer = await rl.question(`${o.risk}. Continue? [y/N] `, { signal: o.signal });
    if (!/^y(es)?$/i.test(answer.trim())) throw new UsageError(`${o.command}: not confirmed; nothing was changed`);
  } catch (e) {
    if (o.signal.aborted) throw new InterruptedError(`${o.command}: interrupted at the confirmation; nothing was changed`);
    throw e;
  } finally {
    rl.close();
  }
}

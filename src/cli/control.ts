import type { Command } from 'commander';
import { userInfo } from 'node:os';
import { controlMigration, type ControlResult } from '../app/control.js';
import type { ControlAction } from '../core/control.js';
import { formatWeights } from '../core/weights.js';
import { makeRun, type CliDeps, type Run } from './run.js';

/** `user@host`: who paused, promoted or aborted, as status and history show it. */
export function whoAmI(host: string, env: NodeJS.ProcessEnv): string {
  let user = env['SUDO_USER'] ?? env['USER'] ?? '';
  if (!user) {
    try {
      user = userInfo().username;
    } catch {
      user = 'unknown';
    }
  }
  return `${user}@${host}`;
}

async function runControl(run: Run, action: ControlAction, full = false): Promise<void> {
  const ctx = await run.context();
  const r = await controlMigration(ctx, action, whoAmI(ctx.host, run.deps.env), { full });
  print(run, r);
}

function print(run: Run, r: ControlResult): void {
  const m = r.migration;
  run.out.result(
    {
      action: r.action,
      changed: r.ack.changed,
      message: r.ack.message,
      by: r.ack.by,
      paused: m?.paused ?? null,
      migration: m ? { id: m.id, to: m.to, status: m.status, reason: m.reason } : null,
      weights: r.state.weights,
      stable: r.state.stable,
    },
    () => {
      run.out.line(`${r.action}: ${r.ack.message}`);
      if (r.action === 'abort') run.out.line(`traffic is back on ${r.state.stable}: ${formatWeights(r.state.weights)}`);
      else run.out.line(`now: ${formatWeights(r.state.weights)}${m?.paused ? ` (paused by ${m.paused.by} since ${m.paused.since})` : ''}`);
    },
  );
}

const NOTE = `
Acts on the migration running on this host, whoever started it (a \`bgctl gradual\`/\`deploy\` in another
terminal, or \`bgctl serve\`); needs no lock. The request is taken at the migration's next check tick.
Exit codes: 0 done (also: already paused / not paused), 6 no migration is running or it did not take
the request within 20 s (nothing changed), 4 abort: the rollback failed.`;

export function registerControl(program: Command, deps: CliDeps): void {
  program
    .command('pause')
    .description('hold the running migration at its current weights (its step timer stops; health and traffic checks go on)')
    .addHelpText(
      'after',
      `\nExamples:\n  $ bgctl pause\n  $ bgctl status        # shows paused, by whom, since when\n  $ bgctl resume\n${NOTE}`,
    )
    .action(async (_o, cmd: Command) => runControl(makeRun(cmd, deps), 'pause'));
  program
    .command('resume')
    .description('let a paused migration go on (the step continues where its timer stopped)')
    .addHelpText('after', `\nExamples:\n  $ bgctl resume\n  $ bgctl resume --json\n${NOTE}`)
    .action(async (_o, cmd: Command) => runControl(makeRun(cmd, deps), 'resume'));
  program
    .command('promote')
    .description("end the current step's observation now and go on to the next step, after a health probe of the new color")
    .option('--full', 'straight to the last step (100%) after the health probe; the migration then completes', false)
    .addHelpText('after', `\nExamples:\n  $ bgctl promote          # 25% -> 50% now\n  $ bgctl promote --full   # to 100% now\n${NOTE}`)
    .action(async (o: { full: boolean }, cmd: Command) => runControl(makeRun(cmd, deps), 'promote', o.full));
  program
    .command('abort')
    .description('roll back the running migration: traffic back on the stable color; the aborted command exits 3 naming who aborted')
    .addHelpText('after', `\nExamples:\n  $ bgctl abort\n  $ bgctl abort --json\n${NOTE}`)
    .action(async (_o, cmd: Command) => runControl(makeRun(cmd, deps), 'abort'));
}

import { redactSecret } from '../render/render.js';
import type { Command } from 'commander';
import { Option } from 'commander';
import type { MigrationResult } from '../app/migrate.js';
import { rollback } from '../app/rollback.js';
import { canary, deploy, gradual, switchTo } from '../app/traffic-commands.js';
import { parseColor, parsePercent, parseVersion } from '../core/color.js';
import { UsageError } from '../core/errors.js';
import { gradualOptionsSchema, MAX_STEP_SECONDS, type GradualOptionsParsed } from '../core/gradual-options.js';
import { formatIssues } from '../config/validate.js';
import { STRATEGIES, type Strategy } from '../core/strategy.js';
import { formatWeights } from '../core/weights.js';
import { detachGradual } from './detach.js';
import { canaryRisk } from '../app/risks.js';
import { confirmRisky } from './confirm.js';
import { makeRun, type CliDeps, type Run } from './run.js';

/** The flags of `gradual` as commander hands them over. */
interface GradualFlags {
  readonly steps?: string;
  readonly stepSeconds?: string;
  readonly strategy?: Strategy;
  readonly dryRun: boolean;
  readonly detach: boolean;
}

/**
 * The flags mapped onto the options schema the control API parses its body with, so both refuse the
 * same values; a refusal names the flag (exit 2). `--step-seconds` goes over as a number when it is
 * written as one (digits, an optional decimal part), else as the text, which the schema refuses.
 */
function gradualOptions(o: GradualFlags): GradualOptionsParsed {
  const r = gradualOptionsSchema.safeParse({
    ...(o.steps !== undefined ? { steps: o.steps } : {}),
    ...(o.stepSeconds !== undefined ? { stepSeconds: /^\d+(\.\d+)?$/.test(o.stepSeconds) ? Number(o.stepSeconds) : o.stepSeconds } : {}),
    ...(o.strategy !== undefined ? { strategy: o.strategy } : {}),
    dryRun: o.dryRun,
  });
  if (r.success) return r.data;
  const on = (key: keyof GradualFlags) => r.error.issues.find((i) => i.path[0] === key);
  const steps = on('steps');
  if (steps) throw new UsageError(`--steps: ${steps.message}`);
  if (on('stepSeconds'))
    throw new UsageError(`--step-seconds: ${JSON.stringify(o.stepSeconds)} is not a number of seconds (0-${MAX_STEP_SECONDS})`);
  // --strategy and --dry-run are checked by commander before this
  throw new UsageError(`gradual: ${formatIssues(r.error.issues)[0] ?? 'invalid options'}`);
}

async function printMigration(run: Run, r: MigrationResult): Promise<void> {
  // a dry run's configs end up in terminals and CI logs: never with the forced-route secret in them
  const secret = r.plan ? (await run.context()).loaded.config.routing.forceSecret : null;
  const shown = (text: string): string => redactSecret(text, secret);
  run.out.result(
    {
      outcome: r.outcome,
      migration: r.migration,
      weights: r.state.weights,
      stable: r.state.stable,
      checks: r.checks,
      events: run.events,
      plan: r.plan?.map((p) => ({
        percent: p.step.percent,
        weights: p.step.weights,
        revision: p.config.revision,
        site: shown(p.config.site),
        weightsFile: p.config.weightsFile ?? null,
      })),
    },
    () => {
      if (r.plan) {
        run.out.line('dry run: nothing was changed. Configs that would be applied:');
        for (const p of r.plan) {
          run.out.line(`\n# ---- step ${p.step.index + 1}: ${formatWeights(p.step.weights)} (revision ${p.config.revision}) ----`);
          run.out.line(shown(p.config.site));
          const w = p.config.weightsFile;
          if (w !== undefined)
            run.out.line(`# conf.d/bgctl-weights.json (dynamic mode: only this file changes between steps)\n${w.trimEnd()}`);
        }
        return;
      }
      if (r.outcome === 'noop') run.out.line(`nothing to do: ${formatWeights(r.state.weights)}, stable ${r.state.stable}`);
      else run.out.line(`${r.outcome}: ${formatWeights(r.state.weights)}, stable ${r.state.stable}`);
    },
  );
}

export function registerMigrations(program: Command, deps: CliDeps): void {
  program
    .command('gradual')
    .description(
      'staged migration to COLOR, every step judged on real traffic (access log) and health probes, rolled back automatically on a breach',
    )
    .argument('<color>', 'blue or green')
    .argument('<version>', 'the version COLOR must report')
    .option('--steps <list>', 'percentages, e.g. 25,50,75,100 (default: migration.steps)')
    .option('--step-seconds <n>', 'observation time per step (default: migration.stepSeconds)')
    .addOption(new Option('--strategy <name>', 'per request or per client').choices(STRATEGIES))
    .option('--dry-run', 'print the plan and the configs it would apply; change nothing', false)
    .option('--detach', 'hand the migration to the running `bgctl serve` (it outlives this terminal); exits 0 once taken', false)
    .addHelpText(
      'after',
      '\nExamples:\n  $ bgctl gradual green 2.1.0\n  $ bgctl gradual green 2.1.0 --steps 10,50,100 --step-seconds 60\n  $ bgctl gradual blue 1.4.2 --dry-run\n  $ BGCTL_API_TOKEN=... bgctl gradual green 2.1.0 --detach   # runs in bgctl serve\n\nClosing the terminal (SIGHUP) returns traffic to the stable color, like Ctrl-C, unless --detach.',
    )
    .action(async (color: string, version: string, o: GradualFlags, cmd: Command) => {
      const run = makeRun(cmd, deps);
      const [c, v] = [parseColor(color), parseVersion(version)];
      const { steps, stepSeconds, strategy } = gradualOptions(o);
      const req = { color: c, version: v, steps, stepSeconds, strategy, dryRun: o.dryRun };
      if (o.detach && o.dryRun) throw new UsageError('gradual: --detach and --dry-run do not go together');
      if (o.detach) return detachGradual(run, req);
      await printMigration(run, await gradual(await run.context(), req));
    });

  program
    .command('deploy')
    .description('traditional cycle: deploy hook on the inactive COLOR, wait healthy, validate both, switch 100% at once')
    .argument('<color>', 'the inactive color to deploy onto')
    .argument('<version>', 'version to deploy')
    .option('--dry-run', 'print the plan; change nothing (the deploy hook is not run)', false)
    .addHelpText('after', '\nExample:\n  $ bgctl deploy green 2.1.0')
    .action(async (color: string, version: string, o: { dryRun: boolean }, cmd: Command) => {
      const run = makeRun(cmd, deps);
      const req = { color: parseColor(color), version: parseVersion(version), dryRun: o.dryRun };
      await printMigration(run, await deploy(await run.context(), req));
    });

  program
    .command('canary')
    .description('set and hold COLOR at PERCENT of traffic; `gradual` continues from there, `rollback` reverts')
    .argument('<color>', 'blue or green')
    .argument('<percent>', '0-100')
    .option('-y, --yes', "lower a color's share without asking (needed without a terminal)", false)
    .addHelpText(
      'after',
      "\nLowering a color's share (e.g. canary green 20 while green holds 100%) moves traffic back to the\nother color: it asks on a terminal and needs --yes elsewhere (exit 2, nothing changed, without it).\n\nExamples:\n  $ bgctl canary green 10\n  $ bgctl gradual green 2.1.0   # continues from 10%\n  $ bgctl canary green 20 --yes # from a CI job, even if green holds more now",
    )
    .action(async (color: string, percent: string, o: { yes: boolean }, cmd: Command) => {
      const run = makeRun(cmd, deps);
      const req = { color: parseColor(color), percent: parsePercent(percent) };
      const ctx = await run.context();
      const risk = canaryRisk(await ctx.store.load(), req.color, req.percent);
      // held by another bgctl: the command itself says so (exit 5) rather than asking about a change it cannot make
      if (risk && !(await ctx.lock.holder())?.alive)
        await confirmRisky({ command: `canary ${req.color} ${req.percent}`, risk, yes: o.yes, deps, signal: ctx.signal });
      await printMigration(run, await canary(ctx, req));
    });

  program
    .command('switch')
    .description('direct 100% switch to COLOR after a health check of COLOR')
    .argument('<color>', 'blue or green')
    .action(async (color: string, _o: unknown, cmd: Command) => {
      const run = makeRun(cmd, deps);
      const c = parseColor(color);
      await printMigration(run, await switchTo(await run.context(), { color: c }));
    });

  program
    .command('rollback')
    .description('emergency: the color stable before the latest migration gets 100% now (no metrics needed)')
    .option('--force', 'move traffic even when that color fails its health probe (refused with exit 6 otherwise)', false)
    .addHelpText(
      'after',
      [
        '',
        'The color traffic goes back to is probed first: when its servers fail, nothing changes (exit 6)',
        'unless --force. A migration already reverted is not reverted again: a repeated rollback',
        're-asserts the stable color and exits 0.',
        '',
        'Examples:',
        '  $ bgctl rollback',
        '  $ bgctl rollback --force      # blue fails its probe, but green is worse',
      ].join('\n'),
    )
    .action(async (o: { force: boolean }, cmd: Command) => {
      const run = makeRun(cmd, deps);
      const r = await rollback(await run.context(), { force: o.force });
      run.out.result(
        {
          action: r.action,
          color: r.color,
          weights: r.state.weights,
          migration: r.migration,
          applyMs: Math.round(r.applyMs),
          preempted: r.preempted ?? null,
          forced: r.forced ?? null,
          fallback: r.backup ?? null,
        },
        () => {
          if (r.forced) run.out.line(`warning: ${r.forced}`);
          if (r.preempted) {
            run.out.line(
              `stopped the migration in progress (\`${r.preempted.command}\`, pid ${r.preempted.pid}); it returned traffic to ${r.color}`,
            );
          }
          run.out.line(
            r.action === 'reverted'
              ? `rolled back: ${r.color} has 100% of traffic (migration ${r.migration?.id ?? ''} ${r.migration?.from ?? ''} → ${r.migration?.to ?? ''} reverted, applied in ${Math.round(r.applyMs)} ms)`
              : `${r.preempted ? 'confirmed' : 'nothing to revert'}: ${r.color} has 100% of traffic${r.applyMs > 0 ? ` (re-applied in ${Math.round(r.applyMs)} ms)` : ''}`,
          );
          if (r.backup) run.out.line(`fallback: NGINX sends ${r.color}'s traffic to ${r.backup} if every ${r.color} server fails`);
        },
      );
    });
}

import path from 'node:path';
import type { Command } from 'commander';
import { Option } from 'commander';
import { start, stop } from '../app/admin.js';
import { writeInitConfig } from '../adapters/init-file.js';
import { includeLines, renderInitConfig, systemDirFor } from '../config/init.js';
import { resolveConfigPath } from '../config/load.js';
import { UsageError } from '../core/errors.js';
import { formatWeights } from '../core/weights.js';
import { stopRisk } from '../app/risks.js';
import { confirmRisky } from './confirm.js';
import { explainStartFailure } from './start-failure.js';
import { makeRun, type CliDeps } from './run.js';

interface InitFlags {
  blue?: string[];
  green?: string[];
  listen: string;
  driver: 'local' | 'docker' | 'system';
  conf?: string;
  force: boolean;
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export function registerLifecycle(program: Command, deps: CliDeps): void {
  program
    .command('init')
    .description('write a commented bgctl.yaml')
    .option('--blue <host:port>', 'a blue server (repeat for more)', collect)
    .option('--green <host:port>', 'a green server (repeat for more)', collect)
    .option('--listen <port>', 'port the NGINX front listens on', '8080')
    .addOption(new Option('--driver <driver>', 'how NGINX runs').choices(['local', 'docker', 'system']).default('local'))
    .option('--conf <file>', 'system: the main config of the NGINX you already run (e.g. /etc/nginx/nginx.conf)')
    .option('--force', 'overwrite an existing file', false)
    .addHelpText(
      'after',
      '\nExamples:\n  $ bgctl init --blue 127.0.0.1:8081 --green 127.0.0.1:8082 --listen 8080\n  $ bgctl init --driver system --conf /etc/nginx/nginx.conf --listen 443   # the NGINX you already run',
    )
    .action(async (o: InitFlags, cmd: Command) => {
      const run = makeRun(cmd, deps);
      if (!/^\d{1,5}$/.test(o.listen)) throw new UsageError(`--listen: ${JSON.stringify(o.listen)} is not a port number`);
      const file = resolveConfigPath({ flag: run.opts.config, env: deps.env, cwd: deps.cwd });
      const text = renderInitConfig({
        blue: o.blue ?? ['127.0.0.1:8081'],
        green: o.green ?? ['127.0.0.1:8082'],
        listen: Number(o.listen),
        driver: o.driver,
        ...(o.conf !== undefined ? { conf: o.conf } : {}),
      });
      await writeInitConfig(file, text, { force: o.force });
      const includes = o.driver === 'system' ? includeLines(path.resolve(path.dirname(file), systemDirFor(o.conf ?? ''))) : null;
      run.out.result({ file, ...(includes ? { includes } : {}) }, () => {
        run.out.line(`wrote ${path.relative(deps.cwd, file) || file}`);
        if (includes) {
          run.out.line(`add to ${o.conf ?? 'your nginx.conf'}, inside http { }:\n    ${includes.http}`);
          run.out.line(
            `and inside the server { } that listens on ${o.listen} and fronts the application (instead of its location /):\n    ${includes.server}`,
          );
        }
        run.out.line('next: `bgctl validate`, then `bgctl start`');
      });
    });

  program
    .command('start')
    .description('start NGINX with the rendered config (local: an NGINX master bgctl owns; docker: the compose stack)')
    .action(async (_o: unknown, cmd: Command) => {
      const run = makeRun(cmd, deps);
      const ctx = await run.context();
      const r = await start(ctx).catch(async (e: unknown) => {
        throw await explainStartFailure(e, ctx);
      });
      run.out.result(r, () => {
        if (!r.running) {
          run.out.line(
            `files written and tested: ${formatWeights(r.weights)} (revision ${r.revision}), apply mode ${r.mode}; NGINX is not running: start it as you always do (e.g. \`systemctl start nginx\`), then \`bgctl status\``,
          );
          return;
        }
        run.out.line(
          `NGINX ${r.alreadyRunning ? 'was already running; re-applied' : 'started'}: ${formatWeights(r.weights)} (revision ${r.revision}), apply mode ${r.mode}`,
        );
      });
    });

  program
    .command('stop')
    .description('stop the NGINX that bgctl started (docker: bring the compose stack down)')
    .option('-y, --yes', 'stop even while a canary or migration holds traffic (needed without a terminal)', false)
    .addHelpText(
      'after',
      '\nWhile a canary or a migration holds traffic, stop asks on a terminal and needs --yes elsewhere\n(exit 2, nothing changed, without it).\n\nExamples:\n  $ bgctl stop\n  $ bgctl stop --yes   # from a script, whatever holds',
    )
    .action(async (o: { yes: boolean }, cmd: Command) => {
      const run = makeRun(cmd, deps);
      const ctx = await run.context();
      const risk = stopRisk(await ctx.store.load());
      if (risk && !(await ctx.lock.holder())?.alive) await confirmRisky({ command: 'stop', risk, yes: o.yes, deps, signal: ctx.signal });
      const r = await stop(ctx);
      run.out.result(r, () => run.out.line(r.note ?? (r.wasRunning ? 'NGINX stopped' : 'NGINX was not running')));
    });

  program
    .command('demo')
    .description('self-contained sandbox: own NGINX, two demo backends, live traffic, a migration and an automatic rollback')
    .option('--step-seconds <n>', 'observation time per step', '2')
    .action(async (o: { stepSeconds: string }, cmd: Command) => {
      const run = makeRun(cmd, deps);
      const stepSeconds = Number(o.stepSeconds);
      if (!Number.isFinite(stepSeconds) || stepSeconds < 0 || stepSeconds > 60)
        throw new UsageError(`--step-seconds: ${JSON.stringify(o.stepSeconds)} is not 0-60`);
      const { runDemo } = await import('../demo/run.js');
      const summary = await runDemo({
        stepSeconds,
        say: (text) => run.out.line(text),
        context: (file) => deps.contextForFile(file, run.opts, run.events),
      });
      run.out.result(summary, () => undefined);
    });
}

import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { countAccessLogSpan } from '../adapters/access-log-span.js';
import { writeTree } from '../adapters/nginx/files.js';
import { OWN_LAYOUT } from '../render/layout.js';
import { writeExclusive } from '../adapters/safe-fs.js';
import { history, renderStep, validate } from '../app/admin.js';
import { migrationChart } from '../app/chart.js';
import type { AppContext } from '../app/context.js';
import type { ColorHealth } from '../app/ports.js';
import type { CheckResult } from '../app/preflight.js';
import { status, type StatusReport } from '../app/status.js';
import { COLORS, parseColor, parsePercent } from '../core/color.js';
import { BgctlError, UsageError } from '../core/errors.js';
import type { Migration } from '../core/state.js';
import { formatWeights } from '../core/weights.js';
import { TrafficWatch, type LiveTraffic } from '../app/traffic-watch.js';
import { formatFigures } from './output.js';
import { STATUS_HELP, verdictExit, verdictLine } from './status-verdict.js';
import { redactSecret } from '../render/render.js';
import { makeRun, type CliDeps, type Run } from './run.js';

export function registerInspect(program: Command, deps: CliDeps): void {
  program
    .command('status')
    .description('active color and version, live weights, migration in progress (or interrupted), health, drift; ends with a verdict')
    .option('-w, --watch', 'refresh until interrupted', false)
    .option('--interval <seconds>', 'refresh interval with --watch', '2')
    .addHelpText('after', STATUS_HELP)
    .action(async (o: { watch: boolean; interval: string }, cmd: Command) => {
      const run = makeRun(cmd, deps);
      const ctx = await run.context();
      const interval = Number(o.interval);
      if (!Number.isFinite(interval) || interval < 0.2 || interval > 3600)
        throw new UsageError(`--interval: ${JSON.stringify(o.interval)} is not a number of seconds (0.2-3600)`);
      const { readServeAlerts } = await import('../adapters/serve-alerts-file.js');
      const criticalAlerts = () => readServeAlerts(ctx.loaded.config.stateDir, ctx.host);
      // --watch also follows the access log: live rates, error rates and p95 per color
      const watch = o.watch ? await TrafficWatch.start(ctx, ctx.loaded.config.thresholds.windowSeconds * 1000) : null;
      for (;;) {
        const report = await status(ctx, { criticalAlerts });
        const at = ctx.clock.now();
        const traffic = watch ? await watch.sample() : null;
        const shown = traffic ? { ...report, traffic, at: new Date(at).toISOString() } : report;
        if (run.out.tty && o.watch) deps.streams.stdout.write('\x1b[H\x1b[2J');
        run.out.result(shown, () => {
          printStatus(run, report, ctx.loaded.file);
          if (traffic) printTraffic(run, traffic);
          run.out.line(verdictLine(report.verdict, o.watch ? at : null));
        });
        const exit = verdictExit(report.verdict);
        if (!o.watch || ctx.signal.aborted) {
          if (exit) throw exit;
          return;
        }
        await ctx.clock.sleep(interval * 1000, ctx.signal);
        if (ctx.signal.aborted) {
          if (exit) throw exit;
          return;
        }
      }
    });

  program
    .command('validate')
    .description('pre-flight: config, rendered templates, nginx -t, both environments healthy, state consistent; changes nothing')
    .action(async (_o: unknown, cmd: Command) => {
      const run = makeRun(cmd, deps);
      const ctx = await run.context();
      try {
        const checks = await validate(ctx);
        run.out.result({ ok: true, checks }, () => printChecks(run, checks));
      } catch (e) {
        const checks = e instanceof BgctlError ? (e.details?.['checks'] as CheckResult[] | undefined) : undefined;
        if (checks && !run.out.json) printChecks(run, checks);
        throw e;
      }
    });

  program
    .command('render')
    .description('print (or write) the NGINX config a step would produce, without applying it')
    .option('--color <color>', 'the color whose share to set (with --percent)')
    .option('--percent <n>', 'its share, 0-100 (default: what is live now)')
    .option(
      '--out <dir>',
      `write ${OWN_LAYOUT.main} and ${OWN_LAYOUT.site} (dynamic mode: also ${OWN_LAYOUT.js}, ${OWN_LAYOUT.weights}) into DIR instead of printing`,
    )
    .addHelpText('after', '\nExamples:\n  $ bgctl render\n  $ bgctl render --color green --percent 25 --out /tmp/preview')
    .action(async (o: { color?: string; percent?: string; out?: string }, cmd: Command) => {
      const run = makeRun(cmd, deps);
      if ((o.color === undefined) !== (o.percent === undefined)) throw new UsageError('render: --color and --percent go together');
      const step =
        o.color !== undefined && o.percent !== undefined
          ? { color: parseColor(o.color, '--color'), percent: parsePercent(o.percent, '--percent') }
          : undefined;
      const cfg = await renderStep(await run.context(), step);
      if (o.out) {
        const dir = path.resolve(deps.cwd, o.out);
        // like the candidate tree: never through a link, the site (it may hold the force secret) 0600
        const files = await writeTree(dir, cfg);
        if (cfg.weightsFile !== undefined) {
          const weights = path.join(dir, OWN_LAYOUT.weights);
          await writeExclusive(weights, cfg.weightsFile);
          files.push(weights);
        }
        run.out.result({ dir, revision: cfg.revision, weights: cfg.weights, files }, () =>
          run.out.line(`wrote ${files.join(', ')} (${formatWeights(cfg.weights)})`),
        );
        return;
      }
      // printed configs end up in terminals and CI logs: never with the forced-route secret in them
      const secret = (await run.context()).loaded.config.routing.forceSecret;
      const site = redactSecret(cfg.site, secret);
      const weightsFile = cfg.weightsFile ?? null;
      run.out.result({ revision: cfg.revision, weights: cfg.weights, main: cfg.main, site, weightsFile }, () => {
        run.out.line(site);
        if (weightsFile !== null) run.out.line(`# ${OWN_LAYOUT.weights} (dynamic mode: what NGINX routes by)\n${weightsFile.trimEnd()}`);
      });
    });

  program
    .command('history')
    .description('past migrations: steps, timings, probe results, outcome, reason')
    .option('-n, --limit <n>', 'how many, newest first', '20')
    .option('--chart <file>', "draw a migration's timeline (requests per second per color, 5xx, steps, rollback) as an SVG file")
    .option('--id <id>', 'with --chart: the migration to draw, by the id in the first column (default: the newest)')
    .addHelpText(
      'after',
      '\nExamples:\n  $ bgctl history\n  $ bgctl history --chart last.svg\n  $ bgctl history --json | jq .migrations[0].timeline',
    )
    .action(async (o: { limit: string; chart?: string; id?: string }, cmd: Command) => {
      const run = makeRun(cmd, deps);
      if (!/^\d{1,4}$/.test(o.limit)) throw new UsageError(`--limit: ${JSON.stringify(o.limit)} is not a whole number`);
      if (o.id !== undefined && o.chart === undefined) throw new UsageError('history: --id goes with --chart');
      const ctx = await run.context();
      const list = await history(ctx, Number(o.limit));
      const chart = o.chart === undefined ? null : await writeChart(ctx, path.resolve(deps.cwd, o.chart), o.id);
      run.out.result(chart ? { migrations: list, chart } : { migrations: list }, () => {
        if (list.length === 0) run.out.line('no migrations yet');
        for (const m of list) {
          run.out.line(
            `${m.id}  ${m.startedAt}${m.by ? `  by ${m.by}` : ''}  ${m.kind} ${m.from} → ${m.to}${m.version ? ` ${m.version}` : ''}  ${m.status}${m.outcome ? ` (${m.outcome})` : ''}${m.reason ? `: ${m.reason}` : ''}`,
          );
          for (const s of m.steps) {
            const took = s.appliedAt && s.endedAt ? ` ${((Date.parse(s.endedAt) - Date.parse(s.appliedAt)) / 1000).toFixed(1)} s` : '';
            const seen = s.figures
              ? `, ${formatFigures(s.figures).replace(/ \(last .*\)$/, '')}`
              : s.observed
                ? `, observed blue ${s.observed.blue} / green ${s.observed.green}, 5xx ${s.observed.errors.blue}/${s.observed.errors.green}`
                : '';
            run.out.line(
              `    step ${s.index + 1}: ${formatWeights(s.weights)}  ${s.verdict}${took}, probes ${s.probes.healthy}/${s.probes.rounds} healthy${seen}${s.reason ? ` — ${s.reason}` : ''}`,
            );
            if (s.verdict === 'passed' && s.decision) run.out.line(`        promoted: ${s.decision}`);
          }
          for (const c of m.controls ?? []) run.out.line(`    ${c.at}  ${c.action} by ${c.by}: ${c.message}`);
          if (m.timeline) run.out.line(`    ${timelineLine(m.timeline)}`);
        }
        if (chart)
          run.out.line(
            `wrote ${chart.file}: migration ${chart.migration}, ${chart.requests} requests from ${chart.files.join(', ') || 'no access log'} (${chart.from} to ${chart.to})`,
          );
      });
    });
}

/** How long the failing color served and how fast it was pulled; only what was recorded, no placeholders. */
function timelineLine(t: NonNullable<Migration['timeline']>): string {
  const secs = (a: string | null, b: string | null): string | null =>
    a && b ? `${((Date.parse(b) - Date.parse(a)) / 1000).toFixed(2)} s` : null;
  const served =
    t.firstServedAt && t.lastServedAt
      ? `${t.color} served from ${t.firstServedAt} to ${t.lastServedAt}${t.servedSeconds !== null ? ` (${t.servedSeconds.toFixed(2)} s)` : ''}`
      : `${t.color} served no request the access log recorded`;
  const seen = secs(t.firstErrorAt, t.decidedAt);
  const back = secs(t.decidedAt, t.restoredAt);
  return [
    served,
    seen ? `first failure seen → rollback decided ${seen}` : 'rolled back before any failure showed in the access log',
    back ? `decided → traffic back ${back}` : 'traffic back: not confirmed',
  ].join('; ');
}

/** `history --chart FILE`: the migration's timeline from the access log, written as SVG. */
async function writeChart(ctx: AppContext, file: string, id: string | undefined) {
  const c = await migrationChart(ctx, { id, readLog: countAccessLogSpan });
  await mkdir(path.dirname(file), { recursive: true });
  await writeExclusive(file, c.svg);
  return { file, migration: c.migration.id, requests: c.requests, files: c.files, from: c.from, to: c.to, bucketMs: c.bucketMs };
}

function printTraffic(run: Run, t: LiveTraffic): void {
  const span = (t.figures.spanMs / 1000).toFixed(1);
  if (!t.readable) {
    run.out.line(`  ${'traffic'.padEnd(10)}access log unreadable: ${t.problem ?? 'unknown error'}`);
    return;
  }
  for (const c of COLORS) {
    const f = t.figures.colors[c];
    const rate = f.errorRate === null ? '–' : `${(f.errorRate * 100).toFixed(1)}%`;
    const p95 = f.p95 === null ? '–' : `${Math.round(f.p95)} ms`;
    run.out.line(`  ${`${c} now`.padEnd(10)}${t.rps[c].toFixed(1)} req/s, 5xx ${rate}, p95 ${p95} (last ${span} s)`);
  }
}

function printChecks(run: Run, checks: readonly CheckResult[]): void {
  for (const c of checks) run.out.line(`${c.ok ? 'PASS' : 'FAIL'}  ${c.check}${c.detail ? `: ${c.detail}` : ''}`);
}

function healthLine(h: ColorHealth): string {
  const ok = h.servers.filter((s) => s.healthy).length;
  const bad = h.servers.filter((s) => !s.healthy).map((s) => `${s.server} ${s.error ?? 'unhealthy'}`);
  return `${h.healthy ? 'healthy' : 'UNHEALTHY'} ${ok}/${h.servers.length}${h.version ? `, version ${h.version}` : ''}${bad.length ? ` (${bad.join('; ')})` : ''}`;
}

/** A fleet: one line per target, the one that drifted flagged. */
function printTargets(run: Run, r: StatusReport): void {
  const up = r.targets.filter((t) => t.running).length;
  const together = r.nginx.live ? `all serving revision ${r.nginx.live.revision}` : 'NOT all serving the same config';
  run.out.line(`  ${'NGINX'.padEnd(10)}fleet of ${r.targets.length} targets, ${up} running, ${together}`);
  for (const t of r.targets) {
    const serving =
      t.revision !== null && t.weights !== null
        ? `revision ${t.revision}, ${formatWeights(t.weights)}`
        : t.running
          ? 'running, status location not answering'
          : 'not running';
    const problem = t.problem && t.revision === null ? ` (${t.problem})` : '';
    run.out.line(`  ${'target'.padEnd(10)}${t.name} (${t.kind} ${t.where}): ${serving}${problem}${t.drift ? ` — DRIFT: ${t.drift}` : ''}`);
  }
}

/** `dynamic (njs ...)`, plus what NGINX runs when it differs, and a weights file it cannot use. */
function modeLine(r: StatusReport): string {
  const m = r.mode;
  let text = m.ok ? m.detail : `NOT OK: ${m.detail}`;
  if (m.warning) text = `PROBLEM: no dynamic mode (${m.warning}): ${text}`;
  if (m.live !== null && m.live !== m.resolved) text += `; NGINX still runs a ${m.live}-mode config (the next change reloads it)`;
  if (m.source === 'prev' || m.source === 'config') {
    text += `; WEIGHTS FILE NOT USED (${m.problem ?? 'unknown problem'}): NGINX sends all traffic to ${r.nginx.live?.stable ?? '?'}`;
  }
  return text;
}

function printStatus(run: Run, r: StatusReport, file: string): void {
  const line = (k: string, v: string): void => run.out.line(`  ${k.padEnd(10)}${v}`);
  run.out.line(`bgctl status (${file})`);
  line('active', `${r.active}${r.versions[r.active] ? ` ${r.versions[r.active]}` : ''} — ${formatWeights(r.weights)} (${r.strategy})`);
  line('stable', r.stable);
  line('mode', modeLine(r));
  line('fallback', r.fallback.detail);
  if (r.targets.length > 1) printTargets(run, r);
  else
    line(
      'NGINX',
      r.nginx.live
        ? `running, serving revision ${r.nginx.live.revision}`
        : r.nginx.running
          ? `running, status location not answering${r.targets[0]?.problem ? ` (${r.targets[0].problem})` : ''}`
          : `not running (\`bgctl start\`)${r.targets[0]?.problem ? ` (${r.targets[0].problem})` : ''}`,
    );
  const m = r.migration;
  if (!m) line('migration', 'none yet');
  else {
    const where = m.step ? ` step ${m.step}/${m.totalSteps} (${m.percent ?? 0}%)` : '';
    const label = `${m.kind} ${m.from} → ${m.to}${m.version ? ` ${m.version}` : ''}`;
    if (m.status === 'interrupted')
      line(
        'migration',
        `INTERRUPTED ${label} at${where}: run \`bgctl rollback\` or re-run \`bgctl gradual ${m.to} ${m.version ?? 'VERSION'}\``,
      );
    else
      line(
        'migration',
        `${label}: ${m.status}${m.status === 'running' || m.status === 'holding' ? where : ''}${m.paused ? `, PAUSED by ${m.paused.by} since ${m.paused.since} (\`bgctl resume\`)` : ''}${m.reason ? ` — ${m.reason}` : ''}`,
      );
  }
  line('blue', healthLine(r.health.blue));
  line('green', healthLine(r.health.green));
  line('drift', r.drift ?? 'none (NGINX serves what state.json says)');
  line('traffic', r.window.figures ? formatFigures(r.window.figures) : `not judged (${r.window.problem ?? 'no access log'})`);
  if (r.lock)
    line('lock', `${r.lock.command} (pid ${r.lock.pid} on ${r.lock.host}${r.lock.alive ? '' : ', dead'}) since ${r.lock.startedAt}`);
}

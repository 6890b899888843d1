import type { Command } from 'commander';
import { readRegular } from '../adapters/safe-fs.js';
import { UsageError } from '../core/errors.js';
import { InterruptedError } from '../core/errors.js';
import type { ServeFlags } from '../serve/options.js';
import { makeRun, type CliDeps } from './run.js';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export function registerServe(program: Command, deps: CliDeps): void {
  program
    .command('serve')
    .description('control API and monitoring endpoints (metrics, dashboard, alerts), sharing the CLI’s engine, lock and state')
    .option('--api-port <port>', 'control API port (0: any free port)', '9000')
    .option('--monitor-port <port>', 'monitoring port: /health /metrics /dashboard /alerts', '8090')
    .option('--host <address>', 'address both ports bind; anything but loopback needs BGCTL_API_TOKEN', '127.0.0.1')
    .option('--allow-host <name>', 'another Host header value to accept (repeat; DNS rebinding protection)', collect)
    .option('--rate-limit <n>', 'calls per second per client address, bursts of twice that (0: no limit)', '10')
    .option(
      '--alert-webhook <url>',
      'POST alerts (firing and resolved) to this URL, e.g. a chat channel (default: $BGCTL_ALERT_WEBHOOK); shows in the process list: prefer the variable or --alert-webhook-file',
    )
    .option('--alert-webhook-file <path>', 'read the alert webhook URL from this file (first line), kept out of the process list')
    .option('--alert-cpu <percent>', 'host CPU alert threshold', '80')
    .option('--alert-memory <percent>', 'host memory alert threshold', '90')
    .option('--alert-availability <percent>', 'alert when fewer client requests than this succeed', '99')
    .option('--alert-for <seconds>', 'how long a host CPU/memory breach must last before it fires', '30')
    .option(
      '--alert-rollback <rules>',
      'rules that roll back the running migration when they fire (error_rate,availability,p95_latency,host_cpu,host_memory or none)',
      'error_rate,availability',
    )
    .addHelpText(
      'after',
      `
p95 latency and error-rate alerts use thresholds.p95LatencyMs / thresholds.errorRate of the config.
Mutating calls (POST) need \`Authorization: Bearer $BGCTL_API_TOKEN\`; without the variable they are refused.
Every POST is appended to stateDir/audit.jsonl (refusals: one summary line a minute; rotated past
5 MiB). SIGTERM interrupts a running migration (traffic returns to the stable color), waits for it,
then exits 130; with no migration running, SIGTERM or Ctrl-C is a normal stop: exit 0 (a systemd unit
shows it stopped, not failed).

Examples:
  $ BGCTL_API_TOKEN=$(openssl rand -hex 24) bgctl serve
  $ bgctl serve --api-port 9100 --monitor-port 9101
  $ BGCTL_ALERT_WEBHOOK=https://chat.example/hooks/T0K3N bgctl serve
  $ bgctl serve --alert-webhook-file /etc/bgctl/webhook-url
  $ curl -s localhost:9000/status | jq .weights
  $ curl -s -X POST -H "Authorization: Bearer $BGCTL_API_TOKEN" -H 'Content-Type: application/json' \\
      -d '{"version":"2.1.0","steps":[25,50,100]}' localhost:9000/switch/green
  $ curl -s localhost:8090/metrics | grep bgctl_traffic_weight
  $ xdg-open http://localhost:8090/dashboard
  $ curl -s -X POST -H "Authorization: Bearer $BGCTL_API_TOKEN" localhost:9000/migration/pause
  $ curl -s -X POST -H "Authorization: Bearer $BGCTL_API_TOKEN" -d '{"full":true}' localhost:9000/migration/promote
  $ bgctl serve --alert-rollback none      # alerts only notify

Alerts that roll back: a firing error_rate (of the color being migrated to) or availability rule rolls
the running migration back, the alert being the reason. Alertmanager can do the same through
POST /hooks/alertmanager (webhook_config with a Bearer authorization): a firing alert labelled
bgctl_rollback="true" rolls back; resolved and unlabelled alerts change nothing.`,
    )
    .action(async (flags: ServeFlags, cmd: Command) => {
      const run = makeRun(cmd, deps);
      // its schemas are built when serve starts, not at every command's start
      const { parseServeOptions } = await import('../serve/options.js');
      const options = parseServeOptions(await webhookFromFile(flags), deps.env);
      const ctx = await run.context();
      if (flags.alertWebhook !== undefined) {
        ctx.logger.warn(
          '--alert-webhook shows the URL (and any secret in it) in the process list; use $BGCTL_ALERT_WEBHOOK or --alert-webhook-file',
        );
      }
      // prom-client and the servers load only for this command: other commands stay quick
      const { runServe } = await import('../serve/main.js');
      const server = await runServe(ctx, options);
      run.out.result(
        { api: server.apiUrl, monitor: server.monitorUrl, pid: ctx.pid, auth: options.token ? 'token' : 'none', audit: server.auditPath },
        () => {
          run.out.line(
            `control API  ${server.apiUrl}  (mutating calls: ${options.token ? 'bearer token' : 'refused, BGCTL_API_TOKEN is not set'})`,
          );
          run.out.line(`monitoring   ${server.monitorUrl}  (/health /metrics /alerts /dashboard)`);
          run.out.line(`audit log    ${server.auditPath}`);
        },
      );
      await new Promise<void>((resolve) => {
        if (ctx.signal.aborted) resolve();
        else ctx.signal.addEventListener('abort', () => resolve(), { once: true });
      });
      const { interrupted } = await server.close();
      // a normal stop (systemd, Ctrl-C) exits 0; 130 only when a migration had to be returned to its stable color
      if (interrupted) throw new InterruptedError('serve: stopped during a migration; traffic was returned to the stable color');
    });
}

/** --alert-webhook-file: the URL read from the file's first line (the flag and the file together are refused). */
async function webhookFromFile(flags: ServeFlags): Promise<ServeFlags> {
  const file = flags.alertWebhookFile;
  if (file === undefined) return flags;
  if (flags.alertWebhook !== undefined) throw new UsageError('serve: give --alert-webhook or --alert-webhook-file, not both');
  let text: string | null;
  try {
    text = await readRegular(file);
  } catch (e) {
    throw new UsageError(`serve: cannot read --alert-webhook-file ${file}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  const url = text?.split('\n')[0]?.trim() ?? '';
  if (text === null || url === '')
    throw new UsageError(`serve: --alert-webhook-file ${file} ${text === null ? 'does not exist' : 'is empty'}`);
  return { ...flags, alertWebhook: url };
}

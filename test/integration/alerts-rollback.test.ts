import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTraffic } from '../../src/demo/traffic.js';
import { waitForOutput } from '../helpers/cli.js';
import { freePorts } from '../helpers/ports.js';
import { makeSandbox, type Sandbox } from '../helpers/sandbox.js';
import { http, startServeProcess, type ServeProcess } from '../helpers/serve-http.js';

/**
 * Alerts that roll back, end to end with the real Debian `prometheus` and `prometheus-alertmanager` on
 * loopback: Prometheus scrapes bgctl serve's /metrics, a rule on green's error rate fires during the
 * migration of a failing release, Alertmanager delivers to POST /hooks/alertmanager, the CLI gradual
 * exits 3 naming the alert, and traffic is back on blue.
 */
const TOKEN = 'alerts-rollback-test-token-0123456789';

async function waitFor<T>(what: string, f: () => Promise<T | null>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f().catch(() => null);
    if (v !== null) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('alerts roll back a running migration (Prometheus + Alertmanager)', () => {
  let box: Sandbox;
  let serve: ServeProcess;
  const daemons: ResultPromise[] = [];
  let promUrl = '';
  let amUrl = '';

  beforeAll(async () => {
    // the release fails every 2nd request after 15; bgctl's own checks are told to wait 10 minutes, so
    // only the external alert can stop it within the test
    box = await makeSandbox('alerts-rollback', {
      greenVersion: '2.1.0-flaky',
      overrides: { thresholds: { errorRate: 0.05, errorRateForSeconds: 600, minRequests: 0 } },
    });
    serve = await startServeProcess(box.dir, [], { BGCTL_API_TOKEN: TOKEN });
    const [promPort, amPort, amCluster] = await freePorts(3);
    promUrl = `http://127.0.0.1:${promPort}`;
    amUrl = `http://127.0.0.1:${amPort}`;
    const dir = path.join(box.dir, 'monitoring');
    await mkdir(path.join(dir, 'am-data'), { recursive: true });
    await writeFile(
      path.join(dir, 'alertmanager.yml'),
      `route:
  receiver: bgctl
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: bgctl
    webhook_configs:
      - url: ${serve.api}/hooks/alertmanager
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: ${TOKEN}
`,
    );
    await writeFile(
      path.join(dir, 'rules.yml'),
      `groups:
  - name: bgctl
    rules:
      - alert: BgctlGreenErrorRate
        expr: sum(rate(bgctl_request_errors_total{color="green"}[5s])) / sum(rate(bgctl_requests_total{color="green"}[5s])) > 0.05
        labels:
          severity: critical
          bgctl_rollback: "true"
        annotations:
          summary: green answers 5xx
`,
    );
    await writeFile(
      path.join(dir, 'prometheus.yml'),
      `global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [rules.yml]
alerting:
  alertmanagers:
    - static_configs:
        - targets: ['127.0.0.1:${amPort}']
scrape_configs:
  - job_name: bgctl
    static_configs:
      - targets: ['${serve.monitor.replace('http://', '')}']
`,
    );
    const opts = { reject: false, stdin: 'ignore', cleanup: true, forceKillAfterDelay: 3000 } as const;
    daemons.push(
      execa(
        'prometheus-alertmanager',
        [
          `--config.file=${path.join(dir, 'alertmanager.yml')}`,
          `--storage.path=${path.join(dir, 'am-data')}`,
          `--web.listen-address=127.0.0.1:${amPort}`,
          `--cluster.listen-address=`,
          `--cluster.advertise-address=127.0.0.1:${amCluster}`,
        ],
        opts,
      ),
      execa(
        'prometheus',
        [
          `--config.file=${path.join(dir, 'prometheus.yml')}`,
          `--storage.tsdb.path=${path.join(dir, 'prom-data')}`,
          `--web.listen-address=127.0.0.1:${promPort}`,
        ],
        opts,
      ),
    );
    await waitFor('alertmanager ready', async () => ((await http(`${amUrl}/-/ready`)).status === 200 ? true : null), 30_000);
    await waitFor('prometheus ready', async () => ((await http(`${promUrl}/-/ready`)).status === 200 ? true : null), 30_000);
    // Prometheus scrapes bgctl before the migration starts
    await waitFor(
      'bgctl target up',
      async () => {
        const r = (await http(`${promUrl}/api/v1/query?query=up%7Bjob%3D%22bgctl%22%7D`)).json<{
          data: { result: { value: [number, string] }[] };
        }>();
        return r.data.result[0]?.value[1] === '1' ? true : null;
      },
      30_000,
    );
  }, 120_000);

  afterAll(async () => {
    for (const d of daemons) d.kill('SIGTERM');
    await Promise.all(daemons);
    await serve?.stop();
    await box?.close();
  });

  it('a firing rule on /metrics stops the CLI gradual: exit 3 naming the alert, traffic back on blue', async () => {
    const load = startTraffic({ url: `http://127.0.0.1:${box.listen}/load`, connections: 4, keepAlive: true, maxSeconds: 90, pauseMs: 5 });
    const gradual = box.spawn(['gradual', 'green', '2.1.0-flaky', '--steps', '25,50,100', '--step-seconds', '120']);
    // when Prometheus first saw the rule firing (its evaluation time), polled while the migration runs
    let firingAt: number | null = null;
    let polling = true;
    const poller = (async () => {
      while (polling && firingAt === null) {
        const r = await http(`${promUrl}/api/v1/alerts`).catch(() => null);
        const alerts =
          r?.json<{ data: { alerts: { labels: Record<string, string>; state: string; activeAt: string }[] } }>().data.alerts ?? [];
        const a = alerts.find((x) => x.labels['alertname'] === 'BgctlGreenErrorRate' && x.state === 'firing');
        if (a) firingAt = Date.parse(a.activeAt);
        await new Promise((res) => setTimeout(res, 200));
      }
    })();
    await waitForOutput(gradual, /step 1\/3\s+applied/, 60_000);
    const g = await gradual;
    polling = false;
    await poller;
    const stats = await load.stop();
    expect(g.exitCode, g.stderr).toBe(3);
    expect(g.stderr).toMatch(/aborted by alert BgctlGreenErrorRate \(Alertmanager: green answers 5xx\); traffic is back on blue \(100%\)/);
    const s = await box.status();
    expect(s).toMatchObject({ stable: 'blue', weights: { blue: 100, green: 0 }, drift: null, migration: { status: 'rolled_back' } });
    const seen = await Promise.all(Array.from({ length: 10 }, () => box.get()));
    expect(seen.every((x) => x.status === 200 && x.color === 'blue')).toBe(true);
    // the migration records the alert as its reason, and when traffic was back
    const state = JSON.parse(await box.stateText()) as {
      migration: { reason: string; controls: { action: string; by: string }[]; timeline: { restoredAt: string } };
    };
    expect(state.migration.reason).toBe('aborted by alert BgctlGreenErrorRate (Alertmanager: green answers 5xx)');
    expect(state.migration.controls.map((c) => c.action)).toEqual(['abort']);
    expect(firingAt).not.toBeNull();
    const restoredAt = Date.parse(state.migration.timeline.restoredAt);
    // the hook's answer (after the engine took the abort), from the audit log
    const audit = (await readFile(path.join(box.dir, 'state', 'audit.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { time: string; action: string; result: string });
    const hook = audit.find((e) => e.action === 'POST /hooks/alertmanager' && e.result.startsWith('rolling back'));
    expect(hook).toBeDefined();
    const s1 = (a: number, b: number): string => `${((b - a) / 1000).toFixed(2)} s`;
    const hookAt = Date.parse(hook?.time ?? '');
    console.log(
      `alert firing (Prometheus activeAt) → traffic back on blue: ${s1(firingAt ?? 0, restoredAt)} ` +
        `(firing → Alertmanager delivered and bgctl took the abort ${s1(firingAt ?? 0, hookAt)}, → traffic back ${s1(hookAt, restoredAt)}); ` +
        `load: ${stats.total} requests, ${stats.failedByColor.green} 5xx from green, ${stats.failedByColor.blue} from blue`,
    );
    expect(restoredAt).toBeGreaterThan(firingAt ?? Infinity);
    expect(stats.failedByColor.blue).toBe(0);
  }, 180_000);

  it('repeated deliveries, resolved and unlabelled alerts change nothing; malformed payloads get 400', async () => {
    const post = (body: unknown, token: string | null = TOKEN) =>
      http(`${serve.api}/hooks/alertmanager`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
    const alert = (status: string, labels: Record<string, string>) => ({
      status,
      labels,
      annotations: {},
      startsAt: '2026-01-01T00:00:00Z',
    });
    const payload = (alerts: unknown[], status = 'firing') => ({ version: '4', status, receiver: 'bgctl', groupKey: '{}:{}', alerts });
    const before = await box.stateText();
    const repeated = await post(payload([alert('firing', { alertname: 'BgctlGreenErrorRate', bgctl_rollback: 'true' })]));
    expect(repeated.status).toBe(200);
    expect(repeated.json()).toMatchObject({ rollback: false, reason: expect.stringMatching(/no migration is running/) as string });
    const resolved = await post(payload([alert('resolved', { alertname: 'X', bgctl_rollback: 'true' })], 'resolved'));
    expect(resolved.status).toBe(200);
    expect(resolved.json()).toMatchObject({ rollback: false });
    const unlabelled = await post(payload([alert('firing', { alertname: 'Y' })]));
    expect(unlabelled.status).toBe(200);
    expect(unlabelled.json()).toMatchObject({ rollback: false });
    expect((await post('{"version":"4"')).status).toBe(400);
    const wrongVersion = await post({ ...payload([]), version: '3' });
    expect(wrongVersion.status).toBe(400);
    expect(wrongVersion.json()).toMatchObject({ error: { message: expect.stringMatching(/version/) as string } });
    expect((await post(payload([]), null)).status).toBe(401);
    expect(await box.stateText()).toBe(before);
  });
});

describe("bgctl serve's own alert rules roll back", () => {
  let box: Sandbox;
  let serve: ServeProcess;
  beforeAll(async () => {
    // bgctl's step checks tolerate the release's 50% errors (errorRate 0.9); serve's availability rule
    // (99%, at once) does not
    box = await makeSandbox('alerts-own', {
      greenVersion: '2.1.0-flaky',
      overrides: { thresholds: { errorRate: 0.9, errorRateForSeconds: 0, minRequests: 0 } },
    });
    serve = await startServeProcess(box.dir, ['--alert-availability', '99'], { BGCTL_API_TOKEN: TOKEN });
  }, 60_000);
  afterAll(async () => {
    await serve?.stop();
    await box?.close();
  });

  it('a firing availability rule stops the CLI gradual: exit 3 naming the alert, traffic back on blue', async () => {
    const load = startTraffic({ url: `http://127.0.0.1:${box.listen}/load`, connections: 4, keepAlive: true, maxSeconds: 90, pauseMs: 5 });
    const gradual = box.spawn(['gradual', 'green', '2.1.0-flaky', '--steps', '25,50,100', '--step-seconds', '120']);
    const g = await gradual;
    await load.stop();
    expect(g.exitCode, g.stderr).toBe(3);
    expect(g.stderr).toMatch(/aborted by alert availability:site \(availability \d+\.\d% < 99\.0%.*\); traffic is back on blue \(100%\)/);
    expect(await box.status()).toMatchObject({ stable: 'blue', weights: { blue: 100, green: 0 }, drift: null });
    const alerts = (await http(`${serve.monitor}/alerts`)).json<{
      firing: { rule: string }[];
      resolved: { rule: string }[];
      rules: { id: string; rollback: boolean }[];
    }>();
    expect([...alerts.firing, ...alerts.resolved].some((a) => a.rule === 'availability')).toBe(true);
    expect(alerts.rules.filter((r) => r.rollback).map((r) => r.id)).toEqual(['error_rate', 'availability']);
  }, 180_000);
});

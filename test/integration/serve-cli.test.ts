import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTraffic } from '../../src/demo/traffic.js';
import { jsonOf } from '../helpers/cli.js';
import { makeSandbox, type Sandbox } from '../helpers/sandbox.js';
import { http, startServeProcess, type ServeProcess } from '../helpers/serve-http.js';

const TOKEN = 'integration-token-0123456789abcdef';
const AUTH = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };

const until = async <T>(what: string, f: () => Promise<T | null | undefined | false>, timeoutMs = 30_000): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

/** A chat-like webhook receiver on loopback that fails the first delivery (HTTP 500), then accepts. */
interface Delivery {
  readonly text: string;
  readonly status: string;
  readonly alert: { readonly rule: string; readonly subject: string; readonly severity: string };
}

async function receiver(): Promise<{ url: string; bodies: Delivery[]; attempts: () => number; close(): Promise<void> }> {
  const bodies: Delivery[] = [];
  let attempts = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      attempts++;
      if (attempts === 1) {
        res.writeHead(500).end('not now');
        return;
      }
      bodies.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Delivery);
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/hooks/chat`,
    bodies,
    attempts: () => attempts,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

describe('bgctl serve with a real NGINX, real backends and the real CLI', () => {
  let box: Sandbox;
  let srv: ServeProcess;
  let hook: Awaited<ReturnType<typeof receiver>>;
  beforeAll(async () => {
    // thresholds loose enough that a loaded CI machine (slow answers, a reset at a reload) does not roll
    // these migrations back: what is tested here is the API, not the analysis
    box = await makeSandbox('serve-cli', { overrides: { thresholds: { errorRate: 0.5, p95LatencyMs: 30_000, minRequests: 1 } } });
    hook = await receiver();
    // memory above 1% is always true: a host alert fires at once, exercising the webhook end to end
    srv = await startServeProcess(box.dir, ['--alert-memory', '1', '--alert-for', '0', '--alert-webhook', hook.url], {
      BGCTL_API_TOKEN: TOKEN,
    });
  });
  afterAll(async () => {
    await srv?.stop();
    await hook?.close();
    await box?.close();
  });

  it('refuses to listen on a non-loopback address without a token (exit 2)', async () => {
    const r = await box.cli(['serve', '--host', '0.0.0.0', '--api-port', '0', '--monitor-port', '0']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/refusing to listen on 0\.0\.0\.0 without an API token: set BGCTL_API_TOKEN/);
  });

  it('serves /status and /health from the live system, and /metrics passes `promtool check metrics`', async () => {
    const status = await http(`${srv.api}/status`);
    expect(status.status).toBe(200);
    expect(status.json()).toMatchObject({ stable: 'blue', weights: { blue: 100, green: 0 }, drift: null, nginx: { running: true } });
    const health = await http(`${srv.monitor}/health`);
    expect(health.status, health.text).toBe(200);
    expect(health.json()).toMatchObject({ status: 'ok', nginx: { up: true }, colors: { blue: { up: true }, green: { up: true } } });
    for (let i = 0; i < 30; i++) expect((await box.get()).color).toBe('blue');
    const metrics = await until('30 requests counted', async () => {
      const text = (await http(`${srv.monitor}/metrics`)).text;
      const n = Number(/^bgctl_requests_total\{color="blue"\} (\d+)/m.exec(text)?.[1] ?? 0);
      return n >= 30 && text;
    });
    expect(metrics).toMatch(/^bgctl_request_duration_seconds_count\{color="blue"\} [1-9]\d*/m);
    expect(metrics).toContain('bgctl_traffic_weight_percent{color="blue"} 100');
    const lint = await execa('promtool', ['check', 'metrics'], { input: metrics, reject: false });
    expect(lint.exitCode, `${lint.stdout}\n${lint.stderr}`).toBe(0);
    expect(`${lint.stdout}${lint.stderr}`.trim()).toBe('');
  });

  it('an HTTP migration excludes a terminal one (exit 5), and both see its progress; it completes', async () => {
    const traffic = startTraffic({
      url: `http://127.0.0.1:${box.listen}/load`,
      connections: 4,
      keepAlive: true,
      maxSeconds: 60,
      pauseMs: 5,
    });
    try {
      const r = await http(`${srv.api}/switch/green`, {
        method: 'POST',
        headers: AUTH,
        body: '{"version":"2.1.0","steps":[50,100],"stepSeconds":4}',
      });
      expect(r.status, r.text).toBe(202);
      expect(r.headers['location']).toBe('/migration');
      await until('step 1 live', async () => (await box.status()).weights.green === 50);
      const cli = await box.cli(['gradual', 'green', '2.1.0']);
      expect(cli.exitCode).toBe(5);
      expect(cli.stderr).toMatch(new RegExp(`locked by \`gradual green 2\\.1\\.0\` \\(pid ${srv.proc.pid}`));
      expect((await box.status()).migration).toMatchObject({ kind: 'gradual', to: 'green', status: 'running' });
      const progress = (await http(`${srv.api}/migration`)).json();
      expect(progress.migration, String(progress.migration?.reason)).toMatchObject({
        to: 'green',
        status: 'running',
        driver: { pid: srv.proc.pid, api: true },
      });
      expect(progress.migration.steps[0]).toMatchObject({ percent: 50, weights: { blue: 50, green: 50 } });
      const done = await until('the migration to finish', async () => {
        const m = (await http(`${srv.api}/migration`)).json();
        return m.job.state !== 'running' && m;
      });
      expect(done.migration, String(done.migration?.reason)).toMatchObject({ status: 'completed', to: 'green' });
      expect(done.job).toMatchObject({ state: 'succeeded', outcome: 'completed' });
    } finally {
      await traffic.stop();
    }
    expect(await box.status()).toMatchObject({ stable: 'green', weights: { blue: 0, green: 100 }, drift: null });
    expect((await box.get()).color).toBe('green');
  });

  it('a terminal migration excludes an HTTP one (409, code 5); POST /rollback stops it and traffic stays on the stable color', async () => {
    const child = box.spawn(['gradual', 'blue', '1.0.0', '--steps', '50,100', '--step-seconds', '60']);
    await until('the terminal migration at 50%', async () => (await box.status()).weights.blue === 50);
    const r = await http(`${srv.api}/switch/blue`, { method: 'POST', headers: AUTH, body: '{"version":"1.0.0"}' });
    expect(r.status, r.text).toBe(409);
    expect(r.json().error).toMatchObject({ code: 5, kind: 'LockHeldError' });
    expect(r.json().error.message).toMatch(new RegExp(`gradual blue 1\\.0\\.0\` \\(pid ${child.pid}`));
    const progress = (await http(`${srv.api}/migration`)).json();
    expect(progress.migration).toMatchObject({ to: 'blue', status: 'running', driver: { pid: child.pid, api: false } });
    const rb = await http(`${srv.api}/rollback`, { method: 'POST', headers: AUTH });
    expect(rb.status, rb.text).toBe(200);
    expect(rb.json()).toMatchObject({ color: 'green', weights: { blue: 0, green: 100 }, preempted: { pid: child.pid } });
    expect((await child).exitCode).toBe(130);
    expect(await box.status()).toMatchObject({ stable: 'green', weights: { blue: 0, green: 100 }, drift: null });
    expect((await box.get()).color).toBe('green');
  });

  it('fires alerts, serves them at /alerts and delivers them to the webhook after a failed first attempt', async () => {
    const alerts = (await http(`${srv.monitor}/alerts`)).json();
    expect(alerts.firing).toContainEqual(expect.objectContaining({ key: 'host_memory:host', severity: 'warning', resolvedAt: null }));
    // (other alerts, e.g. host CPU on a busy test machine, may be delivered too)
    const memory = await until('the webhook delivery', () => Promise.resolve(hook.bodies.find((b) => b.alert.rule === 'host_memory')));
    expect(hook.attempts()).toBeGreaterThanOrEqual(2);
    expect(memory).toMatchObject({ status: 'firing', alert: { rule: 'host_memory', subject: 'host', severity: 'warning' } });
    expect(memory.text).toMatch(/^\[FIRING warning\] bgctl on .+: host memory \d+% > 1%$/);
    const metrics = (await http(`${srv.monitor}/metrics`)).text;
    expect(metrics).toMatch(/^bgctl_alert_webhook_deliveries_total\{result="retried"\} [1-9]/m);
    expect(metrics).toMatch(/^bgctl_alert_webhook_deliveries_total\{result="delivered"\} [1-9]/m);
  });

  it('writes every mutating call to stateDir/audit.jsonl without the token; refusals are counted', async () => {
    await http(`${srv.api}/rollback`, { method: 'POST', headers: { authorization: 'Bearer wrong-token-wrong-token' } });
    // a refusal is counted (one summary line a minute, and at shutdown), not written on its own
    expect((await http(`${srv.monitor}/metrics`)).text).toMatch(/^bgctl_api_refusals_total\{status="401"\} 1$/m);
    const text = await readFile(path.join(box.dir, 'state', 'audit.jsonl'), 'utf8');
    const lines = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => [l['action'], l['status'], l['authorized']])).toEqual([
      ['POST /switch/green', 202, true],
      ['POST /switch/blue', 409, true],
      ['POST /rollback', 200, true],
    ]);
    expect(lines.every((l) => l['source'] === '127.0.0.1' && typeof l['time'] === 'string' && typeof l['result'] === 'string')).toBe(true);
    expect(text).not.toContain(TOKEN);
    expect(text).not.toContain('wrong-token-wrong-token');
  });

  it('SIGTERM during an HTTP migration returns traffic to the stable color, then exits 130', async () => {
    const r = await http(`${srv.api}/switch/blue`, {
      method: 'POST',
      headers: AUTH,
      body: '{"version":"1.0.0","steps":[50,100],"stepSeconds":60}',
    });
    expect(r.status, r.text).toBe(202);
    await until('the HTTP migration at 50%', async () => (await box.status()).weights.blue === 50);
    expect(await srv.stop()).toBe(130);
    const s = await box.status();
    expect(s).toMatchObject({ stable: 'green', weights: { blue: 0, green: 100 }, drift: null });
    expect(s.migration).toMatchObject({ to: 'blue', status: 'rolled_back', reason: 'interrupted by SIGTERM' });
    expect(jsonOf<{ lock: unknown }>(await box.cli(['status', '--json'])).lock).toBeNull();
    // the refusal counted earlier is summarised in the audit log at shutdown
    const audit = await readFile(path.join(box.dir, 'state', 'audit.jsonl'), 'utf8');
    expect(audit).toMatch(/"action":"refused calls","status":401,"result":"refused 1 call since /);
    const seen = await Promise.all(Array.from({ length: 10 }, () => box.get()));
    expect(seen.every((x) => x.color === 'green' && x.status === 200)).toBe(true);
  });

  it('/health turns 503 when a color goes down, naming it', async () => {
    srv = await startServeProcess(box.dir, [], { BGCTL_API_TOKEN: TOKEN });
    expect((await http(`${srv.monitor}/health`)).status).toBe(200);
    box.blue.kill('SIGKILL');
    const down = await until(
      '503',
      async () => {
        const h = await http(`${srv.monitor}/health`);
        return h.status === 503 && h.json();
      },
      10_000,
    );
    expect(down).toMatchObject({
      status: 'degraded',
      bgctl: { up: true },
      nginx: { up: true },
      colors: { blue: { up: false }, green: { up: true } },
    });
    const metrics = (await http(`${srv.monitor}/metrics`)).text;
    expect(metrics).toMatch(/^bgctl_color_up\{color="blue"\} 0/m);
    expect(metrics).toMatch(/^bgctl_rollbacks_total\{reason="interrupted"\} [1-9]/m);
  });
});

import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli, waitForOutput } from '../helpers/cli.js';
import { makeSandbox, type Sandbox } from '../helpers/sandbox.js';
import { http, startServeProcess, type ServeProcess } from '../helpers/serve-http.js';

// `bgctl serve` (real process) in front of a real NGINX: validate cannot disturb a migration, refusals
// cannot grow the audit log, and one client's slow connections cannot lock the others out.

const TOKEN = 'integration-token-0123456789abcdef';

const HOOK = 'http://127.0.0.1:9/hooks/T0K3N-in-the-path';

let box: Sandbox;
let srv: ServeProcess;
const slow: Socket[] = [];

beforeAll(async () => {
  box = await makeSandbox('serve-hardening', { overrides: { thresholds: { errorRate: 0.5, p95LatencyMs: 30_000 } } });
  await writeFile(path.join(box.dir, 'webhook-url'), `${HOOK}\n`, { mode: 0o600 });
  srv = await startServeProcess(box.dir, ['--rate-limit', '0', '--alert-webhook-file', 'webhook-url'], { BGCTL_API_TOKEN: TOKEN });
}, 60_000);

afterAll(async () => {
  for (const s of slow) s.destroy();
  await srv?.stop();
  await box?.close();
});

/** GET on a connection from `localAddress` (another loopback address than the test's other clients). */
function getFrom(url: string, localAddress: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, localAddress, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error(`${url}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

describe('webhook URL kept out of the process list', () => {
  it('--alert-webhook-file: the URL is not in the command line; a missing file or both forms are refused (exit 2)', async () => {
    const pid = srv.proc.pid ?? 0;
    expect(await readFile(`/proc/${pid}/cmdline`, 'utf8')).not.toContain('T0K3N');
    const missing = await box.cli(['serve', '--api-port', '0', '--monitor-port', '0', '--alert-webhook-file', 'nope']);
    expect([missing.exitCode, missing.stderr]).toEqual([2, expect.stringMatching(/--alert-webhook-file nope does not exist/)]);
    const both = await box.cli(['serve', '--api-port', '0', '--alert-webhook', HOOK, '--alert-webhook-file', 'webhook-url']);
    expect([both.exitCode, both.stderr]).toEqual([2, expect.stringMatching(/not both/)]);
  });

  it('--alert-webhook URL still works but warns that it shows in the process list', async () => {
    const proc = spawnCli(['serve', '--api-port', '0', '--monitor-port', '0', '--alert-webhook', HOOK], {
      cwd: box.dir,
      env: { BGCTL_API_TOKEN: TOKEN },
      timeoutMs: 60_000,
    });
    try {
      const out = await waitForOutput(proc, /monitoring\s+http:/, 20_000);
      expect(out).toMatch(/shows the URL .* in the process list; use \$BGCTL_ALERT_WEBHOOK or --alert-webhook-file/);
    } finally {
      proc.kill('SIGTERM');
      await proc.catch(() => undefined);
    }
  }, 60_000);
});

describe('validate never touches what a migration uses', () => {
  it('GET /validate hammered during a reload-mode gradual: the migration completes (exit 0)', async () => {
    let stop = false;
    let validations = 0;
    const hammer = async (): Promise<void> => {
      while (!stop) {
        const r = await http(`${srv.api}/validate`, { timeoutMs: 30_000 }).catch(() => null);
        if (r !== null) validations++;
      }
    };
    const hammers = [hammer(), hammer(), hammer()];
    try {
      const g = await box.cli(['gradual', 'green', '2.1.0', '--steps', '25,50,75,100', '--step-seconds', '1']);
      expect(g.exitCode, `${g.stdout}\n${g.stderr}`).toBe(0);
    } finally {
      stop = true;
      await Promise.all(hammers);
    }
    expect(validations).toBeGreaterThan(5);
    expect((await box.status()).weights).toEqual({ blue: 0, green: 100 });
    // the private test folders are gone
    expect((await readdir(path.join(box.dir, 'nginx'))).filter((n) => n.startsWith('.validate-'))).toEqual([]);
  }, 180_000);
});

describe('audit log under a flood of refused calls', () => {
  it('thousands of unauthenticated POSTs are counted in /metrics and leave the audit file bounded', async () => {
    const audit = path.join(box.dir, 'state', 'audit.jsonl');
    const before = (await stat(audit)).size;
    let sent = 0;
    const deadline = Date.now() + 3000;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (Date.now() < deadline) {
          const r = await http(`${srv.api}/rollback`, { method: 'POST', headers: { authorization: 'Bearer wrong-token-000000000' } });
          expect(r.status).toBe(401);
          sent++;
        }
      }),
    );
    expect(sent).toBeGreaterThan(100);
    // no line per refusal: at most a summary line or two (a line is < 1 KB)
    expect((await stat(audit)).size - before).toBeLessThan(2048);
    const metrics = await http(`${srv.monitor}/metrics`);
    const counted = Number(/^bgctl_api_refusals_total\{status="401"\} (\d+)$/m.exec(metrics.text)?.[1] ?? NaN);
    expect(counted).toBe(sent);
  }, 60_000);
});

describe('slowloris from one client', () => {
  it('512 slow connections from 127.0.0.1: /status still answers another client, the slow ones are closed', async () => {
    const { port } = new URL(srv.api);
    const closed = { n: 0 };
    await Promise.all(
      Array.from(
        { length: 512 },
        () =>
          new Promise<void>((resolve) => {
            const s = connect({ port: Number(port), host: '127.0.0.1' }, () => {
              s.write('GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\n');
              resolve();
            });
            s.on('error', () => resolve());
            s.on('close', () => {
              closed.n++;
              resolve();
            });
            slow.push(s);
          }),
      ),
    );
    // trickle a header byte now and then on the ones still open
    const trickle = setInterval(() => {
      for (const s of slow) if (!s.destroyed) s.write('X');
    }, 500);
    try {
      // beyond the per-client cap the connections are dropped at once
      const deadline = Date.now() + 10_000;
      while (closed.n < 512 - 32 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(closed.n).toBeGreaterThanOrEqual(512 - 32);
      // another client is served while the slow ones hold what they may (a liveness check, generous deadline)
      expect(await getFrom(`${srv.api}/status`, '127.0.0.2', 5000)).toBe(200);
      // and the header timeout closes the rest (10 s, checked every second)
      const all = Date.now() + 30_000;
      while (closed.n < 512 && Date.now() < all) await new Promise((r) => setTimeout(r, 100));
      expect(closed.n).toBe(512);
    } finally {
      clearInterval(trickle);
    }
    // the slow client's address may connect again once its connections are gone
    expect((await http(`${srv.api}/status`)).status).toBe(200);
  }, 90_000);
});

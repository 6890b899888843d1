import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTraffic } from '../../src/demo/traffic.js';
import { jsonOf } from '../helpers/cli.js';
import { makeSandbox, type Sandbox } from '../helpers/sandbox.js';
import { http, startServeProcess, type ServeProcess } from '../helpers/serve-http.js';

/**
 * A migration handed to `bgctl serve` (`gradual --detach`) is controlled over the API and from the CLI
 * alike; status, the dashboard and history show who paused it and since when.
 */
const TOKEN = 'control-serve-test-token-0123456789';

async function until<T>(what: string, f: () => Promise<T | null>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== null) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('controlling a migration run by bgctl serve', () => {
  let box: Sandbox;
  let serve: ServeProcess | null = null;
  beforeAll(async () => {
    box = await makeSandbox('control-serve');
  });
  afterAll(async () => {
    await serve?.stop();
    await box?.close();
  });
  const post = (path: string, body?: unknown, token: string | null = TOKEN) =>
    http(`${serve?.api ?? ''}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const env = { BGCTL_API_TOKEN: TOKEN };

  it('gradual --detach without a running serve: exit 6, nothing changed', async () => {
    const r = await box.cli(['gradual', 'green', '2.1.0', '--detach'], env);
    expect(r.exitCode, r.stderr).toBe(6);
    expect(r.stderr).toMatch(/no `bgctl serve` is running for this install; nothing was changed/);
    expect((await box.status()).weights).toEqual({ blue: 100, green: 0 });
  });

  it('detaches to serve, then pause over the API, resume from the CLI, promote --full over the API, under load', async () => {
    serve = await startServeProcess(box.dir, [], env);
    const load = startTraffic({ url: `http://127.0.0.1:${box.listen}/load`, connections: 4, keepAlive: true, maxSeconds: 90, pauseMs: 5 });
    const d = await box.cli(['gradual', 'green', '2.1.0', '--steps', '25,50,100', '--step-seconds', '60', '--detach'], env);
    expect(d.exitCode, d.stderr).toBe(0);
    expect(d.stdout).toMatch(/handed to bgctl serve \(pid \d+\): gradual green 2\.1\.0 runs there/);
    expect(d.stdout).toMatch(/bgctl status --watch/);
    await until('step 1 applied', async () => ((await box.status()).weights.green === 25 ? true : null));

    expect((await post('/migration/pause', {}, null)).status).toBe(401);
    const p = await post('/migration/pause', { by: 'ops' });
    expect(p.status, p.text).toBe(200);
    expect(p.json()).toMatchObject({ action: 'pause', changed: true, paused: { by: 'ops via API (127.0.0.1)' } });
    const dash = (await http(`${serve.monitor}/dashboard.json`)).json<{ migration: { paused: { by: string; since: string } | null } }>();
    expect(dash.migration.paused?.by).toBe('ops via API (127.0.0.1)');
    const st = await box.cli(['status']);
    expect(st.stdout).toMatch(/PAUSED by ops via API \(127\.0\.0\.1\) since \d{4}-/);
    const bad = await post('/migration/promote', { full: 'yes' });
    expect(bad.status).toBe(400);

    const r = await box.cli(['resume', '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(jsonOf(r)).toMatchObject({ changed: true, paused: null });

    const f = await post('/migration/promote', { full: true });
    expect(f.status, f.text).toBe(200);
    await until('completed at 100%', async () => {
      const s = await box.status();
      return s.migration?.status === 'completed' ? s : null;
    });
    expect(await box.status()).toMatchObject({ stable: 'green', weights: { blue: 0, green: 100 }, drift: null });
    const stats = await load.stop();
    expect(stats.failed / stats.total).toBeLessThan(0.01);
    const h = jsonOf<{ migrations: { controls?: { action: string; by: string }[] }[] }>(await box.cli(['history', '--json']));
    expect(h.migrations[0]?.controls?.map((c) => `${c.action} ${c.by.replace(/@.*/, '@')}`)).toEqual([
      'pause ops via API (127.0.0.1)',
      `resume ${process.env['USER'] ?? 'root'}@`,
      'promote API caller 127.0.0.1',
    ]);
  });

  it('POST /migration/abort rolls a serve-run migration back and answers once traffic is on the stable color', async () => {
    const d = await box.cli(['gradual', 'blue', '1.0.0', '--steps', '25,50,100', '--step-seconds', '60', '--detach'], env);
    expect(d.exitCode, d.stderr).toBe(0);
    await until('step 1 applied', async () => ((await box.status()).weights.blue === 25 ? true : null));
    const a = await post('/migration/abort');
    expect(a.status, a.text).toBe(200);
    expect(a.json()).toMatchObject({
      action: 'abort',
      stable: 'green',
      weights: { blue: 0, green: 100 },
      migration: { status: 'rolled_back' },
    });
    expect((await box.status()).migration).toMatchObject({ status: 'rolled_back', reason: 'aborted by API caller 127.0.0.1' });
    const again = await post('/migration/abort');
    expect(again.status).toBe(422);
    expect(again.json()).toMatchObject({ error: { message: expect.stringMatching(/no migration is running/) as string } });
  });
});

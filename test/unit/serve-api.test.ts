import { connect } from 'node:net';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/adapters/clock.js';
import type { AuditEntry, AuditSink } from '../../src/serve/adapters/audit-file.js';
import { parseServeOptions } from '../../src/serve/options.js';
import { startServe, type ServeHandle } from '../../src/serve/server.js';
import { makeContext, type World } from '../fakes/context.js';
import { FakeTraffic } from '../fakes/recorders.js';
import { http } from '../helpers/serve-http.js';

const TOKEN = 'unit-test-token-0123456789';
const AUTH = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };

class RecordingAudit implements AuditSink {
  readonly entries: AuditEntry[] = [];
  append(e: AuditEntry): Promise<void> {
    this.entries.push(e);
    return Promise.resolve();
  }
}

const quietHost = { sample: () => ({ cpuPercent: 3, memoryPercent: 20 }) };

async function serve(world: World, flags: Record<string, string> = {}, env: NodeJS.ProcessEnv = { BGCTL_API_TOKEN: TOKEN }) {
  const audit = new RecordingAudit();
  const handle = await startServe(
    { ctx: world.ctx, traffic: world.traffic, host: quietHost, audit, loop: false },
    parseServeOptions({ apiPort: '0', monitorPort: '0', rateLimit: '0', ...flags }, env),
  );
  return { handle, audit, api: handle.apiUrl, mon: handle.monitorUrl };
}

interface MigrationAnswer {
  migration: { status: string; steps: { percent: number; verdict: string }[] } & Record<string, unknown>;
  job: { state: string } & Record<string, unknown>;
}

/** Polls GET /migration until the API job is no longer running. */
async function settled(api: string): Promise<MigrationAnswer> {
  for (let i = 0; i < 200; i++) {
    const m = (await http(`${api}/migration`)).json<MigrationAnswer>();
    if (m.job?.state !== 'running') return m;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('the API migration did not finish');
}

describe('control API over loopback HTTP (fake NGINX and backends)', () => {
  let world: World;
  let s: Awaited<ReturnType<typeof serve>>;
  beforeEach(async () => {
    world = makeContext({ traffic: new FakeTraffic(() => ({ blue: [300, 0], green: [300, 0] })) });
    s = await serve(world);
  });
  afterEach(async () => {
    await s.handle.close();
  });

  it('GET /status answers what `bgctl status --json` says', async () => {
    const r = await http(`${s.api}/status`);
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(r.json()).toMatchObject({ stable: 'blue', active: 'blue', weights: { blue: 100, green: 0 }, drift: null });
  });

  it('POST /switch/green starts a gradual migration in the background: 202 with Location, progress at /migration', async () => {
    const r = await http(`${s.api}/switch/green`, {
      method: 'POST',
      headers: AUTH,
      body: JSON.stringify({ version: '2.1.0', steps: [50, 100], stepSeconds: 1 }),
    });
    expect(r.status, r.text).toBe(202);
    expect(r.headers['location']).toBe('/migration');
    expect(r.json()).toMatchObject({
      accepted: true,
      plan: { kind: 'gradual', from: 'blue', to: 'green', steps: [50, 100] },
      follow: '/migration',
    });
    const m = await settled(s.api);
    expect(m.migration).toMatchObject({ kind: 'gradual', to: 'green', version: '2.1.0', status: 'completed' });
    expect(m.migration.steps.map((x) => [x.percent, x.verdict])).toEqual([
      [50, 'passed'],
      [100, 'passed'],
    ]);
    expect(m.job).toMatchObject({ state: 'succeeded', outcome: 'completed', source: '127.0.0.1' });
    expect(world.nginx.current?.weights).toEqual({ blue: 0, green: 100 });
    // the applies this server ran are timed stage by stage
    const metrics = (await http(`${s.mon}/metrics`)).text;
    expect(metrics).toContain('bgctl_nginx_stage_duration_seconds_count{stage="reload"} 2');
    expect(metrics).toContain('bgctl_nginx_stage_duration_seconds_count{stage="total"} 2');
    expect(s.audit.entries).toEqual([
      expect.objectContaining({ action: 'POST /switch/green', status: 202, authorized: true, result: 'started gradual green 2.1.0' }),
    ]);
    expect(s.audit.entries[0]?.params).toMatchObject({ color: 'green', version: '2.1.0', steps: [50, 100], stepSeconds: 1 });
  });

  it('without a version, migrates to the version the target reports', async () => {
    const r = await http(`${s.api}/switch/green`, { method: 'POST', headers: AUTH, body: '{"steps":"100","stepSeconds":0}' });
    expect(r.status, r.text).toBe(202);
    expect(r.json().action).toBe('gradual green 2.1.0');
  });

  it('a dry run answers 200 with the plan and changes nothing', async () => {
    const r = await http(`${s.api}/switch/green`, { method: 'POST', headers: AUTH, body: '{"version":"2.1.0","dryRun":true}' });
    expect(r.status, r.text).toBe(200);
    expect(r.json<{ plan: { percent: number }[] }>().plan.map((p) => p.percent)).toEqual([25, 50, 75, 100]);
    expect(world.nginx.applied).toEqual([]);
  });

  it('another bgctl holding the lock → 409 with code 5; nothing changes', async () => {
    world.lock.holdBy({ pid: 999, host: 'test-host', command: 'gradual green 2.1.0', startedAt: '2025-01-01T00:00:00.000Z', alive: true });
    const r = await http(`${s.api}/switch/green`, { method: 'POST', headers: AUTH, body: '{"version":"2.1.0"}' });
    expect(r.status).toBe(409);
    expect(r.json().error).toMatchObject({ code: 5, kind: 'LockHeldError' });
    expect(r.json().error.message).toMatch(/pid 999/);
    expect(world.nginx.applied).toEqual([]);
    expect(s.audit.entries[0]).toMatchObject({ status: 409, authorized: true, params: { version: '2.1.0' } });
  });

  it('pre-flight failure (target unhealthy) → 422 with code 6', async () => {
    world.prober.setHealth('green', false);
    const r = await http(`${s.api}/switch/green`, { method: 'POST', headers: AUTH, body: '{"version":"2.1.0"}' });
    expect(r.status).toBe(422);
    expect(r.json().error).toMatchObject({ code: 6, kind: 'PreflightError' });
    expect(world.nginx.applied).toEqual([]);
  });

  it('bad input → 400/413/415 with code 2, naming what is wrong', async () => {
    const post = (path: string, body: string | Buffer, headers: Record<string, string> = AUTH) =>
      http(`${s.api}${path}`, { method: 'POST', headers, body });
    const cases: [Promise<Awaited<ReturnType<typeof http>>>, number, RegExp][] = [
      [post('/switch/purple', '{}'), 400, /color: "purple" is not a color/],
      [post('/switch/green', '{"version":"1.0; evil"}'), 400, /version: not a valid version/],
      [post('/switch/green', '{"steps":[50,25,100]}'), 400, /strictly increasing/],
      [post('/switch/green', '{"version":'), 400, /not valid JSON/],
      [
        post('/switch/green', '{"version":"2.1.0"}', { authorization: `Bearer ${TOKEN}`, 'content-type': 'text/plain' }),
        415,
        /must be JSON/,
      ],
      [post('/switch/green', Buffer.alloc(17 * 1024, 0x20)), 413, /larger than 16 KiB/],
    ];
    for (const [pending, status, message] of cases) {
      const r = await pending;
      expect(r.status, r.text).toBe(status);
      expect(r.json().error.code).toBe(2);
      expect(r.json().error.message).toMatch(message);
    }
    expect(world.nginx.applied).toEqual([]);
  });

  it('GET /validate: 200 with the checks, or 422 (code 6) listing the failed ones; GET /history lists migrations', async () => {
    const ok = await http(`${s.api}/validate`);
    expect(ok.status, ok.text).toBe(200);
    expect(ok.json<{ checks: { ok: boolean }[] }>().checks.every((c) => c.ok)).toBe(true);
    world.prober.setHealth('green', false);
    const bad = await http(`${s.api}/validate`);
    expect(bad.status).toBe(422);
    expect(bad.json().error).toMatchObject({ code: 6, kind: 'PreflightError' });
    const checks = bad.json<{ error: { details: { checks: { ok: boolean; check: string }[] } } }>().error.details.checks;
    expect(checks.filter((c) => !c.ok).map((c) => c.check)).toEqual(['green healthy (inactive)']);
    expect((await http(`${s.api}/history?limit=5`)).json()).toEqual({ migrations: [] });
    expect((await http(`${s.api}/history?limit=-1`)).status).toBe(400);
  });

  it('unknown routes 404, wrong methods 405 with Allow', async () => {
    const a = await http(`${s.api}/nope`);
    expect([a.status, a.json().error.kind]).toEqual([404, 'not_found']);
    const b = await http(`${s.api}/status`, { method: 'POST', headers: AUTH });
    expect([b.status, b.headers['allow']]).toEqual([405, 'GET, HEAD']);
    const c = await http(`${s.api}/rollback`);
    expect([c.status, c.headers['allow']]).toEqual([405, 'POST']);
  });

  it('refuses a wrong or missing token with 401 and audits it without ever writing a token', async () => {
    const wrong = await http(`${s.api}/rollback`, { method: 'POST', headers: { authorization: 'Bearer not-the-token-at-all' } });
    expect(wrong.status).toBe(401);
    expect(wrong.headers['www-authenticate']).toMatch(/^Bearer/);
    const none = await http(`${s.api}/switch/green`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    expect(none.status).toBe(401);
    const ok = await http(`${s.api}/rollback`, { method: 'POST', headers: AUTH });
    expect(ok.status, ok.text).toBe(200);
    // refusals are counted, not written one by one: one summary line (at the interval, or on close)
    expect(s.audit.entries.map((e) => [e.action, e.status, e.authorized])).toEqual([['POST /rollback', 200, true]]);
    const metrics = await http(`${s.mon}/metrics`);
    expect(metrics.text).toMatch(/^bgctl_api_refusals_total\{status="401"\} 2$/m);
    await s.handle.close();
    expect(s.audit.entries.map((e) => [e.action, e.status, e.authorized])).toEqual([
      ['POST /rollback', 200, true],
      ['refused calls', 401, false],
    ]);
    expect(s.audit.entries[1]?.params).toMatchObject({ total: 2, byStatus: { '401': 2 }, topSources: { '127.0.0.1': 2 } });
    const all = JSON.stringify(s.audit.entries);
    expect(all).not.toContain(TOKEN);
    expect(all).not.toContain('not-the-token-at-all');
    expect(s.audit.entries.every((e) => e.source === '127.0.0.1' && !Number.isNaN(Date.parse(e.time)))).toBe(true);
  });

  it('rejects a foreign Host header (DNS rebinding) on both ports with 421', async () => {
    for (const url of [`${s.api}/status`, `${s.mon}/metrics`]) {
      const r = await http(url, { headers: { host: 'evil.example:9000' } });
      expect(r.status, url).toBe(421);
      expect(r.json().error.kind).toBe('host_not_allowed');
    }
    expect((await http(`${s.api}/status`, { headers: { host: 'localhost:9000' } })).status).toBe(200);
  });

  it('POST /rollback reverts the latest migration', async () => {
    await http(`${s.api}/switch/green`, { method: 'POST', headers: AUTH, body: '{"version":"2.1.0","steps":[100],"stepSeconds":0}' });
    await settled(s.api);
    const r = await http(`${s.api}/rollback`, { method: 'POST', headers: AUTH });
    expect(r.status, r.text).toBe(200);
    expect(r.json()).toMatchObject({ action: 'reverted', color: 'blue', weights: { blue: 100, green: 0 } });
    expect(world.nginx.current?.weights).toEqual({ blue: 100, green: 0 });
  });
});

describe('control API without a token, and its limits', () => {
  const handles: ServeHandle[] = [];
  afterAll(async () => {
    await Promise.all(handles.map((h) => h.close()));
  });

  it('refuses every mutating call with 403 saying to set BGCTL_API_TOKEN, reads still work', async () => {
    const s = await serve(makeContext(), {}, {});
    handles.push(s.handle);
    const r = await http(`${s.api}/rollback`, { method: 'POST', headers: { authorization: 'Bearer anything-at-all-123' } });
    expect(r.status).toBe(403);
    expect(r.json().error.message).toMatch(/set BGCTL_API_TOKEN/);
    expect((await http(`${s.api}/status`)).status).toBe(200);
    expect(s.audit.entries).toEqual([]);
    await s.handle.close();
    expect(s.audit.entries).toEqual([expect.objectContaining({ action: 'refused calls', status: 403, authorized: false })]);
  });

  it('times out a body that does not arrive (408) and closes the connection', async () => {
    const world = makeContext();
    const audit = new RecordingAudit();
    const options = { ...parseServeOptions({ apiPort: '0', monitorPort: '0' }, { BGCTL_API_TOKEN: TOKEN }), bodyTimeoutMs: 300 };
    const handle = await startServe({ ctx: world.ctx, traffic: world.traffic, host: quietHost, audit, loop: false }, options);
    handles.push(handle);
    const { port } = new URL(handle.apiUrl);
    const answer = await new Promise<string>((resolve, reject) => {
      const sock = connect(Number(port), '127.0.0.1', () => {
        sock.write(
          `POST /switch/green HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"ver`,
        );
      });
      let text = '';
      sock.on('data', (c: Buffer) => (text += c.toString()));
      sock.on('close', () => resolve(text));
      sock.on('error', reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(answer).toMatch(/connection: close/i);
    expect(answer).toMatch(/not received within 0\.3 s/);
    expect(audit.entries).toEqual([expect.objectContaining({ action: 'POST /switch/green', status: 408, authorized: true })]);
  });

  it('answers a burst from one source with 429 and Retry-After', async () => {
    const s = await serve(makeContext(), { rateLimit: '2' });
    handles.push(s.handle);
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await http(`${s.api}/history`)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
    const r = await http(`${s.api}/history`);
    expect(r.headers['retry-after']).toBe('1');
    expect(r.json().error).toMatchObject({ kind: 'rate_limited', code: 2 });
  });
});

describe('shutdown and rollback of a migration this server runs (real time)', () => {
  let world: World;
  let s: Awaited<ReturnType<typeof serve>>;
  beforeEach(async () => {
    world = makeContext({ traffic: new FakeTraffic(() => ({ blue: [300, 0], green: [300, 0] })) });
    s = await serve({ ...world, ctx: { ...world.ctx, clock: systemClock } });
  });
  afterEach(async () => {
    await s.handle.close();
  });

  const startLong = async () => {
    const r = await http(`${s.api}/switch/green`, {
      method: 'POST',
      headers: AUTH,
      body: '{"version":"2.1.0","steps":[50,100],"stepSeconds":60}',
    });
    expect(r.status, r.text).toBe(202);
    for (let i = 0; i < 100 && !(world.nginx.current?.weights.green === 50); i++) await new Promise((x) => setTimeout(x, 20));
    expect(world.nginx.current?.weights).toEqual({ blue: 50, green: 50 });
  };

  it('a second POST /switch while one runs → 409', async () => {
    await startLong();
    const r = await http(`${s.api}/switch/green`, { method: 'POST', headers: AUTH, body: '{"version":"2.1.0"}' });
    expect(r.status).toBe(409);
    expect(r.json().error.message).toMatch(/a migration started over the API is running/);
  });

  it('POST /rollback interrupts it (traffic back on blue) and reports what it stopped', async () => {
    await startLong();
    const r = await http(`${s.api}/rollback`, { method: 'POST', headers: AUTH });
    expect(r.status, r.text).toBe(200);
    expect(r.json()).toMatchObject({ color: 'blue', weights: { blue: 100, green: 0 }, preempted: { command: 'gradual green 2.1.0' } });
    expect(world.nginx.current?.weights).toEqual({ blue: 100, green: 0 });
    const m = (await http(`${s.api}/migration`)).json();
    expect(m.migration).toMatchObject({ status: 'rolled_back' });
    expect(m.job).toMatchObject({ state: 'failed', outcome: 'interrupted', error: { code: 130 } });
  });

  it('close() interrupts it, waits until traffic is back on the stable color, then stops listening', async () => {
    await startLong();
    await s.handle.close();
    expect(world.nginx.current?.weights).toEqual({ blue: 100, green: 0 });
    expect(world.store.state.migration).toMatchObject({ status: 'rolled_back' });
    expect(world.lock.held).toBe(false);
    await expect(http(`${s.api}/status`, { timeoutMs: 2000 })).rejects.toThrow(/ECONNREFUSED/);
  });
});

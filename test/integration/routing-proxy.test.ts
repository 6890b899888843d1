import { chmod, lstat, readFile } from 'node:fs/promises';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stopAllBackends } from '../helpers/backends.js';
import { jsonOf } from '../helpers/cli.js';
import { makeSandbox, type Sandbox } from '../helpers/sandbox.js';

/**
 * A TLS terminator or load balancer on the same host makes every client loopback. Here: a tiny Node
 * HTTP proxy on 127.0.0.1 in front of bgctl's real NGINX (started by the real CLI, no routing.forceSecret
 * configured). Through it, a forced-route header without the secret is ordinary traffic and
 * `/__bgctl/` answers nothing; bgctl itself (status, validate, a migration's probes) still works.
 */

afterAll(stopAllBackends);

/** Forwards every request as is to 127.0.0.1:port, from 127.0.0.1 (so NGINX sees a loopback client). */
async function loopbackProxy(port: number): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const up = httpRequest({ host: '127.0.0.1', port, method: req.method, path: req.url, headers: req.headers, agent: false }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    up.on('error', () => {
      res.writeHead(502);
      res.end();
    });
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function get(
  port: number,
  pathname: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; color: string; body: string }> {
  const res = await request(`http://127.0.0.1:${port}${pathname}`, { headers, reset: true, headersTimeout: 5000, bodyTimeout: 5000 });
  const body = await res.body.text();
  const c = res.headers['x-bgctl-color'];
  return { status: res.statusCode, color: String(Array.isArray(c) ? c[0] : (c ?? '')), body };
}

/** The answers of n requests, one string each: `STATUS COLOR(header) COLOR(body)`. */
async function answers(port: number, pathname: string, headers: Record<string, string>, n = 5): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const a = await get(port, pathname, headers);
    let served = '-';
    try {
      const c = (JSON.parse(a.body) as { color?: unknown }).color;
      served = typeof c === 'string' ? c : '-';
    } catch {
      // not JSON (NGINX's own 403 page)
    }
    out.push(`${a.status} ${a.color || '-'} ${served}`);
  }
  return [...new Set(out)];
}

describe.each(['reload', 'dynamic'] as const)('behind a loopback proxy, %s mode, no routing.forceSecret configured', (mode) => {
  let box: Sandbox;
  let proxy: { port: number; close(): Promise<void> };
  let secret = '';

  beforeAll(async () => {
    box = await makeSandbox(`force-proxy-${mode}`, { overrides: { nginx: { mode } }, noStart: true });
    // NGINX's workers (nobody, when started as root) read the weights file in here in dynamic mode
    await chmod(box.dir, 0o755);
    const r = await box.cli(['start']);
    if (r.exitCode !== 0) throw new Error(`bgctl start failed (${r.exitCode}):\n${r.stdout}\n${r.stderr}`);
    proxy = await loopbackProxy(box.listen);
    // read in the tests that need it: the file's absence is a finding of its own
    secret = (await readFile(path.join(box.dir, 'state', 'force-secret'), 'utf8').catch(() => '')).trim();
  }, 120_000);

  afterAll(async () => {
    await proxy?.close();
    await box?.close();
  });

  it('bgctl made its own secret: a regular file in stateDir, 0600; the site config holding it is 0600', async () => {
    const file = await lstat(path.join(box.dir, 'state', 'force-secret'));
    expect(file.isFile()).toBe(true);
    expect(file.mode & 0o777).toBe(0o600);
    expect(secret).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const site = path.join(box.dir, 'nginx', 'conf.d', 'bgctl.conf');
    expect((await lstat(site)).mode & 0o777).toBe(0o600);
    expect(await readFile(site, 'utf8')).toContain(secret);
  });

  it('X-Bgctl-Color: green without the secret reaches the weighted route: green at 0% is never reached', async () => {
    expect(await answers(proxy.port, '/', { 'x-bgctl-color': 'green' })).toEqual(['200 blue blue']);
    // straight from loopback, too: loopback alone is never enough
    expect(await answers(box.listen, '/', { 'x-bgctl-color': 'green' })).toEqual(['200 blue blue']);
    // with bgctl's secret it is a forced route (bgctl's own probes use exactly this)
    expect(await answers(proxy.port, '/', { 'x-bgctl-color': `green:${secret}` })).toEqual(['200 green green']);
  });

  it('/__bgctl/status and /__bgctl/health/* are refused without the secret', async () => {
    for (const where of ['/__bgctl/status', '/__bgctl/health/green', '/__bgctl/health/blue']) {
      for (const port of [proxy.port, box.listen]) {
        const a = await get(port, where);
        expect([403, 404], `${where} via ${port === proxy.port ? 'the proxy' : 'loopback'}`).toContain(a.status);
        expect(a.body).not.toContain('revision');
        expect(a.body).not.toContain('version');
      }
      const wrong = await get(box.listen, where, { 'x-bgctl-secret': `${secret}x` });
      expect(wrong.status).toBe(403);
    }
    // bgctl's own read of its status location, with the secret
    const own = await get(box.listen, '/__bgctl/status', { 'x-bgctl-secret': secret });
    expect(own.status).toBe(200);
    expect(JSON.parse(own.body)).toMatchObject({ blue: 100, green: 0 });
  });

  it("bgctl's own callers send the secret: status confirms what NGINX serves, a migration probes through NGINX and completes", async () => {
    const s = jsonOf<{ drift: string | null; nginx: { live: { revision: number } | null } }>(await box.cli(['status', '--json']));
    expect(s.nginx.live).not.toBeNull();
    expect(s.drift).toBeNull();
    const r = await box.cli(['gradual', 'green', '2.1.0', '--steps', '100', '--step-seconds', '1']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(await answers(proxy.port, '/', {})).toEqual(['200 green green']);
    // printed configs never show the secret
    const printed = await box.cli(['render']);
    expect(printed.exitCode, printed.stderr).toBe(0);
    expect(printed.stdout).toContain('<routing.forceSecret>');
    expect(printed.stdout + printed.stderr + r.stdout + r.stderr).not.toContain(secret);
  });
});

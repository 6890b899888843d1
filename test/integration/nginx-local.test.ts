import http from 'node:http';
import net from 'node:net';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalNginxDriver } from '../../src/adapters/nginx/local.js';
import { isPidAlive, listWorkers, readMasterPid } from '../../src/adapters/nginx/workers.js';
import type { ApplyReport, RenderedConfig } from '../../src/app/ports.js';
import { ApplyError } from '../../src/core/errors.js';

// Real NGINX on free loopback ports, a real node:http backend. Never mocked.

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((ok) => srv.listen(0, '127.0.0.1', ok));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((ok) => srv.close(() => ok()));
  return port;
}

/** Minimal config honouring DESIGN-NOTES: pid/log paths under the prefix, revision marker, proxied location. */
function config(revision: number, ports: { listen: number; backend: number }, extraSite = ''): RenderedConfig {
  const main = `worker_processes 2;
pid logs/nginx.pid;
error_log logs/error.log;
events { worker_connections 512; }
http {
  client_body_temp_path temp/client_body;
  proxy_temp_path temp/proxy;
  fastcgi_temp_path temp/fastcgi;
  uwsgi_temp_path temp/uwsgi;
  scgi_temp_path temp/scgi;
  include conf.d/bgctl.conf;
}
`;
  const site = `log_format bgctl_json escape=json '{"time":"$time_iso8601","status":$status,"color":"blue","uri":"$uri"}';
upstream bgctl_blue { server 127.0.0.1:${ports.backend}; keepalive 8; keepalive_timeout 4s; }
server {
  listen 127.0.0.1:${ports.listen};
  access_log logs/access.json.log bgctl_json;
  location = /__bgctl/status {
    allow 127.0.0.1; deny all; access_log off;
    default_type application/json;
    return 200 '{"revision":${revision},"blue":100,"green":0,"strategy":"weighted","stable":"blue"}';
  }
  location / {
    proxy_pass http://bgctl_blue;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    add_header X-Bgctl-Color blue always;
    add_header X-Test-Revision ${revision} always;
  }
}
${extraSite}`;
  return { main, site, revision, weights: { blue: 100, green: 0 } };
}

/** One GET on a fresh connection (agent: false), the way a new client arrives. */
function get(port: number, path = '/'): Promise<{ status: number; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, timeout: 2000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

describe('LocalNginxDriver (real nginx)', () => {
  let dir: string;
  let ports: { listen: number; backend: number };
  let backend: http.Server;
  let driver: LocalNginxDriver;
  const held: net.Server[] = [];
  const live = async () => (await driver.live())?.revision;
  const liveFiles = async () => [await readFile(join(dir, 'nginx.conf'), 'utf8'), await readFile(join(dir, 'conf.d/bgctl.conf'), 'utf8')];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bgctl-nginx-'));
    backend = http.createServer((_req, res) => res.end('hello from blue'));
    await new Promise<void>((ok) => backend.listen(0, '127.0.0.1', ok));
    ports = { listen: await freePort(), backend: (backend.address() as net.AddressInfo).port };
    driver = new LocalNginxDriver({
      dir,
      binary: '/usr/sbin/nginx',
      listenHost: '127.0.0.1',
      listenPort: ports.listen,
      confirmTimeoutMs: 10_000,
    });
  });

  afterAll(async () => {
    const master = await readMasterPid(join(dir, 'logs/nginx.pid'));
    await driver.stop();
    if (master !== null && isPidAlive(master)) process.kill(master, 'SIGKILL'); // belt and braces
    for (const s of held) s.close();
    backend.closeAllConnections();
    await new Promise<void>((ok) => backend.close(() => ok()));
    await rm(dir, { recursive: true, force: true });
  });

  it('start: serves revision 1', async () => {
    expect(await driver.isRunning()).toBe(false);
    await driver.start(config(1, ports));
    expect(await driver.isRunning()).toBe(true);
    expect(await driver.live()).toEqual({ revision: 1, weights: { blue: 100, green: 0 }, strategy: 'weighted', stable: 'blue' });
    const res = await get(ports.listen);
    expect(res.status).toBe(200);
    expect(res.headers['x-bgctl-color']).toBe('blue');
  });

  it('test(): checks a config without changing anything live', async () => {
    const before = await liveFiles();
    expect(await driver.test(config(9, ports))).toMatch(/test is successful/);
    expect(await liveFiles()).toEqual(before);
  });

  it('apply: revision 2 is served on fresh connections', async () => {
    const report = await driver.apply(config(2, ports));
    console.log('apply report', JSON.stringify(report));
    expect(report.revision).toBe(2);
    expect(Object.keys(report.stages)).toEqual(expect.arrayContaining(['test', 'swap', 'reload', 'confirm']));
    expect(await live()).toBe(2);
    const res = await get(ports.listen);
    expect([res.status, res.headers['x-test-revision']]).toEqual([200, '2']);
  });

  it('a config failing nginx -t is refused at stage test; nothing live changes', async () => {
    const before = await liveFiles();
    const error = await driver.apply(config(3, ports, 'bogus_directive on;\n')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApplyError);
    expect((error as ApplyError).stage).toBe('test');
    expect((error as ApplyError).message).toMatch(/unknown directive "bogus_directive"/);
    expect(await liveFiles()).toEqual(before);
    expect(await live()).toBe(2);
  });

  it('a config passing nginx -t but failing on reload (port taken) is rolled back', async () => {
    const taken = net.createServer();
    held.push(taken);
    await new Promise<void>((ok) => taken.listen(0, '127.0.0.1', ok));
    const takenPort = (taken.address() as net.AddressInfo).port;
    const before = await liveFiles();
    const t0 = performance.now();
    const bad = config(4, ports, `server { listen 127.0.0.1:${takenPort}; return 204; }\n`);
    const error = await driver.apply(bad).catch((e: unknown) => e);
    const ms = Math.round(performance.now() - t0);
    expect(error).toBeInstanceOf(ApplyError);
    const applyError = error as ApplyError;
    console.log('failed apply + restore', ms, 'ms;', applyError.message, JSON.stringify(applyError.details));
    expect(applyError.stage).toBe('reload');
    expect(applyError.message).toMatch(/bind\(\) to 127\.0\.0\.1:\d+ failed/);
    expect(applyError.details?.restoredRevision).toBe(2);
    expect(await liveFiles()).toEqual(before);
    for (let i = 0; i < 5; i++) expect(await live()).toBe(2);
    expect((await get(ports.listen)).status).toBe(200);
  });

  it('start fails cleanly when its listen port is taken: no master left, ApplyError', async () => {
    const taken = held[0]?.address() as net.AddressInfo;
    const other = new LocalNginxDriver({
      dir: await mkdtemp(join(tmpdir(), 'bgctl-nginx-')),
      binary: '/usr/sbin/nginx',
      listenPort: taken.port,
    });
    const error = await other.start(config(1, { listen: taken.port, backend: ports.backend })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApplyError);
    expect((error as ApplyError).message).toMatch(/Address already in use/);
    expect(await other.isRunning()).toBe(false);
    await rm(other.layout.dir, { recursive: true, force: true });
  });

  it('nothing is down while 3 applies happen under continuous requests', async () => {
    const deadline = Date.now() + 30_000; // hard bound on the load loop
    let stop = false;
    const tally = { ok: 0, failed: 0, errors: [] as string[], revisions: new Set<string>() };
    const loop = async () => {
      while (!stop && Date.now() < deadline) {
        try {
          const res = await get(ports.listen);
          if (res.status === 200) {
            tally.ok++;
          } else {
            tally.failed++;
            tally.errors.push(`status ${res.status}`);
          }
          tally.revisions.add(String(res.headers['x-test-revision']));
        } catch (e) {
          tally.failed++;
          tally.errors.push((e as Error).message);
        }
      }
    };
    const loops = [loop(), loop(), loop()];
    await new Promise((r) => setTimeout(r, 200));
    const reports: ApplyReport[] = [];
    for (const rev of [5, 6, 7]) reports.push(await driver.apply(config(rev, ports)));
    await new Promise((r) => setTimeout(r, 200));
    stop = true;
    await Promise.all(loops);
    console.log(
      'load during 3 applies',
      JSON.stringify({
        ok: tally.ok,
        failed: tally.failed,
        errors: tally.errors.slice(0, 5),
        revisions: [...tally.revisions],
        applyMs: reports.map((r) => r.ms),
      }),
    );
    expect(tally.ok).toBeGreaterThan(50);
    expect(tally.failed).toBe(0);
    expect(await live()).toBe(7);
  });

  it('start while running applies instead', async () => {
    await driver.start(config(8, ports));
    expect(await live()).toBe(8);
  });

  it('stop: no nginx process is left for the prefix', async () => {
    const master = await readMasterPid(join(dir, 'logs/nginx.pid'));
    expect(master).not.toBeNull();
    const workers = await listWorkers(master ?? 0);
    expect(workers.length).toBeGreaterThan(0);
    await driver.stop();
    expect(await driver.isRunning()).toBe(false);
    expect(isPidAlive(master ?? 0)).toBe(false);
    for (const w of workers) expect(isPidAlive(w.pid)).toBe(false);
    expect(await driver.live()).toBeNull();
    await driver.stop(); // not running: no error
  });
});

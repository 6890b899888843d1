import { createServer, type Server } from 'node:http';
import { symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { Agent, request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BROKEN_AFTER, SLOW_MS, formatDemoPorts, parseDemoPorts, startDemoBackend, type DemoBackend } from '../../src/demo/backend.js';
import { startTraffic, type TrafficGenerator } from '../../src/demo/traffic.js';
import { startBackendProcess, stopAllBackends } from '../helpers/backends.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { freePorts } from '../helpers/ports.js';
import { cleanupTmpDirs, makeTmpDir } from '../helpers/tmp.js';

const backends: DemoBackend[] = [];
const traffic: TrafficGenerator[] = [];
async function backend(color: 'blue' | 'green', version: string, latencyMs = 0): Promise<DemoBackend> {
  const b = await startDemoBackend({ color, version, latencyMs });
  backends.push(b);
  return b;
}
afterEach(async () => {
  await Promise.all(traffic.splice(0).map((t) => t.stop()));
  await Promise.all(backends.splice(0).map((b) => b.close()));
});
afterAll(async () => {
  await stopAllBackends();
  await cleanupTmpDirs();
});

async function get(url: string, method = 'GET'): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await request(url, { method, reset: true });
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
}

describe('startDemoBackend', () => {
  it('answers health and ordinary requests with its color and version', async () => {
    const b = await backend('blue', '1.0.0', 2);
    expect(b.url).toBe(`http://127.0.0.1:${b.port}`);
    expect(await get(`${b.url}/health`)).toEqual({ status: 200, body: { status: 'ok', color: 'blue', version: '1.0.0' } });
    expect(await get(`${b.url}/some/page?x=1`)).toEqual({ status: 200, body: { color: 'blue', version: '1.0.0', path: '/some/page' } });
  });

  it(`models a broken release: fine for ${BROKEN_AFTER} requests, then 500 everywhere, health too`, async () => {
    const b = await backend('green', '2.0.0-broken');
    for (let i = 0; i < BROKEN_AFTER; i++) {
      expect((await get(`${b.url}/health`)).status).toBe(200); // health does not count
      expect((await get(`${b.url}/`)).status).toBe(200);
    }
    expect(await get(`${b.url}/`)).toMatchObject({ status: 500, body: { color: 'green', version: '2.0.0-broken' } });
    expect((await get(`${b.url}/health`)).status).toBe(500);
  });

  it(`models a flaky release: after ${BROKEN_AFTER} requests every other request fails, health stays fine`, async () => {
    const b = await backend('green', '2.0.0-flaky');
    const statuses: number[] = [];
    for (let i = 0; i < BROKEN_AFTER + 10; i++) statuses.push((await get(`${b.url}/x`)).status);
    expect(statuses.slice(0, BROKEN_AFTER).every((s) => s === 200)).toBe(true);
    expect(statuses.slice(BROKEN_AFTER).filter((s) => s === 500)).toHaveLength(5);
    expect((await get(`${b.url}/health`)).status).toBe(200);
  });

  it(`models a slow release: after ${BROKEN_AFTER} requests answers take ${SLOW_MS} ms longer, health stays fast`, async () => {
    const b = await backend('green', '2.0.0-slow');
    for (let i = 0; i < BROKEN_AFTER; i++) await get(`${b.url}/x`);
    let t = Date.now();
    expect((await get(`${b.url}/x`)).status).toBe(200);
    expect(Date.now() - t).toBeGreaterThanOrEqual(SLOW_MS - 50);
    t = Date.now();
    expect((await get(`${b.url}/health`)).status).toBe(200);
    expect(Date.now() - t).toBeLessThan(SLOW_MS);
  });

  it('changes version through POST /__demo/deploy, resetting the broken counter', async () => {
    const b = await backend('green', '2.0.0-broken');
    for (let i = 0; i <= BROKEN_AFTER; i++) await get(`${b.url}/`);
    expect((await get(`${b.url}/health`)).status).toBe(500);
    expect(await get(`${b.url}/__demo/deploy?version=2.0.1`, 'POST')).toEqual({
      status: 200,
      body: { color: 'green', version: '2.0.1', previous: '2.0.0-broken' },
    });
    expect(await get(`${b.url}/health`)).toEqual({ status: 200, body: { status: 'ok', color: 'green', version: '2.0.1' } });
    expect((await get(`${b.url}/__demo/deploy?version=${encodeURIComponent('1; rm -rf /')}`, 'POST')).status).toBe(400);
    expect((await get(`${b.url}/__demo/deploy?version=3.0.0`)).status).toBe(405);
    expect(b.version).toBe('2.0.1');
  });

  it('refuses a bad color or version', async () => {
    await expect(startDemoBackend({ color: 'red', version: '1.0.0' })).rejects.toThrow(/not a color/);
    await expect(startDemoBackend({ color: 'blue', version: '1.0 beta' })).rejects.toThrow(/not a valid version/);
  });

  it('closes at once even with idle keep-alive connections', async () => {
    const b = await startDemoBackend({ color: 'blue', version: '1.0.0' });
    const agent = new Agent({ keepAliveTimeout: 30_000 });
    const res = await request(`${b.url}/`, { dispatcher: agent });
    await res.body.dump();
    const started = Date.now();
    await b.close();
    expect(Date.now() - started).toBeLessThan(1000);
    await agent.destroy();
  });

  it('formats and parses BGCTL_DEMO_PORTS', () => {
    expect(formatDemoPorts({ blue: 8081, green: 8082 })).toBe('blue=8081,green=8082');
    expect(parseDemoPorts('blue=8081, green=8082')).toEqual({ blue: 8081, green: 8082 });
    expect(() => parseDemoPorts('red=1')).toThrow(/not color=port/);
  });
});

describe('startTraffic', () => {
  // Stands in for NGINX: alternates colors in X-Bgctl-Color, every 5th answer a 500 from green.
  let front: Server;
  let frontUrl: string;
  let n = 0;
  beforeAll(async () => {
    front = createServer((_req, res) => {
      n++;
      const color = n % 2 === 0 ? 'green' : 'blue';
      res.writeHead(color === 'green' && n % 10 === 0 ? 500 : 200, { 'x-bgctl-color': color });
      res.end('ok');
    });
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
    const address = front.address();
    frontUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/`;
  });
  afterAll(async () => {
    front.closeAllConnections();
    await new Promise((resolve) => front.close(resolve));
  });

  it.each([true, false])('counts answers by color and failures (keepAlive %s)', async (keepAlive) => {
    const t = startTraffic({ url: frontUrl, connections: 3, keepAlive, pauseMs: 1 });
    traffic.push(t);
    await new Promise((resolve) => setTimeout(resolve, 400));
    const s = await t.stop();
    expect(s.total).toBeGreaterThan(20);
    expect(s.total).toBe(s.ok + s.failed);
    expect(s.byColor.blue + s.byColor.green + s.byColor.other).toBe(s.total);
    expect(s.byColor.blue).toBeGreaterThan(0);
    expect(s.byColor.green).toBeGreaterThan(0);
    expect(s.failed).toBeGreaterThan(0);
    expect(s.failedByColor.green).toBe(s.failed);
    expect(s.errors[0]).toBe('500 from green');
    expect(s.errors.length).toBeLessThanOrEqual(10);
    expect(t.stats()).toEqual(s); // nothing counted after stop
  });

  it('resets its counters', async () => {
    const t = startTraffic({ url: frontUrl, connections: 1 });
    traffic.push(t);
    await new Promise((resolve) => setTimeout(resolve, 150));
    t.reset();
    expect(t.stats().total).toBeLessThanOrEqual(1);
    await t.stop();
  });

  it('counts refused connections as failed and stops by itself after maxSeconds', async () => {
    const [port] = await freePorts(1);
    const t = startTraffic({ url: `http://127.0.0.1:${port}/`, connections: 2, maxSeconds: 0.3 });
    traffic.push(t);
    const s = await t.done;
    expect(s.failed).toBeGreaterThan(0);
    expect(s.ok).toBe(0);
    expect(s.failedByColor.other).toBe(s.failed);
    expect(s.errors[0]).toMatch(/ECONNREFUSED/);
  });
});

/**
 * The process entry points (backend-main, deploy-hook) run as real child processes. They are
 * compiled here on their own (with tsc, only their import closure, into a temp folder) rather than
 * through `npm run build`, so this test depends neither on a fresh dist/ nor on the rest of src/
 * compiling. node_modules is linked in for undici; package.json makes the output ESM.
 */
describe('process entry points', () => {
  let out = '';
  beforeAll(async () => {
    out = await makeTmpDir('demo-build');
    const tsc = path.join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const flags = ['--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--strict', '--skipLibCheck'];
    const files = ['src/demo/backend-main.ts', 'src/demo/deploy-hook.ts'];
    await execa(process.execPath, [tsc, ...flags, '--types', 'node', '--rootDir', 'src', '--outDir', out, ...files], { cwd: REPO_ROOT });
    await writeFile(path.join(out, 'package.json'), '{"type":"module"}\n');
    await symlink(path.join(REPO_ROOT, 'node_modules'), path.join(out, 'node_modules'), 'dir');
  }, 120_000);

  it('backend-main prints its listening line, serves, and exits 0 on SIGTERM', async () => {
    const child = execa(
      process.execPath,
      [path.join(out, 'demo', 'backend-main.js'), '--color', 'blue', '--version', '1.0.0', '--port', '0'],
      {
        reject: false,
      },
    );
    const line = await new Promise<string>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(d.toString())));
    const m = /^listening http:\/\/127\.0\.0\.1:(\d+) color=blue version=1\.0\.0\n$/.exec(line);
    expect(m, line).not.toBeNull();
    expect((await get(`http://127.0.0.1:${m?.[1]}/health`)).body).toEqual({ status: 'ok', color: 'blue', version: '1.0.0' });
    child.kill('SIGTERM');
    const result = await child;
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe(line.trimEnd());
  });

  it('backend-main refuses bad arguments with exit 2', async () => {
    const result = await execa(process.execPath, [path.join(out, 'demo', 'backend-main.js'), '--color', 'red', '--version', '1'], {
      reject: false,
    });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/not a color/);
  });

  it('startBackendProcess runs it as a child that kill -9 ends', async () => {
    const b = await startBackendProcess({ color: 'green', version: '1.2.3', script: path.join(out, 'demo', 'backend-main.js') });
    expect((await get(`${b.url}/health`)).body).toMatchObject({ color: 'green', version: '1.2.3' });
    b.kill('SIGKILL');
    await expect(b.stop()).resolves.toBeUndefined();
    await expect(get(`${b.url}/health`)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('deploy-hook sets the version of the named color through BGCTL_DEMO_PORTS', async () => {
    const blue = await backend('blue', '1.0.0');
    const green = await backend('green', '1.0.0');
    const hook = path.join(out, 'demo', 'deploy-hook.js');
    const env = { BGCTL_DEMO_PORTS: formatDemoPorts({ blue: blue.port, green: green.port }) };
    const ok = await execa(process.execPath, [hook, 'green', '2.0.0'], { env, reject: false });
    expect(ok.exitCode).toBe(0);
    expect(green.version).toBe('2.0.0');
    expect(blue.version).toBe('1.0.0');

    const bad = await execa(process.execPath, [hook, 'green', '2.0.0;x'], { env, reject: false });
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toMatch(/not a valid version/);
    const missing = await execa(process.execPath, [hook, 'blue', '2.0.0'], {
      env: { BGCTL_DEMO_PORTS: `green=${green.port}` },
      reject: false,
    });
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toMatch(/no port for blue/);
    const [deadPort] = await freePorts(1);
    const down = await execa(process.execPath, [hook, 'blue', '2.0.0'], { env: { BGCTL_DEMO_PORTS: `blue=${deadPort}` }, reject: false });
    expect(down.exitCode).toBe(1);
    expect(down.stderr).toMatch(/ECONNREFUSED/);
  });
});

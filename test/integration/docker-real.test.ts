import { chmod, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { request } from 'undici';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTraffic, type TrafficStats } from '../../src/demo/traffic.js';
import { startBackendProcess, type BackendProcess } from '../helpers/backends.js';
import { jsonOf, runCli, spawnCli, waitForOutput, type CliResult } from '../helpers/cli.js';
import { docker, NGINX_IMAGES, projectLeftovers, removeProject, requireEngine } from '../helpers/docker-real.js';
import { writeConfig } from '../helpers/fixture.js';
import { freePorts } from '../helpers/ports.js';
import { makeTmpDir } from '../helpers/tmp.js';

// a loaded machine makes containers slow to start and stop: generous, never a speed assertion
const TEST_TIMEOUT_MS = 180_000;

/**
 * `nginx.driver: docker` against the real Docker engine, on both NGINX generations scripts/docker-setup.sh
 * builds from Debian packages (1.22 + njs 0.7.9, 1.26 + njs 0.8.9), in dynamic mode (nginx/njs/bgctl.js
 * unchanged on both njs versions). NGINX runs in a container brought up by `bgctl start` through
 * `docker compose`, on the host network so it reaches the demo backends on 127.0.0.1, on the folder
 * bgctl owns bind-mounted. The exact docker argv is the shim tests' business (docker-driver.test.ts).
 */
const CD = '/etc/nginx/bgctl';
const MODULE = '/usr/lib/nginx/modules/ngx_http_js_module.so';

interface StatusJson {
  stable: string;
  weights: { blue: number; green: number };
  drift: string | null;
  mode: { live: string };
  migration: unknown;
  targets: { running: boolean; problem: string | null }[];
}

const summary = (s: TrafficStats): string => `${s.total} requests, ${s.failed} failed ${JSON.stringify(s.errors)}`;

describe.each(NGINX_IMAGES)('docker driver on a real engine: NGINX $nginx, njs $njs (Debian $debian)', (gen) => {
  const tag = gen.nginx.replace('.', '');
  const project = `bgctl-real-${tag}-${process.pid}`;
  const container = `${project}-nginx`;
  let dir: string;
  let listen: number;
  let composeFile: string;
  const backends: BackendProcess[] = [];
  const cli = (args: readonly string[]): Promise<CliResult> => runCli(args, { cwd: dir, timeoutMs: 180_000 });
  const status = async (): Promise<StatusJson> => jsonOf<StatusJson>(await cli(['status', '--json']));
  const stateFile = (): Promise<string> => readFile(path.join(dir, 'state', 'state.json'), 'utf8');
  const colors = async (n: number): Promise<string[]> => {
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      const res = await request(`http://127.0.0.1:${listen}/`, { reset: true, headersTimeout: 5000, bodyTimeout: 5000 });
      await res.body.dump();
      out.push(`${res.statusCode} ${String(res.headers['x-bgctl-color'])}`);
    }
    return out;
  };
  const keepAliveLoad = () =>
    startTraffic({ url: `http://127.0.0.1:${listen}/`, connections: 4, keepAlive: true, maxSeconds: 150, pauseMs: 2 });
  const inContainer = (argv: readonly string[]) => docker(['exec', container, ...argv]);
  /** NGINX's own answer on /__bgctl/status (loopback and the secret) */
  const nginxStatus = async (): Promise<Record<string, unknown>> => {
    const secret = (await readFile(path.join(dir, 'state', 'force-secret'), 'utf8')).trim();
    const res = await request(`http://127.0.0.1:${listen}/__bgctl/status`, { reset: true, headers: { 'x-bgctl-secret': secret } });
    return (await res.body.json()) as Record<string, unknown>;
  };

  beforeAll(async () => {
    await requireEngine([gen.image]); // no engine: fail loudly, never skip
    dir = await makeTmpDir(`docker-real-${tag}`);
    await chmod(dir, 0o755); // the container's workers (nobody) read the weights file in the bind mount
    [listen = 0] = await freePorts(1);
    backends.push(await startBackendProcess({ color: 'blue', version: '1.0.0' }));
    backends.push(await startBackendProcess({ color: 'green', version: '2.1.0' }));
    const [blue, green] = backends;
    composeFile = path.join(dir, 'docker-compose.yml');
    const service = {
      image: gen.image,
      container_name: container,
      network_mode: 'host', // reaches the backends on 127.0.0.1; listens on the host's loopback port
      command: ['nginx', '-p', CD, '-c', `${CD}/nginx.conf`, '-e', `${CD}/logs/error.log`, '-g', 'daemon off;'],
      volumes: [`./nginx:${CD}`],
      stop_grace_period: '2s',
    };
    await writeFile(composeFile, stringify({ name: project, services: { nginx: service } }));
    await writeConfig(dir, {
      blue: blue?.port ?? 0,
      green: green?.port ?? 0,
      listen,
      overrides: {
        nginx: {
          driver: 'docker',
          dir: 'nginx',
          container,
          containerDir: CD,
          composeFile: 'docker-compose.yml',
          binary: null,
          mode: 'dynamic',
          confirmTimeoutMs: 30_000,
        },
        thresholds: { minRequests: 5 },
        // a step no request reaches (NGINX killed) is given up quickly
        migration: { maxExtendSeconds: 1 },
      },
    });
  }, TEST_TIMEOUT_MS);

  afterAll(async () => {
    if (composeFile) await removeProject(composeFile, project);
    await Promise.all(backends.map((b) => b.stop()));
    expect(await projectLeftovers(project)).toEqual([]);
  }, TEST_TIMEOUT_MS);

  it(
    'start: brings the container up through docker compose, in dynamic mode, on the expected NGINX and njs',
    async () => {
      const r = await cli(['start']);
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toMatch(/apply mode: dynamic/);
      const inspect = await docker(['inspect', '--format', '{{.Config.Image}} {{.State.Running}}', container]);
      expect(inspect.stdout.trim()).toBe(`${gen.image} true`);
      expect((await inContainer(['nginx', '-v'])).stderr).toContain(`nginx/${gen.nginx}.`);
      // the njs module the container loads carries its version string
      expect((await inContainer(['grep', '-c', '-a', '-F', gen.njs, MODULE])).exitCode).toBe(0);
      expect(await colors(6)).toEqual(Array(6).fill('200 blue'));
      const s = await status();
      expect(s).toMatchObject({ stable: 'blue', weights: { blue: 100, green: 0 }, drift: null, mode: { live: 'dynamic' } });
      // njs 0.8+: the workers share the weights in memory; njs 0.7: every request reads the file
      const site = await readFile(path.join(dir, 'nginx', 'conf.d', 'bgctl.conf'), 'utf8');
      expect(site.includes('js_shared_dict_zone zone=bgctl_weights'), site).toBe(gen.sharedDict);
      expect(r.stdout).toContain(gen.sharedDict ? 'share in memory' : 'reads the weights file per request');
      expect(await nginxStatus()).toMatchObject({ revision: expect.any(Number), source: 'file', shared: gen.sharedDict });
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'the weights file stays the source of truth: a document written by hand is served within about a second, without bgctl',
    async () => {
      const file = path.join(dir, 'nginx', 'conf.d', 'bgctl-weights.json');
      const before = await readFile(file, 'utf8');
      const doc = JSON.parse(before) as Record<string, unknown>;
      const flip = { revision: Number(doc['revision']) + 1000, blue: 0, green: 100, growing: 'green', stable: 'green', fallback: 'green' };
      // nginx.fallback: the idle color (now blue) backs up the live one
      const green = { ...doc, ...flip, ...(doc['backup'] === undefined ? {} : { backup: 'blue' }) };
      // a rename, like bgctl's own writes: NGINX never sees half a file
      // readable by the workers (nobody), like bgctl's own
      await writeFile(`${file}.hand`, JSON.stringify(green), { mode: 0o644 });
      await rename(`${file}.hand`, file);
      try {
        // njs 0.8+: the shared copy expires within 1 s and the next request reads the file again
        await expect.poll(() => colors(4), { timeout: 5_000, interval: 100 }).toEqual(Array(4).fill('200 green'));
      } finally {
        await writeFile(`${file}.hand`, before, { mode: 0o644 });
        await rename(`${file}.hand`, file);
      }
      // a status request reads the file at once and refreshes the shared copy
      expect(await nginxStatus()).toMatchObject({ revision: doc['revision'], blue: 100, green: 0, source: 'file' });
      expect(await colors(6)).toEqual(Array(6).fill('200 blue'));
      expect(await status()).toMatchObject({ stable: 'blue', weights: { blue: 100, green: 0 }, drift: null });
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'gradual under keep-alive load: every step is a weights write, 0 failed requests',
    async () => {
      const traffic = keepAliveLoad();
      const r = await cli(['gradual', 'green', '2.1.0', '--steps', '25,50,75,100', '--step-seconds', '2']);
      const stats = await traffic.stop();
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
      expect(stats.failed, summary(stats)).toBe(0);
      expect(stats.byColor.blue).toBeGreaterThan(0);
      expect(stats.byColor.green).toBeGreaterThan(0);
      console.log(`[figures] NGINX ${gen.nginx}/njs ${gen.njs} gradual: ${summary(stats)}`);
      expect(await status()).toMatchObject({ stable: 'green', weights: { blue: 0, green: 100 }, drift: null });
      expect(await colors(6)).toEqual(Array(6).fill('200 green'));
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'rollback: blue has all traffic again, under keep-alive load, 0 failed requests',
    async () => {
      const traffic = keepAliveLoad();
      await expect.poll(() => traffic.stats().total, { timeout: 10_000 }).toBeGreaterThan(20);
      const r = await cli(['rollback']);
      await expect.poll(() => traffic.stats().total, { timeout: 10_000 }).toBeGreaterThan(0);
      const stats = await traffic.stop();
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toMatch(/rolled back: blue has 100% of traffic/);
      expect(stats.failed, summary(stats)).toBe(0);
      console.log(`[figures] NGINX ${gen.nginx}/njs ${gen.njs} rollback: ${r.durationMs} ms wall (${r.stdout.trim()}); ${summary(stats)}`);
      expect(await colors(6)).toEqual(Array(6).fill('200 blue'));
      expect(await status()).toMatchObject({ stable: 'blue', weights: { blue: 100, green: 0 }, drift: null });
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'nginx -t failing inside the container: exit 6, nothing changes, traffic stays on blue',
    async () => {
      // a broken module in the image: the running master keeps the one it loaded (moved, not overwritten)
      expect((await inContainer(['mv', MODULE, `${MODULE}.good`])).exitCode).toBe(0);
      try {
        expect((await inContainer(['sh', '-c', `echo 'not a module' > ${MODULE}`])).exitCode).toBe(0);
        const state = await stateFile();
        const r = await cli(['gradual', 'green', '2.1.0', '--steps', '50,100', '--step-seconds', '1']);
        expect(r.exitCode, r.stdout + r.stderr).toBe(6);
        expect(r.stderr).toMatch(/nginx -t/);
        expect(r.stderr).toContain('ngx_http_js_module.so');
        expect(await stateFile()).toBe(state);
        expect(await colors(6)).toEqual(Array(6).fill('200 blue'));
      } finally {
        await inContainer(['mv', `${MODULE}.good`, MODULE]);
      }
      expect(await status()).toMatchObject({ stable: 'blue', weights: { blue: 100, green: 0 }, drift: null });
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'a stopped container: exit 6 naming it, state.json byte-identical; start brings it back',
    async () => {
      expect((await docker(['stop', '--time', '2', container])).exitCode).toBe(0);
      const state = await stateFile();
      const r = await cli(['gradual', 'green', '2.1.0', '--steps', '50,100', '--step-seconds', '1']);
      expect(r.exitCode, r.stdout + r.stderr).toBe(6);
      // bgctl's warning names the container; the engine's reason names its id
      expect(r.stderr).toMatch(new RegExp(`container=${container} error=".*is not running`));
      expect(await stateFile()).toBe(state);
      const s = await status();
      expect(s.targets[0]).toMatchObject({ running: false });
      const started = await cli(['start']);
      expect(started.exitCode, started.stdout + started.stderr).toBe(0);
      expect(await colors(6)).toEqual(Array(6).fill('200 blue'));
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'the container killed mid-migration: noticed at the next probe, NGINX started again on the stable color, exit 3',
    async () => {
      const run = spawnCli(['gradual', 'green', '2.1.0', '--steps', '25,50,75,100', '--step-seconds', '2'], {
        cwd: dir,
        timeoutMs: 180_000,
      });
      await waitForOutput(run, /step 1\s+observe/, 60_000);
      expect((await docker(['kill', container])).exitCode).toBe(0);
      const r = await run;
      const out = `${String(r.stdout)}${String(r.stderr)}`;
      // the rollback brings the container back (compose) on blue: the site is not left dark
      expect(r.exitCode, out).toBe(3);
      expect(out).toMatch(/NGINX stopped running/);
      expect(out).toMatch(/traffic is back on blue \(100%\)/);
      expect(await colors(6)).toEqual(Array(6).fill('200 blue'));
      expect(await status()).toMatchObject({ stable: 'blue', weights: { blue: 100, green: 0 }, drift: null });
      const rb = await cli(['rollback']);
      expect(rb.exitCode, rb.stdout + rb.stderr).toBe(0);
      expect(await colors(6)).toEqual(Array(6).fill('200 blue'));
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'stop: docker compose down leaves no container or network of the project',
    async () => {
      const r = await cli(['stop']);
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
      expect(await projectLeftovers(project)).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );
});

import { chmod, copyFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTraffic } from '../../src/demo/traffic.js';
import { REPO_ROOT, jsonOf, runCli, type CliResult } from '../helpers/cli.js';
import { buildOfflineBgctlImage, docker, projectLeftovers, removeProject, requireEngine } from '../helpers/docker-real.js';
import { freePorts } from '../helpers/ports.js';
import { makeTmpDir } from '../helpers/tmp.js';

// a loaded machine makes containers slow to start and stop: generous, never a speed assertion
const TEST_TIMEOUT_MS = 180_000;

/**
 * docker-compose.yml (repository root) brought up for real, with examples/compose/bgctl.yaml, the way its
 * header tells a user to: `bgctl start`, `bgctl gradual green 2.1.0` (the deploy hook recreates app-green),
 * `bgctl stop`. No registry here: the images are the local ones the compose file lets a user name
 * (scripts/docker-setup.sh builds them), and the published ports are free ones. The files are copied
 * into a temp folder, laid out as in the repository, so a stack of the developer's own is not touched.
 */
const PROJECT = 'bgctl'; // the compose file's `name:`
const SERVE_IMAGE = 'bgctl-serve:offline-test';
const APP_IMAGE = 'bgctl-example-app:local';

describe('docker-compose.yml on a real engine (offline images)', () => {
  let dir: string;
  let composeFile: string;
  let env: Record<string, string>;
  let http: number;
  let api: number;
  let monitor: number;
  const cli = (args: readonly string[]): Promise<CliResult> =>
    runCli(['--config', 'examples/compose/bgctl.yaml', ...args], { cwd: dir, env, timeoutMs: 240_000 });
  const get = async (url: string): Promise<{ status: number; color: string; body: string }> => {
    const res = await request(url, { reset: true, headersTimeout: 5000, bodyTimeout: 5000 });
    return { status: res.statusCode, color: String(res.headers['x-bgctl-color']), body: await res.body.text() };
  };

  beforeAll(async () => {
    await requireEngine(['bgctl-nginx:1.26', 'bgctl-node:20', APP_IMAGE]); // no engine: fail, never skip
    const running = await projectLeftovers(PROJECT);
    if (running.length > 0)
      throw new Error(`a compose project named ${PROJECT} exists on this engine (${running.join(', ')}): take it down first`);
    dir = await makeTmpDir('compose-real');
    await chmod(dir, 0o755); // NGINX's workers (nobody) read the weights file in the bind mount
    for (const file of [
      'docker-compose.yml',
      'examples/compose/bgctl.yaml',
      'examples/compose/bgctl.Dockerfile',
      'examples/compose/app/Dockerfile',
      'examples/compose/app/server.mjs',
    ]) {
      await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
      await copyFile(path.join(REPO_ROOT, file), path.join(dir, file));
    }
    composeFile = path.join(dir, 'docker-compose.yml');
    [http = 0, api = 0, monitor = 0] = await freePorts(3);
    env = {
      BGCTL_NGINX_IMAGE: 'bgctl-nginx:1.26',
      BGCTL_NODE_IMAGE: 'bgctl-node:20',
      BGCTL_IMAGE: SERVE_IMAGE,
      BGCTL_HTTP_PORT: String(http),
      BGCTL_API_PORT: String(api),
      BGCTL_MONITOR_PORT: String(monitor),
      BGCTL_API_TOKEN: 'compose-real-test-token',
    };
    await buildOfflineBgctlImage(SERVE_IMAGE, REPO_ROOT, dir);
  }, 240_000);

  afterAll(async () => {
    if (composeFile) await removeProject(composeFile, PROJECT, env);
  }, 120_000);

  it(
    'bgctl start: tests the config, brings the four services up, NGINX serves blue, bgctl serve answers',
    async () => {
      const r = await cli(['start']);
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
      const ps = await docker(['ps', '--filter', `label=com.docker.compose.project=${PROJECT}`, '--format', '{{.Names}} {{.Image}}']);
      expect(ps.stdout.trim().split('\n').sort()).toEqual([
        `bgctl-app-blue-1 ${APP_IMAGE}`,
        `bgctl-app-green-1 ${APP_IMAGE}`,
        `bgctl-bgctl-1 ${SERVE_IMAGE}`,
        'bgctl-nginx bgctl-nginx:1.26',
      ]);
      const answer = await get(`http://127.0.0.1:${http}/`);
      expect(answer).toMatchObject({ status: 200, color: 'blue' });
      expect(JSON.parse(answer.body)).toMatchObject({ color: 'blue', version: '1.0.0' });
      // the serve container waits for NGINX to be healthy, then for its own start
      await expect
        .poll(async () => (await get(`http://127.0.0.1:${monitor}/health`).catch(() => ({ status: 0 }))).status, {
          timeout: 90_000,
          interval: 1000,
        })
        .toBe(200);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'gradual green 2.1.0 through the stack: the deploy hook recreates app-green, 0 failed requests under load',
    async () => {
      const traffic = startTraffic({ url: `http://127.0.0.1:${http}/`, connections: 4, keepAlive: true, maxSeconds: 180, pauseMs: 2 });
      const r = await cli(['gradual', 'green', '2.1.0', '--steps', '50,100', '--step-seconds', '2']);
      const stats = await traffic.stop();
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
      expect(stats.failed, JSON.stringify(stats.errors)).toBe(0);
      expect(stats.byColor.green).toBeGreaterThan(0);
      console.log(`[figures] docker-compose.yml gradual: ${stats.total} requests, ${stats.failed} failed`);
      const answer = await get(`http://127.0.0.1:${http}/`);
      expect(answer).toMatchObject({ status: 200, color: 'green' });
      expect(JSON.parse(answer.body)).toMatchObject({ color: 'green', version: '2.1.0' });
      // bgctl serve, in its container, reads the same state through the mounted folder
      const status = await get(`http://127.0.0.1:${api}/status`);
      expect(status.status).toBe(200);
      expect(JSON.parse(status.body)).toMatchObject({ stable: 'green', weights: { blue: 0, green: 100 } });
      expect(jsonOf<{ stable: string; drift: unknown }>(await cli(['status', '--json']))).toMatchObject({ stable: 'green', drift: null });
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'bgctl stop: docker compose down leaves no container, network or volume of the project',
    async () => {
      const r = await cli(['stop']);
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
      expect(await projectLeftovers(PROJECT)).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );
});

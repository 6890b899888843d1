import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readMasterPid, isPidAlive } from '../../src/adapters/nginx/workers.js';
import { startTraffic } from '../../src/demo/traffic.js';
import { startBackendProcess } from '../helpers/backends.js';
import { jsonOf, runCli, type CliResult } from '../helpers/cli.js';
import { installDockerShim, teardownDockerSandbox, type DockerShim } from '../helpers/docker-shim.js';
import { writeConfig } from '../helpers/fixture.js';
import { freePorts } from '../helpers/ports.js';
import { makeTmpDir } from '../helpers/tmp.js';

/**
 * `nginx.driver: docker` end to end through the real CLI. `docker` is a shim first on PATH that records
 * every argv and runs it against a real NGINX whose prefix is the "bind-mounted" host folder (no
 * Docker engine here), so what is checked is the exact docker commands bgctl issues, and that NGINX
 * really serves what bgctl says after each of them.
 */
const CONTAINER = 'bgctl-test-nginx';
const CD = '/etc/nginx/bgctl';

interface StatusJson {
  stable: string;
  weights: { blue: number; green: number };
  revision: number;
  drift: string | null;
  targets: { name: string; kind: string; where: string; running: boolean; revision: number | null; problem: string | null }[];
}

describe('docker driver (docker client shimmed, NGINX real)', () => {
  let dir: string;
  let listen: number;
  let shim: DockerShim;
  let composeFile: string;
  const cli = (args: readonly string[]): Promise<CliResult> => runCli(args, { cwd: dir, env: shim.env, timeoutMs: 120_000 });
  const status = async (): Promise<StatusJson> => jsonOf<StatusJson>(await cli(['status', '--json']));
  const get = async (): Promise<{ status: number; color: string | undefined }> => {
    const res = await request(`http://127.0.0.1:${listen}/`, { reset: true, headersTimeout: 5000, bodyTimeout: 5000 });
    await res.body.dump();
    const c = res.headers['x-bgctl-color'];
    return { status: res.statusCode, color: Array.isArray(c) ? c[0] : c };
  };
  const words = (argv: readonly string[]): string => argv.join(' ');

  beforeAll(async () => {
    dir = await makeTmpDir('docker-driver');
    [listen = 0] = await freePorts(1);
    const blue = await startBackendProcess({ color: 'blue', version: '1.0.0' });
    const green = await startBackendProcess({ color: 'green', version: '2.1.0' });
    composeFile = path.join(dir, 'docker-compose.yml');
    await writeFile(composeFile, '# stands in for the stack; the docker shim only needs its path\n');
    await writeConfig(dir, {
      blue: blue.port,
      green: green.port,
      listen,
      overrides: {
        nginx: { driver: 'docker', dir: 'nginx', container: CONTAINER, containerDir: CD, composeFile: 'docker-compose.yml', binary: null },
        // the judgement needs traffic read from the access log in the bind-mounted folder on the host
        thresholds: { minRequests: 5 },
      },
    });
    shim = await installDockerShim(dir, {
      [CONTAINER]: { hostDir: path.join(dir, 'nginx'), containerDir: CD, service: 'nginx', composeFile },
    });
  });

  afterAll(() => teardownDockerSandbox(shim, dir, composeFile));

  it('start: tests the config in a one-off container, brings the stack up, confirms from inside the container', async () => {
    const r = await cli(['start']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    const calls = (await shim.calls()).map(words);
    const test = `compose -f ${composeFile} run --rm --no-deps -T --entrypoint nginx nginx -t -p ${CD} -c ${CD}/candidate/nginx.conf -e stderr`;
    const up = `compose -f ${composeFile} up -d --no-recreate`;
    const ask = `exec -i ${CONTAINER} curl -sS --max-time 2 -i -H @- http://127.0.0.1:${listen}/__bgctl/status`;
    expect(calls).toContain(test);
    expect(calls).toContain(up);
    expect(calls).toContain(`top ${CONTAINER}`);
    expect(calls).toContain(ask);
    // tested before it ever ran; confirmed only after
    expect(calls.indexOf(test)).toBeLessThan(calls.indexOf(up));
    expect(calls.indexOf(up)).toBeLessThan(calls.lastIndexOf(ask));
    expect(calls.every((c) => !c.includes('reload'))).toBe(true);
    // NGINX really runs the config bgctl wrote into the host folder, and serves blue
    const seen = await Promise.all(Array.from({ length: 6 }, () => get()));
    expect(seen.every((s) => s.status === 200 && s.color === 'blue')).toBe(true);
    const s = await status();
    expect(s).toMatchObject({ stable: 'blue', weights: { blue: 100, green: 0 }, drift: null });
    expect(s.targets).toEqual([expect.objectContaining({ name: 'nginx', kind: 'docker', where: `container ${CONTAINER}`, running: true })]);
  });

  it('gradual: every step is nginx -t, swap, reload and confirm through docker exec; the access log is read on the host', async () => {
    await shim.clearCalls();
    const traffic = startTraffic({ url: `http://127.0.0.1:${listen}/`, connections: 3, keepAlive: false, maxSeconds: 60, pauseMs: 5 });
    const r = await cli(['gradual', 'green', '2.1.0', '--steps', '50,100', '--step-seconds', '1']);
    const stats = await traffic.stop();
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/green answers through NGINX/);
    const calls = (await shim.calls()).map(words);
    const test = `exec ${CONTAINER} nginx -t -p ${CD} -c ${CD}/candidate/nginx.conf -e stderr`;
    const reload = `exec ${CONTAINER} nginx -s reload -p ${CD} -c ${CD}/nginx.conf -e ${CD}/logs/error.log`;
    const reloads = calls.flatMap((c, i) => (c === reload ? [i] : []));
    expect(reloads).toHaveLength(2); // one per step, nothing else reloads
    for (const i of reloads) {
      // every reload follows a passing nginx -t of the candidate, and is followed by the confirmation
      expect(calls.slice(0, i).lastIndexOf(test)).toBeGreaterThan(-1);
      expect(calls.slice(i)).toContain(`top ${CONTAINER}`);
      expect(calls.slice(i)).toContain(`exec -i ${CONTAINER} curl -sS --max-time 2 -i -H @- http://127.0.0.1:${listen}/__bgctl/status`);
    }
    // the through-NGINX probe of green runs inside the container, its forced-route header on stdin
    expect(calls).toContain(`exec -i ${CONTAINER} curl -sS --max-time 1 -i -H @- http://127.0.0.1:${listen}/health`);
    expect(stats.byColor.green).toBeGreaterThan(10);
    expect(stats.failed).toBe(0);
    const s = await status();
    expect(s).toMatchObject({ stable: 'green', weights: { blue: 0, green: 100 }, drift: null });
    const seen = await Promise.all(Array.from({ length: 6 }, () => get()));
    expect(seen.every((x) => x.color === 'green')).toBe(true);
    // the live files were renamed in the host folder (what a folder bind mount shows the container)
    expect(await readFile(path.join(dir, 'nginx', 'conf.d', 'bgctl.conf'), 'utf8')).toContain(`revision ${s.revision}.`);
  });

  it('a docker exec that fails mid-migration (container not running) restores the step, rolls back and exits 3', async () => {
    await shim.setFailures([{ match: 'nginx -s reload', nth: 2 }]); // step 1 reloads, step 2's reload fails
    const before = await status();
    const traffic = startTraffic({ url: `http://127.0.0.1:${listen}/`, connections: 3, keepAlive: false, maxSeconds: 60, pauseMs: 5 });
    const r = await cli(['gradual', 'blue', '1.0.0', '--steps', '50,100', '--step-seconds', '1']);
    const stats = await traffic.stop();
    await shim.setFailures([]);
    expect(stats.failed).toBe(0);
    expect(r.exitCode, r.stdout + r.stderr).toBe(3);
    expect(r.stderr).toMatch(/step 2 could not be applied: .*container bgctl-test-nginx is not running/);
    const s = await status();
    expect(s).toMatchObject({ stable: 'green', weights: { blue: 0, green: 100 }, drift: null });
    expect(s.revision).toBeGreaterThan(before.revision);
    const seen = await Promise.all(Array.from({ length: 6 }, () => get()));
    expect(seen.every((x) => x.status === 200 && x.color === 'green')).toBe(true);
  }, 180_000); // a restore and rollback through the shim: slow on a loaded machine

  it('a stopped container fails the pre-flight (exit 6) with docker’s reason; nothing changes; start brings it back', async () => {
    const stop = await shim.docker(['stop', CONTAINER]);
    expect(stop.exitCode).toBe(0);
    const state = await readFile(path.join(dir, 'state', 'state.json'), 'utf8');
    const r = await cli(['gradual', 'blue', '1.0.0', '--steps', '50,100', '--step-seconds', '1']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(6);
    expect(r.stderr).toMatch(/NGINX does not answer/);
    expect(r.stderr).toMatch(/container bgctl-test-nginx is not running/);
    expect(await readFile(path.join(dir, 'state', 'state.json'), 'utf8')).toBe(state);
    const s = await status();
    expect(s.targets[0]).toMatchObject({ running: false, problem: expect.stringMatching(/is not running/) });
    expect(s.drift).toBe('NGINX is not running');
    const started = await cli(['start']);
    expect(started.exitCode, started.stderr).toBe(0);
    expect(await status()).toMatchObject({ stable: 'green', weights: { blue: 0, green: 100 }, drift: null });
  });

  it('stop: docker compose down; nothing is left running', async () => {
    const pid = await readMasterPid(path.join(dir, 'nginx', 'logs', 'nginx.pid'));
    await shim.clearCalls();
    const r = await cli(['stop']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect((await shim.calls()).map(words)).toContain(`compose -f ${composeFile} down`);
    expect(isPidAlive(pid ?? -1)).toBe(false);
    expect((await status()).targets[0]).toMatchObject({ running: false });
  });
});

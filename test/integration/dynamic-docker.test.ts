import { chmod, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBackendProcess } from '../helpers/backends.js';
import { jsonOf, runCli, type CliResult } from '../helpers/cli.js';
import { installDockerShim, teardownDockerSandbox, type DockerShim } from '../helpers/docker-shim.js';
import { writeConfig } from '../helpers/fixture.js';
import { freePorts } from '../helpers/ports.js';
import { makeTmpDir } from '../helpers/tmp.js';

/**
 * `nginx.mode: dynamic` with the docker driver: the njs module is looked for inside the container
 * (`nginx -V`, then a look at the module file), and after the start every step is a write into the bind-mounted folder,
 * confirmed with `docker exec curl`: no `nginx -t`, no `nginx -s reload`. `docker` is the test shim
 * (test/helpers/docker-shim.mjs) that runs each call against a real NGINX on this machine, so the module
 * path is this machine's (Debian's; the official image has the same one).
 */
const CONTAINER = 'bgctl-dyn-nginx';
const CD = '/etc/nginx/bgctl';
const MODULE = '/usr/lib/nginx/modules/ngx_http_js_module.so';

describe('docker driver in dynamic mode (docker client shimmed, NGINX real)', () => {
  let dir: string;
  let listen: number;
  let shim: DockerShim;
  let composeFile: string;
  const cli = (args: readonly string[]): Promise<CliResult> => runCli(args, { cwd: dir, env: shim.env, timeoutMs: 120_000 });
  const words = (argv: readonly string[]): string => argv.join(' ');

  beforeAll(async () => {
    dir = await makeTmpDir('dyn-docker');
    await chmod(dir, 0o755); // the "container's" workers (nobody) read the weights file in the bind mount
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
        nginx: {
          driver: 'docker',
          dir: 'nginx',
          container: CONTAINER,
          containerDir: CD,
          composeFile: 'docker-compose.yml',
          binary: null,
          mode: 'dynamic',
        },
      },
    });
    shim = await installDockerShim(dir, {
      [CONTAINER]: { hostDir: path.join(dir, 'nginx'), containerDir: CD, service: 'nginx', composeFile },
    });
  });

  afterAll(() => teardownDockerSandbox(shim, dir, composeFile));

  it('start: finds the njs module inside a one-off container of the service, then starts in dynamic mode', async () => {
    const r = await cli(['start']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /apply mode: dynamic .*njs module \/usr\/lib\/nginx\/modules\/ngx_http_js_module\.so \(container bgctl-dyn-nginx\)/,
    );
    const calls = (await shim.calls()).map(words);
    expect(calls).toContain(`compose -f ${composeFile} run --rm --no-deps -T --entrypoint nginx nginx -V`);
    // one run: is the module there, and does it have js_shared_dict_zone (njs 0.8+)
    const lookup = `sh nginx -c test -f "$1" || exit 3; grep -q -F -e js_shared_dict_zone "$1" sh ${MODULE}`;
    expect(calls).toContain(`compose -f ${composeFile} run --rm --no-deps -T --entrypoint ${lookup}`);
    const s = jsonOf<{ mode: { resolved: string; live: string; source: string } }>(await cli(['status', '--json']));
    expect(s.mode).toMatchObject({ resolved: 'dynamic', live: 'dynamic', source: 'file' });
  });

  it('canary and rollback write the weights file only: no reload, confirmed from inside the container', async () => {
    const nginxCalls = async (): Promise<string[]> => (await shim.calls()).map(words).filter((w) => / nginx -t | nginx -s /.test(` ${w} `));
    await shim.clearCalls();
    const c = await cli(['canary', 'green', '30']);
    expect(c.exitCode, c.stdout + c.stderr).toBe(0);
    // the pre-flight's nginx -t of the step's config (in a private folder); applying it is a file write
    expect(await nginxCalls()).toEqual([
      expect.stringMatching(new RegExp(`^exec ${CONTAINER} nginx -t -p ${CD} -c ${CD}/\\.validate-\\w{6}/nginx\\.conf -e stderr$`)),
    ]);
    // the module is looked for in the running container now
    expect((await shim.calls()).map(words)).toContain(
      `exec ${CONTAINER} sh -c test -f "$1" || exit 3; grep -q -F -e js_shared_dict_zone "$1" sh ${MODULE}`,
    );
    const answers: string[] = [];
    for (let i = 0; i < 300; i++) {
      const res = await request(`http://127.0.0.1:${listen}/`, { headersTimeout: 5000, bodyTimeout: 5000 });
      await res.body.dump();
      answers.push(String(res.headers['x-bgctl-color']));
    }
    const green = (100 * answers.filter((a) => a === 'green').length) / answers.length;
    expect(Math.abs(green - 30)).toBeLessThanOrEqual(3);
    await shim.clearCalls();
    const rb = await cli(['rollback']);
    expect(rb.exitCode, rb.stdout + rb.stderr).toBe(0);
    expect(await nginxCalls()).toEqual([]);
    expect((await shim.calls()).map(words)).toContain(
      `exec -i ${CONTAINER} curl -sS --max-time 2 -i -H @- http://127.0.0.1:${listen}/__bgctl/status`,
    );
    expect(jsonOf<{ weights: unknown; drift: unknown }>(await cli(['status', '--json']))).toMatchObject({
      weights: { blue: 100, green: 0 },
      drift: null,
    });
  });
});

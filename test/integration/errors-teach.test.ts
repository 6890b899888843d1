import { createServer, type Server } from 'node:net';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { writeConfig } from '../helpers/fixture.js';
import { freePorts } from '../helpers/ports.js';
import { makeTmpDir, removeTmpDir } from '../helpers/tmp.js';

describe('errors that teach', () => {
  let dir: string;
  let listen: number;
  let taker: Server;
  beforeAll(async () => {
    dir = await makeTmpDir('errors-teach');
    [listen] = (await freePorts(1)) as [number];
    // this test process holds the port NGINX is told to listen on
    taker = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => taker.listen(listen, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    await new Promise((r) => taker.close(r));
    await runCli(['stop'], { cwd: dir }).catch(() => undefined);
    await removeTmpDir(dir);
  });

  it('a mistyped key: every problem, did-you-mean and file:line:col, in human output', async () => {
    await writeFile(
      path.join(dir, 'bgctl.yaml'),
      `listen: ${listen}\nenviroments:\n  blue:\n    servers: ["127.0.0.1:18081"]\n  green:\n    servers: ["127.0.0.1:18082"]\n`,
    );
    const r = await runCli(['validate'], { cwd: dir });
    expect(r.exitCode).toBe(2);
    const file = path.join(dir, 'bgctl.yaml');
    expect(r.stderr).toContain(`${file}:2:1: unknown key "enviroments" (did you mean "environments"?)`);
    expect(r.stderr).toContain(`${file}:1:1: environments: is required`);
    expect(r.stderr).not.toMatch(/and \d+ more/);
  });

  it('validate refuses `listen` equal to a backend port, naming the line', async () => {
    await writeFile(
      path.join(dir, 'bgctl.yaml'),
      `listen: 18081\nenvironments:\n  blue:\n    servers: ["127.0.0.1:18081"]\n  green:\n    servers: ["127.0.0.1:18082"]\n`,
    );
    const r = await runCli(['validate'], { cwd: dir });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(
      /bgctl\.yaml:4:15: environments\.blue\.servers\[0\]: 127\.0\.0\.1:18081 is the port NGINX listens on \(listen: 18081\)/,
    );
  });

  it('a port in use names the key to change and the process holding it, once, without raw bind() lines', async () => {
    await writeConfig(dir, { blue: 18081, green: 18082, listen });
    const r = await runCli(['start'], { cwd: dir });
    expect(r.exitCode, r.stderr).toBe(6);
    expect(r.stderr).toContain(`port ${listen} (127.0.0.1:${listen}) is already in use by pid ${process.pid} (`);
    expect(r.stderr).toContain('change `listen` in');
    expect(r.stderr).not.toMatch(/bind\(\)/);
    expect(r.stderr.match(/already in use/g)).toHaveLength(1);
    // nothing runs
    const s = await runCli(['status', '--json'], { cwd: dir });
    expect(JSON.parse(s.stdout)).toMatchObject({ nginx: { running: false } });
  });
});

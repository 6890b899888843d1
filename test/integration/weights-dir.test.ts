import { chmod, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listWorkers, readMasterPid } from '../../src/adapters/nginx/workers.js';
import { startTraffic } from '../../src/demo/traffic.js';
import { stopAllBackends } from '../helpers/backends.js';
import { jsonOf } from '../helpers/cli.js';
import { writeConfig } from '../helpers/fixture.js';
import { makeSandbox, type Sandbox } from '../helpers/sandbox.js';
import { cleanupTmpDirs, makeTmpDir } from '../helpers/tmp.js';

/**
 * As root, NGINX's workers run as nobody. A project inside a 0700 folder (a fresh temp folder is one)
 * keeps them out of nginx.dir, so they cannot read the weights file: `auto` falls back to reload mode,
 * every command says why and `status` flags it. `nginx.weightsDir` moves the weights file to a folder
 * they can enter: dynamic mode again, and a migration under keep-alive load loses nothing and never reloads.
 */

interface ModeJson {
  configured: string;
  resolved: string;
  ok: boolean;
  detail: string;
  live: string | null;
  source: string | null;
  warning: string | null;
}

const isRoot = process.getuid?.() === 0;

afterAll(async () => {
  await stopAllBackends();
  await cleanupTmpDirs();
});

async function workerPids(box: Sandbox): Promise<number[]> {
  const master = await readMasterPid(path.join(box.dir, 'nginx', 'logs', 'nginx.pid'));
  return master === null ? [] : (await listWorkers(master)).map((w) => w.pid).sort((a, b) => a - b);
}

describe.runIf(isRoot)('a project inside a 0700 folder, NGINX started as root', () => {
  let box: Sandbox;
  let outside: string;
  let weightsDir: string;
  const mode = async (): Promise<ModeJson> => jsonOf<{ mode: ModeJson }>(await box.cli(['status', '--json'])).mode;
  const configure = (overrides: Record<string, unknown>) =>
    writeConfig(box.dir, {
      blue: box.blue.port,
      green: box.green.port,
      listen: box.listen,
      overrides: { nginx: { mode: 'auto', ...overrides } },
    });

  beforeAll(async () => {
    box = await makeSandbox('weights-dir', { overrides: { nginx: { mode: 'auto' } }, noStart: true });
    await chmod(box.dir, 0o700);
    outside = await makeTmpDir('weights-outside');
    await chmod(outside, 0o755);
    weightsDir = path.join(outside, 'run', 'bgctl'); // missing: bgctl creates it
  });
  afterAll(async () => {
    await box?.close();
  });

  it('without nginx.weightsDir: reload mode, said by every command, flagged by status', async () => {
    expect((await stat(box.dir)).mode & 0o777).toBe(0o700);
    const st = await box.cli(['start']);
    expect(st.exitCode, st.stdout + st.stderr).toBe(0);
    expect(st.stdout).toMatch(/apply mode reload/);
    const m = await mode();
    expect(m).toMatchObject({ configured: 'auto', resolved: 'reload', ok: true });
    expect(m.warning).toContain(`cannot enter ${box.dir} (mode 0700)`);
    expect(m.warning).toContain('nginx.weightsDir: /run/bgctl');
    const human = await box.cli(['status']);
    expect(human.stdout).toMatch(/^ {2}mode {6}PROBLEM: no dynamic mode \(.*cannot enter .* \(mode 0700\)/m);
    for (const args of [['validate'], ['gradual', 'green', '2.1.0', '--dry-run']]) {
      const r = await box.cli(args);
      expect(r.stderr, args.join(' ')).toMatch(/nginx\.mode auto: reload mode, not dynamic: .*cannot enter .*\(mode 0700\)/);
    }
  });

  it('nginx.weightsDir outside: dynamic mode, a gradual under keep-alive load loses nothing and never reloads', async () => {
    await configure({ weightsDir });
    const a = await box.cli(['start']); // already running: re-applies, the one reload into dynamic mode
    expect(a.exitCode, a.stdout + a.stderr).toBe(0);
    const m = await mode();
    expect(m).toMatchObject({ configured: 'auto', resolved: 'dynamic', ok: true, live: 'dynamic', source: 'file', warning: null });
    const file = path.join(weightsDir, 'bgctl-weights.json');
    expect((await stat(weightsDir)).mode & 0o777).toBe(0o755);
    expect((await stat(file)).mode & 0o777).toBe(0o644);
    const site = await readFile(path.join(box.dir, 'nginx', 'conf.d', 'bgctl.conf'), 'utf8');
    expect(site).toContain(`js_var $bgctl_weights_dir ${weightsDir};`);

    const before = await workerPids(box);
    expect(before.length).toBeGreaterThan(0);
    const traffic = startTraffic({
      url: `http://127.0.0.1:${box.listen}/load`,
      connections: 8,
      keepAlive: true,
      maxSeconds: 90,
      pauseMs: 1,
    });
    let stats;
    try {
      await new Promise((r) => setTimeout(r, 300));
      const g = await box.cli(['gradual', 'green', '2.1.0', '--steps', '25,50,75,100', '--step-seconds', '1']);
      expect(g.exitCode, g.stdout + g.stderr).toBe(0);
      await new Promise((r) => setTimeout(r, 300));
      stats = traffic.stats();
    } finally {
      await traffic.stop();
    }
    console.log(
      `nginx.weightsDir, 8 keep-alive connections: ${stats.failed} failed of ${stats.total} (blue ${stats.byColor.blue}, green ${stats.byColor.green})`,
    );
    expect(stats.byColor.blue).toBeGreaterThan(50);
    expect(stats.byColor.green).toBeGreaterThan(50);
    expect(stats.failed).toBe(0);
    expect(await workerPids(box)).toEqual(before); // a reload would have replaced every worker
    expect(JSON.parse(await readFile(file, 'utf8'))).toMatchObject({ blue: 0, green: 100 });
    expect((await stat(file)).mode & 0o777).toBe(0o644);
    expect((await box.get()).color).toBe('green');
  });
});

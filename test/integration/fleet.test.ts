import { chmod, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FleetTraffic } from '../../src/adapters/nginx/fleet-traffic.js';
import { FleetDriver } from '../../src/adapters/nginx/fleet.js';
import { memberOf } from '../../src/adapters/nginx/setup.js';
import { isPidAlive, readMasterPid } from '../../src/adapters/nginx/workers.js';
import { TrafficLog } from '../../src/adapters/traffic-log.js';
import { loadConfig } from '../../src/config/load.js';
import { nginxTargets } from '../../src/config/targets.js';
import { startTraffic, type TrafficGenerator } from '../../src/demo/traffic.js';
import { renderFleet, withForceSecret } from '../../src/wire.js';
import { startBackendProcess, stopAllBackends } from '../helpers/backends.js';
import { jsonOf, runCli, type CliResult } from '../helpers/cli.js';
import { writeConfig } from '../helpers/fixture.js';
import { freePorts } from '../helpers/ports.js';
import { makeTmpDir, removeTmpDir } from '../helpers/tmp.js';

/**
 * A fleet of three real NGINX masters (`nginx.targets`) in front of the same two real backends, driven
 * through the real CLI under load. edge-2's nginx is a wrapper that passes everything through to the
 * real nginx except the one `nginx -t` or reload a test chooses to fail (a host whose NGINX refuses).
 */
const NAMES = ['edge-1', 'edge-2', 'edge-3'] as const;

interface Live {
  revision: number;
  blue: number;
  green: number;
}
interface TargetJson {
  name: string;
  running: boolean;
  revision: number | null;
  weights: { blue: number; green: number } | null;
  drift: string | null;
}
interface StatusJson {
  stable: string;
  revision: number;
  weights: { blue: number; green: number };
  drift: string | null;
  targets: TargetJson[];
}

describe('a fleet of three NGINX targets', () => {
  let dir: string;
  let ports: number[] = [];
  let counters: { test: string; reload: string; failTest: string; failReload: string };
  const cli = (args: readonly string[]): Promise<CliResult> => runCli(args, { cwd: dir, timeoutMs: 120_000 });
  const status = async (): Promise<StatusJson> => jsonOf<StatusJson>(await cli(['status', '--json']));
  const portOf = (i: number): number => ports[i + 1] ?? 0;

  /** What one target answers on its status location, on a fresh connection (null: no answer). */
  const liveOf = async (i: number): Promise<Live | null> => {
    try {
      const secret = (await readFile(path.join(dir, 'state', 'force-secret'), 'utf8')).trim();
      const headers = { 'x-bgctl-secret': secret };
      const res = await request(`http://127.0.0.1:${portOf(i)}/__bgctl/status`, {
        reset: true,
        headers,
        headersTimeout: 2000,
        bodyTimeout: 2000,
      });
      return res.statusCode === 200 ? ((await res.body.json()) as Live) : (await res.body.dump(), null);
    } catch {
      return null;
    }
  };
  /** Samples every target's status every 30 ms until stopped: which revisions each one served. */
  const watch = () => {
    const seen = NAMES.map(() => new Map<number, string>());
    let stop = false;
    const loop = (async () => {
      const deadline = Date.now() + 90_000;
      while (!stop && Date.now() < deadline) {
        const lives = await Promise.all(NAMES.map((_, i) => liveOf(i)));
        lives.forEach((l, i) => l && seen[i]?.set(l.revision, `blue ${l.blue} / green ${l.green}`));
        await new Promise((r) => setTimeout(r, 30));
      }
    })();
    return async () => {
      stop = true;
      await loop;
      return seen;
    };
  };
  const load = (): TrafficGenerator[] =>
    NAMES.map((_, i) =>
      startTraffic({ url: `http://127.0.0.1:${portOf(i)}/`, connections: 2, keepAlive: false, maxSeconds: 60, pauseMs: 5 }),
    );
  const stopLoad = async (gens: TrafficGenerator[]) => Promise.all(gens.map((g) => g.stop()));

  beforeAll(async () => {
    dir = await makeTmpDir('fleet');
    ports = await freePorts(4);
    const blue = await startBackendProcess({ color: 'blue', version: '1.0.0' });
    const green = await startBackendProcess({ color: 'green', version: '2.1.0' });
    counters = {
      test: path.join(dir, 'edge-2-tests'),
      reload: path.join(dir, 'edge-2-reloads'),
      failTest: path.join(dir, 'edge-2-fail-test'),
      failReload: path.join(dir, 'edge-2-fail-reload'),
    };
    const nginx = process.env['BGCTL_TEST_NGINX'] ?? 'nginx';
    const wrapper = path.join(dir, 'edge-2-nginx.sh');
    const count = (file: string, fail: string, message: string): string[] => [
      `  n=$(( $(cat ${file} 2>/dev/null || echo 0) + 1 )); echo $n > ${file}`,
      `  if [ "$n" = "$(cat ${fail} 2>/dev/null)" ]; then echo "${message}" >&2; exit 1; fi;;`,
    ];
    await writeFile(
      wrapper,
      [
        '#!/bin/sh',
        'case " $* " in',
        '*" -t "*)',
        ...count(
          counters.test,
          counters.failTest,
          'nginx: [emerg] open() "/etc/ssl/edge-2.pem" failed (2: No such file or directory) (simulated)',
        ),
        '*" -s reload "*)',
        ...count(counters.reload, counters.failReload, 'nginx: [alert] kill(MASTER, 1) failed (simulated)'),
        'esac',
        `exec ${nginx} "$@"`,
        '',
      ].join('\n'),
    );
    await chmod(wrapper, 0o755);
    await writeConfig(dir, {
      blue: blue.port,
      green: green.port,
      listen: ports[0] ?? 0,
      overrides: {
        nginx: {
          dir: 'nginx',
          targets: [
            { name: 'edge-1', listen: portOf(0) },
            { name: 'edge-2', listen: portOf(1), binary: wrapper },
            { name: 'edge-3', listen: portOf(2) },
          ],
        },
        thresholds: { minRequests: 5 },
      },
    });
  });

  afterAll(async () => {
    if (dir) await cli(['stop']).catch(() => undefined);
    for (const name of NAMES) {
      const pid = dir ? await readMasterPid(path.join(dir, 'nginx', name, 'logs', 'nginx.pid')) : null;
      if (pid !== null && isPidAlive(pid)) process.kill(pid, 'SIGKILL');
    }
    await stopAllBackends();
    if (dir) await removeTmpDir(dir);
  });

  it('start: every target runs the same revision; status lists each one', async () => {
    const r = await cli(['start']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    const lives = await Promise.all(NAMES.map((_, i) => liveOf(i)));
    // green is healthy: every target keeps it as the fallback of blue (nginx.fallback)
    expect(lives).toEqual(NAMES.map(() => ({ revision: 1, blue: 100, green: 0, strategy: 'weighted', stable: 'blue', backup: 'green' })));
    const s = await status();
    expect(s.drift).toBeNull();
    expect(s.targets.map((t) => [t.name, t.running, t.revision, t.drift])).toEqual(NAMES.map((n) => [n, true, 1, null]));
  });

  it('gradual under load: every step goes to all three, each serving the same revision', async () => {
    const before = await status();
    const gens = load();
    const stopWatch = watch();
    const r = await cli(['gradual', 'green', '2.1.0', '--steps', '25,50,100', '--step-seconds', '1']);
    const seen = await stopWatch();
    const stats = await stopLoad(gens);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    const s = await status();
    expect(s).toMatchObject({ stable: 'green', weights: { blue: 0, green: 100 }, drift: null });
    // three steps, each a new revision that every target served with the same weights
    const revisions = (m: Map<number, string> | undefined) =>
      [...(m ?? new Map<number, string>()).entries()].filter(([rev]) => rev > before.revision);
    expect(revisions(seen[0]).map(([, w]) => w)).toEqual(['blue 75 / green 25', 'blue 50 / green 50', 'blue 0 / green 100']);
    for (const m of seen) expect(revisions(m)).toEqual(revisions(seen[0]));
    for (const i of [0, 1, 2]) expect(await liveOf(i)).toMatchObject({ revision: s.revision, blue: 0, green: 100 });
    // every target carried both colors, nothing failed
    for (const st of stats) {
      expect(st.byColor.blue).toBeGreaterThan(5);
      expect(st.byColor.green).toBeGreaterThan(5);
      expect(st.failed).toBe(0);
    }
  });

  it('the traffic judgement reads every target’s access log', async () => {
    const loaded = await withForceSecret(await loadConfig(path.join(dir, 'bgctl.yaml')));
    const servers = { blue: loaded.config.environments.blue.servers, green: loaded.config.environments.green.servers };
    const logs = NAMES.map((n) => path.join(dir, 'nginx', n, 'logs', 'access.json.log'));
    const tail = await new FleetTraffic(logs.map((l) => new TrafficLog(l, servers))).tail();
    for (const i of [0, 1, 2]) for (let k = 0; k <= i; k++) await (await request(`http://127.0.0.1:${portOf(i)}/x`)).body.dump();
    await new Promise((r) => setTimeout(r, 200)); // NGINX writes the log line after the answer
    const read = await tail.read();
    expect(read.readable).toBe(true);
    expect(read.delta.colors.green.requests).toBe(1 + 2 + 3);
  });

  it('nginx -t failing on one target: no target changes, the migration is rolled back (exit 3)', async () => {
    const before = await status();
    await writeFile(counters.test, '0');
    await writeFile(counters.failTest, '2'); // edge-2's 1st nginx -t is the pre-flight's, the 2nd is step 1's
    const gens = load();
    const stopWatch = watch();
    const r = await cli(['gradual', 'blue', '1.0.0', '--steps', '50,100', '--step-seconds', '1']);
    const seen = await stopWatch();
    await stopLoad(gens);
    await writeFile(counters.failTest, '0');
    expect(r.exitCode, r.stdout + r.stderr).toBe(3);
    expect(r.stderr).toMatch(/step 1 could not be applied: target edge-2: nginx -t rejected revision \d+: .*simulated/);
    // no target ever served the step that failed its test on edge-2
    for (const m of seen) expect([...m.values()].every((w) => w === 'blue 0 / green 100')).toBe(true);
    const s = await status();
    expect(s).toMatchObject({ stable: 'green', weights: { blue: 0, green: 100 }, drift: null });
    expect(s.revision).toBeGreaterThan(before.revision);
    for (const i of [0, 1, 2]) expect(await liveOf(i)).toMatchObject({ revision: s.revision, blue: 0, green: 100 });
  });

  it('a reload failing on one target after the others reloaded: all three are restored to the previous step (exit 3)', async () => {
    await writeFile(counters.reload, '0');
    await writeFile(counters.failReload, '2'); // step 1 reloads everywhere; step 2's reload fails on edge-2
    const gens = load();
    const r = await cli(['gradual', 'blue', '1.0.0', '--steps', '50,100', '--step-seconds', '1']);
    const stats = await stopLoad(gens);
    await writeFile(counters.failReload, '0');
    expect(r.exitCode, r.stdout + r.stderr).toBe(3);
    expect(r.stderr).toMatch(
      /step 2 could not be applied: revision (\d+) was not applied: target edge-2 failed at reload .*every target restored to revision \d+ and confirmed/,
    );
    const s = await status();
    expect(s).toMatchObject({ stable: 'green', weights: { blue: 0, green: 100 }, drift: null });
    for (const i of [0, 1, 2]) expect(await liveOf(i)).toMatchObject({ revision: s.revision, blue: 0, green: 100 });
    for (const st of stats) expect(st.failed).toBe(0);
  });

  it('status flags the target changed behind bgctl’s back; gradual refuses (exit 6); rollback re-asserts all', async () => {
    const site = path.join(dir, 'nginx', 'edge-3', 'conf.d', 'bgctl.conf');
    const s0 = await status();
    const text = await readFile(site, 'utf8');
    await writeFile(site, text.replace(`"revision":${s0.revision},`, '"revision":999,'));
    const nginx = process.env['BGCTL_TEST_NGINX'] ?? 'nginx';
    const prefix = path.join(dir, 'nginx', 'edge-3');
    await execa(nginx, ['-s', 'reload', '-p', prefix, '-c', path.join(prefix, 'nginx.conf'), '-e', path.join(prefix, 'logs', 'error.log')]);
    await expect.poll(async () => (await liveOf(2))?.revision, { timeout: 10_000 }).toBe(999);

    const s = await status();
    expect(s.targets.map((t) => [t.name, t.drift === null])).toEqual([
      ['edge-1', true],
      ['edge-2', true],
      ['edge-3', false],
    ]);
    expect(s.drift).toMatch(/^target edge-3: serves revision 999 .* but state\.json says revision \d+/);
    const human = await cli(['status']);
    expect(human.stdout).toMatch(/target +edge-3 \(local .*\): revision 999, blue 0% \/ green 100% — DRIFT/);
    expect(human.stdout).toMatch(/NOT all serving the same config/);

    const refused = await cli(['gradual', 'blue', '1.0.0', '--steps', '100', '--step-seconds', '1']);
    expect(refused.exitCode).toBe(6);
    const fixed = await cli(['rollback']);
    expect(fixed.exitCode, fixed.stderr).toBe(0);
    const after = await status();
    expect(after.drift).toBeNull();
    for (const i of [0, 1, 2]) expect(await liveOf(i)).toMatchObject({ revision: after.revision, blue: 0, green: 100 });
  });

  it('time to apply one step: a fleet of 3 next to one target (printed, not asserted)', async () => {
    const loaded = await withForceSecret(await loadConfig(path.join(dir, 'bgctl.yaml')));
    const targets = nginxTargets(loaded.config, loaded.baseDir);
    const members = targets.map((t) => memberOf(t, loaded.config));
    const fleet = new FleetDriver(members);
    const one = members[0];
    if (!one) throw new Error('no target');
    let revision = (await status()).revision;
    const step = (percent: number) =>
      renderFleet(loaded.config, targets, {
        weights: { blue: 100 - percent, green: percent },
        revision: ++revision,
        stable: 'green',
        growing: 'blue',
        strategy: 'weighted',
      });
    const single: number[] = [];
    const all: number[] = [];
    for (let k = 0; k < 5; k++) {
      single.push((await one.apply(step(k % 2 === 0 ? 100 : 0))).ms);
      all.push((await fleet.apply(step(100))).ms);
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
    console.log(
      `apply one step: one target median ${median(single)} ms (${single.join(', ')}); ` +
        `fleet of 3 median ${median(all)} ms (${all.join(', ')}), same run`,
    );
    expect(all.length).toBe(5);
  });
});

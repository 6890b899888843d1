import { chmod, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { request } from 'undici';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTraffic, type TrafficGenerator, type TrafficStats } from '../../src/demo/traffic.js';
import { startBackendProcess, type BackendProcess } from '../helpers/backends.js';
import { BGCTL_BIN, REPO_ROOT, cliEnv, jsonOf, runCli, spawnCli, waitForOutput, type CliResult } from '../helpers/cli.js';
import { requireEngine } from '../helpers/docker-real.js';
import { loadImages, startEngine, startSshd, type TestEngine, type TestSshd } from '../helpers/engines.js';
import { writeConfig } from '../helpers/fixture.js';
import { freePorts } from '../helpers/ports.js';
import { makeTmpDir, removeTmpDir } from '../helpers/tmp.js';

/**
 * nginx.dockerHost: a fleet of three NGINX containers on three Docker engines of the test's own
 * (`dockerd` on separate sockets, data and exec roots), none sharing a folder with bgctl: edge-1 on
 * NGINX 1.22 and edge-2 on 1.26 reached through their unix sockets, edge-3 (1.26) through an sshd of the
 * test's own (`ssh://root@127.0.0.1:PORT`, key auth, one multiplexed connection). Each container runs
 * `sleep infinity` under docker's init; bgctl writes its files into it, starts NGINX there, and reads the
 * access logs through the engines. The containers use the host's network, so they reach the demo
 * backends on 127.0.0.1 and listen on loopback ports of their own. The docker client's ssh is found on
 * PATH: a wrapper that adds `-F <the test's ssh config>` comes first there (root's ~/.ssh is not touched).
 */
const TEST_TIMEOUT_MS = 150_000;
const CD = '/etc/nginx/bgctl';
const MODULE = '/usr/lib/nginx/modules/ngx_http_js_module.so';
const TARGETS = [
  { name: 'edge-1', image: 'bgctl-nginx:1.22', nginx: '1.22', via: 'unix socket' },
  { name: 'edge-2', image: 'bgctl-nginx:1.26', nginx: '1.26', via: 'unix socket' },
  { name: 'edge-3', image: 'bgctl-nginx:1.26', nginx: '1.26', via: 'ssh' },
] as const;

interface TargetJson {
  name: string;
  running: boolean;
  revision: number | null;
  weights: { blue: number; green: number } | null;
}
interface StatusJson {
  stable: string;
  revision: number;
  weights: { blue: number; green: number };
  drift: string | null;
  mode: { live: string };
  targets: TargetJson[];
}

const summary = (s: TrafficStats): string => `${s.total} requests, ${s.failed} failed ${JSON.stringify(s.errors)}`;

describe('a fleet of three NGINX containers on three remote Docker engines (one through ssh)', () => {
  let root: string;
  let dir: string;
  let engines: TestEngine[] = [];
  let sshd: TestSshd | null = null;
  let ports: number[] = [];
  const backends: BackendProcess[] = [];
  const hostOf = (i: number): string => (i === 2 && sshd ? sshd.dockerHost : (engines[i]?.host ?? ''));
  const env = (): Record<string, string> => ({ PATH: `${sshd?.binDir ?? ''}:${process.env['PATH'] ?? ''}` });
  const cli = (args: readonly string[], cwd = dir): Promise<CliResult> => runCli(args, { cwd, env: env(), timeoutMs: 120_000 });
  const status = async (cwd = dir): Promise<StatusJson> => jsonOf<StatusJson>(await cli(['status', '--json'], cwd));
  const inContainer = (i: number, argv: readonly string[]) => (engines[i] as TestEngine).run(['exec', TARGETS[i]?.name ?? '', ...argv]);
  const colorsOf = async (port: number, n: number): Promise<string[]> => {
    const out: string[] = [];
    for (let k = 0; k < n; k++) {
      const res = await request(`http://127.0.0.1:${port}/`, { reset: true, headersTimeout: 5000, bodyTimeout: 5000 });
      await res.body.dump();
      out.push(`${res.statusCode} ${String(res.headers['x-bgctl-color'])}`);
    }
    return out;
  };
  /** keep-alive load on every target's port at once */
  const load = (): TrafficGenerator[] =>
    ports
      .slice(0, 3)
      .map((p) => startTraffic({ url: `http://127.0.0.1:${p}/`, connections: 2, keepAlive: true, maxSeconds: 120, pauseMs: 5 }));
  const stopAll = async (gens: TrafficGenerator[]): Promise<TrafficStats[]> => Promise.all(gens.map((g) => g.stop()));
  /** What runs in a container besides its init, sleep and NGINX: bgctl's sessions and log followers, if any were left. */
  const strays = async (i: number): Promise<string[]> => {
    const top = await (engines[i] as TestEngine).run(['top', TARGETS[i]?.name ?? '', '-o', 'pid,args']);
    return top.stdout
      .split('\n')
      .slice(1)
      .filter((l) => l.trim() !== '' && !/docker-init|sleep infinity|nginx: /.test(l));
  };

  /** The fleet's bgctl.yaml; `nginx` is merged over the usual keys (a structural change, say). */
  const writeFleetConfig = (nginx: Record<string, unknown> = {}) =>
    writeConfig(dir, {
      blue: backends[0]?.port ?? 0,
      green: backends[1]?.port ?? 0,
      listen: ports[0] ?? 0,
      overrides: {
        nginx: {
          driver: 'docker',
          dir: null,
          binary: null,
          containerDir: CD,
          mode: 'dynamic',
          confirmTimeoutMs: 30_000,
          targets: TARGETS.map((t, i) => ({ name: t.name, listen: ports[i], dockerHost: hostOf(i) })),
          ...nginx,
        },
        thresholds: { minRequests: 5 },
        migration: { maxExtendSeconds: 2 },
      },
    });

  beforeAll(async () => {
    await requireEngine(['bgctl-nginx:1.22', 'bgctl-nginx:1.26']);
    root = await makeTmpDir('engines');
    dir = path.join(root, 'project');
    await mkdir(dir);
    ports = await freePorts(4);
    engines = await Promise.all(['a', 'b', 'c'].map((n) => startEngine(root, n)));
    await Promise.all([
      loadImages(path.join(root, 'a'), ['bgctl-nginx:1.22'], engines.slice(0, 1)),
      loadImages(path.join(root, 'b'), ['bgctl-nginx:1.26'], engines.slice(1)),
    ]);
    sshd = await startSshd(path.join(root, 'ssh'), ports[3] ?? 0, engines[2]?.host ?? '');
    await Promise.all(
      TARGETS.map(async (t, i) => {
        const r = await (engines[i] as TestEngine).run([
          'run',
          '-d',
          '--init',
          '--name',
          t.name,
          '--network',
          'host',
          t.image,
          'sleep',
          'infinity',
        ]);
        if (r.exitCode !== 0) throw new Error(`docker run ${t.name}: ${r.stderr}`);
      }),
    );
    backends.push(await startBackendProcess({ color: 'blue', version: '1.0.0' }));
    backends.push(await startBackendProcess({ color: 'green', version: '2.1.0' }));
    await writeFleetConfig();
  }, 240_000);

  afterAll(async () => {
    await Promise.all(backends.map((b) => b.stop()));
    await sshd?.stop();
    await Promise.all(engines.map((e) => e.stop()));
    if (root) await removeTmpDir(root);
  }, 120_000);

  it(
    'start: writes the files into each container, starts NGINX there, dynamic mode on both generations; no folder is shared',
    async () => {
      const r = await cli(['start']);
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toMatch(/apply mode: dynamic/);
      // njs 0.8.9 (edge-2, edge-3) has js_shared_dict_zone, 0.7.9 (edge-1) has not: a mixed fleet reads the file
      expect(r.stdout).toMatch(/njs reads the weights file per request/);
      expect(r.stdout).toMatch(/target edge-1: njs module \S+ \(container edge-1\);/);
      expect(r.stdout).toMatch(/target edge-2: njs module \S+ \(container edge-2\), js_shared_dict_zone;/);
      expect(r.stdout).toMatch(/target edge-3: njs module \S+ \(container edge-3\), js_shared_dict_zone/);
      for (const [i, t] of TARGETS.entries()) {
        expect(await colorsOf(ports[i] ?? 0, 4)).toEqual(Array(4).fill('200 blue'));
        expect((await inContainer(i, ['nginx', '-v'])).stderr).toContain(`nginx/${t.nginx}.`);
        const mounts = await (engines[i] as TestEngine).run(['inspect', '--format', '{{len .Mounts}}', t.name]);
        expect(mounts.stdout.trim()).toBe('0');
        // the site holds the forced-route secret: readable by NGINX's master (root) only
        expect((await inContainer(i, ['stat', '-c', '%a %U', `${CD}/conf.d/bgctl.conf`])).stdout.trim()).toBe('600 root');
      }
      const s = await status();
      expect(s).toMatchObject({ stable: 'blue', weights: { blue: 100, green: 0 }, drift: null, mode: { live: 'dynamic' } });
      expect(s.targets.map((t) => t.running)).toEqual([true, true, true]);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'gradual under load on all three: every step on every target, judged from the streamed access logs, 0 failed requests',
    async () => {
      const gens = load();
      const r = await cli(['gradual', 'green', '2.1.0', '--steps', '25,50,100', '--step-seconds', '2']);
      const stats = await stopAll(gens);
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
      for (const [i, st] of stats.entries()) {
        expect(st.failed, `${TARGETS[i]?.name}: ${summary(st)}`).toBe(0);
        expect(st.byColor.green).toBeGreaterThan(0);
        console.log(`[figures] dockerHost ${TARGETS[i]?.via} NGINX ${TARGETS[i]?.nginx} (${TARGETS[i]?.name}) gradual: ${summary(st)}`);
      }
      // the steps were judged on traffic read through the engines (minRequests 5 per window)
      expect(r.stdout).toMatch(/green \d+ req/);
      const s = await status();
      expect(s).toMatchObject({ stable: 'green', weights: { blue: 0, green: 100 }, drift: null });
      for (const t of s.targets) expect(t.weights).toEqual({ blue: 0, green: 100 });
      // the CLI exited: no session or log follower is left in any container
      for (const i of [0, 1, 2]) await expect.poll(() => strays(i), { timeout: 10_000 }).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'rollback of the fleet under load: blue everywhere again, 0 failed requests',
    async () => {
      const gens = load();
      await expect.poll(() => gens.every((g) => g.stats().total > 10), { timeout: 10_000 }).toBe(true);
      const r = await cli(['rollback']);
      const stats = await stopAll(gens);
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toMatch(/rolled back: blue has 100% of traffic/);
      for (const st of stats) expect(st.failed, summary(st)).toBe(0);
      console.log(`[figures] fleet of 3 (unix, unix, ssh) rollback: ${r.durationMs} ms wall`);
      for (const i of [0, 1, 2]) expect(await colorsOf(ports[i] ?? 0, 4)).toEqual(Array(4).fill('200 blue'));
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'nginx -t failing in one container: exit 6, nothing changed on any target',
    async () => {
      const before = await status();
      const state = await readFile(path.join(dir, 'state', 'state.json'), 'utf8');
      // edge-2's image gets a broken njs module (its running master keeps the one it loaded)
      expect((await inContainer(1, ['mv', MODULE, `${MODULE}.good`])).exitCode).toBe(0);
      try {
        expect((await inContainer(1, ['sh', '-c', `echo 'not a module' > ${MODULE}`])).exitCode).toBe(0);
        const r = await cli(['gradual', 'green', '2.1.0', '--steps', '50,100', '--step-seconds', '1']);
        expect(r.exitCode, r.stdout + r.stderr).toBe(6);
        expect(r.stderr).toMatch(/edge-2/);
        expect(r.stderr).toMatch(/nginx -t/);
      } finally {
        await inContainer(1, ['mv', `${MODULE}.good`, MODULE]);
      }
      expect(await readFile(path.join(dir, 'state', 'state.json'), 'utf8')).toBe(state);
      const after = await status();
      expect(after.targets.map((t) => [t.revision, t.weights])).toEqual(before.targets.map((t) => [t.revision, t.weights]));
      for (const i of [0, 1, 2]) expect(await colorsOf(ports[i] ?? 0, 4)).toEqual(Array(4).fill('200 blue'));
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'a link planted where bgctl writes in the ssh target: refused inside the container (exit 6, naming it), nothing changed on any',
    async () => {
      const planted = `${CD}/conf.d/bgctl-weights.json.prev`;
      expect((await inContainer(2, ['sh', '-c', `rm -f ${planted} && ln -s /etc/passwd ${planted}`])).exitCode).toBe(0);
      try {
        const before = await status();
        const r = await cli(['canary', 'green', '30']);
        expect(r.exitCode, r.stdout + r.stderr).toBe(6);
        expect(r.stderr).toContain(planted);
        expect(r.stderr).toMatch(/symbolic link/);
        const after = await status();
        expect(after.targets.map((t) => [t.revision, t.weights])).toEqual(before.targets.map((t) => [t.revision, t.weights]));
        expect((await inContainer(2, ['head', '-c', '5', '/etc/passwd'])).stdout).toBe('root:');
      } finally {
        await inContainer(2, ['rm', '-f', planted]);
      }
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'a reload failing in the ssh target after the others reloaded: every target restored to the previous revision and confirmed (exit 3)',
    async () => {
      const before = await status();
      // a structural change (keep-alive pool size): the step takes the reload path on every target
      await writeFleetConfig({ keepalive: 16 });
      // edge-3's nginx fails its next `-s reload` once; its running master is not touched
      const marker = '/tmp/bgctl-test-reload-failed';
      const wrapper = [
        '#!/bin/sh',
        `if [ "$1" = -s ] && [ "$2" = reload ] && [ ! -e ${marker} ]; then touch ${marker}; echo 'nginx: [alert] injected reload failure' >&2; exit 1; fi`,
        'exec /usr/sbin/nginx.real "$@"',
      ].join('\n');
      const install = await execa(
        'docker',
        [
          '-H',
          engines[2]?.host ?? '',
          'exec',
          '-i',
          'edge-3',
          'sh',
          '-c',
          'mv /usr/sbin/nginx /usr/sbin/nginx.real && cat > /usr/sbin/nginx && chmod 755 /usr/sbin/nginx',
        ],
        { input: `${wrapper}\n`, reject: false },
      );
      expect(install.exitCode, String(install.stderr)).toBe(0);
      try {
        const r = await cli(['gradual', 'green', '2.1.0', '--steps', '50,100', '--step-seconds', '1']);
        expect(r.exitCode, r.stdout + r.stderr).toBe(3);
        expect(r.stderr).toMatch(
          new RegExp(
            `revision \\d+ was not applied: target edge-3 failed at reload .*injected reload failure.*every target restored to revision ${before.revision} and confirmed`,
          ),
        );
      } finally {
        await inContainer(2, ['sh', '-c', `mv /usr/sbin/nginx.real /usr/sbin/nginx; rm -f ${marker}`]);
      }
      // the rollback that followed put blue back on all three, with the new structure
      const s = await status();
      expect(s).toMatchObject({ stable: 'blue', weights: { blue: 100, green: 0 }, drift: null });
      expect(new Set(s.targets.map((t) => t.revision)).size).toBe(1);
      for (const i of [0, 1, 2]) expect(await colorsOf(ports[i] ?? 0, 4)).toEqual(Array(4).fill('200 blue'));
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'bgctl killed (SIGKILL) while it follows the logs: nothing of it is left in the containers or on this machine',
    async () => {
      const watch = spawnCli(['status', '--watch'], { cwd: dir, env: env(), timeoutMs: 60_000 });
      await waitForOutput(watch, /blue/, 30_000);
      await expect.poll(async () => (await strays(2)).length, { timeout: 10_000 }).toBeGreaterThan(0);
      watch.kill('SIGKILL');
      await watch;
      for (const i of [0, 1, 2]) await expect.poll(() => strays(i), { timeout: 15_000 }).toEqual([]);
      const local = async (): Promise<string[]> =>
        (await execa('ps', ['-eo', 'args'], { reject: false })).stdout.split('\n').filter((l) => / exec -i edge-\d /.test(l));
      await expect.poll(local, { timeout: 15_000 }).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "the GitLab component's job setup, in a plain shell: key from a File variable, known_hosts from another, docker_host as BGCTL_DOCKER_HOST",
    async () => {
      const ssh = sshd as TestSshd;
      const job = path.join(root, 'job');
      await mkdir(path.join(job, 'bin'), { recursive: true });
      await symlink(BGCTL_BIN, path.join(job, 'bin', 'bgctl'));
      // the config names the container, not the engine: the job's docker_host input does
      await writeConfig(job, {
        blue: backends[0]?.port ?? 0,
        green: backends[1]?.port ?? 0,
        listen: ports[2] ?? 0,
        overrides: {
          nginx: { driver: 'docker', dir: null, binary: null, container: 'edge-3', containerDir: CD, mode: 'dynamic' },
          stateDir: 'state',
        },
      });
      const keyFile = path.join(job, 'ci-variable-key');
      await writeFile(keyFile, await readFile(ssh.clientKey));
      await chmod(keyFile, 0o644); // GitLab's File variables are not private: the job copies the key
      const template = parseAllDocuments(await readFile(path.join(REPO_ROOT, 'templates/gitlab-deploy/template.yml'), 'utf8'));
      const before = ((template[1]?.toJS() as Record<string, { before_script: string[] }>)['.bgctl:job']?.before_script ?? []).join('\n');
      const run = (knownHosts: string) =>
        execa('sh', ['-c', `${before}\nbgctl status --json`], {
          cwd: job,
          reject: false,
          stdin: 'ignore',
          timeout: 60_000,
          extendEnv: false,
          env: {
            ...cliEnv(),
            // the machine's PATH without the test's ssh wrapper: the job's own one must do
            PATH: `${path.join(job, 'bin')}:${process.env['PATH'] ?? ''}`,
            CI_JOB_ID: `${process.pid}`,
            CI_PROJECT_DIR: job,
            CI_ENVIRONMENT_NAME: 'production',
            BGCTL_CONFIG: 'bgctl.yaml',
            BGCTL_PACKAGE: '',
            BGCTL_DOCKER_HOST: ssh.dockerHost,
            BGCTL_SSH_KEY_VARIABLE: 'BGCTL_SSH_PRIVATE_KEY',
            BGCTL_SSH_KNOWN_HOSTS_VARIABLE: 'BGCTL_SSH_KNOWN_HOSTS',
            BGCTL_SSH_PRIVATE_KEY: keyFile,
            BGCTL_SSH_KNOWN_HOSTS: knownHosts,
          },
        });
      const jobSsh = path.join('/tmp', `bgctl-ssh-${process.pid}`);
      try {
        const ok = await run(ssh.knownHosts);
        expect(ok.stdout).toMatch(/bgctl-ci: NGINX through the docker engine ssh:\/\/root@127\.0\.0\.1:\d+/);
        const doc = JSON.parse(ok.stdout.slice(ok.stdout.indexOf('{'))) as StatusJson;
        expect(doc.targets).toMatchObject([{ running: true }]);
        expect(doc.weights).toEqual({ blue: 100, green: 0 });
        // a host key that is not the one in known_hosts: refused, never accepted
        const other = ssh.knownHosts.replace(/AAAA\S+$/, 'AAAAC3NzaC1lZDI1NTE5AAAAIHJ1bm5pbmdfdGhlX2pvYl93aXRoX2Ffd3Jvbmdfa2V5');
        const bad = await run(other);
        expect(bad.exitCode).not.toBe(0);
        expect(bad.stdout + bad.stderr).toMatch(/ssh to the docker engine failed \(exit 255\): Host key verification failed/);
      } finally {
        await execa('/usr/bin/ssh', ['-F', path.join(jobSsh, 'config'), '-O', 'exit', '-p', String(ssh.port), 'root@127.0.0.1'], {
          reject: false,
        });
        await execa('rm', ['-rf', jobSsh]);
      }
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'rollback wall time per engine kind: one target at a time (dynamic mode: one weights write and its confirmation)',
    async () => {
      for (const [i, t] of TARGETS.entries()) {
        const own = path.join(root, `single-${t.name}`);
        await mkdir(own);
        await writeConfig(own, {
          blue: backends[0]?.port ?? 0,
          green: backends[1]?.port ?? 0,
          listen: ports[i] ?? 0,
          overrides: {
            nginx: {
              driver: 'docker',
              dir: null,
              binary: null,
              container: t.name,
              containerDir: CD,
              dockerHost: hostOf(i),
              mode: 'dynamic',
            },
          },
        });
        const started = await cli(['start'], own);
        expect(started.exitCode, started.stdout + started.stderr).toBe(0);
        const canary = await cli(['canary', 'green', '40'], own);
        expect(canary.exitCode, canary.stdout + canary.stderr).toBe(0);
        expect(await colorsOf(ports[i] ?? 0, 40)).toContain('200 green');
        const gen = startTraffic({ url: `http://127.0.0.1:${ports[i]}/`, connections: 2, keepAlive: true, maxSeconds: 60, pauseMs: 5 });
        await expect.poll(() => gen.stats().total, { timeout: 10_000 }).toBeGreaterThan(10);
        const times: number[] = [];
        for (let k = 0; k < 3; k++) {
          if (k > 0) {
            const again = await cli(['canary', 'green', '40'], own);
            expect(again.exitCode, again.stdout + again.stderr).toBe(0);
          }
          const r = await cli(['rollback'], own);
          expect(r.exitCode, r.stdout + r.stderr).toBe(0);
          expect(r.stdout).toMatch(/rolled back: blue has 100% of traffic/);
          times.push(r.durationMs);
        }
        const stats = await gen.stop();
        expect(stats.failed, summary(stats)).toBe(0);
        expect(await colorsOf(ports[i] ?? 0, 4)).toEqual(Array(4).fill('200 blue'));
        console.log(`[figures] dockerHost ${t.via} NGINX ${t.nginx} rollback: ${times.join(', ')} ms wall; ${summary(stats)}`);
        await expect.poll(() => strays(i), { timeout: 10_000 }).toEqual([]);
      }
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'stop quits NGINX in every container (the containers keep running); start brings it back on the stable color',
    async () => {
      const stopped = await cli(['stop']);
      expect(stopped.exitCode, stopped.stdout + stopped.stderr).toBe(0);
      for (const [i, t] of TARGETS.entries()) {
        const top = await (engines[i] as TestEngine).run(['top', t.name, '-o', 'pid,args']);
        expect(top.stdout).not.toMatch(/nginx: master/);
        expect(top.stdout).toMatch(/sleep infinity/);
      }
      const started = await cli(['start']);
      expect(started.exitCode, started.stdout + started.stderr).toBe(0);
      for (const i of [0, 1, 2]) expect(await colorsOf(ports[i] ?? 0, 4)).toEqual(Array(4).fill('200 blue'));
    },
    TEST_TIMEOUT_MS,
  );
});

import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { chmod, cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTraffic } from '../../src/demo/traffic.js';
import { BGCTL_BIN, cliEnv, REPO_ROOT } from '../helpers/cli.js';
import { makeSandbox, type Sandbox } from '../helpers/sandbox.js';
import { cleanupTmpDirs, makeTmpDir } from '../helpers/tmp.js';

/**
 * The GitLab CI/CD component (templates/gitlab-deploy/template.yml) run for real by gitlab-ci-local in
 * shell mode, from throwaway git projects that include it the three ways GitLab allows (component,
 * project, local), against a real NGINX and two real demo backends.
 */
const COMPONENT = path.join(REPO_ROOT, 'templates', 'gitlab-deploy', 'template.yml');
const FIXTURE = path.join(REPO_ROOT, 'test', 'fixtures', 'gitlab', 'project');
const git = promisify(execFile);

interface PipelineRun {
  readonly exitCode: number;
  readonly output: string;
}

interface RunOptions {
  readonly file?: string;
  readonly jobs?: readonly string[];
  /** npm package spec the jobs install (bgctl_package); empty: the `bgctl` on PATH */
  readonly pkg?: string;
  readonly onOutput?: (log: string, pid: number) => void;
}

describe('bgctl GitLab CI/CD component under gitlab-ci-local', () => {
  let box: Sandbox;
  let project: string;
  let tarball: string;
  let shims: string;

  beforeAll(async () => {
    // green starts on the old version: the deploy job's `bgctl gradual` runs the config's deploy hook
    // (the demo's, which tells the demo backend of that color to serve the new version)
    box = await makeSandbox('gitlab-ci', {
      greenVersion: '1.0.0',
      overrides: {
        thresholds: { minRequests: 5 },
        migration: { maxExtendSeconds: 10 },
        deploy: { command: [process.execPath, path.join(REPO_ROOT, 'dist', 'demo', 'deploy-hook.js'), '{{color}}', '{{version}}'] },
      },
    });
    const config = path.join(box.dir, 'bgctl.yaml');
    const text = await readFile(config, 'utf8');
    await writeFile(
      config,
      text.replace(/deploy:\n/, `deploy:\n  env:\n    BGCTL_DEMO_PORTS: blue=${box.blue.port},green=${box.green.port}\n`),
    );

    // the package as a release ships it: `npm pack` of this repository (dist/ is built)
    const packs = await makeTmpDir('gitlab-pack');
    const { stdout } = await execa('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', packs], { cwd: REPO_ROOT });
    tarball = path.join(packs, stdout.trim().split('\n').pop() ?? '');
    // a runner host with bgctl installed: `bgctl` on PATH (exec: signals reach node itself)
    shims = await makeTmpDir('gitlab-shims');
    await writeFile(path.join(shims, 'bgctl'), `#!/bin/sh\nexec "${process.execPath}" "${BGCTL_BIN}" "$@"\n`);
    await chmod(path.join(shims, 'bgctl'), 0o755);
    project = await makeProject('gitlab-project');
  }, 120_000);
  afterAll(async () => {
    await box?.close();
    await cleanupTmpDirs();
  });

  /** A git project on branch main (the default branch) with the fixture's files and the component published. */
  async function makeProject(name: string, branch = 'main'): Promise<string> {
    const dir = await makeTmpDir(name);
    await cp(FIXTURE, dir, { recursive: true });
    // tag 0.1.0 of ops/bgctl where gitlab-ci-local keeps fetched includes (component@0.1.0, project ref 0.1.0)
    const release = path.join(
      dir,
      '.gitlab-ci-local',
      'includes',
      'gitlab.example.com',
      'ops',
      'bgctl',
      '0.1.0',
      'templates',
      'gitlab-deploy',
    );
    await mkdir(release, { recursive: true });
    await cp(COMPONENT, path.join(release, 'template.yml'));
    await mkdir(path.join(dir, 'ci', 'bgctl'), { recursive: true });
    await cp(COMPONENT, path.join(dir, 'ci', 'bgctl', 'template.yml'));
    await writeFile(path.join(dir, '.gitignore'), '.gitlab-ci-local/\n.home/\n.bgctl-cli/\n*.json\n*.env\n');
    const g = (...args: string[]) => git('git', ['-c', 'user.name=ci', '-c', 'user.email=ci@example.com', ...args], { cwd: dir });
    await g('init', '-q', '-b', 'main');
    await g('add', '-A');
    await g('commit', '-q', '-m', 'project');
    await g('remote', 'add', 'origin', 'https://gitlab.example.com/acme/shop.git');
    await g('update-ref', 'refs/remotes/origin/main', 'HEAD');
    await g('symbolic-ref', 'refs/remotes/origin/HEAD', 'refs/remotes/origin/main');
    if (branch !== 'main') await g('checkout', '-q', '-b', branch);
    return dir;
  }

  /** Runs the pipeline (or the named jobs) of `dir`; onOutput sees the log as it grows. */
  async function pipeline(dir: string, vars: Record<string, string>, o: RunOptions = {}): Promise<PipelineRun> {
    const variables = {
      BGCTL_TEST_CONFIG: path.join(box.dir, 'bgctl.yaml'),
      BGCTL_TEST_PACKAGE: o.pkg ?? '',
      BGCTL_TEST_STEP_SECONDS: '2',
      APP_VERSION: '0.0.0',
      ...vars,
    };
    // gitlab-ci-local wants --cwd relative; it runs the jobs there (no isolation: the project folder itself)
    const args = ['--no-install', 'gitlab-ci-local', '--cwd', path.relative(REPO_ROOT, dir), '--home', path.join(dir, '.home')];
    args.push('--no-shell-isolation', '--no-color', ...(o.file ? ['--file', o.file] : []));
    args.push(...Object.entries(variables).flatMap(([k, v]) => ['--variable', `${k}=${v}`]), ...(o.jobs ?? []));
    const env = cliEnv({ PATH: o.pkg ? (process.env['PATH'] ?? '') : `${shims}:${process.env['PATH'] ?? ''}` });
    const child = execa('npx', args, { cwd: REPO_ROOT, env, extendEnv: false, reject: false, all: true, timeout: 150_000 });
    let log = '';
    child.all?.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      o.onOutput?.(log, child.pid ?? 0);
    });
    const r = await child;
    return { exitCode: r.exitCode ?? -1, output: String(r.all ?? log) };
  }

  // gitlab-ci-local names a job's folders with every other character base64url-encoded (`:` → `Og`)
  const artifact = (dir: string, job: string, file: string): Promise<string> =>
    readFile(
      path.join(
        dir,
        '.gitlab-ci-local',
        'artifacts',
        job.replace(/[^\w-]+/g, (m) => Buffer.from(m).toString('base64url')),
        file,
      ),
      'utf8',
    );

  const colorsThroughNginx = async (n: number): Promise<Set<string>> =>
    new Set((await Promise.all(Array.from({ length: n }, () => box.get()))).map((r) => `${r.status} ${r.color ?? '-'}`));

  it('a release that fails on real traffic ends red: rolled back automatically (exit 3), all traffic on blue', async () => {
    const traffic = startTraffic({ url: `http://127.0.0.1:${box.listen}/shop`, connections: 3, pauseMs: 10, maxSeconds: 90 });
    const run = await pipeline(project, { APP_VERSION: '2.2.0-flaky' }, { file: 'project.gitlab-ci.yml' });
    const stats = await traffic.stop();

    expect(run.exitCode, run.output).not.toBe(0);
    expect(run.output).toMatch(/PASS +build/);
    expect(run.output).toMatch(/FAIL +bgctl:deploy/);
    expect(run.output).toMatch(
      /bgctl-ci: moving traffic blue -> green \(2\.2\.0-flaky\): bgctl gradual green 2\.2\.0-flaky --steps 50,100 --step-seconds 2/,
    );
    // the job log shows the migration as it happens, one line per event, not one JSON document at the end
    expect(run.output).toMatch(/bgctl:deploy +> deploy +running the deploy hook for green 2\.2\.0-flaky/);
    expect(run.output).toMatch(/bgctl:deploy +> step 1\/2 +/);
    expect(run.output).toMatch(/bgctl:deploy +> ROLLBACK +→ /);
    expect(run.output).toMatch(/bgctl-ci: exit 3: the migration failed its checks and was ROLLED BACK automatically: .*error rate/);
    expect(run.output).toMatch(/bgctl-ci: traffic now: blue 100% \/ green 0%, stable blue/);
    expect(run.output).not.toMatch(/bgctl:rollback +starting/);
    // green really got traffic before it was caught, and now none
    expect(stats.byColor.green).toBeGreaterThan(0);
    expect(await colorsThroughNginx(20)).toEqual(new Set(['200 blue']));
    const s = await box.status();
    expect(s).toMatchObject({ stable: 'blue', weights: { blue: 100, green: 0 }, drift: null });
    expect(s.migration).toMatchObject({ status: 'rolled_back', to: 'green' });
    // the result document is kept as an artifact, failure included, and the colors go on as dotenv
    const result = JSON.parse(await artifact(project, 'bgctl:deploy', 'bgctl-result.json')) as { error: { exitCode: number } };
    expect(result.error.exitCode).toBe(3);
    const dotenv = await artifact(project, 'bgctl:deploy', '.gitlab-ci-reports/dotenv/bgctl.env');
    expect(dotenv).toMatch(/^BGCTL_EXIT_CODE=3$/m);
    expect(dotenv).toMatch(/^BGCTL_STABLE_COLOR=blue$/m);
  }, 180_000);

  it('a good release goes through with bgctl installed from the npm pack tarball, and green ends stable at 100%', async () => {
    const traffic = startTraffic({ url: `http://127.0.0.1:${box.listen}/shop`, connections: 3, pauseMs: 10, maxSeconds: 90 });
    const run = await pipeline(project, { APP_VERSION: '2.1.0' }, { pkg: tarball });
    const stats = await traffic.stop();

    expect(run.exitCode, run.output).toBe(0);
    for (const job of ['build', 'test', 'bgctl:deploy']) expect(run.output).toMatch(new RegExp(`PASS +${job}\\b`));
    expect(run.output).toMatch(/building 2\.1\.0/);
    // bgctl came from the tarball, installed into the job's folder, not from PATH
    expect(run.output).toMatch(new RegExp(`bgctl-ci: installing .*${path.basename(tarball).replace(/\./g, '\\.')}`));
    expect(run.output).toMatch(/bgctl-ci: bgctl \d+\.\d+\.\d+\S* \(.*\/\.bgctl-cli\/bin\/bgctl\)/);
    expect(run.output).toMatch(/bgctl:deploy +> step 2\/2 +/);
    expect(run.output).toMatch(/bgctl-ci: completed: blue 0% \/ green 100%, stable green \(migration blue -> green, version 2\.1\.0\)/);
    expect(run.output).not.toMatch(/bgctl:rollback +starting/);

    const s = await box.status();
    expect(s).toMatchObject({ stable: 'green', weights: { blue: 0, green: 100 }, drift: null });
    expect(s.migration).toMatchObject({ status: 'completed', to: 'green' });
    expect(await colorsThroughNginx(20)).toEqual(new Set(['200 green']));
    expect(stats.byColor.blue).toBeGreaterThan(0);
    expect(stats.byColor.green).toBeGreaterThan(0);

    const dotenv = await artifact(project, 'bgctl:deploy', '.gitlab-ci-reports/dotenv/bgctl.env');
    expect(dotenv).toMatch(/^BGCTL_OUTCOME=completed$/m);
    expect(dotenv).toMatch(/^BGCTL_STABLE_COLOR=green$/m);
    expect(dotenv).toMatch(/^BGCTL_FROM_COLOR=blue$/m);
    expect(await artifact(project, 'test', 'test-report.txt')).toBe('tests of 2.1.0 passed\n');
    const result = JSON.parse(await artifact(project, 'bgctl:deploy', 'bgctl-result.json')) as { outcome: string; stable: string };
    expect(result).toMatchObject({ outcome: 'completed', stable: 'green' });
  }, 180_000);

  it('the manual emergency rollback job (local include) gives blue 100% again', async () => {
    const run = await pipeline(project, {}, { file: 'local.gitlab-ci.yml', jobs: ['bgctl:rollback'] });
    expect(run.exitCode, run.output).toBe(0);
    expect(run.output).toMatch(/bgctl-ci: rollback reverted: blue has 100% \(blue 100% \/ green 0%\)/);
    expect(await box.status()).toMatchObject({ stable: 'blue', weights: { blue: 100, green: 0 } });
    expect(await colorsThroughNginx(10)).toEqual(new Set(['200 blue']));
  }, 120_000);

  it('a deploy job stopped the way a runner stops one (SIGTERM to its processes) returns all traffic to the stable color', async () => {
    let job: { bgctl: number; shell: number } | null = null;
    const run = await pipeline(
      project,
      { APP_VERSION: '2.3.0', BGCTL_TEST_STEP_SECONDS: '60' },
      {
        jobs: ['bgctl:deploy'],
        onOutput: (log) => {
          if (job || !/bgctl:deploy +> step 1\/2 +/.test(log)) return;
          // mid-migration: green has 50%. Cancel or timeout: the runner sends SIGTERM to the job's
          // process group, here the shell gitlab-ci-local runs the job in and bgctl (exec'd by the job)
          job = jobProcesses('gradual', '2.3.0');
          process.kill(job.shell, 'SIGTERM');
          process.kill(job.bgctl, 'SIGTERM');
        },
      },
    );
    expect(job, run.output).not.toBeNull();
    // (gitlab-ci-local counts a shell killed by a signal as passed; GitLab marks the job canceled)
    expect(run.output).toMatch(/bgctl: SIGTERM received; returning traffic to the stable color before exiting/);
    // bgctl outlives its shell: it puts traffic back, then exits 130 with its result document
    await waitGone((job as unknown as { bgctl: number }).bgctl);
    const result = JSON.parse(await readFile(path.join(project, 'bgctl-result.json'), 'utf8')) as { error: { exitCode: number } };
    expect(result.error.exitCode).toBe(130);
    const s = await box.status();
    expect(s).toMatchObject({ stable: 'blue', weights: { blue: 100, green: 0 }, drift: null });
    expect(await colorsThroughNginx(20)).toEqual(new Set(['200 blue']));
  }, 180_000);

  it('two pipelines at once: the second deploy job fails cleanly on the lock (exit 5, nothing changed), the first completes', async () => {
    // gitlab-ci-local has no resource_group (GitLab would queue the second job): bgctl's lock is what is left
    const second = await makeProject('gitlab-project-2');
    const traffic = startTraffic({ url: `http://127.0.0.1:${box.listen}/shop`, connections: 3, pauseMs: 10, maxSeconds: 120 });
    let started: Promise<PipelineRun> | null = null;
    const first = await pipeline(
      project,
      { APP_VERSION: '2.4.0', BGCTL_TEST_STEP_SECONDS: '10' },
      {
        onOutput: (log) => {
          if (started || !/bgctl:deploy +> step 1\/2 +/.test(log)) return;
          started = pipeline(second, { APP_VERSION: '2.4.0', BGCTL_TEST_STEP_SECONDS: '10' }, { jobs: ['bgctl:deploy'] });
        },
      },
    );
    expect(started, first.output).not.toBeNull();
    const other = await (started as unknown as Promise<PipelineRun>);
    await traffic.stop();
    expect(first.exitCode, first.output).toBe(0);
    expect(other.exitCode, other.output).not.toBe(0);
    expect(other.output).toMatch(/bgctl-ci: exit 5: another bgctl operation holds the lock; nothing was changed/);
    const result = JSON.parse(await artifact(second, 'bgctl:deploy', 'bgctl-result.json')) as { error: { exitCode: number } };
    expect(result.error.exitCode).toBe(5);
    expect(await box.status()).toMatchObject({ stable: 'green', weights: { blue: 0, green: 100 }, drift: null });
    expect(await colorsThroughNginx(10)).toEqual(new Set(['200 green']));
  }, 240_000);

  it('only the default branch gets the bgctl jobs; the rollback job is manual', async () => {
    const list = async (dir: string): Promise<string> => {
      const args = ['--no-install', 'gitlab-ci-local', '--cwd', path.relative(REPO_ROOT, dir), '--home', path.join(dir, '.home'), '--list'];
      const r = await execa('npx', [...args, '--no-color'], { cwd: REPO_ROOT, env: cliEnv(), extendEnv: false, reject: false, all: true });
      return String(r.all);
    };
    const onMain = await list(project);
    expect(onMain).toMatch(/^bgctl:deploy +.*deploy +on_success/m);
    expect(onMain).toMatch(/^bgctl:rollback +.*deploy +manual/m);
    const onFeature = await list(await makeProject('gitlab-feature', 'feature/x'));
    expect(onFeature).toMatch(/^build /m);
    expect(onFeature).not.toMatch(/bgctl:/);
  }, 60_000);
});

/** The job's processes: bgctl (found by its arguments) and the shell that started it. */
function jobProcesses(command: string, version: string): { bgctl: number; shell: number } {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (!argv.includes(BGCTL_BIN) || !argv.includes(command) || !argv.includes(version)) continue;
    const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    return { bgctl: Number(entry), shell: ppid };
  }
  throw new Error(`no bgctl ${command} ${version} process`);
}

async function waitGone(pid: number, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    if (Date.now() > until) throw new Error(`process ${pid} still running after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

import { execFile } from 'node:child_process';
import { cp, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTraffic } from '../../src/demo/traffic.js';
import { BGCTL_BIN, cliEnv, REPO_ROOT } from '../helpers/cli.js';
import { makeSandbox, type Sandbox } from '../helpers/sandbox.js';
import { cleanupTmpDirs, makeTmpDir } from '../helpers/tmp.js';

/**
 * The GitLab CI pipeline users include (ci/gitlab/bgctl.gitlab-ci.yml), run for real by gitlab-ci-local
 * in shell mode from a throwaway git project, against a real NGINX and two real demo backends.
 */
const PIPELINE = path.join(REPO_ROOT, 'ci', 'gitlab', 'bgctl.gitlab-ci.yml');
const FIXTURE = path.join(REPO_ROOT, 'test', 'fixtures', 'gitlab', 'project');
const git = promisify(execFile);

interface PipelineRun {
  readonly exitCode: number;
  readonly output: string;
  readonly seconds: number;
}

describe('GitLab CI pipeline under gitlab-ci-local', () => {
  let box: Sandbox;
  let project: string;

  beforeAll(async () => {
    // green starts on the old version too: the pipeline's deploy-to-inactive job puts the new one there
    box = await makeSandbox('gitlab-ci', {
      greenVersion: '1.0.0',
      overrides: { thresholds: { minRequests: 5 }, migration: { maxExtendSeconds: 10 } },
    });
    project = await makeTmpDir('gitlab-project');
    await cp(FIXTURE, project, { recursive: true });
    await mkdir(path.join(project, 'ci', 'gitlab'), { recursive: true });
    await cp(PIPELINE, path.join(project, 'ci', 'gitlab', 'bgctl.gitlab-ci.yml'));
    const g = (...args: string[]) => git('git', ['-c', 'user.name=ci', '-c', 'user.email=ci@example.com', ...args], { cwd: project });
    await g('init', '-q', '-b', 'main');
    await g('add', '-A');
    await g('commit', '-q', '-m', 'project');
    await g('remote', 'add', 'origin', 'https://gitlab.example.com/acme/shop.git');
    await g('update-ref', 'refs/remotes/origin/main', 'HEAD');
    await g('symbolic-ref', 'refs/remotes/origin/HEAD', 'refs/remotes/origin/main');
  });
  afterAll(async () => {
    await box?.close();
    await cleanupTmpDirs();
  });

  /** Runs the pipeline (or the named jobs); onOutput sees the log as it grows. */
  async function pipeline(vars: Record<string, string>, jobs: string[] = [], onOutput?: (log: string) => void): Promise<PipelineRun> {
    const variables = {
      BGCTL: `${process.execPath} ${BGCTL_BIN}`,
      BGCTL_CONFIG: path.join(box.dir, 'bgctl.yaml'),
      BGCTL_LOCK_WAIT_SECONDS: '1',
      DEMO_DEPLOY_HOOK: path.join(REPO_ROOT, 'dist', 'demo', 'deploy-hook.js'),
      BGCTL_DEMO_PORTS: `blue=${box.blue.port},green=${box.green.port}`,
      ...vars,
    };
    // gitlab-ci-local wants --cwd relative; it runs the jobs there (no isolation: the project folder itself)
    const args = [
      '--no-install',
      'gitlab-ci-local',
      '--cwd',
      path.relative(REPO_ROOT, project),
      '--home',
      path.join(project, '.home'),
      '--no-shell-isolation',
    ];
    args.push('--no-color', ...Object.entries(variables).flatMap(([k, v]) => ['--variable', `${k}=${v}`]), ...jobs);
    const started = performance.now();
    const child = execa('npx', args, { cwd: REPO_ROOT, env: cliEnv(), extendEnv: false, reject: false, all: true, timeout: 120_000 });
    let log = '';
    child.all?.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      onOutput?.(log);
    });
    const r = await child;
    return { exitCode: r.exitCode ?? -1, output: String(r.all ?? log), seconds: (performance.now() - started) / 1000 };
  }

  const artifact = (job: string, file: string): Promise<string> =>
    readFile(path.join(project, '.gitlab-ci-local', 'artifacts', job, file), 'utf8');

  const colorsThroughNginx = async (n: number): Promise<string[]> =>
    (await Promise.all(Array.from({ length: n }, () => box.get()))).map((r) => `${r.status} ${r.color ?? '-'}`);

  it('a release that fails on real traffic ends the pipeline red, names the reason, and leaves all traffic on blue', async () => {
    const traffic = startTraffic({ url: `http://127.0.0.1:${box.listen}/shop`, connections: 3, pauseMs: 10, maxSeconds: 90 });
    const run = await pipeline({ APP_VERSION: '2.2.0-flaky' });
    const stats = await traffic.stop();
    console.log(`red pipeline (flaky green, rolled back): ${run.seconds.toFixed(1)} s wall time under gitlab-ci-local`);

    expect(run.exitCode, run.output).not.toBe(0);
    expect(run.output).toMatch(/PASS +detect-active-environment/);
    expect(run.output).toMatch(/deployed 2\.2\.0-flaky to green/);
    expect(run.output).toMatch(/FAIL +gradual-traffic-migration/);
    expect(run.output).toMatch(/ROLLED BACK automatically \(exit 3\): step \d: error rate [\d.]+ > 0\.05/);
    expect(run.output).toMatch(/traffic is back on blue \(100%\)/);
    expect(run.output).not.toMatch(/post-migration-validation +starting/);
    // green really got traffic before it was caught, and now none: every request through NGINX is blue
    expect(stats.byColor.green).toBeGreaterThan(0);
    expect(new Set(await colorsThroughNginx(20))).toEqual(new Set(['200 blue']));
    const s = await box.status();
    expect(s).toMatchObject({ stable: 'blue', weights: { blue: 100, green: 0 }, drift: null });
    expect(s.migration).toMatchObject({ status: 'rolled_back', to: 'green' });
    // the job's --json result is kept as an artifact, failure included
    const gradual = JSON.parse(await artifact('gradual-traffic-migration', 'bgctl-gradual.json')) as { error: { exitCode: number } };
    expect(gradual.error.exitCode).toBe(3);
  }, 150_000);

  it('a good release goes through every stage, waits out a held lock, and leaves green stable at 100%', async () => {
    // another bgctl "holds" the lock when the migration job starts: it must wait and retry, not fail
    const lock = path.join(box.dir, 'state', 'lock');
    await writeFile(
      lock,
      JSON.stringify({ pid: process.pid, host: hostname(), command: 'canary green 10', startedAt: new Date().toISOString() }),
    );
    let released = false;
    const traffic = startTraffic({ url: `http://127.0.0.1:${box.listen}/shop`, connections: 3, pauseMs: 10, maxSeconds: 90 });
    const run = await pipeline({ APP_VERSION: '2.1.0' }, [], (log) => {
      if (!released && /lock held \(exit 5, nothing was changed\).*try 1 of 6/.test(log)) {
        released = true;
        void unlink(lock).catch(() => undefined);
      }
    });
    const stats = await traffic.stop();
    console.log(`green pipeline (promoted, one lock retry): ${run.seconds.toFixed(1)} s wall time under gitlab-ci-local`);

    expect(run.exitCode, run.output).toBe(0);
    expect(released).toBe(true);
    for (const job of ['build', 'test', 'detect-active-environment', 'deploy-to-inactive', 'dual-environment-validation'])
      expect(run.output).toMatch(new RegExp(`PASS +${job}\\b`));
    for (const job of ['gradual-traffic-migration', 'post-migration-validation', 'finalize-deployment', 'setup-monitoring', 'cleanup'])
      expect(run.output).toMatch(new RegExp(`PASS +${job}\\b`));
    expect(run.output).toMatch(/build placeholder for 2\.1\.0/);
    expect(run.output).toMatch(/step 2 +100% +passed/);
    expect(run.output).toMatch(/traffic now: blue 0% \/ green 100%, stable green \(version 2\.1\.0\)/);
    expect(run.output).not.toMatch(/emergency-rollback +starting/);

    const s = await box.status();
    expect(s).toMatchObject({ stable: 'green', weights: { blue: 0, green: 100 }, drift: null });
    expect(s.migration).toMatchObject({ status: 'completed', to: 'green' });
    expect(new Set(await colorsThroughNginx(20))).toEqual(new Set(['200 green']));
    expect(stats.byColor.blue).toBeGreaterThan(0);
    expect(stats.byColor.green).toBeGreaterThan(0);

    // results passed between jobs as artifacts
    const dotenv = await readFile(
      path.join(project, '.gitlab-ci-local', 'artifacts', 'detect-active-environment', '.gitlab-ci-reports', 'dotenv', 'bgctl.env'),
      'utf8',
    );
    expect(dotenv).toMatch(/^BGCTL_ACTIVE_COLOR=blue$/m);
    expect(dotenv).toMatch(/^BGCTL_INACTIVE_COLOR=green$/m);
    expect(await artifact('test', 'test-report.txt')).toBe('tests of 2.1.0 passed\n');
    const history = JSON.parse(await artifact('setup-monitoring', 'bgctl-history.json')) as {
      migrations: { status: string; version: string }[];
    };
    expect(history.migrations[0]).toMatchObject({ status: 'completed', version: '2.1.0' });
    expect(history.migrations[1]).toMatchObject({ status: 'rolled_back', version: '2.2.0-flaky' });
    expect(await artifact('finalize-deployment', 'bgctl-deployment.env')).toMatch(/^BGCTL_LIVE_COLOR=green$/m);
  }, 150_000);

  it('the manual emergency-rollback job gives blue 100% again', async () => {
    const run = await pipeline({}, ['emergency-rollback']);
    expect(run.exitCode, run.output).toBe(0);
    expect(run.output).toMatch(/emergency rollback: reverted; blue has 100%/);
    expect(await box.status()).toMatchObject({ stable: 'blue', weights: { blue: 100, green: 0 } });
    expect(new Set(await colorsThroughNginx(10))).toEqual(new Set(['200 blue']));
  });

  it('a failed pre-flight (exit 6) fails the validation job and says nothing was changed', async () => {
    await box.green.stop();
    const before = await box.stateText();
    const run = await pipeline({}, ['dual-environment-validation']);
    expect(run.exitCode, run.output).not.toBe(0);
    expect(run.output).toMatch(/validate: pre-flight failed \(exit 6\); nothing was changed/);
    expect(run.output).toMatch(/FAIL +green healthy/);
    expect(await box.stateText()).toBe(before);
  });
});

/**
 * A throwaway installation to measure against: a temp folder, two demo backends as real processes on
 * free loopback ports, a bgctl.yaml in the shape of test/helpers/fixture.ts, and an NGINX master
 * started with `bgctl start`. Everything it starts is registered with cleanup.mjs the moment it exists.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { stringify } from 'yaml';
import { defer } from './cleanup.mjs';
import { REPO_ROOT, bgctl, bgctlOk, sleep } from './proc.mjs';

const BACKEND_MAIN = path.join(REPO_ROOT, 'dist', 'demo', 'backend-main.js');
export const NGINX_BIN = process.env.BGCTL_BENCH_NGINX ?? 'nginx';

/** A port that was free on 127.0.0.1 a moment ago (the kernel picks it). */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** A demo backend as its own process (not in the bench's event loop: the bench measures, it must not serve). */
async function startBackend(color, version) {
  const child = execa(process.execPath, [BACKEND_MAIN, '--color', color, '--version', version, '--port', '0', '--host', '127.0.0.1'], {
    reject: false,
    stdin: 'ignore',
    forceKillAfterDelay: 3000,
  });
  const exited = child.then(() => undefined);
  defer(`backend ${color}`, async () => {
    child.kill('SIGTERM'); // forceKillAfterDelay follows with SIGKILL if it lingers
    await exited;
  });
  const port = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`backend ${color} did not start within 10 s: ${out}`)), 10_000);
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const m = /^listening http:\/\/127\.0\.0\.1:(\d+) /m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`backend ${color} exited before listening: ${out}`));
    });
  });
  return { color, version, port };
}

/** The config: real steps of 1 s, fast probes, and thresholds as in the integration tests. */
function benchConfig({ listen, blue, green }) {
  return {
    listen,
    environments: {
      blue: { servers: [`127.0.0.1:${blue}`], health: '/health' },
      green: { servers: [`127.0.0.1:${green}`], health: '/health' },
    },
    nginx: { driver: 'local', dir: 'nginx', binary: NGINX_BIN, confirmTimeoutMs: 5000 },
    migration: { steps: [25, 50, 75, 100], stepSeconds: 1, strategy: 'weighted' },
    probe: { intervalMs: 200, timeoutMs: 1000, waitHealthySeconds: 10 },
    thresholds: { errorRate: 0.05, errorRateForSeconds: 0, p95LatencyMs: 1000, latencyForSeconds: 0, minRequests: 5 },
    stateDir: 'state',
  };
}

async function makeTmpDir() {
  const dir = await realpath(await mkdtemp(path.join(os.tmpdir(), 'bgctl-bench-')));
  defer(`remove ${dir}`, () => rm(dir, { recursive: true, force: true, maxRetries: 3, retryDelay: 100 }));
  return dir;
}

/**
 * Stops the NGINX master: `bgctl stop`, and if a master is still alive after that (bgctl broken by a
 * concurrent edit, say) SIGTERM to the pid in its own pid file: it is the master this bench started.
 */
async function stopNginx(dir, nginxDir) {
  await bgctl(['stop'], { cwd: dir, timeoutMs: 20_000 });
  const pidFile = path.join(nginxDir, 'logs', 'nginx.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
  if (!Number.isInteger(pid) || pid <= 1) return;
  try {
    process.kill(pid, 'SIGTERM');
    process.stderr.write(`bench: bgctl stop left nginx ${pid} running; sent SIGTERM\n`);
    await sleep(1000);
  } catch {
    // already gone: nothing to do
  }
}

export async function makeSandbox() {
  const dir = await makeTmpDir();
  const blue = await startBackend('blue', '1.0.0');
  const green = await startBackend('green', '2.1.0');
  const listen = await freePort();
  await writeFile(path.join(dir, 'bgctl.yaml'), stringify(benchConfig({ listen, blue: blue.port, green: green.port })));
  const nginxDir = path.join(dir, 'nginx');
  // registered before `start` runs: a start that fails half-way may still have left a master behind
  defer('stop nginx', () => stopNginx(dir, nginxDir));
  await bgctlOk(['start'], { cwd: dir, timeoutMs: 30_000 });
  return {
    dir,
    listen,
    nginxDir,
    blue,
    green,
    url: `http://127.0.0.1:${listen}/load`,
    cli: (args, timeoutMs = 60_000) => bgctl(args, { cwd: dir, timeoutMs }),
    cliOk: (args, timeoutMs = 60_000) => bgctlOk(args, { cwd: dir, timeoutMs }),
  };
}

/** Brings the sandbox to COLOR at 100% (direct switch) unless it is there already. */
export async function ensureOn(box, color) {
  const r = await box.cliOk(['status', '--json'], 30_000);
  const s = JSON.parse(r.stdout);
  if (s.stable === color && s.weights?.[color] === 100 && !s.migration?.status?.match(/running|holding/)) return;
  await box.cliOk(['switch', color]);
}

/**
 * The baseline's reload: a bare `nginx -s reload` on the same master, no bgctl in the loop. `-e` names
 * the sandbox's error log (as bgctl does), else nginx >= 1.19.5 would open the system-wide one first.
 */
export function reloadNginx(box) {
  const conf = path.join(box.nginxDir, 'nginx.conf');
  const errorLog = path.join(box.nginxDir, 'logs', 'error.log');
  return execa(NGINX_BIN, ['-p', box.nginxDir, '-c', conf, '-e', errorLog, '-s', 'reload'], {
    reject: false,
    stdin: 'ignore',
    timeout: 10_000,
  });
}

/**
 * A throwaway installation to measure against: a temp folder, two demo backends as real processes on
 * free loopback ports, a bgctl.yaml in the shape of test/helpers/fixture.ts, and an NGINX master
 * started with `bgctl start`. Everything it starts is registered with cleanup.mjs the moment it exists.
 */
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, readdir, realpath, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { request } from 'undici';
import { stringify } from 'yaml';
import { defer } from './cleanup.mjs';
import { REPO_ROOT, bgctl, bgctlOk, sleep } from './proc.mjs';

const BACKEND_MAIN = path.join(REPO_ROOT, 'dist', 'demo', 'backend-main.js');
export const NGINX_BIN = process.env.BGCTL_BENCH_NGINX ?? 'nginx';

/** A port that was free on 127.0.0.1 a moment ago (the kernel picks it). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * A demo backend as its own process (not in the bench's event loop: the bench measures, it must not
 * serve). `kill()` SIGKILLs it like a crashing app; `restart()` starts it again on the same port.
 */
async function startBackend(color, version, port = 0) {
  const child = execa(
    process.execPath,
    [BACKEND_MAIN, '--color', color, '--version', version, '--port', String(port), '--host', '127.0.0.1'],
    {
      reject: false,
      stdin: 'ignore',
      forceKillAfterDelay: 3000,
    },
  );
  const exited = child.then(() => undefined);
  const undo = defer(`backend ${color}`, async () => {
    child.kill('SIGTERM'); // forceKillAfterDelay follows with SIGKILL if it lingers
    await exited;
  });
  const listening = await new Promise((resolve, reject) => {
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
  return {
    color,
    version,
    port: listening,
    url: `http://127.0.0.1:${listening}`,
    async kill() {
      child.kill('SIGKILL');
      await exited;
      await undo();
    },
    restart: () => startBackend(color, version, listening),
  };
}

/**
 * The config: real steps of 1 s, fast probes, and thresholds as in the integration tests. nginx.mode is
 * pinned to reload: every case but `dynamic` measures the reload path (the prefix folder now lets `auto`
 * pick dynamic, which would change what they measure); `dynamic` switches modes with configureMode().
 */
function benchConfig({ listen, blue, green }, over = {}) {
  const base = {
    listen,
    environments: {
      blue: { servers: [`127.0.0.1:${blue}`], health: '/health' },
      green: { servers: [`127.0.0.1:${green}`], health: '/health' },
    },
    nginx: { driver: 'local', dir: 'nginx', binary: NGINX_BIN, confirmTimeoutMs: 5000, mode: 'reload' },
    migration: { steps: [25, 50, 75, 100], stepSeconds: 1, strategy: 'weighted' },
    probe: { intervalMs: 200, timeoutMs: 1000, waitHealthySeconds: 10 },
    thresholds: { errorRate: 0.05, errorRateForSeconds: 0, p95LatencyMs: 1000, latencyForSeconds: 0, minRequests: 5 },
    stateDir: 'state',
  };
  // a case may replace whole sections (thresholds, probe) for its own runs
  return { ...base, ...over };
}

async function makeTmpDir() {
  const dir = await realpath(await mkdtemp(path.join(os.tmpdir(), 'bgctl-bench-')));
  defer(`remove ${dir}`, () => rm(dir, { recursive: true, force: true, maxRetries: 3, retryDelay: 100 }));
  // mkdtemp makes it 0700; NGINX's workers (nobody, under a root master) must enter it to read dynamic
  // mode's weights file, else bgctl refuses nginx.mode: dynamic. Nothing secret lives here.
  await chmod(dir, 0o755);
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
  const ports = { listen, blue: blue.port, green: green.port };
  const writeConfig = (over) => writeFile(path.join(dir, 'bgctl.yaml'), stringify(benchConfig(ports, over)));
  await writeConfig();
  const nginxDir = path.join(dir, 'nginx');
  // registered before `start` runs: a start that fails half-way may still have left a master behind
  defer('stop nginx', () => stopNginx(dir, nginxDir));
  await bgctlOk(['start'], { cwd: dir, timeoutMs: 30_000 });
  const box = {
    dir,
    listen,
    nginxDir,
    accessLog: path.join(nginxDir, 'logs', 'access.json.log'),
    blue,
    green,
    url: `http://127.0.0.1:${listen}/load`,
    cli: (args, timeoutMs = 60_000) => bgctl(args, { cwd: dir, timeoutMs }),
    cliOk: (args, timeoutMs = 60_000) => bgctlOk(args, { cwd: dir, timeoutMs }),
    /** rewrites bgctl.yaml with some sections replaced (`{}`: the bench's own config again) */
    configure: (over = {}) => writeConfig(over),
    /**
     * the bench's own config with nginx.mode set ('dynamic' | 'reload' | 'auto'); NGINX changes mode at
     * the next apply that changes weights (a reload: the structure differs)
     */
    configureMode: (mode) => writeConfig({ nginx: { ...benchConfig(ports).nginx, mode } }),
    /** the NGINX master's pid, from its pid file; null when not running */
    masterPid: async () => {
      const pid = Number((await readFile(path.join(nginxDir, 'logs', 'nginx.pid'), 'utf8').catch(() => '')).trim());
      return Number.isInteger(pid) && pid > 1 ? pid : null;
    },
    /**
     * what NGINX serves now, asked on a fresh connection: { revision, blue, green, strategy, stable } or null.
     * /__bgctl/ answers only with the secret bgctl made for this sandbox (stateDir/force-secret).
     */
    live: async () => {
      const secret = (await readFile(path.join(dir, 'state', 'force-secret'), 'utf8').catch(() => '')).trim();
      return getJson(`http://127.0.0.1:${listen}/__bgctl/status`, { 'x-bgctl-secret': secret });
    },
    /** puts another version on a running backend (the demo's deploy hook): e.g. "2.1.0-flaky" */
    async deploy(color, version) {
      const r = await request(`${box[color].url}/__demo/deploy?version=${encodeURIComponent(version)}`, { method: 'POST', reset: true });
      await r.body.dump();
      if (r.statusCode !== 200) throw new Error(`deploy ${color} ${version}: HTTP ${r.statusCode}`);
    },
    /** SIGKILL (a crash); restart() brings it back on the same port */
    kill: (color) => box[color].kill(),
    async restart(color) {
      box[color] = await box[color].restart();
    },
  };
  return box;
}

async function getJson(url, headers = {}) {
  try {
    const r = await request(url, { reset: true, headers, headersTimeout: 2000, bodyTimeout: 2000 });
    const text = await r.body.text();
    return r.statusCode === 200 ? JSON.parse(text) : null;
  } catch {
    return null;
  }
}

/**
 * The children of `ppid` (for NGINX's master: its workers, old ones still shutting down included), from
 * /proc/PID/stat, reading only the processes not in `skip` (the `all` of a previous call: only newer
 * processes need reading; pids wrap around, so "newer" cannot mean "higher"). Returns { pids, all }.
 */
export async function childPids(ppid, skip = new Set()) {
  const all = new Set((await readdir('/proc').catch(() => [])).map(Number).filter((pid) => Number.isInteger(pid) && pid > 0));
  const pids = [];
  for (const pid of all) {
    if (skip.has(pid)) continue;
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ')'
    const fields = stat?.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields && Number(fields[1]) === ppid) pids.push(pid);
  }
  return { pids, all };
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

/**
 * 6. Data-plane overhead, with wrk (Debian's `wrk`), the proxy as the bottleneck: every proxy under test
 *    runs ONE worker, the backends are a tiny NGINX (`return 200`, two workers, one port per color) that
 *    answers far faster than a proxy can forward, and wrk drives 2 threads over 16 keep-alive connections.
 *    Same backends, same run, interleaved in rotating order:
 *      direct   the backend NGINX itself, no proxy;
 *      minimal  a minimal hand-written config: one upstream with keepalive, `proxy_pass`, the default
 *               access log;
 *      reload   bgctl's rendered config in reload mode (nginx.mode: reload) at 50/50: JSON access log,
 *               the exact split upstream, maps, forced-route checks, X-Bgctl-Color;
 *      dynamic  bgctl's rendered config in dynamic mode at 50/50: the same, with njs picking the color
 *               from the weights file (njs 0.7.9: read on every request).
 *    And, when the Docker engine has the image (scripts/docker-setup.sh builds it), the njs 0.8 generation
 *    in a container on the host network and PID namespace (so its workers' CPU is read the same way):
 *      minimal08  the minimal config on NGINX 1.26 / njs 0.8.9;
 *      dynamic08  the dynamic copy on NGINX 1.26 / njs 0.8.9 with the one line bgctl adds there
 *                 (js_shared_dict_zone: the workers share the checked weights; no file read per request).
 *    bgctl's files are the sandbox's own (bgctl renders them, `canary green 50` in each mode), copied to a
 *    prefix of their own with only the worker count, the listen port and the backend addresses changed.
 *    Next to req/s and p99: the proxy's CPU time per request (its workers' utime + stime from /proc over
 *    the wrk window, divided by the requests), which a busy shared machine disturbs far less than req/s.
 */
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { request } from 'undici';
import { defer } from '../lib/cleanup.mjs';
import { sleep } from '../lib/proc.mjs';
import { NGINX_BIN, childPids, ensureOn, freePort } from '../lib/sandbox.mjs';
import { PAIRS, ratioKey } from '../lib/pairs.mjs';
import { ratio, summarize } from '../lib/stats.mjs';
import { enter } from './dynamic.mjs';

export const WRK_BIN = process.env.BGCTL_BENCH_WRK ?? 'wrk';
/** NGINX 1.26 + njs 0.8.9, built from Debian trixie by scripts/docker-setup.sh */
const NJS08_IMAGE = process.env.BGCTL_BENCH_NJS08_IMAGE ?? 'bgctl-nginx:1.26';
/** the line bgctl renders for njs 0.8+, taken from the template itself */
const SITE_TEMPLATE = new URL('../../nginx/templates/site.conf.hbs', import.meta.url);
const WRK_THREADS = 2;
/** Linux's USER_HZ: /proc/PID/stat counts CPU time in these */
const CLOCK_TICKS = 100;

const backendConf = (blue, green) => `# the bench's backends: answers at once, never the bottleneck
worker_processes 2;
pid logs/nginx.pid;
error_log logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:${blue};
        listen 127.0.0.1:${green};
        location / { return 200 "ok\n"; }
    }
}
`;

const minimalConf = (listen, backend) => `# minimal hand-written reverse proxy: the data-plane baseline
worker_processes 1;
pid logs/nginx.pid;
error_log logs/error.log warn;
events { worker_connections 1024; }
http {
    keepalive_timeout 65s;
    access_log logs/access.log;
    upstream app {
        server 127.0.0.1:${backend};
        keepalive 32;
        keepalive_timeout 4s;
    }
    server {
        listen 127.0.0.1:${listen};
        location / {
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
`;

/** Starts an NGINX master on PREFIX/nginx.conf (stopped at cleanup); resolves when `url` answers 200. */
async function startNginx(prefix, url) {
  await mkdir(path.join(prefix, 'logs'), { recursive: true });
  await mkdir(path.join(prefix, 'temp'), { recursive: true });
  const conf = path.join(prefix, 'nginx.conf');
  const nginx = (args) =>
    execa(NGINX_BIN, ['-p', prefix, '-c', conf, '-e', path.join(prefix, 'logs', 'error.log'), ...args], {
      reject: false,
      stdin: 'ignore',
      timeout: 10_000,
    });
  defer(`stop nginx ${path.basename(prefix)}`, () => nginx(['-s', 'quit']).then(() => sleep(500)));
  const r = await nginx([]);
  if (r.exitCode !== 0) throw new Error(`nginx ${path.basename(prefix)} did not start: ${r.stderr}`);
  for (let i = 0; i < 50; i++) {
    const probe = await request(url, { reset: true }).catch(() => null);
    await probe?.body.dump();
    if (probe?.statusCode === 200) return { url, prefix };
    await sleep(100);
  }
  throw new Error(`nginx ${path.basename(prefix)} does not answer ${url}`);
}

/** Like startNginx, in a container of NJS08_IMAGE sharing the host's network and PIDs (the pid file holds a host pid). */
async function startInContainer(prefix, url) {
  await mkdir(path.join(prefix, 'logs'), { recursive: true });
  await mkdir(path.join(prefix, 'temp'), { recursive: true });
  const name = `bgctl-bench-${path.basename(prefix)}-${process.pid}`;
  defer(`remove container ${name}`, () => execa('docker', ['rm', '-f', name], { reject: false, stdin: 'ignore', timeout: 20_000 }));
  const conf = path.join(prefix, 'nginx.conf');
  const argv = ['run', '-d', '--rm', '--name', name, '--network', 'host', '--pid', 'host', '-v', `${prefix}:${prefix}`, NJS08_IMAGE];
  const nginx = ['nginx', '-g', 'daemon off;', '-p', prefix, '-c', conf, '-e', path.join(prefix, 'logs', 'error.log')];
  const r = await execa('docker', [...argv, ...nginx], { reject: false, stdin: 'ignore', timeout: 60_000 });
  if (r.exitCode !== 0) throw new Error(`container ${name} did not start: ${r.stderr || r.message}`);
  for (let i = 0; i < 50; i++) {
    const probe = await request(url, { reset: true }).catch(() => null);
    await probe?.body.dump();
    if (probe?.statusCode === 200) return { url, prefix };
    await sleep(100);
  }
  throw new Error(`container ${name} does not answer ${url}`);
}

/** Why the njs 0.8 rows cannot be measured here, or null. */
async function njs08Missing() {
  const r = await execa('docker', ['image', 'inspect', '--format', '{{.Id}}', NJS08_IMAGE], {
    reject: false,
    stdin: 'ignore',
    timeout: 20_000,
  });
  return r.exitCode === 0 ? null : `no ${NJS08_IMAGE} image on the Docker engine (${(r.stderr || r.message || '').trim().slice(0, 120)})`;
}

/**
 * The njs 0.8 pair: the minimal config and the dynamic copy in NJS08_IMAGE, the copy with the
 * js_shared_dict_zone line bgctl renders when the module has it (nothing else differs).
 */
async function njs08Targets(box, dynamicPrefix, backends) {
  const minimalDir = path.join(box.dir, 'data-plane-minimal08');
  await mkdir(minimalDir, { recursive: true });
  const minimalPort = await freePort();
  await writeFile(path.join(minimalDir, 'nginx.conf'), minimalConf(minimalPort, backends.blue));
  const minimal = await startInContainer(minimalDir, `http://127.0.0.1:${minimalPort}/load`);
  const line = /^js_shared_dict_zone .*;$/m.exec(await readFile(SITE_TEMPLATE, 'utf8'))?.[0];
  if (!line) throw new Error('no js_shared_dict_zone line in nginx/templates/site.conf.hbs');
  const prefix = path.join(box.dir, 'data-plane-dynamic08');
  await mkdir(path.join(prefix, 'conf.d'), { recursive: true });
  const listen = await freePort();
  let site = await readFile(path.join(dynamicPrefix, 'conf.d', 'bgctl.conf'), 'utf8');
  site = site.replace(/listen\s+127\.0\.0\.1:\d+;/g, `listen 127.0.0.1:${listen};`).replace(/^(js_import bgctl from .*;)$/m, `$1\n${line}`);
  if (!site.includes(line)) throw new Error('no js_import line in the dynamic copy');
  await writeFile(path.join(prefix, 'conf.d', 'bgctl.conf'), site);
  for (const f of ['nginx.conf', 'conf.d/bgctl.js', 'conf.d/bgctl-weights.json'])
    await copyFile(path.join(dynamicPrefix, f), path.join(prefix, f));
  const dynamic = await startInContainer(prefix, `http://127.0.0.1:${listen}/load`);
  // the workers route by the shared copy: NGINX's own status says so
  const secret = (await readFile(path.join(box.dir, 'state', 'force-secret'), 'utf8')).trim();
  const res = await request(`http://127.0.0.1:${listen}/__bgctl/status`, { reset: true, headers: { 'x-bgctl-secret': secret } });
  const answer = await res.body.json();
  if (answer?.shared !== true) throw new Error(`dynamic08 does not use the shared zone: ${JSON.stringify(answer)}`);
  return [
    { id: 'minimal08', label: 'minimal proxy_pass NGINX 1.26 / njs 0.8.9 (container)', ...minimal },
    { id: 'dynamic08', label: "bgctl's config, dynamic mode, 50/50, NGINX 1.26 / njs 0.8.9 (weights in shared memory)", ...dynamic },
  ];
}

/** `text` with every 127.0.0.1:FROM (a whole port number) turned into 127.0.0.1:TO. */
const swapPort = (text, from, to) => text.replace(new RegExp(`127\\.0\\.0\\.1:${from}(?!\\d)`, 'g'), `127.0.0.1:${to}`);

/**
 * bgctl's config in MODE at 50/50, as bgctl rendered it for the sandbox, copied to its own prefix: one
 * worker, listening on a port of its own, the colors' servers replaced by the backend NGINX's ports.
 */
async function copyOfBgctl(box, mode, backends) {
  await enter(box, mode, 'canary');
  const prefix = path.join(box.dir, `data-plane-${mode}`);
  await mkdir(path.join(prefix, 'conf.d'), { recursive: true });
  const listen = await freePort();
  const main = (await readFile(path.join(box.nginxDir, 'nginx.conf'), 'utf8')).replace(/worker_processes\s+\S+;/, 'worker_processes 1;');
  let site = await readFile(path.join(box.nginxDir, 'conf.d', 'bgctl.conf'), 'utf8');
  site = swapPort(swapPort(site, box.blue.port, backends.blue), box.green.port, backends.green);
  site = site.replace(new RegExp(`listen\\s+(?:\\S*:)?${box.listen};`, 'g'), `listen 127.0.0.1:${listen};`);
  await writeFile(path.join(prefix, 'nginx.conf'), main);
  await writeFile(path.join(prefix, 'conf.d', 'bgctl.conf'), site);
  if (mode === 'dynamic')
    for (const f of ['bgctl.js', 'bgctl-weights.json'])
      await copyFile(path.join(box.nginxDir, 'conf.d', f), path.join(prefix, 'conf.d', f));
  return startNginx(prefix, `http://127.0.0.1:${listen}/load`);
}

/** CPU seconds·CLOCK_TICKS used so far by the workers of the NGINX under PREFIX. */
async function workerTicks(prefix) {
  const master = Number((await readFile(path.join(prefix, 'logs', 'nginx.pid'), 'utf8')).trim());
  let ticks = 0;
  for (const pid of (await childPids(master)).pids) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
    const f = stat?.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (f) ticks += Number(f[11]) + Number(f[12]); // utime, stime (fields 14 and 15)
  }
  return ticks;
}

const UNIT = { us: 0.001, ms: 1, s: 1000, m: 60_000 };
const toMs = (v, unit) => Number(v) * (UNIT[unit] ?? NaN);

/** Pure: the figures of one `wrk --latency` run. */
export function parseWrk(text) {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(text);
  const p = (q) => {
    const m = new RegExp(`^\\s+${q}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(text);
    return m ? toMs(m[1], m[2]) : null;
  };
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(text);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const requests = /(\d+) requests in/.exec(text);
  return {
    rps: rps ? Number(rps[1]) : null,
    p50: p(50),
    p99: p(99),
    requests: requests ? Number(requests[1]) : null,
    errors: (non2xx ? Number(non2xx[1]) : 0) + (socket ? socket.slice(1).reduce((a, n) => a + Number(n), 0) : 0),
  };
}

export async function wrk(url, seconds, connections, threads = 1) {
  const r = await execa(WRK_BIN, [`-t${threads}`, `-c${connections}`, `-d${seconds}s`, '--latency', url], {
    reject: false,
    stdin: 'ignore',
    timeout: (seconds + 20) * 1000,
  });
  if (r.exitCode !== 0) throw new Error(`wrk exited ${r.exitCode}: ${r.stderr || r.stdout}`);
  return parseWrk(r.stdout);
}

/** One wrk window on a target, with the proxy's CPU time per request. */
async function measure(t, opts) {
  const before = await workerTicks(t.prefix);
  const r = await wrk(t.url, opts.wrkSeconds, opts.wrkConnections, WRK_THREADS);
  const ticks = (await workerTicks(t.prefix)) - before;
  return { ...r, cpuUsPerRequest: r.requests ? (ticks * 1e6) / CLOCK_TICKS / r.requests : null };
}

export async function benchDataPlane(box, opts, log) {
  // wrk --version exits 1 after printing its banner; a missing wrk has no exit code at all
  const version = await execa(WRK_BIN, ['--version'], { reject: false, stdin: 'ignore', timeout: 5000 });
  if (typeof version.exitCode !== 'number') throw new Error(`${WRK_BIN} not found: apt-get install wrk (or set BGCTL_BENCH_WRK)`);
  const backends = { blue: await freePort(), green: await freePort() };
  const backendDir = path.join(box.dir, 'data-plane-backends');
  await mkdir(backendDir, { recursive: true });
  await writeFile(path.join(backendDir, 'nginx.conf'), backendConf(backends.blue, backends.green));
  const direct = await startNginx(backendDir, `http://127.0.0.1:${backends.blue}/load`);
  const minimalDir = path.join(box.dir, 'data-plane-minimal');
  await mkdir(minimalDir, { recursive: true });
  const minimalPort = await freePort();
  await writeFile(path.join(minimalDir, 'nginx.conf'), minimalConf(minimalPort, backends.blue));
  const minimal = await startNginx(minimalDir, `http://127.0.0.1:${minimalPort}/load`);
  let targets;
  let njs08 = await njs08Missing();
  try {
    const dynamic = await copyOfBgctl(box, 'dynamic', backends);
    targets = [
      { id: 'direct', label: 'backend NGINX directly', ...direct },
      { id: 'minimal', label: 'minimal proxy_pass NGINX', ...minimal },
      { id: 'reload', label: "bgctl's config, reload mode, 50/50", ...(await copyOfBgctl(box, 'reload', backends)) },
      { id: 'dynamic', label: "bgctl's config, dynamic mode, 50/50", ...dynamic },
    ];
    if (njs08 === null) {
      try {
        targets.push(...(await njs08Targets(box, dynamic.prefix, backends)));
      } catch (error) {
        njs08 = error?.message ?? String(error);
      }
    }
    if (njs08 !== null) log(`  njs 0.8 rows not measured: ${njs08}`);
  } finally {
    // the sandbox back as the other cases expect it: reload mode, blue 100%
    await enter(box, 'reload', 'blue').catch((error) => log(`  could not restore reload mode: ${error?.message ?? error}`));
    await box.configure();
    await ensureOn(box, 'blue');
  }
  for (const t of targets) await wrk(t.url, 1, opts.wrkConnections, WRK_THREADS); // warm-up, discarded
  const runs = [];
  for (let i = 1; i <= opts.runs; i++) {
    const run = { run: i };
    for (let k = 0; k < targets.length; k++) {
      const t = targets[(k + i) % targets.length];
      run[t.id] = await measure(t, opts);
      await sleep(opts.settleMs);
    }
    runs.push(run);
    log(
      `  run ${i}/${opts.runs}: ${targets.map((t) => `${t.id} ${Math.round(run[t.id].rps)} req/s ${run[t.id].cpuUsPerRequest?.toFixed(1)} µs/req p99 ${run[t.id].p99?.toFixed(2)} ms`).join(', ')}`,
    );
  }
  return {
    seconds: opts.wrkSeconds,
    connections: opts.wrkConnections,
    threads: WRK_THREADS,
    targets: targets.map(({ id, label }) => ({ id, label })),
    runs,
    summary: summarizeRuns(runs, targets),
    ...(njs08 === null ? {} : { njs08NotMeasured: njs08 }),
  };
}

export function summarizeRuns(runs, targets) {
  const out = {};
  for (const t of targets) {
    out[t.id] = {
      label: t.label,
      rps: summarize(runs.map((r) => r[t.id].rps)),
      p99: summarize(runs.map((r) => r[t.id].p99)),
      p50: summarize(runs.map((r) => r[t.id].p50)),
      cpu: summarize(runs.map((r) => r[t.id].cpuUsPerRequest)),
      errors: runs.reduce((a, r) => a + r[t.id].errors, 0),
    };
  }
  const m = (id, k) => out[id][k].median;
  out.ratios = {};
  for (const [id, base] of PAIRS) {
    if (!out[id] || !out[base]) continue;
    out.ratios[ratioKey('rps', id, base)] = ratio(m(id, 'rps'), m(base, 'rps'));
    out.ratios[ratioKey('p99', id, base)] = ratio(m(id, 'p99'), m(base, 'p99'));
    // req/s the CPU allows, relative: the minimal config's CPU per request over this one's
    out.ratios[ratioKey('cpu', id, base)] = ratio(m(base, 'cpu'), m(id, 'cpu'));
  }
  out.ratios.rpsMinimalVsDirect = ratio(m('minimal', 'rps'), m('direct', 'rps'));
  out.ratios.p99MinimalVsDirect = ratio(m('minimal', 'p99'), m('direct', 'p99'));
  return out;
}

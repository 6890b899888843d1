/**
 * 6. Data-plane overhead, with wrk (Debian's `wrk`): throughput and p99 latency of the same blue
 *    backend reached three ways, in the same run, interleaved in rotating order:
 *      direct   the backend itself, no proxy;
 *      minimal  a second NGINX with a minimal hand-written config: one upstream with keepalive,
 *               `proxy_pass`, the default access log (same main settings as bgctl's: workers auto);
 *      bgctl    the sandbox's NGINX on bgctl's rendered config (blue 100%): JSON access log, the
 *               split upstream, maps, forced-route checks, the X-Bgctl-Color header.
 *    The ratio bgctl / minimal is what bgctl's config costs; minimal / direct what any proxy costs.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { request } from 'undici';
import { defer } from '../lib/cleanup.mjs';
import { sleep } from '../lib/proc.mjs';
import { NGINX_BIN, ensureOn, freePort } from '../lib/sandbox.mjs';
import { ratio, summarize } from '../lib/stats.mjs';

export const WRK_BIN = process.env.BGCTL_BENCH_WRK ?? 'wrk';

const minimalConf = (listen, backend) => `# minimal hand-written reverse proxy: the data-plane baseline
worker_processes auto;
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

async function startMinimal(box) {
  const prefix = path.join(box.dir, 'minimal');
  await mkdir(path.join(prefix, 'logs'), { recursive: true });
  const listen = await freePort();
  const conf = path.join(prefix, 'nginx.conf');
  await writeFile(conf, minimalConf(listen, box.blue.port));
  const nginx = (args) =>
    execa(NGINX_BIN, ['-p', prefix, '-c', conf, '-e', path.join(prefix, 'logs', 'error.log'), ...args], {
      reject: false,
      stdin: 'ignore',
      timeout: 10_000,
    });
  defer('stop minimal nginx', () => nginx(['-s', 'quit']).then(() => sleep(500)));
  const r = await nginx([]);
  if (r.exitCode !== 0) throw new Error(`minimal nginx did not start: ${r.stderr}`);
  for (let i = 0; i < 50; i++) {
    const probe = await request(`http://127.0.0.1:${listen}/load`, { reset: true }).catch(() => null);
    await probe?.body.dump();
    if (probe?.statusCode === 200) return `http://127.0.0.1:${listen}/load`;
    await sleep(100);
  }
  throw new Error('minimal nginx does not answer');
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

export async function wrk(url, seconds, connections) {
  const r = await execa(WRK_BIN, ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', url], {
    reject: false,
    stdin: 'ignore',
    timeout: (seconds + 20) * 1000,
  });
  if (r.exitCode !== 0) throw new Error(`wrk exited ${r.exitCode}: ${r.stderr || r.stdout}`);
  return parseWrk(r.stdout);
}

export async function benchDataPlane(box, opts, log) {
  // wrk --version exits 1 after printing its banner; a missing wrk has no exit code at all
  const version = await execa(WRK_BIN, ['--version'], { reject: false, stdin: 'ignore', timeout: 5000 });
  if (typeof version.exitCode !== 'number') throw new Error(`${WRK_BIN} not found: apt-get install wrk (or set BGCTL_BENCH_WRK)`);
  await ensureOn(box, 'blue');
  const targets = [
    { id: 'direct', label: 'backend directly', url: `http://127.0.0.1:${box.blue.port}/load` },
    { id: 'minimal', label: 'minimal proxy_pass NGINX', url: await startMinimal(box) },
    { id: 'bgctl', label: "bgctl's rendered NGINX", url: box.url },
  ];
  for (const t of targets) await wrk(t.url, 1, opts.wrkConnections); // warm-up, discarded
  const runs = [];
  for (let i = 1; i <= opts.runs; i++) {
    const run = { run: i };
    for (let k = 0; k < targets.length; k++) {
      const t = targets[(k + i) % targets.length];
      run[t.id] = await wrk(t.url, opts.wrkSeconds, opts.wrkConnections);
      await sleep(opts.settleMs);
    }
    runs.push(run);
    log(
      `  run ${i}/${opts.runs}: ${targets.map((t) => `${t.id} ${Math.round(run[t.id].rps)} req/s p99 ${run[t.id].p99?.toFixed(2)} ms`).join(', ')}`,
    );
  }
  return {
    seconds: opts.wrkSeconds,
    connections: opts.wrkConnections,
    targets: targets.map(({ id, label }) => ({ id, label })),
    runs,
    summary: summarizeRuns(runs, targets),
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
      errors: runs.reduce((a, r) => a + r[t.id].errors, 0),
    };
  }
  const m = (id, k) => out[id][k].median;
  out.ratios = {
    rpsBgctlVsMinimal: ratio(m('bgctl', 'rps'), m('minimal', 'rps')),
    p99BgctlVsMinimal: ratio(m('bgctl', 'p99'), m('minimal', 'p99')),
    rpsMinimalVsDirect: ratio(m('minimal', 'rps'), m('direct', 'rps')),
    p99MinimalVsDirect: ratio(m('minimal', 'p99'), m('direct', 'p99')),
  };
  return out;
}

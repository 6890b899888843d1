/**
 * HAProxy as a peer (Debian's `haproxy`), in front of the sandbox's two backends: one backend with a
 * server per color, weights changed through its runtime API (the stats socket, `set weight`), never a
 * reload. Started once per case, stopped at cleanup.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import path from 'node:path';
import { execa } from 'execa';
import { request } from 'undici';
import { defer } from './cleanup.mjs';
import { sleep } from './proc.mjs';
import { freePort } from './sandbox.mjs';

export const HAPROXY_BIN = process.env.BGCTL_BENCH_HAPROXY ?? 'haproxy';

/**
 * Like bgctl's NGINX: keep-alive to the backends, a retry on another server when a connection fails
 * (redispatch), health checks every second, a color at weight 0 gets no requests.
 */
const config = (listen, box, socket) => `global
    stats socket ${socket} mode 600 level admin
    maxconn 4096

defaults
    mode http
    timeout connect 5s
    timeout client 65s
    timeout server 65s
    retries 1
    option redispatch 1

frontend bench
    bind 127.0.0.1:${listen}
    default_backend app

backend app
    balance roundrobin
    http-reuse safe
    server blue 127.0.0.1:${box.blue.port} weight 100 check inter 1s
    server green 127.0.0.1:${box.green.port} weight 0 check inter 1s
`;

/** One runtime API command line (several joined by `;`); resolves with HAProxy's answer. */
function runtime(socket, line) {
  return new Promise((resolve, reject) => {
    const conn = createConnection(socket);
    let out = '';
    conn.setEncoding('utf8');
    conn.on('data', (d) => (out += d));
    conn.on('end', () => resolve(out));
    conn.on('error', reject);
    conn.setTimeout(5000, () => conn.destroy(new Error('haproxy runtime API: no answer in 5 s')));
    conn.end(`${line}\n`);
  });
}

export async function startHaproxy(box) {
  const version = await execa(HAPROXY_BIN, ['-v'], { reject: false, stdin: 'ignore', timeout: 5000 });
  if (version.exitCode !== 0) throw new Error(`${HAPROXY_BIN} not found: apt-get install haproxy (or set BGCTL_BENCH_HAPROXY)`);
  const dir = path.join(box.dir, 'haproxy');
  await mkdir(dir, { recursive: true });
  const listen = await freePort();
  const socket = path.join(dir, 'admin.sock');
  const file = path.join(dir, 'haproxy.cfg');
  await writeFile(file, config(listen, box, socket));
  const child = execa(HAPROXY_BIN, ['-db', '-f', file], { reject: false, stdin: 'ignore', cleanup: true });
  defer('stop haproxy', async () => {
    child.kill('SIGUSR1'); // soft stop: finish the connections in progress
    await Promise.race([child, sleep(3000)]);
    child.kill('SIGKILL');
    await child;
  });
  const url = `http://127.0.0.1:${listen}/load`;
  for (let i = 0; i < 50; i++) {
    const probe = await request(url, { reset: true }).catch(() => null);
    await probe?.body.dump();
    if (probe?.statusCode === 200) break;
    if (i === 49) throw new Error(`haproxy does not answer ${url}: ${(await child.catch((e) => e))?.stderr ?? ''}`);
    await sleep(100);
  }
  return {
    url,
    version: version.stdout.split('\n')[0] ?? '',
    /** both weights in one runtime API call; true when HAProxy took both */
    async setWeights(blue, green) {
      const answer = await runtime(socket, `set weight app/blue ${blue}; set weight app/green ${green}`);
      return answer.trim() === '';
    },
  };
}

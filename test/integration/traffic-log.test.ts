import { appendFile, chmod, mkdir, readFile, rename, rm, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { signalCommand, startCommand, type NginxTarget } from '../../src/adapters/nginx/commands.js';
import { isPidAlive, readMasterPid } from '../../src/adapters/nginx/workers.js';
import { TrafficLog } from '../../src/adapters/traffic-log.js';
import type { TrafficDelta } from '../../src/core/metrics.js';
import { startBackendProcess, stopAllBackends, type BackendProcess } from '../helpers/backends.js';
import { freePorts } from '../helpers/ports.js';
import { cleanupTmpDirs, makeTmpDir } from '../helpers/tmp.js';

afterAll(cleanupTmpDirs);

/** [requests, errors] per color, the client's [requests, failures], and unattributed. */
const summary = (d: TrafficDelta) => ({
  blue: [d.colors.blue.requests, d.colors.blue.errors],
  green: [d.colors.green.requests, d.colors.green.errors],
  client: [d.client.requests, d.client.failures],
  unattributed: d.unattributed,
});

describe('TrafficLog reading a file', () => {
  const servers = { blue: ['127.0.0.1:8081'], green: ['127.0.0.1:8082'] };
  let log: string;
  beforeEach(async () => {
    log = path.join(await makeTmpDir('traffic-file'), 'access.json.log');
  });

  const entry = (color: 'blue' | 'green', status = 200, uri = '/'): string =>
    `${JSON.stringify({ msec: 1748779200.123, status, upstream_status: String(status), request_time: 0.002, upstream_response_time: '0.002', upstream_addr: servers[color][0], color, method: 'GET', uri, request_id: 'abc' })}\n`;
  const entries = (color: 'blue' | 'green', n: number, status = 200): string => entry(color, status).repeat(n);

  it('starts at the end of the log and returns only what was appended since the previous read', async () => {
    await writeFile(log, entries('blue', 3, 500)); // before tail(): not counted
    const tail = await new TrafficLog(log, servers).tail();
    expect(summary((await tail.read()).delta)).toEqual({ blue: [0, 0], green: [0, 0], client: [0, 0], unattributed: 0 });

    await appendFile(log, entries('blue', 2) + entry('green', 502) + entry('green').slice(0, 40)); // last line unfinished
    expect(await tail.read()).toMatchObject({ readable: true, problem: null });
    await appendFile(log, entry('green').slice(40));
    expect(summary((await tail.read()).delta)).toEqual({ blue: [0, 0], green: [1, 0], client: [1, 0], unattributed: 0 });
    expect(summary((await tail.read()).delta).client).toEqual([0, 0]);
  });

  it('reads a large backlog in 256 KiB pieces, with a line and a UTF-8 character across a piece boundary', async () => {
    await writeFile(log, '');
    const tail = await new TrafficLog(log, servers).tail();
    const straddling = entry('green', 200, '/caf\u00e9');
    const at = Buffer.from(straddling).indexOf(Buffer.from('\u00e9'));
    const base = Buffer.byteLength(entry('blue', 200, '/'));
    const filler = entry('blue', 200, `/${'a'.repeat(256 * 1024 - 1 - at - base)}`); // é starts at byte 256 KiB - 1
    expect(Buffer.byteLength(filler) + at).toBe(256 * 1024 - 1);
    await appendFile(log, filler + straddling + entries('blue', 5000, 503));
    const { delta } = await tail.read();
    expect(summary(delta)).toEqual({ blue: [5001, 5000], green: [1, 0], client: [5002, 5000], unattributed: 0 });
  });

  it('starts again at 0 when the log is truncated, also when it grew past the old position before the read', async () => {
    await writeFile(log, entries('blue', 3));
    const tail = await new TrafficLog(log, servers).tail();
    await appendFile(log, entries('green', 1));
    expect(summary((await tail.read()).delta).green).toEqual([1, 0]);

    await truncate(log, 0);
    await appendFile(log, entries('green', 2, 500));
    expect(summary((await tail.read()).delta).green).toEqual([2, 2]);

    // copytruncate under load: by the next read the new content is longer than what was read before
    await truncate(log, 0);
    await appendFile(log, entries('blue', 5));
    expect(summary((await tail.read()).delta)).toEqual({ blue: [5, 0], green: [0, 0], client: [5, 0], unattributed: 0 });
  });

  it('follows a rename + create rotation, unreadable (not zero traffic) in between', async () => {
    await writeFile(log, entries('blue', 1));
    const tail = await new TrafficLog(log, servers).tail();
    await appendFile(log, entries('blue', 1));
    expect(summary((await tail.read()).delta).blue).toEqual([1, 0]);

    await rename(log, `${log}.1`);
    const gap = await tail.read();
    expect(gap.readable).toBe(false);
    expect(gap.problem).toBe(`cannot read the access log ${log}: ENOENT`);

    // longer than the old position and starting with the same bytes: only the inode tells it is another file
    await writeFile(log, entries('blue', 2) + entries('green', 3, 504));
    expect(summary((await tail.read()).delta)).toEqual({ blue: [2, 0], green: [3, 3], client: [5, 3], unattributed: 0 });
    await appendFile(log, entries('blue', 1));
    expect(summary((await tail.read()).delta).client).toEqual([1, 0]);
  });

  it('reads a log that did not exist at tail() from its start', async () => {
    const tail = await new TrafficLog(log, servers).tail();
    expect(await tail.read()).toMatchObject({ readable: false, problem: `cannot read the access log ${log}: ENOENT` });
    await writeFile(log, entries('green', 2));
    expect(await tail.read()).toMatchObject({ readable: true, problem: null, delta: { client: { requests: 2, failures: 0 } } });
  });

  it('reports a log it cannot read, then counts again once it can', async () => {
    await writeFile(log, '');
    const tail = await new TrafficLog(log, servers).tail();
    // root reads through file modes: there, put a directory in the log's place instead
    const root = process.getuid?.() === 0;
    if (root) {
      await rm(log);
      await mkdir(log);
    } else await chmod(log, 0o000);
    const r = await tail.read();
    expect(r.readable).toBe(false);
    expect(r.problem).toBe(`cannot read the access log ${log}: ${root ? 'EISDIR' : 'EACCES'}`);

    if (root) await rm(log, { recursive: true });
    await writeFile(log, entries('blue', 2));
    await chmod(log, 0o644);
    expect(await tail.read()).toMatchObject({ readable: true, problem: null, delta: { client: { requests: 2, failures: 0 } } });
  });
});

describe('TrafficLog reading a real NGINX access log', () => {
  const binary = process.env['BGCTL_TEST_NGINX'] ?? '/usr/sbin/nginx';
  let dir: string;
  let log: string;
  let target: NginxTarget;
  let listen: number;
  let dead: number; // a blue server nothing listens on
  let deadGreen: [number, number]; // green's servers, both dead
  let blue: BackendProcess;
  let green: BackendProcess;
  let traffic: TrafficLog;

  const nginxConf = (): string => `worker_processes 1;
pid logs/nginx.pid;
error_log logs/error.log error;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path temp/client_body;
  proxy_temp_path temp/proxy;
  fastcgi_temp_path temp/fastcgi;
  uwsgi_temp_path temp/uwsgi;
  scgi_temp_path temp/scgi;

  # the fields of nginx/templates/site.conf.hbs; color = the color of the last server tried, else the location's
  log_format bgctl_json escape=json '{"time":"$time_iso8601","msec":$msec,"status":$status,'
      '"upstream_status":"$upstream_status","request_time":$request_time,'
      '"upstream_response_time":"$upstream_response_time","upstream_addr":"$upstream_addr",'
      '"color":"$bgctl_color","method":"$request_method","uri":"$uri","request_id":"$request_id"}';
  map $upstream_addr $bgctl_color {
      "~:${blue.port}$"  blue;
      "~:${green.port}$" green;
      default            $bgctl_served;
  }

  # weighted traffic: one upstream holding both colors' servers, one of blue's is dead
  upstream bgctl_split {
      server 127.0.0.1:${dead} max_fails=0;
      server 127.0.0.1:${blue.port} max_fails=0;
      server 127.0.0.1:${green.port} max_fails=0;
  }
  upstream bgctl_blue { server 127.0.0.1:${blue.port}; }
  upstream bgctl_green { server 127.0.0.1:${deadGreen[0]}; server 127.0.0.1:${deadGreen[1]}; }

  server {
    listen 127.0.0.1:${listen};
    access_log logs/access.json.log bgctl_json;
    set $bgctl_served "";
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_connect_timeout 2s;
    proxy_next_upstream error;

    location /split/ { proxy_pass http://bgctl_split; }
    location /blue/ { set $bgctl_served blue; proxy_pass http://bgctl_blue; }
    # green is down: NGINX's own 502 goes to blue, as the failover template does
    location /failover/ {
      set $bgctl_served green;
      proxy_pass http://bgctl_green;
      error_page 502 504 = @blue;
    }
    location @blue { set $bgctl_served blue; proxy_pass http://bgctl_blue; }
    location = /internal { return 204; }
  }
}
`;

  /** One GET on a fresh connection: the status and the color named in the backend's answer. */
  async function get(pathname: string): Promise<{ status: number; color: string | null }> {
    const res = await request(`http://127.0.0.1:${listen}${pathname}`, { reset: true, headersTimeout: 5000, bodyTimeout: 5000 });
    const text = await res.body.text();
    const color = res.statusCode === 200 && text.startsWith('{') ? String((JSON.parse(text) as { color: unknown }).color) : null;
    return { status: res.statusCode, color };
  }

  const lineCount = async (file: string): Promise<number> =>
    (await readFile(file, 'utf8').catch(() => '')).split('\n').filter((l) => l.trim() !== '').length;

  /** NGINX writes the log line after the answer is sent: wait for it before reading. */
  async function waitForLines(count: () => Promise<number>, n: number): Promise<void> {
    const until = Date.now() + 5000;
    while ((await count()) < n) {
      if (Date.now() > until) throw new Error(`the log did not reach ${n} lines (has ${await count()})`);
      await sleep(20);
    }
  }
  const inLog = () => lineCount(log);

  /** Upstream attempts NGINX's error log reports as failed (refused, or no live server) for URLs containing `url`. */
  const failedAttempts = async (url: string): Promise<number> =>
    (await readFile(target.errorLog, 'utf8')).split('\n').filter((l) => l.includes('upstream: "http://') && l.includes(url)).length;

  async function nginx(argv: readonly string[]): Promise<void> {
    const r = await execa(binary, argv, { reject: false, timeout: 15_000, stdin: 'ignore' });
    if (r.exitCode !== 0) throw new Error(`nginx ${argv.join(' ')} failed: ${r.stderr}`);
  }

  beforeAll(async () => {
    dir = await makeTmpDir('traffic-nginx');
    await Promise.all([mkdir(path.join(dir, 'logs')), mkdir(path.join(dir, 'temp'))]);
    // as root the workers run as nobody, and on `nginx -s reopen` each worker reopens the log by path
    // itself: under mkdtemp's 0700 folder they cannot, and would go on writing to the renamed file
    await chmod(dir, 0o755);
    log = path.join(dir, 'logs', 'access.json.log');
    const ports = await freePorts(4);
    [listen, dead] = [ports[0] ?? 0, ports[1] ?? 0];
    deadGreen = [ports[2] ?? 0, ports[3] ?? 0];
    [blue, green] = await Promise.all([
      startBackendProcess({ color: 'blue', version: '1.0.0', latencyMs: 0 }),
      startBackendProcess({ color: 'green', version: '2.0.0', latencyMs: 0 }),
    ]);
    target = { prefix: dir, conf: path.join(dir, 'nginx.conf'), errorLog: path.join(dir, 'logs', 'error.log') };
    await writeFile(target.conf, nginxConf());
    await nginx(startCommand(target));
    const until = Date.now() + 10_000;
    while ((await get('/internal').catch(() => null))?.status !== 204) {
      if (Date.now() > until) throw new Error('nginx did not answer');
      await sleep(50);
    }
    traffic = new TrafficLog(log, {
      blue: [`127.0.0.1:${dead}`, `127.0.0.1:${blue.port}`],
      green: [`127.0.0.1:${green.port}`, ...deadGreen.map((p) => `127.0.0.1:${p}`)],
    });
  });

  afterAll(async () => {
    const master = await readMasterPid(path.join(dir, 'logs', 'nginx.pid'));
    await nginx(signalCommand(target, 'stop')).catch(() => undefined);
    for (let i = 0; i < 100 && master !== null && isPidAlive(master); i++) await sleep(50);
    if (master !== null && isPidAlive(master)) process.kill(master, 'SIGKILL');
    await stopAllBackends();
  });

  it("a dead server's retried attempts are errors of its color; the client saw no failure", async () => {
    const tail = await traffic.tail();
    const before = await lineCount(log);
    const served = { blue: 0, green: 0 };
    for (let i = 0; i < 30; i++) {
      const r = await get(`/split/${i}`);
      expect(r.status).toBe(200);
      served[r.color as 'blue' | 'green']++;
    }
    await waitForLines(inLog, before + 30);
    const deadAttempts = await failedAttempts(`http://127.0.0.1:${dead}/split/`);
    expect(deadAttempts).toBeGreaterThan(0);

    const { delta, readable } = await tail.read();
    expect(readable).toBe(true);
    expect(summary(delta)).toEqual({
      blue: [served.blue + deadAttempts, deadAttempts],
      green: [served.green, 0],
      client: [30, 0],
      unattributed: 0,
    });
  });

  it('failover through error_page: every green attempt is a green error, blue served all; internal lines are ignored', async () => {
    const tail = await traffic.tail();
    const before = await lineCount(log);
    for (let i = 0; i < 10; i++) expect(await get(`/failover/${i}`)).toEqual({ status: 200, color: 'blue' });
    for (let i = 0; i < 3; i++) expect((await get('/internal')).status).toBe(204);
    await waitForLines(inLog, before + 13);
    // both green servers refused, then were marked down: NGINX names the upstream instead of an address
    const text = await readFile(log, 'utf8');
    expect(text).toContain(`"upstream_addr":"127.0.0.1:${deadGreen[0]}, 127.0.0.1:${deadGreen[1]} : 127.0.0.1:${blue.port}"`);
    expect(text).toContain(`"upstream_addr":"bgctl_green : 127.0.0.1:${blue.port}"`);
    const greenAttempts = await failedAttempts('/failover/');
    expect(greenAttempts).toBeGreaterThanOrEqual(11);

    const { delta } = await tail.read();
    expect(summary(delta)).toEqual({ blue: [10, 0], green: [greenAttempts, greenAttempts], client: [10, 0], unattributed: 0 });
    expect(delta.colors.blue.latency.total).toBe(10);
  });

  it('rotation (rename + reopen) and truncation while NGINX writes: nothing counted twice, nothing after them lost', async () => {
    const tail = await traffic.tail();
    const clientRequests = async () => (await tail.read()).delta.client.requests;
    let lines = await lineCount(log);
    for (let i = 0; i < 5; i++) await get('/blue/before-rotation');
    await waitForLines(inLog, (lines += 5));
    expect(await clientRequests()).toBe(5);

    await rename(log, `${log}.1`);
    expect(await tail.read()).toMatchObject({ readable: false, problem: `cannot read the access log ${log}: ENOENT` });
    await nginx(signalCommand(target, 'reopen'));
    // until the worker has reopened, requests still land in the renamed file: send one at a time until one reaches the new file
    const inBoth = async () => (await lineCount(`${log}.1`)) + (await inLog());
    for (let sent = 1; (await inLog()) === 0; sent++) {
      if (sent > 100) throw new Error(`nginx did not reopen its log: ${await readFile(target.errorLog, 'utf8')}`);
      await get('/blue/warm-up');
      await waitForLines(inBoth, lines + sent);
    }
    const warmUps = await inLog(); // all logged: the loop waited for each
    for (let i = 0; i < 4; i++) await get('/blue/after-rotation');
    await waitForLines(inLog, warmUps + 4);
    expect(await clientRequests()).toBe(warmUps + 4);
    expect(await clientRequests()).toBe(0);

    await truncate(log, 0); // copytruncate; NGINX appends (O_APPEND), so it writes from 0 again
    for (let i = 0; i < 2; i++) await get('/blue/after-truncate');
    await waitForLines(inLog, 2);
    expect(await clientRequests()).toBe(2);

    await truncate(log, 0); // and again, with more written than was there before the next read
    for (let i = 0; i < 6; i++) await get('/blue/after-truncate');
    await waitForLines(inLog, 6);
    expect(await clientRequests()).toBe(6);
  });
});

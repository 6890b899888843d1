import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContainerFileStore } from '../../src/adapters/nginx/container-files.js';
import { ContainerTrafficLog } from '../../src/adapters/nginx/container-log.js';
import { ContainerShell } from '../../src/adapters/nginx/container-shell.js';
import { DockerClient } from '../../src/adapters/nginx/docker-client.js';
import { nginxLayout } from '../../src/adapters/nginx/files.js';
import { UnsafePathError } from '../../src/core/errors.js';
import { docker, requireEngine } from '../helpers/docker-real.js';

/**
 * The files and the access log of a target behind an engine, inside a real container of the main engine
 * (the remote engines and ssh are test/integration/remote-engines.test.ts's): what is written, with
 * which modes, what is refused (links and special files where bgctl writes, checked in the container),
 * and that the session and the log follower leave nothing running in the container.
 */
const IMAGE = 'bgctl-nginx:1.26';
const CD = '/srv/bgctl';
const container = `bgctl-store-${process.pid}`;
const layout = nginxLayout(CD);
const files = { main: 'pid logs/nginx.pid;\n# ü ∆ 🙂\n', site: 'server { return 200 "$x;"; }\n', js: 'export default {};\n' };

describe('files and access log inside a container (ContainerFileStore, ContainerTrafficLog)', () => {
  let shell: ContainerShell;
  let store: ContainerFileStore;
  /** A script in the container; its output as it is (trailing newline kept). */
  const sh = async (script: string): Promise<string> => {
    const r = await execa('docker', ['exec', container, 'sh', '-c', script], { reject: false, stripFinalNewline: false, stdin: 'ignore' });
    if (r.exitCode !== 0) throw new Error(`${script}: ${String(r.stderr)}`);
    return String(r.stdout);
  };
  const strays = async (): Promise<string[]> =>
    (await docker(['top', container, '-o', 'pid,args'])).stdout
      .split('\n')
      .slice(1)
      .filter((l) => l.trim() !== '' && !/docker-init|sleep infinity/.test(l));

  beforeAll(async () => {
    await requireEngine([IMAGE]);
    const r = await docker(['run', '-d', '--init', '--network', 'none', '--name', container, IMAGE, 'sleep', 'infinity']);
    if (r.exitCode !== 0) throw new Error(r.stderr);
    shell = new ContainerShell(new DockerClient({ host: null }), container);
    store = new ContainerFileStore(shell, layout);
  }, 60_000);

  afterAll(async () => {
    shell?.close();
    await docker(['rm', '-f', container]);
  }, 60_000);

  it('writes the candidate tree in one batch: exact bytes, the site private, folders created', async () => {
    await store.writeCandidate(files);
    expect(await sh(`cat ${CD}/candidate/nginx.conf`)).toBe(files.main);
    expect(await sh(`cat ${CD}/candidate/conf.d/bgctl.conf`)).toBe(files.site);
    expect(await sh(`stat -c '%a %n' ${CD}/candidate/nginx.conf ${CD}/candidate/conf.d/bgctl.conf ${CD}/candidate/conf.d/bgctl.js`)).toBe(
      [`644 ${CD}/candidate/nginx.conf`, `600 ${CD}/candidate/conf.d/bgctl.conf`, `644 ${CD}/candidate/conf.d/bgctl.js`, ''].join('\n'),
    );
    expect(await sh(`stat -c '%a' ${CD} ${CD}/logs ${CD}/temp ${CD}/conf.d`)).toBe('755\n755\n755\n755\n');
    // no temp file left behind
    expect(await sh(`find ${CD} -name '*.tmp' | wc -l`)).toBe('0\n');
  });

  it('backup, promote, restore: the live files swapped by renames, .prev kept for a repeated restore', async () => {
    await store.backup(true); // nothing live yet: no .prev either
    await store.promote(true);
    expect(await store.readLive()).toEqual(files);
    expect(await sh(`ls ${CD}/candidate/conf.d | wc -l`)).toBe('0\n');
    const next = { ...files, site: 'server { return 204; }\n' };
    await store.writeCandidate(next);
    await store.backup(true);
    await store.promote(true);
    expect((await store.readLive())?.site).toBe(next.site);
    await store.restore(true);
    await store.restore(true);
    expect(await store.readLive()).toEqual(files);
    expect(await sh(`stat -c '%a' ${CD}/conf.d/bgctl.conf ${CD}/conf.d/bgctl.conf.prev`)).toBe('600\n600\n');
  });

  it('the weights file: replaced whole, readable by the workers, the one before kept and put back', async () => {
    await store.writeWeights('{"revision":1}');
    await store.writeWeights('{"revision":2}');
    expect(await sh(`cat ${CD}/conf.d/bgctl-weights.json; echo; cat ${CD}/conf.d/bgctl-weights.json.prev`)).toBe(
      '{"revision":2}\n{"revision":1}',
    );
    expect(await sh(`stat -c '%a' ${CD}/conf.d/bgctl-weights.json`)).toBe('644\n');
    await store.restoreWeights();
    expect(await sh(`cat ${CD}/conf.d/bgctl-weights.json`)).toBe('{"revision":1}');
  });

  it('refuses a link or a special file where it writes, naming it, before writing anything of the batch', async () => {
    const refused = async (fn: () => Promise<unknown>, path: string, what: RegExp): Promise<void> => {
      const e = await fn().then(
        () => null,
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(UnsafePathError);
      expect((e as UnsafePathError).path).toBe(path);
      expect((e as Error).message).toMatch(what);
    };
    const before = await sh(`cat ${CD}/conf.d/bgctl-weights.json`);
    await sh(`rm ${CD}/conf.d/bgctl-weights.json.prev && ln -s /etc/passwd ${CD}/conf.d/bgctl-weights.json.prev`);
    await refused(() => store.writeWeights('{"revision":9}'), `${CD}/conf.d/bgctl-weights.json.prev`, /symbolic link/);
    await refused(() => store.check(), `${CD}/conf.d/bgctl-weights.json.prev`, /symbolic link/);
    expect(await sh(`cat ${CD}/conf.d/bgctl-weights.json`)).toBe(before);
    expect(await sh('head -c 5 /etc/passwd')).toBe('root:');
    await sh(`rm ${CD}/conf.d/bgctl-weights.json.prev && mkfifo ${CD}/candidate/nginx.conf`);
    await refused(() => store.writeCandidate(files), `${CD}/candidate/nginx.conf`, /named pipe/);
    expect(await sh(`ls ${CD}/candidate/conf.d | wc -l`)).toBe('0\n');
    await sh(`rm ${CD}/candidate/nginx.conf && rmdir ${CD}/candidate/conf.d && ln -s /tmp ${CD}/candidate/conf.d`);
    await refused(() => store.writeCandidate(files), `${CD}/candidate/conf.d`, /symbolic link/);
    await sh(`rm ${CD}/candidate/conf.d`);
    await store.writeCandidate(files);
  });

  it('tests a private tree, removed after, and reads the error log from an offset (from 0 once it shrank)', async () => {
    const seen = await store.withScratchTree(files, async (sub) => {
      expect(sub).toMatch(/^\.validate-[0-9a-f]{8}$/);
      return sh(`cat ${CD}/${sub}/conf.d/bgctl.conf`);
    });
    expect(seen).toBe(files.site);
    expect(await sh(`ls -a ${CD} | grep -c validate || true`)).toBe('0\n');
    await sh(`printf 'one\\ntwo\\n' > ${CD}/logs/error.log`);
    expect(await store.errorLogSize()).toBe(8);
    await sh(`printf 'three [emerg]\\n' >> ${CD}/logs/error.log`);
    expect(await store.errorLogSince(8)).toEqual(['three [emerg]']);
    await sh(`printf 'x\\n' > ${CD}/logs/error.log`);
    expect(await store.errorLogSince(8)).toEqual(['x']);
  });

  it('starts a new session when the container restarted, and leaves no session running once closed', async () => {
    expect(await strays()).not.toEqual([]); // the session's loop
    expect((await docker(['restart', '-t', '1', container])).exitCode).toBe(0);
    expect(await store.readLive()).toEqual(files); // the container's layer kept the files
    shell.close();
    await expect.poll(strays, { timeout: 10_000 }).toEqual([]);
  }, 60_000);

  it('follows the access log through the engine: appended lines counted, truncation followed, nothing left running', async () => {
    const log = new ContainerTrafficLog(shell, layout.accessLog, { blue: ['127.0.0.1:8081'], green: ['127.0.0.1:8082'] });
    const line = (color: string, addr: string, status: number): string =>
      JSON.stringify({
        msec: Date.now() / 1000,
        status,
        upstream_status: String(status),
        request_time: 0.002,
        upstream_response_time: '0.002',
        upstream_addr: addr,
        color,
        forced: '',
      });
    await sh(`printf '%s\\n' '${line('blue', '127.0.0.1:8081', 200)}' > ${layout.accessLog}`);
    const tail = await log.tail(); // from the end: the line above is not counted
    await sh(`for i in 1 2 3; do printf '%s\\n' '${line('green', '127.0.0.1:8082', 502)}' >> ${layout.accessLog}; done`);
    await expect.poll(async () => (await tail.read()).delta.colors.green.requests, { timeout: 10_000, interval: 300 }).toBeGreaterThan(0);
    await sh(`printf '%s\\n' '${line('blue', '127.0.0.1:8081', 200)}' > ${layout.accessLog}`); // truncated, then one line
    await expect.poll(async () => (await tail.read()).delta.colors.blue.requests, { timeout: 10_000, interval: 300 }).toBe(1);
    const recent = await log.recent(60_000, Date.now());
    expect(recent).toMatchObject({ readable: true, delta: { colors: { blue: { requests: 1 } } } });
    await tail.close?.();
    shell.close();
    await expect.poll(strays, { timeout: 10_000 }).toEqual([]);
  }, 60_000);
});

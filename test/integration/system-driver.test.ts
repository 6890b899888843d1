import { createHash } from 'node:crypto';
import { chmod, mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { parse, stringify } from 'yaml';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonOf } from '../helpers/cli.js';
import { freePorts } from '../helpers/ports.js';
import { makeSandbox, type Sandbox } from '../helpers/sandbox.js';
import { migrateUnderLoad } from '../helpers/routing.js';
import { makeTmpDir, removeTmpDir } from '../helpers/tmp.js';

/**
 * nginx.driver: system — an NGINX bgctl did not start, started the way a system starts it: a root
 * master with `user nobody nogroup;`, its own nginx.conf with two server blocks (the application's on
 * HTTPS with a certificate made here by openssl, and another site on plain HTTP), the njs module loaded
 * by its own config. bgctl only writes nginx.dir; the operator adds the two include lines.
 */

const NAME = 'app.bgctl.test';
const NJS = '/usr/lib/nginx/modules/ngx_http_js_module.so';

interface SystemNginx {
  readonly root: string;
  readonly conf: string;
  readonly appSite: string;
  readonly otherSite: string;
  readonly appPort: number;
  readonly otherPort: number;
  readonly ca: string;
  start(): Promise<void>;
  quit(): Promise<void>;
  /** the operator's two include lines: added (and the app's own `location /` taken out), or as before */
  setIncludes(on: boolean, dir: string): Promise<void>;
}

async function makeCertificate(dir: string): Promise<{ cert: string; key: string }> {
  const cert = path.join(dir, 'app.crt');
  const key = path.join(dir, 'app.key');
  await execa('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${NAME}`,
    '-addext', `subjectAltName=DNS:${NAME}`, '-keyout', key, '-out', cert,
  ]); // prettier-ignore
  return { cert, key };
}

async function systemNginx(root: string): Promise<SystemNginx> {
  await mkdir(path.join(root, 'sites'), { recursive: true });
  await mkdir(path.join(root, 'run'), { recursive: true });
  await mkdir(path.join(root, 'log'), { recursive: true });
  await mkdir(path.join(root, 'tmp'), { recursive: true });
  const { cert, key } = await makeCertificate(root);
  const [appPort, otherPort] = (await freePorts(2)) as [number, number];
  const conf = path.join(root, 'nginx.conf');
  const appSite = path.join(root, 'sites', 'app.conf');
  const otherSite = path.join(root, 'sites', 'other.conf');
  await writeFile(
    conf,
    `# the operator's own NGINX
user nobody nogroup;
load_module ${NJS};
worker_processes 2;
pid ${root}/run/nginx.pid;
error_log ${root}/log/error.log warn;
events { worker_connections 512; }
http {
    access_log ${root}/log/access.log;
    client_body_temp_path ${root}/tmp/body;
    proxy_temp_path ${root}/tmp/proxy;
    fastcgi_temp_path ${root}/tmp/fastcgi;
    uwsgi_temp_path ${root}/tmp/uwsgi;
    scgi_temp_path ${root}/tmp/scgi;
    #BGCTL-HTTP#
    include ${root}/sites/*.conf;
}
`,
  );
  const app = (includes: string) => `server {
    listen ${appPort} ssl;
    server_name ${NAME};
    ssl_certificate ${cert};
    ssl_certificate_key ${key};
${includes}
}
`;
  await writeFile(appSite, app('    location / { return 200 "the app before bgctl\\n"; }'));
  await writeFile(otherSite, `server {\n    listen ${otherPort};\n    location / { return 200 "another site\\n"; }\n}\n`);
  const ca = await readFile(cert, 'utf8');
  return {
    root,
    conf,
    appSite,
    otherSite,
    appPort,
    otherPort,
    ca,
    start: async () => {
      await execa('nginx', ['-c', conf]);
    },
    quit: async () => {
      const pid = Number((await readFile(path.join(root, 'run', 'nginx.pid'), 'utf8').catch(() => '')).trim());
      await execa('nginx', ['-c', conf, '-s', 'quit'], { reject: false });
      for (let i = 0; pid > 0 && i < 100; i++) {
        if ((await stat(`/proc/${pid}`).catch(() => null)) === null) return;
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    setIncludes: async (on, dir) => {
      const main = await readFile(conf, 'utf8');
      await writeFile(
        conf,
        main.replace(/^ {4}(#BGCTL-HTTP#|include \S+\/http\.conf;)$/m, on ? `    include ${dir}/http.conf;` : '    #BGCTL-HTTP#'),
      );
      await writeFile(appSite, app(on ? `    include ${dir}/server.conf;` : '    location / { return 200 "the app before bgctl\\n"; }'));
    },
  };
}

async function httpsGet(sys: SystemNginx, pathname = '/'): Promise<{ status: number; color: string | undefined; body: string }> {
  const dispatcher = new Agent({ connect: { ca: sys.ca, servername: NAME } });
  try {
    const res = await request(`https://127.0.0.1:${sys.appPort}${pathname}`, {
      dispatcher,
      reset: true,
      headers: { host: NAME },
      headersTimeout: 5000,
      bodyTimeout: 5000,
    });
    const body = await res.body.text();
    const c = res.headers['x-bgctl-color'];
    return { status: res.statusCode, color: Array.isArray(c) ? c[0] : c, body };
  } finally {
    await dispatcher.close();
  }
}

async function otherSite(sys: SystemNginx): Promise<string> {
  const res = await request(`http://127.0.0.1:${sys.otherPort}/page`, { reset: true });
  return `${res.statusCode} ${await res.body.text()}`;
}

/** sha256 of every file under `root` except those under `skip` (bgctl's own folder) and the logs. */
async function fingerprint(root: string, skip: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (p === skip || p.startsWith(`${skip}/`) || ['log', 'run', 'tmp'].includes(path.relative(root, p))) continue;
      if (e.isDirectory()) await walk(p);
      else
        out[path.relative(root, p)] = createHash('sha256')
          .update(await readFile(p))
          .digest('hex');
    }
  };
  await walk(root);
  return out;
}

for (const mode of ['dynamic', 'reload'] as const) {
  describe(`nginx.driver system: the NGINX you already run (${mode} mode, HTTPS)`, () => {
    let box: Sandbox;
    let sys: SystemNginx;
    let dir: string;
    let before: Record<string, string>;
    beforeAll(async () => {
      // the workers (nobody) read bgctl's files in there: every folder above them must be enterable
      const root = await makeTmpDir(`system-etc-${mode}`);
      await chmod(root, 0o755);
      sys = await systemNginx(root);
      dir = path.join(sys.root, 'bgctl');
      box = await makeSandbox(`system-${mode}`, {
        noStart: true,
        overrides: {
          listen: sys.appPort,
          nginx: {
            driver: 'system',
            conf: sys.conf,
            dir,
            reload: ['nginx', '-c', sys.conf, '-s', 'reload'],
            listenTls: true,
            serverName: NAME,
            mode,
          },
        },
      });
      await sys.start();
    });
    afterAll(async () => {
      await sys?.quit();
      await box?.close();
      if (sys) await removeTmpDir(sys.root);
    });

    it('says which include line is missing, in which file, before writing anything', async () => {
      for (const args of [['validate'], ['start']]) {
        const r = await box.cli(args);
        expect(r.exitCode, r.stderr).toBe(6);
        const said = `${r.stdout}\n${r.stderr}`;
        expect(said).toContain(`\`include ${dir}/http.conf;\` is missing inside http { } (${sys.conf}:8)`);
        expect(said).toContain(
          `\`include ${dir}/server.conf;\` is missing inside the server block that listens on ${sys.appPort} (${sys.appSite}:1)`,
        );
      }
      expect(await stat(path.join(dir, 'http.conf')).catch(() => null)).toBeNull();
      expect((await httpsGet(sys)).body).toBe('the app before bgctl\n');
    });

    it('start writes the two files, tests the whole config, reloads that NGINX and confirms over HTTPS', async () => {
      await sys.setIncludes(true, dir);
      before = await fingerprint(sys.root, dir);
      const other = await otherSite(sys);
      const r = await box.cli(['start', '--json']);
      expect(r.exitCode, r.stderr).toBe(0);
      expect(jsonOf(r)).toMatchObject({ running: true, mode, weights: { blue: 100, green: 0 } });
      expect(await httpsGet(sys, '/x')).toMatchObject({ status: 200, color: 'blue' });
      expect(await otherSite(sys)).toBe(other);
      const s = await box.status();
      expect(s.nginx.live?.revision).toBe(s.revision);
      expect(s.drift).toBeNull();
      // the validation suite reaches the front the way bgctl does: HTTPS with the server name
      const v = await box.cli(['verify', 'validate']);
      expect(v.exitCode, `${v.stdout}\n${v.stderr}`).toBe(0);
    });

    it('a gradual and a rollback under HTTPS keep-alive load; every other file byte-identical, the other site unchanged', async () => {
      const other = await otherSite(sys);
      const t0 = performance.now();
      const r = await migrateUnderLoad(box, {
        url: `https://127.0.0.1:${sys.appPort}/load`,
        connections: 6,
        keepAlive: true,
        maxSeconds: 90,
        pauseMs: 2,
        tls: { ca: sys.ca, servername: NAME },
      });
      const { migration, afterRollback: rollback } = r;
      expect(r.gradual.exitCode, r.gradual.stderr).toBe(0);
      expect(r.rollback.exitCode, r.rollback.stderr).toBe(0);
      expect(migration.byColor.green).toBeGreaterThan(20);
      expect(migration.byColor.blue).toBeGreaterThan(20);
      console.log(
        `system driver, HTTPS, ${mode} mode, 6 keep-alive clients: migration ${migration.failed} failed of ${migration.total} (${Math.round(performance.now() - t0)} ms with the rollback, step applies ${r.stepApplies.join('/')} ms); rollback ${rollback.failed} failed of ${rollback.total}`,
      );
      if (mode === 'dynamic') {
        expect(migration.failed, migration.errors.join('; ')).toBe(0);
        expect(rollback.failed, rollback.errors.join('; ')).toBe(0);
      } else {
        expect(migration.failed / migration.total).toBeLessThan(0.01);
      }
      expect(await httpsGet(sys)).toMatchObject({ status: 200, color: 'blue' });
      const stop = await box.cli(['stop']);
      expect(stop.exitCode, stop.stderr).toBe(0);
      expect(stop.stdout).toContain('bgctl does not stop an NGINX it did not start');
      expect(await httpsGet(sys)).toMatchObject({ status: 200, color: 'blue' });
      expect(await fingerprint(sys.root, dir)).toEqual(before);
      expect(await otherSite(sys)).toBe(other);
    });

    if (mode === 'reload') return;

    it("an operator config that fails nginx -t: exit 6 naming the operator's file and line, nothing live written", async () => {
      const live = await readFile(path.join(dir, 'server.conf'), 'utf8');
      const good = await readFile(sys.otherSite, 'utf8');
      await writeFile(sys.otherSite, `${good}\nbogus_directive on;\n`);
      try {
        const state = await box.stateText();
        const r = await box.cli(['switch', 'green']);
        expect(r.exitCode, r.stderr).toBe(6);
        expect(r.stderr).toContain(`${sys.conf} fails nginx -t on its own`);
        expect(r.stderr).toMatch(new RegExp(`unknown directive "bogus_directive" in ${sys.otherSite.replace(/[.]/g, '\\.')}:6`));
        expect(await readFile(path.join(dir, 'server.conf'), 'utf8')).toBe(live);
        expect(await box.stateText()).toBe(state);
      } finally {
        await writeFile(sys.otherSite, good);
      }
    });

    it('a reload command that fails: the step is not applied, the previous files are back and still served', async () => {
      const cfg = path.join(box.dir, 'bgctl.yaml');
      const original = await readFile(cfg, 'utf8');
      // a structural change (reload mode) needs a reload; `false` exits 1 and reloads nothing
      const doc = parse(original) as { nginx: Record<string, unknown> };
      await writeFile(cfg, stringify({ ...doc, nginx: { ...doc.nginx, reload: ['false'], mode: 'reload' } }));
      try {
        const live = await readFile(path.join(dir, 'server.conf'), 'utf8');
        const r = await box.cli(['switch', 'green']);
        expect(r.exitCode, r.stderr).not.toBe(0);
        expect(r.stderr).toMatch(/false failed/);
        expect(await readFile(path.join(dir, 'server.conf'), 'utf8')).toBe(live);
        expect(await httpsGet(sys)).toMatchObject({ status: 200, color: 'blue' });
      } finally {
        await writeFile(cfg, original);
      }
    });

    it('a stopped system NGINX: a migration refuses with exit 6 and changes nothing; start writes the files and says how to start it', async () => {
      await sys.quit();
      try {
        const state = await box.stateText();
        const g = await box.cli(['switch', 'green']);
        expect(g.exitCode, g.stderr).toBe(6);
        expect(await box.stateText()).toBe(state);
        const s = await box.cli(['start']);
        expect(s.exitCode, s.stderr).toBe(0);
        expect(s.stdout).toMatch(/NGINX is not running: start it as you always do/);
      } finally {
        await sys.start();
      }
      expect(await httpsGet(sys)).toMatchObject({ status: 200, color: 'blue' });
    });
  });
}

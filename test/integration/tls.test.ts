import { chmod, mkdir, readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonOf } from '../helpers/cli.js';
import { freePorts } from '../helpers/ports.js';
import { makeSandbox, type Sandbox } from '../helpers/sandbox.js';
import { migrateUnderLoad } from '../helpers/routing.js';

/**
 * HTTPS in bgctl's own NGINX (tls.certificate, tls.key, tls.redirectFrom): a certificate made by openssl
 * in the test, real NGINX, real backends, clients that verify the certificate (CA + SNI).
 */

const NAME = 'app.bgctl.test';

/** A self-signed certificate for NAME (and a second, unrelated key) in DIR/tls. */
async function makeCertificates(dir: string): Promise<{ cert: string; key: string; otherKey: string }> {
  const tls = path.join(dir, 'tls');
  await mkdir(tls, { recursive: true });
  const cert = path.join(tls, 'app.crt');
  const key = path.join(tls, 'app.key');
  const otherKey = path.join(tls, 'other.key');
  await execa('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    `/CN=${NAME}`,
    '-addext',
    `subjectAltName=DNS:${NAME}`,
    '-keyout',
    key,
    '-out',
    cert,
  ]);
  await execa('openssl', ['genrsa', '-out', otherKey, '2048']);
  return { cert, key, otherKey };
}

async function httpsGet(port: number, ca: string, pathname = '/'): Promise<{ status: number; color: string | undefined }> {
  const dispatcher = new Agent({ connect: { ca, servername: NAME } });
  try {
    const res = await request(`https://127.0.0.1:${port}${pathname}`, { dispatcher, reset: true, headersTimeout: 5000, bodyTimeout: 5000 });
    await res.body.dump();
    const c = res.headers['x-bgctl-color'];
    return { status: res.statusCode, color: Array.isArray(c) ? c[0] : c };
  } finally {
    await dispatcher.close();
  }
}

for (const mode of ['dynamic', 'reload'] as const) {
  describe(`tls: bgctl's own NGINX serves HTTPS (${mode} mode)`, () => {
    let box: Sandbox;
    let ca: string;
    let redirectPort: number;
    beforeAll(async () => {
      [redirectPort] = (await freePorts(1)) as [number];
      box = await makeSandbox(`tls-${mode}`, {
        noStart: true,
        overrides: { nginx: { mode }, tls: { certificate: 'tls/app.crt', key: 'tls/app.key', redirectFrom: redirectPort } },
      });
      await chmod(box.dir, 0o755);
      const { cert } = await makeCertificates(box.dir);
      ca = await readFile(cert, 'utf8');
      const r = await box.cli(['start']);
      if (r.exitCode !== 0) throw new Error(`bgctl start failed (${r.exitCode}):\n${r.stdout}\n${r.stderr}`);
    });
    afterAll(async () => {
      await box?.close();
    });

    it('listen answers HTTPS with the configured certificate; plain HTTP on redirectFrom gets a 308 to it', async () => {
      expect(await httpsGet(box.listen, ca, '/x')).toEqual({ status: 200, color: 'blue' });
      const res = await request(`http://127.0.0.1:${redirectPort}/some/path?q=1`, { method: 'POST', reset: true });
      await res.body.dump();
      expect(res.statusCode).toBe(308);
      expect(res.headers.location).toBe(`https://127.0.0.1:${box.listen}/some/path?q=1`);
      const s = await box.status();
      expect(s).toMatchObject({ weights: { blue: 100, green: 0 }, drift: null });
      expect(s.nginx.live?.revision).toBe(s.revision);
    });

    it('a gradual migration and a rollback under HTTPS keep-alive load, confirmed and probed over HTTPS', async () => {
      const r = await migrateUnderLoad(box, {
        url: `https://127.0.0.1:${box.listen}/load`,
        connections: 6,
        keepAlive: true,
        maxSeconds: 90,
        pauseMs: 2,
        tls: { ca, servername: NAME },
      });
      const { migration, afterRollback: rollback } = r;
      expect(r.gradual.exitCode, r.gradual.stderr).toBe(0);
      expect(r.rollback.exitCode, r.rollback.stderr).toBe(0);
      expect(jsonOf(r.rollback)).toMatchObject({ action: 'reverted', color: 'blue' });
      expect(migration.byColor.green).toBeGreaterThan(20);
      expect(migration.byColor.blue).toBeGreaterThan(20);
      console.log(
        `local driver, HTTPS, ${mode} mode, 6 keep-alive clients: migration ${migration.failed} failed of ${migration.total} (step applies ${r.stepApplies.join('/')} ms); rollback ${rollback.failed} failed of ${rollback.total}`,
      );
      if (mode === 'dynamic') {
        expect(migration.failed, migration.errors.join('; ')).toBe(0);
        expect(rollback.failed, rollback.errors.join('; ')).toBe(0);
      } else {
        expect(migration.failed / migration.total).toBeLessThan(0.01);
      }
      expect(await httpsGet(box.listen, ca)).toEqual({ status: 200, color: 'blue' });
    });
  });
}

describe('tls: a bad certificate or key is refused with exit 2 before anything is written', () => {
  let box: Sandbox;
  beforeAll(async () => {
    box = await makeSandbox('tls-bad', { noStart: true });
    await makeCertificates(box.dir);
  });
  afterAll(async () => {
    await box?.close();
  });

  const cases: [string, Record<string, string>, RegExp][] = [
    [
      'a key that does not match the certificate',
      { certificate: 'tls/app.crt', key: 'tls/other.key' },
      /tls\.key: .*other\.key does not match the certificate/,
    ],
    ['a missing certificate', { certificate: 'tls/missing.crt', key: 'tls/app.key' }, /tls\.certificate: .*missing\.crt does not exist/],
    ['a key file that is not PEM', { certificate: 'tls/app.crt', key: 'bgctl.yaml' }, /tls\.key: .*bgctl\.yaml is not a PEM private key/],
  ];
  for (const [name, tls, message] of cases) {
    it(name, async () => {
      const cfg = path.join(box.dir, 'bgctl.yaml');
      const original = await readFile(cfg, 'utf8');
      const withTls = `${original}tls:\n  certificate: ${tls.certificate}\n  key: ${tls.key}\n`;
      const file = path.join(box.dir, 'tls-bgctl.yaml');
      await import('node:fs/promises').then((fs) => fs.writeFile(file, withTls));
      const before = await readdir(box.dir);
      for (const args of [['start'], ['validate'], ['gradual', 'green', '2.1.0']]) {
        const r = await box.cli(['--config', file, ...args]);
        expect(r.exitCode, `${args.join(' ')}: ${r.stderr}`).toBe(2);
        expect(r.stderr).toMatch(message);
      }
      // nothing written: no NGINX folder, no state (bgctl's own forced-route secret may be made in the state folder)
      const after = await readdir(box.dir);
      expect(after.filter((f) => f !== 'state')).toEqual(before.filter((f) => f !== 'state'));
      const state = await readdir(path.join(box.dir, 'state')).catch(() => [] as string[]);
      expect(state.filter((f) => f !== 'force-secret')).toEqual([]);
    });
  }
});

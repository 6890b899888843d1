import { readFile, readdir, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RenderRequest } from '../../src/app/ports.js';
import { AuditFile, type AuditEntry, type AuditSink } from '../../src/serve/adapters/audit-file.js';
import { parseServeOptions } from '../../src/serve/options.js';
import { RefusalLog } from '../../src/serve/refusals.js';
import { startServe, type ServeHandle } from '../../src/serve/server.js';
import { fakeRender, makeContext, type World } from '../fakes/context.js';
import { http } from '../helpers/serve-http.js';
import { cleanupTmpDirs, makeTmpDir } from '../helpers/tmp.js';

const TOKEN = 'unit-test-token-0123456789';
const AUTH = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
const quietHost = { sample: () => ({ cpuPercent: 3, memoryPercent: 20 }) };
const entry = (i: number): AuditEntry => ({
  time: new Date(0).toISOString(),
  source: '127.0.0.1',
  action: `POST /rollback`,
  status: 200,
  result: `call ${i} ${'x'.repeat(40)}`,
  authorized: true,
});

const handles: ServeHandle[] = [];
afterAll(async () => {
  await Promise.all(handles.map((h) => h.close()));
  await cleanupTmpDirs();
});

async function serve(world: World, audit: AuditSink, ctx = world.ctx) {
  const handle = await startServe(
    { ctx, traffic: world.traffic, host: quietHost, audit, loop: false },
    parseServeOptions({ apiPort: '0', monitorPort: '0', rateLimit: '0' }, { BGCTL_API_TOKEN: TOKEN }),
  );
  handles.push(handle);
  return handle;
}

describe('audit file', () => {
  it('rotates past maxBytes to .1 and .2 and never keeps more than three files of at most maxBytes', async () => {
    const dir = await makeTmpDir('audit-rotate');
    const audit = new AuditFile(path.join(dir, 'audit.jsonl'), { maxBytes: 1000, keep: 2 });
    await audit.check();
    for (let i = 0; i < 200; i++) await audit.append(entry(i));
    expect((await readdir(dir)).sort()).toEqual(['audit.jsonl', 'audit.jsonl.1', 'audit.jsonl.2']);
    for (const f of await readdir(dir)) expect((await stat(path.join(dir, f))).size).toBeLessThanOrEqual(1000);
    // the newest line is in the live file, whole
    const last = (await readFile(path.join(dir, 'audit.jsonl'), 'utf8')).trim().split('\n').at(-1) ?? '';
    expect((JSON.parse(last) as AuditEntry).result).toMatch(/^call 199 /);
    expect((await stat(path.join(dir, 'audit.jsonl'))).mode & 0o777).toBe(0o600);
  });

  it('refuses to append through a link planted at its name; the linked file is unchanged', async () => {
    const dir = await makeTmpDir('audit-link');
    const target = path.join(dir, 'elsewhere');
    await writeFile(target, 'keep me\n');
    await symlink(target, path.join(dir, 'audit.jsonl'));
    const audit = new AuditFile(path.join(dir, 'audit.jsonl'));
    await expect(audit.append(entry(1))).rejects.toThrow(/audit\.jsonl: it is a symbolic link/);
    expect(await readFile(target, 'utf8')).toBe('keep me\n');
  });

  it('a failed write rejects that append only: the next one goes through', async () => {
    const dir = await makeTmpDir('audit-fail');
    const file = path.join(dir, 'sub', 'audit.jsonl');
    const audit = new AuditFile(file);
    await expect(audit.append(entry(1))).rejects.toThrow(/ENOENT/);
    await audit.check(); // creates the folder
    await audit.append(entry(2));
    expect(await readFile(file, 'utf8')).toMatch(/call 2 /);
  });
});

describe('refusal counting', () => {
  it('writes one summary line per interval with counts per status and the busiest sources', async () => {
    const lines: AuditEntry[] = [];
    const counted: number[] = [];
    const log = new RefusalLog({
      audit: { append: (e) => (lines.push(e), Promise.resolve()) },
      logger: makeContext().ctx.logger,
      now: () => Date.parse('2026-01-01T00:00:00Z'),
      intervalMs: 30,
      onRefused: (s) => counted.push(s),
    });
    for (let i = 0; i < 500; i++) log.note(401, `10.0.0.${i % 7}`);
    log.note(429, '10.0.0.1');
    for (let i = 0; i < 100 && lines.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ action: 'refused calls', status: 401, authorized: false });
    expect(lines[0]?.result).toMatch(/^refused 501 calls since 2026-01-01T00:00:00.000Z: 401 x500, 429 x1$/);
    expect(Object.keys(lines[0]?.params?.['topSources'] as object)).toHaveLength(5);
    expect(counted).toHaveLength(501);
    await log.flush(); // nothing new: no second line
    expect(lines).toHaveLength(1);
  });
});

describe('control API under a failing state folder, and its dry run', () => {
  it('POST /rollback still rolls back when every audit write fails (ENOSPC)', async () => {
    const world = makeContext();
    const full: AuditSink = {
      append: () => Promise.reject(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' })),
    };
    const h = await serve(world, full);
    const sw = await http(`${h.apiUrl}/switch/green`, {
      method: 'POST',
      headers: AUTH,
      body: '{"version":"2.1.0","steps":[100],"stepSeconds":0}',
    });
    expect(sw.status, sw.text).toBeLessThan(300);
    for (let i = 0; i < 200 && (await http(`${h.apiUrl}/migration`)).json<{ job?: { state: string } }>().job?.state === 'running'; i++) {
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(world.nginx.current?.weights).toEqual({ blue: 0, green: 100 });
    const r = await http(`${h.apiUrl}/rollback`, { method: 'POST', headers: AUTH });
    expect(r.status, r.text).toBe(200);
    expect(world.nginx.current?.weights).toEqual({ blue: 100, green: 0 });
  });

  it('a dry run never returns routing.forceSecret in clear', async () => {
    const secret = 'Sup3r-s3cret-value-0123456789';
    const world = makeContext({ config: { routing: { forceSecret: secret } } });
    const ctx = { ...world.ctx, render: (req: RenderRequest) => ({ ...fakeRender(req), site: `map $x $y { "blue:${secret}" blue; }` }) };
    const h = await serve(world, { append: () => Promise.resolve() }, ctx);
    const r = await http(`${h.apiUrl}/switch/green`, { method: 'POST', headers: AUTH, body: '{"version":"2.1.0","dryRun":true}' });
    expect(r.status, r.text).toBe(200);
    expect(r.text).not.toContain(secret);
    expect(r.json<{ plan: { site: string }[] }>().plan[0]?.site).toContain('blue:<routing.forceSecret>');
  });
});

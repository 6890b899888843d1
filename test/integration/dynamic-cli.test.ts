import { chmod, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listWorkers, readMasterPid } from '../../src/adapters/nginx/workers.js';
import { startTraffic, type TrafficStats } from '../../src/demo/traffic.js';
import { stopAllBackends } from '../helpers/backends.js';
import { jsonOf } from '../helpers/cli.js';
import { writeConfig } from '../helpers/fixture.js';
import { makeSandbox, type Sandbox } from '../helpers/sandbox.js';

/**
 * `nginx.mode: dynamic` through the real CLI, real NGINX (Debian's njs module) and real backend
 * processes: a migration and a rollback under continuous keep-alive load lose no request and never
 * reload NGINX (its worker processes are the same before and after, read from /proc). The same in
 * reload mode is measured and printed for comparison, not asserted (a reload can reset a request).
 */

const MISSING_MODULE = '/nonexistent/njs/ngx_http_js_module.so';

interface StatusJson {
  stable: string;
  weights: { blue: number; green: number };
  revision: number;
  drift: string | null;
  mode: {
    configured: string;
    resolved: string;
    ok: boolean;
    detail: string;
    live: string | null;
    source: string | null;
    problem: string | null;
  };
}

/** A sandbox whose folder NGINX's workers may enter (as root they run as nobody and read the weights file there). */
async function sandbox(name: string, mode: 'dynamic' | 'reload' | 'auto', start = true): Promise<Sandbox> {
  const box = await makeSandbox(name, { overrides: { nginx: { mode } }, noStart: true });
  await chmod(box.dir, 0o755);
  if (start) {
    const r = await box.cli(['start']);
    if (r.exitCode !== 0) throw new Error(`bgctl start failed (${r.exitCode}):\n${r.stdout}\n${r.stderr}`);
  }
  return box;
}

/** The master and its worker pids: a reload replaces every worker. */
async function processes(box: Sandbox): Promise<{ master: number | null; workers: number[] }> {
  const master = await readMasterPid(path.join(box.dir, 'nginx', 'logs', 'nginx.pid'));
  const workers = master === null ? [] : await listWorkers(master);
  return { master, workers: workers.map((w) => w.pid).sort((a, b) => a - b) };
}

interface Measured {
  migration: TrafficStats;
  rollback: TrafficStats;
}

/** gradual green 25 → 100, then rollback, under 8 keep-alive connections sending GETs back to back. */
async function migrateUnderLoad(box: Sandbox): Promise<Measured> {
  const traffic = startTraffic({ url: `http://127.0.0.1:${box.listen}/load`, connections: 8, keepAlive: true, maxSeconds: 90, pauseMs: 1 });
  try {
    await new Promise((r) => setTimeout(r, 300));
    const g = await box.cli(['gradual', 'green', '2.1.0', '--steps', '25,50,75,100', '--step-seconds', '1']);
    expect(g.exitCode, g.stdout + g.stderr).toBe(0);
    await new Promise((r) => setTimeout(r, 300));
    const migration = traffic.stats();
    traffic.reset();
    const rb = await box.cli(['rollback']);
    expect(rb.exitCode, rb.stdout + rb.stderr).toBe(0);
    await new Promise((r) => setTimeout(r, 300));
    return { migration, rollback: traffic.stats() };
  } finally {
    await traffic.stop();
  }
}

const line = (s: TrafficStats): string =>
  `${s.failed} failed of ${s.total} (blue ${s.byColor.blue}, green ${s.byColor.green})${s.errors.length ? ` ${s.errors.slice(0, 3).join('; ')}` : ''}`;

afterAll(stopAllBackends);

describe('nginx.mode: dynamic through the CLI', () => {
  let box: Sandbox;
  const status = async (): Promise<StatusJson> => jsonOf<StatusJson>(await box.cli(['status', '--json']));

  beforeAll(async () => {
    box = await sandbox('dyn-cli', 'dynamic', false);
  });
  afterAll(async () => {
    await box?.close();
  });

  it('start says which mode it uses; status shows it, human and --json', async () => {
    const r = await box.cli(['start']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /pre-flight\s+ok\s+apply mode: dynamic \(njs reads the weights file per request.*njs module \/usr\/lib\/nginx\/modules\/ngx_http_js_module\.so/,
    );
    expect(r.stdout).toMatch(/NGINX started: blue 100% \/ green 0% \(revision 1\), apply mode dynamic/);
    expect(await status()).toMatchObject({
      drift: null,
      mode: { configured: 'dynamic', resolved: 'dynamic', ok: true, live: 'dynamic', source: 'file', problem: null },
    });
    const human = await box.cli(['status']);
    expect(human.stdout).toMatch(/^ {2}mode {6}dynamic \(njs reads the weights file per request/m);
    const files = await readFile(path.join(box.dir, 'nginx', 'conf.d', 'bgctl-weights.json'), 'utf8');
    expect(JSON.parse(files)).toMatchObject({ revision: 1, blue: 100, green: 0 });
  });

  it('a full migration and a rollback under keep-alive load: zero failed requests, and NGINX never reloads', async () => {
    const before = await processes(box);
    expect(before.workers.length).toBeGreaterThan(0);
    const { migration, rollback } = await migrateUnderLoad(box);
    const after = await processes(box);
    console.log(`dynamic mode, 8 keep-alive connections: migration ${line(migration)}; rollback ${line(rollback)}`);
    expect(migration.byColor.blue).toBeGreaterThan(50);
    expect(migration.byColor.green).toBeGreaterThan(50);
    expect(rollback.total).toBeGreaterThan(20);
    expect([migration.failed, rollback.failed]).toEqual([0, 0]);
    // a reload would have started new workers (and retired these)
    expect(after).toEqual(before);
    expect(await status()).toMatchObject({ stable: 'blue', weights: { blue: 100, green: 0 }, drift: null, mode: { live: 'dynamic' } });
    expect((await box.get()).color).toBe('blue');
  });

  it('a weights file deleted behind its back: NGINX serves the stable color, status reports it, rollback writes it again', async () => {
    const conf = path.join(box.dir, 'nginx', 'conf.d');
    const c = await box.cli(['canary', 'green', '40']);
    expect(c.exitCode, c.stderr).toBe(0);
    await rm(path.join(conf, 'bgctl-weights.json'));
    await rm(path.join(conf, 'bgctl-weights.json.prev'));
    const seen = await Promise.all(Array.from({ length: 20 }, () => box.get()));
    expect(new Set(seen.map((s) => `${s.status} ${s.color}`))).toEqual(new Set(['200 blue']));
    const s = await status();
    expect(s.mode).toMatchObject({ live: 'dynamic', source: 'config' });
    expect(s.mode.problem).toMatch(/bgctl-weights\.json: No such file or directory/);
    expect(s.drift).toMatch(/^NGINX cannot use its weights file \(.*No such file or directory.*\) and sends all traffic to blue/);
    expect((await box.cli(['status'])).stdout).toMatch(/WEIGHTS FILE NOT USED \(.*\): NGINX sends all traffic to blue/);
    const before = await processes(box);
    const rb = await box.cli(['rollback']);
    expect(rb.exitCode, rb.stderr).toBe(0);
    expect(await status()).toMatchObject({ weights: { blue: 100, green: 0 }, drift: null, mode: { source: 'file', problem: null } });
    expect(await processes(box)).toEqual(before);
  });

  it('nginx.mode: dynamic without the njs module: exit 6 at pre-flight, nothing changed', async () => {
    const write = (njsModule: string | null) =>
      writeConfig(box.dir, {
        blue: box.blue.port,
        green: box.green.port,
        listen: box.listen,
        overrides: { nginx: { mode: 'dynamic', ...(njsModule ? { njsModule } : {}) } },
      });
    const nginxFiles = async () =>
      Promise.all(
        ['nginx.conf', 'conf.d/bgctl.conf', 'conf.d/bgctl.js', 'conf.d/bgctl-weights.json'].map((f) =>
          readFile(path.join(box.dir, 'nginx', f), 'utf8'),
        ),
      );
    await write(MISSING_MODULE);
    try {
      const [state, files, procs] = [await box.stateText(), await nginxFiles(), await processes(box)];
      const g = await box.cli(['gradual', 'green', '2.1.0', '--steps', '50,100', '--step-seconds', '0']);
      expect(g.exitCode, g.stdout + g.stderr).toBe(6);
      expect(g.stderr).toContain(
        `apply mode: nginx.mode is dynamic but the njs module is not available: no njs module at ${MISSING_MODULE} (nginx.njsModule`,
      );
      const v = await box.cli(['validate']);
      expect(v.exitCode).toBe(6);
      expect(v.stdout).toContain(
        `FAIL  apply mode: nginx.mode is dynamic but the njs module is not available: no njs module at ${MISSING_MODULE}`,
      );
      const st = await box.cli(['start']);
      expect(st.exitCode).toBe(6);
      expect([await box.stateText(), await nginxFiles(), await processes(box)]).toEqual([state, files, procs]);
      expect((await box.get()).status).toBe(200);
    } finally {
      await write(null);
    }
  });

  it('on a machine with no njs, a fresh start in dynamic mode is refused and starts nothing', async () => {
    const fresh = await makeSandbox('dyn-no-njs', { overrides: { nginx: { mode: 'dynamic', njsModule: MISSING_MODULE } }, noStart: true });
    try {
      const r = await fresh.cli(['start', '--json']);
      expect(r.exitCode).toBe(6);
      expect(jsonOf<{ error: { message: string } }>(r).error.message).toMatch(
        /^start: pre-flight failed: apply mode: nginx\.mode is dynamic but/,
      );
      expect(await processes(fresh)).toEqual({ master: null, workers: [] });
    } finally {
      await fresh.close();
    }
  });
});

describe('what still reloads', () => {
  it('switching reload → dynamic, and a structural change, take the reload path once; weight changes after them do not', async () => {
    const box = await sandbox('dyn-switch', 'reload');
    const write = (nginx: Record<string, unknown>) =>
      writeConfig(box.dir, { blue: box.blue.port, green: box.green.port, listen: box.listen, overrides: { nginx } });
    const canary = async (percent: number): Promise<boolean> => {
      const before = await processes(box);
      const r = await box.cli(['canary', 'green', String(percent)]);
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
      const after = await processes(box);
      expect(after.master).toBe(before.master);
      return after.workers.some((w) => !before.workers.includes(w)); // new workers: it reloaded
    };
    try {
      expect(await canary(10)).toBe(true);
      await write({ mode: 'dynamic' });
      expect(await canary(20)).toBe(true);
      expect(jsonOf<StatusJson>(await box.cli(['status', '--json'])).mode).toMatchObject({ live: 'dynamic', source: 'file' });
      expect(await canary(30)).toBe(false);
      await write({ mode: 'dynamic', keepalive: 16 }); // the upstreams change: structure
      expect(await canary(40)).toBe(true);
      expect(await readFile(path.join(box.dir, 'nginx', 'conf.d', 'bgctl.conf'), 'utf8')).toContain('keepalive 16;');
      expect(await canary(50)).toBe(false);
      const rb = await box.cli(['rollback']);
      expect(rb.exitCode).toBe(0);
      expect(jsonOf<StatusJson>(await box.cli(['status', '--json']))).toMatchObject({ weights: { blue: 100, green: 0 }, drift: null });
    } finally {
      await box.close();
    }
  });
});

describe('nginx.mode: auto', () => {
  it('picks dynamic where the njs module is installed, and validate and start say so', async () => {
    const box = await sandbox('dyn-auto', 'auto', false);
    try {
      const v = await box.cli(['validate']);
      expect(v.exitCode, v.stdout + v.stderr).toBe(0);
      expect(v.stdout).toMatch(/^PASS {2}apply mode: auto: dynamic \(njs reads the weights file per request/m);
      const s = await box.cli(['start']);
      expect(s.stdout).toMatch(/apply mode dynamic$/m);
      expect(jsonOf<StatusJson>(await box.cli(['status', '--json'])).mode).toMatchObject({
        configured: 'auto',
        resolved: 'dynamic',
        live: 'dynamic',
      });
    } finally {
      await box.close();
    }
  });
});

describe('the same load in reload mode, for comparison (measured, not asserted)', () => {
  it('a full migration and a rollback by reloads', async () => {
    const box = await sandbox('reload-cli', 'reload');
    try {
      const before = await processes(box);
      const { migration, rollback } = await migrateUnderLoad(box);
      const after = await processes(box);
      console.log(
        `reload mode, 8 keep-alive connections: migration ${line(migration)}; rollback ${line(rollback)}; workers replaced: ${after.workers.every((w) => !before.workers.includes(w))}`,
      );
      expect(migration.total).toBeGreaterThan(100);
    } finally {
      await box.close();
    }
  });
});

import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessLines, Backend, hit, pool, share, startSite, type Answer, type Site } from '../helpers/routing.js';
import { cleanupTmpDirs } from '../helpers/tmp.js';

// nginx.mode: dynamic through real NGINX with Debian's njs module (libnginx-mod-http-js) in front of real
// backends: the rendered config started by the real driver, every later step written as the weights
// file only (the driver reports no reload). Loads are bounded (2,000 requests a step) and on 127.0.0.1.

const MODULE = '/usr/lib/nginx/modules/ngx_http_js_module.so';
const DYNAMIC = { dynamic: { module: MODULE } };
const REQUESTS = 2000;

afterAll(cleanupTmpDirs);

interface StatusAnswer {
  revision: number;
  blue: number;
  green: number;
  stable: string;
  strategy: string;
  mode: string;
  source: string;
  problem?: string;
}

async function statusOf(site: Site): Promise<StatusAnswer> {
  const res = await request(`http://127.0.0.1:${site.port}/__bgctl/status`, { reset: true, headers: { 'x-bgctl-secret': site.secret } });
  expect(res.statusCode).toBe(200);
  return (await res.body.json()) as StatusAnswer;
}

describe('dynamic mode, weighted: every request picked by njs from the weights file', () => {
  const blue = new Backend('blue', 'blue-1');
  const green = [new Backend('green', 'green-1'), new Backend('green', 'green-2')];
  const all = [blue, ...green];
  let site: Site;

  beforeAll(async () => {
    for (const b of all) await b.open();
    site = await startSite(
      'dyn-split',
      {
        environments: { blue: { servers: [blue.address] }, green: { servers: green.map((g) => g.address) } },
        // a failing server is never set aside: every request really meets it (the fail-over test below)
        nginx: { maxFails: 0 },
      },
      { percent: 0 },
      DYNAMIC,
    );
  });
  afterAll(async () => {
    await site.stop();
    for (const b of all) await b.close();
  });

  it.each([{ percent: 25 }, { percent: 50 }, { percent: 75 }])(
    `green at $percent% without a reload: over ${REQUESTS} keep-alive requests each color is within ±2 points, by header, backend and log`,
    async ({ percent }) => {
      const report = await site.apply({ percent });
      expect(report.reloaded).toBe(false);
      expect(Object.keys(report.stages)).not.toContain('reload');
      for (const b of all) b.seen.length = 0;
      // undici's global pool: 16 keep-alive connections carry all 2,000 requests
      const answers = await pool(REQUESTS, 16, () => hit(site.port));

      expect(answers.filter((a) => a.status !== 200)).toEqual([]);
      expect(answers.filter((a) => a.color !== a.backend?.color)).toEqual([]);
      const byHeader = share(
        answers.map((a) => a.color),
        'green',
      );
      const greenSeen = (green[0]?.seen.length ?? 0) + (green[1]?.seen.length ?? 0);
      const logged = new Map((await accessLines(site.accessLog)).map((l) => [String(l['request_id']), l['color']]));
      const wrongLog = all.flatMap((b) => b.seen.filter((s) => logged.get(s.id) !== b.color).map((s) => s.id));
      console.log(
        `dynamic weighted ${percent}%: green by header ${byHeader.toFixed(2)}% (${greenSeen} of ${REQUESTS}),`,
        `green servers ${green.map((g) => g.seen.length).join('/')}, blue ${blue.seen.length}`,
      );
      expect(Math.abs(byHeader - percent)).toBeLessThanOrEqual(2);
      expect(blue.seen.length + greenSeen).toBe(REQUESTS);
      expect(Math.abs((green[0]?.seen.length ?? 0) - (green[1]?.seen.length ?? 0))).toBeLessThanOrEqual(REQUESTS * 0.02);
      expect(wrongLog).toEqual([]);
      expect(await statusOf(site)).toMatchObject({ green: percent, mode: 'dynamic', source: 'file' });
    },
  );

  it.each([
    { percent: 0, only: 'blue' },
    { percent: 100, only: 'green' },
  ])('green at $percent%: every request goes to $only', async ({ percent, only }) => {
    expect((await site.apply({ percent })).reloaded).toBe(false);
    const answers = await pool(400, 8, () => hit(site.port));
    expect(new Set(answers.map((a) => `${a.status} ${a.color} ${a.backend?.color}`))).toEqual(new Set([`200 ${only} ${only}`]));
  });

  it('a forced route goes to its color whatever the weights, and is logged as forced', async () => {
    await site.apply({ percent: 0 });
    // a bare color is ordinary traffic; COLOR:SECRET forces (the site's own secret, as bgctl makes one)
    const bare = await pool(10, 4, () => hit(site.port, { headers: { 'X-Bgctl-Color': 'green' }, path: '/bare-green' }));
    expect(new Set(bare.map((a) => `${a.status} ${a.color} ${a.backend?.color}`))).toEqual(new Set(['200 blue blue']));
    const forced = await pool(50, 4, () => hit(site.port, { headers: { 'X-Bgctl-Color': `green:${site.secret}` }, path: '/forced-green' }));
    expect(new Set(forced.map((a) => `${a.status} ${a.color} ${a.backend?.color}`))).toEqual(new Set(['200 green green']));
    const lines = (await accessLines(site.accessLog)).filter((l) => l['uri'] === '/forced-green');
    expect(lines.length).toBe(50);
    expect(new Set(lines.map((l) => `${String(l['forced'])} ${String(l['color'])}`))).toEqual(new Set(['green green']));
    // the header never reaches the backend
    expect(green[0]?.seen.concat(green[1]?.seen ?? []).filter((s) => s.headers['x-bgctl-color'] !== undefined)).toEqual([]);
  });

  it('green dead at 50%: GETs fail over to blue; at 0% green gets nothing, not even a retry', async () => {
    await site.apply({ percent: 50 });
    for (const g of green) await g.close();
    const answers = await pool(200, 8, () => hit(site.port));
    expect([...new Set(answers.map((a) => `${a.status} ${a.color} ${a.backend?.color}`))]).toEqual(['200 blue blue']);
    for (const g of green) await g.open();
    for (const g of green) g.seen.length = 0;
    await site.apply({ percent: 0 });
    blue.mode = 'crash';
    const dead = await pool(20, 4, () => hit(site.port));
    blue.mode = 'ok';
    expect(new Set(dead.map((a) => a.status))).toEqual(new Set([502]));
    expect(green.flatMap((g) => g.seen)).toEqual([]);
  });
});

describe('dynamic mode, a missing or garbled weights file: everything to the stable color, never an error page', () => {
  const blue = new Backend('blue', 'blue-1');
  const green = new Backend('green', 'green-1');
  let site: Site;
  const weights = (): string => path.join(site.dir, 'conf.d', 'bgctl-weights.json');
  const colors = async (): Promise<string[]> =>
    [...new Set((await pool(200, 8, () => hit(site.port))).map((a) => `${a.status} ${a.color} ${a.backend?.color}`))].sort();

  beforeAll(async () => {
    await blue.open();
    await green.open();
    site = await startSite(
      'dyn-fallback',
      { environments: { blue: { servers: [blue.address] }, green: { servers: [green.address] } } },
      { percent: 25 },
      DYNAMIC,
    );
    await site.apply({ percent: 50 }); // bgctl-weights.json.prev now holds the 25% step
  });
  afterAll(async () => {
    await site.stop();
    await blue.close();
    await green.close();
  });

  it('both colors serve while the file is good', async () => {
    expect(await colors()).toEqual(['200 blue blue', '200 green green']);
    expect(await statusOf(site)).toMatchObject({ green: 50, source: 'file' });
  });

  it('garbled, with a good .prev copy: all traffic to the fallback color the copy names, and the status says why', async () => {
    await writeFile(weights(), '{"revision": 9, "blue": 50, "green": ');
    expect(await colors()).toEqual(['200 blue blue']);
    const s = await statusOf(site);
    expect(s).toMatchObject({ revision: 0, blue: 100, green: 0, stable: 'blue', mode: 'dynamic', source: 'prev' });
    expect(s.problem).toMatch(/^conf\.d\/bgctl-weights\.json: /);
  });

  it('deleted, and its copy too: all traffic to the color baked into the config', async () => {
    await rm(weights());
    await rm(`${weights()}.prev`);
    expect(await colors()).toEqual(['200 blue blue']);
    const s = await statusOf(site);
    expect(s).toMatchObject({ revision: 0, blue: 100, stable: 'blue', source: 'config' });
    expect(s.problem).toMatch(
      /bgctl-weights\.json: No such file or directory; conf\.d\/bgctl-weights\.json\.prev: No such file or directory/,
    );
  });

  it('a weights file with impossible values counts as unreadable', async () => {
    await writeFile(
      weights(),
      '{"revision":3,"blue":80,"green":80,"growing":"green","stable":"blue","fallback":"blue","strategy":"weighted"}\n',
    );
    expect(await colors()).toEqual(['200 blue blue']);
    expect((await statusOf(site)).problem).toMatch(/not two percentages totalling 100/);
  });

  it('a revision beyond 2^53 - 1 counts as unreadable (bgctl could never match it)', async () => {
    for (const revision of ['9007199254740992', '1e300']) {
      await writeFile(
        weights(),
        `{"revision":${revision},"blue":50,"green":50,"growing":"green","stable":"blue","fallback":"blue","strategy":"weighted"}\n`,
      );
      expect(await colors(), revision).toEqual(['200 blue blue']);
      expect((await statusOf(site)).problem, revision).toMatch(/no valid revision/);
    }
  });

  it('the next step writes the file again: both colors serve, no reload', async () => {
    const report = await site.apply({ percent: 50 });
    expect(report.reloaded).toBe(false);
    expect(await colors()).toEqual(['200 blue blue', '200 green green']);
    expect(await statusOf(site)).toMatchObject({ green: 50, source: 'file' });
  });
});

describe('dynamic mode, sticky: a client keeps its color, and a growing color only gains clients', () => {
  const CLIENTS = 2000;
  const COOKIE = /^bgctl_bucket=(\d{1,2}); Path=\/; Max-Age=2592000; HttpOnly; SameSite=Lax$/;
  const blue = new Backend('blue', 'blue-1');
  const green = new Backend('green', 'green-1');
  let site: Site;
  const cookie: string[] = [];
  const bucket: number[] = [];
  const ask = (i: number): Promise<Answer> =>
    hit(site.port, { headers: { 'user-agent': `sticky-client-${i}`, ...(cookie[i] ? { cookie: cookie[i] } : {}) } });

  beforeAll(async () => {
    await blue.open();
    await green.open();
    site = await startSite(
      'dyn-sticky',
      { environments: { blue: { servers: [blue.address] }, green: { servers: [green.address] } }, migration: { strategy: 'sticky' } },
      { percent: 0, strategy: 'sticky' },
      DYNAMIC,
    );
  });
  afterAll(async () => {
    await site.stop();
    await blue.close();
    await green.close();
  });

  it(`${CLIENTS} clients, 25 → 50 → 75 → 100 without a reload: each step within ±3 points, nobody goes back from green to blue`, async () => {
    let previous: (string | undefined)[] = [];
    const shares: string[] = [];
    for (const [n, percent] of [25, 50, 75, 100].entries()) {
      expect((await site.apply({ percent, strategy: 'sticky' })).reloaded).toBe(false);
      const answers = await pool(CLIENTS, 16, (i) => ask(i));
      expect(answers.filter((a) => a.status !== 200 || a.color !== a.backend?.color)).toEqual([]);
      if (n === 0) {
        for (const [i, a] of answers.entries()) {
          const m = COOKIE.exec(a.setCookie ?? '');
          expect(m, `client ${i}: ${a.setCookie}`).not.toBeNull();
          bucket[i] = Number(m?.[1]);
          cookie[i] = `bgctl_bucket=${bucket[i]}`;
        }
      } else {
        expect(answers.filter((a) => a.setCookie !== undefined)).toEqual([]);
      }
      expect(answers.filter((a, i) => a.color !== ((bucket[i] ?? -1) < percent ? 'green' : 'blue'))).toEqual([]);
      const colors = answers.map((a) => a.color);
      const greenShare = share(colors, 'green');
      const back = colors.filter((c, i) => previous[i] === 'green' && c === 'blue').length;
      shares.push(`${percent}% → ${greenShare.toFixed(2)}%`);
      expect(Math.abs(greenShare - percent), `step ${percent}%`).toBeLessThanOrEqual(3);
      expect(back, `clients back from green to blue at step ${percent}%`).toBe(0);
      previous = colors;
    }
    console.log(`dynamic sticky, ${CLIENTS} clients, green share per step: ${shares.join(', ')}`);
  });

  it('switching the strategy to weighted is a weights-file change too: no more bucket cookies', async () => {
    expect((await site.apply({ percent: 50, strategy: 'weighted' })).reloaded).toBe(false);
    const fresh = await pool(100, 8, (i) => hit(site.port, { headers: { 'user-agent': `new-client-${i}` } }));
    expect(fresh.filter((a) => a.setCookie !== undefined)).toEqual([]);
    expect(new Set(fresh.map((a) => a.color))).toEqual(new Set(['blue', 'green']));
  });
});

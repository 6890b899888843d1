import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Backend, hit, pool, type Answer, type Site, startSite } from '../helpers/routing.js';
import { cleanupTmpDirs } from '../helpers/tmp.js';

// Sticky routing through real NGINX and real backends: 2,000 distinct clients (one user agent each,
// each keeping its cookie) follow a migration 25 → 50 → 75 → 100, re-rendered and reloaded by the
// real driver between steps.

const CLIENTS = 2000;
const COOKIE = /^bgctl_bucket=(\d{1,2}); Path=\/; Max-Age=2592000; HttpOnly; SameSite=Lax$/;

afterAll(cleanupTmpDirs);

describe('sticky: a client keeps its color, and a growing color only gains clients', () => {
  const blue = new Backend('blue', 'blue-1');
  const green = new Backend('green', 'green-1');
  let site: Site;
  /** per client: the cookie it keeps and the bucket in it */
  const cookie: string[] = [];
  const bucket: number[] = [];

  const ask = (i: number, extra: Record<string, string> = {}): Promise<Answer> =>
    hit(site.port, { headers: { 'user-agent': `sticky-client-${i}`, ...(cookie[i] ? { cookie: cookie[i] } : {}), ...extra } });

  beforeAll(async () => {
    await blue.open();
    await green.open();
    site = await startSite(
      'sticky',
      { environments: { blue: { servers: [blue.address] }, green: { servers: [green.address] } }, migration: { strategy: 'sticky' } },
      { percent: 25, strategy: 'sticky' },
    );
  });
  afterAll(async () => {
    await site.stop();
    await blue.close();
    await green.close();
  });

  it(`${CLIENTS} clients, 25 → 50 → 75 → 100: each step within ±3 points, nobody goes back from green to blue`, async () => {
    let previous: (string | undefined)[] = [];
    const shares: string[] = [];
    for (const [n, percent] of [25, 50, 75, 100].entries()) {
      if (n > 0) await site.apply({ percent, strategy: 'sticky' });
      const answers = await pool(CLIENTS, 16, (i) => ask(i));
      expect(answers.filter((a) => a.status !== 200 || a.color !== a.backend?.color)).toEqual([]);
      if (n === 0) {
        // the first answer hands every client its bucket
        for (const [i, a] of answers.entries()) {
          const m = COOKIE.exec(a.setCookie ?? '');
          expect(m, `client ${i}: ${a.setCookie}`).not.toBeNull();
          bucket[i] = Number(m?.[1]);
          cookie[i] = `bgctl_bucket=${bucket[i]}`;
        }
      } else {
        // a client with a valid cookie is routed by it and gets no new one
        expect(answers.filter((a) => a.setCookie !== undefined)).toEqual([]);
      }
      // the growing color owns buckets 0 .. percent-1
      expect(answers.filter((a, i) => a.color !== ((bucket[i] ?? -1) < percent ? 'green' : 'blue'))).toEqual([]);
      const colors = answers.map((a) => a.color);
      const greenShare = (100 * colors.filter((c) => c === 'green').length) / CLIENTS;
      const back = colors.filter((c, i) => previous[i] === 'green' && c === 'blue').length;
      shares.push(`${percent}% → ${greenShare.toFixed(2)}%`);
      expect(Math.abs(greenShare - percent), `step ${percent}%`).toBeLessThanOrEqual(3);
      expect(back, `clients back from green to blue at step ${percent}%`).toBe(0);
      previous = colors;
    }
    console.log(`sticky, ${CLIENTS} clients, green share per step: ${shares.join(', ')}`);
    expect(new Set(bucket).size).toBe(100); // every bucket is used
  });

  it('a client that lost its cookie gets the same bucket back; an invalid cookie is replaced', async () => {
    await site.apply({ percent: 50, strategy: 'sticky' });
    const lost = await pool(200, 8, (i) => hit(site.port, { headers: { 'user-agent': `sticky-client-${i}` } }));
    expect(lost.map((a) => COOKIE.exec(a.setCookie ?? '')?.[1])).toEqual(bucket.slice(0, 200).map(String));
    for (const bad of ['100', '-1', '07', 'abc', '']) {
      const a = await ask(0, { cookie: `bgctl_bucket=${bad}` });
      expect(COOKIE.exec(a.setCookie ?? '')?.[1], `cookie ${bad}`).toBe(String(bucket[0]));
    }
    // the cookie, not the user agent, decides: a client keeps its bucket when its user agent changes
    const moved = await ask(1, { 'user-agent': 'another-browser', cookie: 'bgctl_bucket=99' });
    expect([moved.color, moved.setCookie]).toEqual(['blue', undefined]);
    const first = await ask(1, { 'user-agent': 'another-browser', cookie: 'bgctl_bucket=0' });
    expect([first.color, first.setCookie]).toEqual(['green', undefined]);
  });

  it('green dead at 50%: its clients GETs fail over to blue, a POST is not repeated, the cookie stays', async () => {
    await site.apply({ percent: 50, strategy: 'sticky' });
    const greens = bucket.map((b, i) => (b < 50 ? i : -1)).filter((i) => i >= 0);
    await green.close();
    blue.seen.length = 0;
    const gets = await pool(100, 8, (k) => ask(greens[k] ?? 0));
    expect([...new Set(gets.map((a) => `${a.status} ${a.color} ${a.backend?.color} ${a.setCookie}`))]).toEqual(['200 blue blue undefined']);
    const posts = await pool(20, 4, (k) =>
      hit(site.port, { method: 'POST', body: 'x', headers: { cookie: cookie[greens[k] ?? 0] ?? '' } }),
    );
    // nothing reached green, but NGINX cannot know that from a 502: a POST stays on its color
    expect([...new Set(posts.map((a) => `${a.status} ${a.color}`))]).toEqual(['502 green']);
    expect(blue.seen.filter((s) => s.method === 'POST')).toEqual([]);
    await green.open();
  });
});

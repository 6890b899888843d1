import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessLines, Backend, hit, pool, share, startSite, type Answer, type Site } from '../helpers/routing.js';
import { cleanupTmpDirs } from '../helpers/tmp.js';

// Weighted routing through real NGINX (the rendered config, started and reloaded by the real driver)
// in front of real HTTP backends. Loads are bounded (2,000 requests a step) and stay on 127.0.0.1.

const REQUESTS = 2000;

afterAll(cleanupTmpDirs);

const spread = (n: number, of: number): number => (100 * n) / of;

/** request_id → the color the access log says served it */
async function loggedColors(site: Site): Promise<Map<string, unknown>> {
  return new Map((await accessLines(site.accessLog)).map((l) => [String(l['request_id']), l['color']]));
}

describe('weighted, every server an IP literal: the shares are exact', () => {
  const blue = new Backend('blue', 'blue-1');
  const green = [new Backend('green', 'green-1'), new Backend('green', 'green-2')];
  const all = [blue, ...green];
  let site: Site;

  beforeAll(async () => {
    for (const b of all) await b.open();
    site = await startSite(
      'split',
      { environments: { blue: { servers: [blue.address] }, green: { servers: green.map((g) => g.address) } } },
      { percent: 0 },
    );
  });
  afterAll(async () => {
    await site.stop();
    for (const b of all) await b.close();
  });

  it.each([{ percent: 25 }, { percent: 50 }, { percent: 75 }])(
    `green at $percent%: over ${REQUESTS} requests each color is within ±2 points, by header, backend and log`,
    async ({ percent }) => {
      await site.apply({ percent });
      for (const b of all) b.seen.length = 0;
      const answers = await pool(REQUESTS, 16, () => hit(site.port));

      expect(answers.filter((a) => a.status !== 200)).toEqual([]);
      // the header names the backend that really answered, every time
      expect(answers.filter((a) => a.color !== a.backend?.color)).toEqual([]);
      const byHeader = share(
        answers.map((a) => a.color),
        'green',
      );
      const greenSeen = (green[0]?.seen.length ?? 0) + (green[1]?.seen.length ?? 0);
      const byBackend = spread(greenSeen, greenSeen + blue.seen.length);
      const logged = await loggedColors(site);
      const wrongLog = all.flatMap((b) => b.seen.filter((s) => logged.get(s.id) !== b.color).map((s) => s.id));
      console.log(
        `weighted ${percent}%: green by header ${byHeader.toFixed(2)}%, by backend ${byBackend.toFixed(2)}%,`,
        `green servers ${green.map((g) => g.seen.length).join('/')}, blue ${blue.seen.length}`,
      );
      expect(Math.abs(byHeader - percent)).toBeLessThanOrEqual(2);
      expect(Math.abs(byBackend - percent)).toBeLessThanOrEqual(2);
      expect(blue.seen.length + greenSeen).toBe(REQUESTS);
      // green's share is divided evenly between its two servers
      expect(Math.abs((green[0]?.seen.length ?? 0) - (green[1]?.seen.length ?? 0))).toBeLessThanOrEqual(REQUESTS * 0.02);
      // and the access log's color is the color of the backend that served each request
      expect(wrongLog).toEqual([]);
    },
  );

  it.each([
    { percent: 0, only: 'blue' },
    { percent: 100, only: 'green' },
  ])('green at $percent%: every request goes to $only', async ({ percent, only }) => {
    await site.apply({ percent });
    const answers = await pool(200, 8, () => hit(site.port));
    expect(new Set(answers.map((a) => `${a.status} ${a.color} ${a.backend?.color}`))).toEqual(new Set([`200 ${only} ${only}`]));
  });
});

describe('weighted 50/50 with green dead: NGINX fails over across colors, never repeating a POST', () => {
  const blue = new Backend('blue', 'blue-1');
  const green = new Backend('green', 'green-1');
  let site: Site;
  // max_fails=0: green is never set aside, so every other request really meets the dead server
  const config = { nginx: { maxFails: 0 } };

  beforeAll(async () => {
    await blue.open();
    await green.open();
    site = await startSite(
      'failover',
      { ...config, environments: { blue: { servers: [blue.address] }, green: { servers: [green.address] } } },
      { percent: 50 },
    );
  });
  afterAll(async () => {
    await site.stop();
    await blue.close();
    await green.close();
  });

  const reset = (): void => {
    blue.seen.length = 0;
    green.seen.length = 0;
  };
  const summary = (answers: Answer[]): string[] => [...new Set(answers.map((a) => `${a.status} ${a.color} ${a.backend?.color}`))];

  it('green refusing connections: every GET and POST is served by blue, each exactly once', async () => {
    await green.close();
    reset();
    const gets = await pool(200, 8, () => hit(site.port));
    const posts = await pool(200, 8, (i) => hit(site.port, { method: 'POST', body: `order ${i}` }));
    expect(summary(gets)).toEqual(['200 blue blue']);
    // a refused connection carried nothing, so passing the POST on is safe
    expect(summary(posts)).toEqual(['200 blue blue']);
    expect(blue.seen.filter((s) => s.method === 'POST')).toHaveLength(200);
    expect(new Set(blue.seen.map((s) => s.id)).size).toBe(400);
    const lines = await accessLines(site.accessLog);
    const retried = lines.filter((l) => String(l['upstream_addr']).startsWith(`${green.address}, `));
    console.log(`green refused: ${retried.length} of 400 requests tried green first, then blue`);
    expect(retried.length).toBeGreaterThan(100);
    for (const l of retried) expect([l['upstream_addr'], l['color']]).toEqual([`${green.address}, ${blue.address}`, 'blue']);
  });

  it('green dying mid-request: GETs are retried on blue, a POST green received is answered 502 and never repeated', async () => {
    await green.open();
    green.mode = 'crash';
    reset();
    const gets = await pool(200, 8, () => hit(site.port));
    expect(summary(gets)).toEqual(['200 blue blue']);

    reset();
    const posts = await pool(200, 8, (i) => hit(site.port, { method: 'POST', body: `order ${i}` }));
    const failed = posts.filter((a) => a.status !== 200);
    console.log(`green crashing: ${failed.length} of 200 POSTs reached green and were answered 502, ${blue.seen.length} served by blue`);
    expect(failed.length).toBeGreaterThan(50);
    expect(summary(failed)).toEqual(['502 green undefined']);
    expect(green.seen).toHaveLength(failed.length);
    const blueIds = new Set(blue.seen.map((s) => s.id));
    expect(green.seen.filter((s) => blueIds.has(s.id))).toEqual([]);
    expect(blue.seen).toHaveLength(200 - failed.length);
    green.mode = 'ok';
  });
});

describe('weighted with a host name among the servers: split_clients per request, error_page fail-over', () => {
  const blue = new Backend('blue', 'blue-1');
  const green = new Backend('green', 'green-1');
  let site: Site;

  beforeAll(async () => {
    await blue.open();
    await green.open();
    site = await startSite(
      'hostname',
      { environments: { blue: { servers: [`localhost:${blue.port}`] }, green: { servers: [`localhost:${green.port}`] } } },
      { percent: 50 },
    );
  });
  afterAll(async () => {
    await site.stop();
    await blue.close();
    await green.close();
  });

  it('serves both colors and names the one that served', async () => {
    const answers = await pool(400, 8, () => hit(site.port));
    expect(answers.filter((a) => a.status !== 200 || a.color !== a.backend?.color)).toEqual([]);
    const green = share(
      answers.map((a) => a.color),
      'green',
    );
    console.log(`host names, weighted 50%: green ${green.toFixed(1)}% of 400 (drawn per request)`);
    // random per request: only a wide band (±10 points is more than 4 standard deviations)
    expect(Math.abs(green - 50)).toBeLessThanOrEqual(10);
  });

  it('green dead: idempotent requests fail over to blue', async () => {
    await green.close();
    const answers = await pool(100, 8, () => hit(site.port));
    expect([...new Set(answers.map((a) => `${a.status} ${a.color} ${a.backend?.color}`))]).toEqual(['200 blue blue']);
  });
});

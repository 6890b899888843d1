import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpProber } from '../../src/adapters/probe.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { accessLines, Backend, hit, outsider, pool, type Answer, type HitOptions, type Site, startSite } from '../helpers/routing.js';
import { cleanupTmpDirs } from '../helpers/tmp.js';

// Forced routes through real NGINX and real backends. A client NGINX does not count as loopback is a
// non-loopback address of this machine (NGINX listens there too) or, without one, source 127.0.0.2.
// Without routing.forceSecret the site runs with a secret of its own, as bgctl does (stateDir/force-secret).

const SECRET = 'S3cret-token_0123.4567~89';
const away = outsider();

afterAll(async () => {
  await away.agent.close();
  await cleanupTmpDirs();
});

/** One site, blue 100% and green 0% (weighted, exact split) unless a test re-applies a step. */
function fixture(name: string, routing: ConfigInput['routing']) {
  const blue = new Backend('blue', 'blue-1');
  const green = new Backend('green', 'green-1');
  const ctx = { blue, green, site: undefined as unknown as Site };
  beforeAll(async () => {
    await blue.open();
    await green.open();
    ctx.site = await startSite(
      name,
      {
        listenAddress: away.listenAddress,
        environments: { blue: { servers: [blue.address] }, green: { servers: [green.address] } },
        routing,
      },
      { percent: 0 },
    );
  });
  afterAll(async () => {
    await ctx.site.stop();
    await blue.close();
    await green.close();
  });
  return ctx;
}

/** The colors (header/backend) of 10 requests: one string when they all agree. */
async function colors(port: number, o: HitOptions): Promise<string[]> {
  const answers = await pool(10, 5, () => hit(port, o));
  return [...new Set(answers.map((a) => `${a.status} ${a.color} ${a.backend?.color}`))];
}
const from = (dispatcher: HitOptions['dispatcher'], host: string) => ({ dispatcher, host });

describe("forced routes without routing.forceSecret: bgctl's own secret, loopback alone is never enough", () => {
  const f = fixture('force-own-secret', { forceCookie: 'bgctl-force' });
  const port = (): number => f.site.port;
  const own = (color: string): string => `${color}:${f.site.secret}`;

  it('a bare color from loopback is ordinary traffic: green at 0% is never reached', async () => {
    f.green.seen.length = 0;
    expect(await colors(port(), { headers: { 'x-bgctl-color': 'green' } })).toEqual(['200 blue blue']);
    expect(await colors(port(), { headers: { cookie: 'a=1; bgctl-force=green; b=2' } })).toEqual(['200 blue blue']);
    expect(await colors(port(), { headers: { cookie: 'bgctl-force=green' } })).toEqual(['200 blue blue']);
    expect(f.green.seen).toEqual([]);
  });

  it('the header or the cookie with the secret sends a request to the color it names, whatever the weights', async () => {
    f.green.seen.length = 0;
    expect(await colors(port(), { headers: { 'x-bgctl-color': own('green') } })).toEqual(['200 green green']);
    expect(await colors(port(), { headers: { cookie: `a=1; bgctl-force=${own('green')}; b=2` } })).toEqual(['200 green green']);
    expect(await colors(port(), { headers: { cookie: `bgctl-force=${own('green')}` } })).toEqual(['200 green green']);
    // the header wins over the cookie
    expect(await colors(port(), { headers: { 'x-bgctl-color': own('blue'), cookie: `bgctl-force=${own('green')}` } })).toEqual([
      '200 blue blue',
    ]);
    // the backends see neither the header nor the forcing cookie (nor the secret), and every other cookie
    expect(f.green.seen.map((s) => s.headers['x-bgctl-color'])).toEqual(new Array(30).fill(undefined));
    expect(f.green.seen.slice(10, 20).map((s) => s.headers.cookie)).toEqual(new Array(10).fill('a=1; b=2'));
    expect(f.green.seen.slice(20, 30).map((s) => s.headers.cookie)).toEqual(new Array(10).fill(undefined));
    expect(JSON.stringify(f.green.seen.map((s) => s.headers))).not.toContain(f.site.secret);
  });

  it('anything but exactly COLOR:SECRET is ordinary traffic', async () => {
    for (const value of ['Green', 'green,blue', 'greenish', 'green:x', 'red', '', `Green:${f.site.secret}`, `green:${f.site.secret}x`]) {
      expect(await colors(port(), { headers: { 'x-bgctl-color': value } }), `header ${JSON.stringify(value)}`).toEqual(['200 blue blue']);
    }
    for (const cookie of [
      'xbgctl-force=green',
      'bgctl-force=greenish',
      'bgctl-forc=green',
      'bgctl-force=green:x',
      `xbgctl-force=${own('green')}`,
    ]) {
      expect(await colors(port(), { headers: { cookie } }), cookie).toEqual(['200 blue blue']);
    }
  });

  it(`a bare color is refused to a client that is not loopback (${away.label}); the secret works from there`, async () => {
    const o = from(away.agent, away.host);
    expect(await colors(port(), { ...o, headers: { 'x-bgctl-color': 'green' } })).toEqual(['200 blue blue']);
    expect(await colors(port(), { ...o, headers: { cookie: 'bgctl-force=green' } })).toEqual(['200 blue blue']);
    expect(await colors(port(), { ...o, headers: { 'x-bgctl-color': own('green') } })).toEqual(['200 green green']);
  });

  it('the access log names the served and the forced color, never the header value', async () => {
    const a = await hit(port(), { headers: { 'x-bgctl-color': own('green') }, path: '/logged' });
    expect(a.color).toBe('green');
    await new Promise((r) => setTimeout(r, 100));
    const line = (await accessLines(f.site.accessLog)).filter((l) => l['uri'] === '/logged').at(-1);
    expect(line).toMatchObject({ status: 200, color: 'green', forced: 'green', upstream_addr: f.green.address });
    const ordinary = (await accessLines(f.site.accessLog)).filter((l) => l['forced'] === '');
    expect(ordinary.length).toBeGreaterThan(0);
    expect(new Set(ordinary.map((l) => l['color']))).toEqual(new Set(['blue']));
    expect(await readFile(f.site.accessLog, 'utf8')).not.toContain(f.site.secret);
  });

  it('the probe checks a color through NGINX with the forced header and the secret; a dead color is not failed over', async () => {
    const environments = {
      blue: { servers: [f.blue.address], health: '/health' },
      green: { servers: [f.green.address], health: '/health' },
    };
    const prober = (forceHeader: string | null, forceSecret: string | null = f.site.secret): HttpProber =>
      new HttpProber({
        environments,
        timeoutMs: 2000,
        nginx: { host: '127.0.0.1', port: port() },
        routing: { forceHeader, forceSecret },
      });
    const forced = prober('X-Bgctl-Color');
    const legacy = prober(null);
    const ignored = prober('X-Not-Configured');
    const bare = prober('X-Bgctl-Color', null);
    const legacyBare = prober(null, null);
    try {
      f.green.seen.length = 0;
      expect(await forced.throughNginx('green')).toMatchObject({ healthy: true, status: 200, version: '1.0.0', error: null });
      expect(f.green.seen.map((s) => s.url)).toEqual(['/health']);
      // the loopback-only health location needs the secret too (X-Bgctl-Secret)
      expect(await legacy.throughNginx('green')).toMatchObject({ healthy: true, status: 200, error: null });
      expect(await legacyBare.throughNginx('green')).toMatchObject({ healthy: false, status: 403 });
      // NGINX ignores a header it was not configured for, and a bare color: blue answers, and that is not green's health
      expect(await ignored.throughNginx('green')).toMatchObject({ healthy: false, status: 200, error: 'served by blue' });
      expect(await bare.throughNginx('green')).toMatchObject({ healthy: false, status: 200, error: 'served by blue' });

      await f.green.close();
      f.blue.seen.length = 0;
      expect(await forced.throughNginx('green')).toMatchObject({ healthy: false, status: 502, error: 'HTTP 502' });
      expect(await colors(port(), { headers: { 'x-bgctl-color': own('green') } })).toEqual(['502 green undefined']);
      // sticky at 50%, where ordinary requests do fail over to the other color: a forced one does not
      await f.site.apply({ percent: 50, strategy: 'sticky' });
      expect(await colors(port(), { headers: { 'x-bgctl-color': own('green') } })).toEqual(['502 green undefined']);
      expect(await colors(port(), { headers: { cookie: `bgctl-force=${own('green')}` } })).toEqual(['502 green undefined']);
      expect(f.blue.seen).toEqual([]);
      const ordinary: Answer[] = await pool(40, 8, (i) => hit(port(), { headers: { 'user-agent': `ua-${i}` } }));
      expect([...new Set(ordinary.map((a) => `${a.status} ${a.color}`))]).toEqual(['200 blue']);
    } finally {
      await Promise.all([forced.close(), legacy.close(), ignored.close(), bare.close(), legacyBare.close()]);
      await f.green.open();
      await f.site.apply({ percent: 0 });
    }
  });
});

describe('forced routes with a secret: from anywhere, only with COLOR:SECRET', () => {
  const f = fixture('force-secret', { forceCookie: 'bgctl-force', forceSecret: SECRET });
  const port = (): number => f.site.port;
  const o = from(away.agent, away.host);

  it('honours COLOR:SECRET in the header or the cookie, from loopback and from elsewhere', async () => {
    f.green.seen.length = 0;
    for (const where of [{}, o]) {
      expect(await colors(port(), { ...where, headers: { 'x-bgctl-color': `green:${SECRET}` } })).toEqual(['200 green green']);
      expect(await colors(port(), { ...where, headers: { cookie: `bgctl-force=green:${SECRET}; a=1` } })).toEqual(['200 green green']);
    }
    // the secret reaches neither the backends nor the access log
    expect(JSON.stringify(f.green.seen.map((s) => s.headers))).not.toContain(SECRET);
    expect(f.green.seen.slice(10, 20).map((s) => s.headers.cookie)).toEqual(new Array(10).fill('a=1'));
    await new Promise((r) => setTimeout(r, 100));
    expect(await readFile(f.site.accessLog, 'utf8')).not.toContain(SECRET);
  });

  it('refuses a bare color (even from loopback), a wrong or partial secret', async () => {
    for (const where of [{}, o]) {
      for (const value of [
        'green',
        `green:${SECRET}x`,
        `green:${SECRET.slice(0, -1)}`,
        `green:${SECRET.toLowerCase()}`,
        `${SECRET}`,
        `:${SECRET}`,
      ]) {
        expect(await colors(port(), { ...where, headers: { 'x-bgctl-color': value } }), value).toEqual(['200 blue blue']);
      }
      expect(await colors(port(), { ...where, headers: { cookie: 'bgctl-force=green' } })).toEqual(['200 blue blue']);
    }
  });

  it('the probe sends COLOR:SECRET', async () => {
    const environments = {
      blue: { servers: [f.blue.address], health: '/health' },
      green: { servers: [f.green.address], health: '/health' },
    };
    const probe = (forceSecret: string | null): HttpProber =>
      new HttpProber({
        environments,
        timeoutMs: 2000,
        nginx: { host: '127.0.0.1', port: port() },
        routing: { forceHeader: 'X-Bgctl-Color', forceSecret },
      });
    const right = probe(SECRET);
    const none = probe(null);
    try {
      expect(await right.throughNginx('green')).toMatchObject({ healthy: true, status: 200, version: '1.0.0' });
      expect(await none.throughNginx('green')).toMatchObject({ healthy: false, error: 'served by blue' });
    } finally {
      await Promise.all([right.close(), none.close()]);
    }
  });
});

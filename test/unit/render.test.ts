import { describe, expect, it } from 'vitest';
import type { Color } from '../../src/core/color.js';
import { weightsFor } from '../../src/core/weights.js';
import { configSchema, type Config, type ConfigInput } from '../../src/config/schema.js';
import { upstreamAddrText } from '../../src/render/address.js';
import { renderConfig, splitPlan, type RenderRequest } from '../../src/render/render.js';
import { exactSplit } from '../../src/render/routing.js';

/** bgctl always renders with a secret: routing.forceSecret, else its own (stateDir/force-secret) */
const OWN_SECRET = 'own-secret_0123456789';

function config(over: Partial<ConfigInput> = {}): Config {
  return configSchema.parse({
    environments: {
      blue: { servers: ['127.0.0.1:8081', '127.0.0.1:8083'] },
      green: { servers: ['127.0.0.1:8082', '[::1]:8084', 'app-green.internal:8080'], health: '/healthz' },
    },
    routing: { forceSecret: OWN_SECRET },
    ...over,
  });
}

/** A step of a blue → green migration: green grows to `percent`. */
function step(percent: number, over: Partial<RenderRequest> = {}): RenderRequest {
  return { weights: weightsFor('green', percent), revision: 12, strategy: 'weighted', stable: 'blue', growing: 'green', ...over };
}

const PERCENTS = [0, 25, 50, 75, 100];

describe('splitPlan', () => {
  it.each([
    [0, [{ color: 'blue', percent: '*' }]],
    [
      25,
      [
        { color: 'green', percent: '25%' },
        { color: 'blue', percent: '*' },
      ],
    ],
    [
      50,
      [
        { color: 'green', percent: '50%' },
        { color: 'blue', percent: '*' },
      ],
    ],
    [
      75,
      [
        { color: 'green', percent: '75%' },
        { color: 'blue', percent: '*' },
      ],
    ],
    [100, [{ color: 'green', percent: '*' }]],
  ])('blue → green at %i%%', (percent, plan) => {
    expect(splitPlan(weightsFor('green', percent), 'green')).toEqual(plan);
  });

  it.each([
    [0, [{ color: 'green', percent: '*' }]],
    [
      25,
      [
        { color: 'blue', percent: '25%' },
        { color: 'green', percent: '*' },
      ],
    ],
    [
      50,
      [
        { color: 'blue', percent: '50%' },
        { color: 'green', percent: '*' },
      ],
    ],
    [
      75,
      [
        { color: 'blue', percent: '75%' },
        { color: 'green', percent: '*' },
      ],
    ],
    [100, [{ color: 'blue', percent: '*' }]],
  ])('green → blue at %i%%', (percent, plan) => {
    expect(splitPlan(weightsFor('blue', percent), 'blue')).toEqual(plan);
  });

  it('lists the growing color first even while it shrinks, so its clients stay a nested set', () => {
    expect(splitPlan({ blue: 90, green: 10 }, 'green')[0]).toEqual({ color: 'green', percent: '10%' });
  });

  it.each([
    { blue: 50, green: 49 },
    { blue: 101, green: -1 },
    { blue: 25.5, green: 74.5 },
    { blue: Number.NaN, green: 100 },
  ])('refuses impossible weights %o', (weights) => {
    expect(() => splitPlan(weights, 'green')).toThrow(/impossible weight/);
  });

  it('refuses a growing color that is not a color', () => {
    expect(() => splitPlan({ blue: 50, green: 50 }, 'red' as Color)).toThrow(/impossible growing color/);
  });
});

describe('renderConfig', () => {
  it.each(PERCENTS)('at %i percent keeps both upstreams and every server, never weight=0 or 0%%', (percent) => {
    const { site, main, revision, weights } = renderConfig(config(), step(percent));
    expect(revision).toBe(12);
    expect(weights).toEqual(weightsFor('green', percent));
    expect(main).toContain('include conf.d/bgctl.conf;');
    expect(site).toMatch(/upstream bgctl_blue \{/);
    expect(site).toMatch(/upstream bgctl_green \{/);
    for (const server of ['127.0.0.1:8081', '127.0.0.1:8083', '127.0.0.1:8082', '[::1]:8084', 'app-green.internal:8080']) {
      expect(site).toContain(`    server ${server} max_fails=3 fail_timeout=10s;`);
    }
    expect(site).not.toMatch(/weight=0/);
    expect(site).not.toMatch(/(^|\D)0%/m);
    expect(site).toMatch(/^ {4}\* (blue|green);$/m);
    expect(site).toContain('add_header X-Bgctl-Color $bgctl_served always;');
    const status = /return 200 '(.*)';/.exec(site)?.[1] ?? '';
    expect(JSON.parse(status)).toEqual({ revision: 12, ...weightsFor('green', percent), strategy: 'weighted', stable: 'blue' });
  });

  it('proxies the loopback health locations to each color at its health path', () => {
    const { site } = renderConfig(config(), step(0));
    expect(site).toContain('proxy_pass http://bgctl_blue/health;');
    expect(site).toContain('proxy_pass http://bgctl_green/healthz;');
    expect(site.match(/allow 127\.0\.0\.1;\n {8}allow ::1;\n {8}deny all;\n {8}access_log off;/g)).toHaveLength(3);
  });

  it('omits upstream keep-alive when it is 0 (NGINX rejects `keepalive 0`)', () => {
    const { site } = renderConfig(config({ nginx: { keepalive: 0 } }), step(0));
    expect(site).not.toMatch(/keepalive/);
    expect(renderConfig(config(), step(0)).site).toContain('keepalive 32;\n');
  });

  it('re-checks what zod should have caught', () => {
    const bad = structuredClone(config());
    bad.environments.blue.servers[0] = '127.0.0.1:80; evil';
    expect(() => renderConfig(bad, step(0))).toThrow(/impossible server of blue/);
    expect(() => renderConfig(config(), step(0, { revision: 1.5 }))).toThrow(/impossible revision/);
    const header = structuredClone(config());
    header.routing.forceHeader = 'X-A: b';
    expect(() => renderConfig(header, step(0))).toThrow(/impossible routing.forceHeader/);
    const cookie = structuredClone(config());
    cookie.routing.forceCookie = 'a=b';
    expect(() => renderConfig(cookie, step(0))).toThrow(/impossible routing.forceCookie/);
    const secret = structuredClone(config());
    secret.routing.forceSecret = 'a-long-secret-that-has";-in-it';
    expect(() => renderConfig(secret, step(0))).toThrow(/^render: impossible routing.forceSecret$/);
  });

  it('renders a typical config (a host name among the servers)', () => {
    const { main, site } = renderConfig(config(), step(25));
    expect(main).toMatchSnapshot('nginx.conf');
    expect(site).toMatchSnapshot('conf.d/bgctl.conf');
  });

  it('renders a typical config (IP literals only: the exact split)', () => {
    expect(renderConfig(ips(2, 3), step(25)).site).toMatchSnapshot('conf.d/bgctl.conf');
  });
});

/** n IP-literal servers, IPv4 and IPv6 in turn, from port `base` on. */
const serverList = (n: number, base: number): string[] =>
  Array.from({ length: n }, (_, i) => (i % 2 ? `[::1]:${base + i}` : `127.0.0.1:${base + i}`));

/** A config whose servers are all IP literals: `blue` servers of blue, `green` of green. */
function ips(blue: number, green: number, over: Partial<ConfigInput> = {}): Config {
  return config({
    environments: { blue: { servers: serverList(blue, 8100) }, green: { servers: serverList(green, 8200), health: '/healthz' } },
    ...over,
  });
}

/** The entries of the `map`/`split_clients` block whose header line starts with `head`. */
function block(site: string, head: string): [string, string][] {
  const start = site.indexOf(`${head} {\n`);
  if (start < 0) throw new Error(`no block ${head}`);
  const body = site.slice(start + head.length + 3, site.indexOf('\n}', start));
  return body
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#') && l !== 'volatile;')
    .map((l) => {
      const m = /^("[^"]*"|\S+)\s+(.*);$/.exec(l);
      if (!m) throw new Error(`not an entry: ${l}`);
      return [(m[1] ?? '').replace(/^"(.*)"$/, '$1'), (m[2] ?? '').replace(/^"(.*)"$/, '$1')];
    });
}

/** What an NGINX `map` gives for `input`: exact keys first (case-insensitive), then regexes in order. */
function lookup(entries: [string, string][], input: string): string | undefined {
  const exact = entries.find(([k]) => !k.startsWith('~') && k !== 'default' && k.toLowerCase() === input.toLowerCase());
  if (exact) return exact[1];
  const regex = entries.find(([k]) => k.startsWith('~') && new RegExp(k.slice(1)).test(input));
  return (regex ?? entries.find(([k]) => k === 'default'))?.[1];
}

describe('exactSplit: the color shares are exactly the weights', () => {
  const counts = [1, 2, 3];
  const cases = counts.flatMap((blue) => counts.flatMap((green) => [1, 25, 33, 50, 75, 99].map((percent) => ({ blue, green, percent }))));

  it.each(cases)('$blue blue and $green green servers, green at $percent%', ({ blue, green, percent }) => {
    const servers = { blue: serverList(blue, 8100), green: serverList(green, 8200) };
    const split = exactSplit(weightsFor('green', percent), servers);
    expect(split.map((s) => s.server)).toEqual([...servers.blue, ...servers.green]);
    const total = split.reduce((n, s) => n + s.weight, 0);
    const of = (c: Color) => split.filter((s) => s.color === c);
    expect((of('green').reduce((n, s) => n + s.weight, 0) * 100) / total).toBe(percent);
    for (const c of ['blue', 'green'] as const) expect(new Set(of(c).map((s) => s.weight)).size).toBe(1);
    expect(split.every((s) => Number.isInteger(s.weight) && s.weight >= 1)).toBe(true);
    // reduced: no common divisor left, so NGINX's round-robin cycle is as short as it can be
    const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
    expect(split.reduce((d, s) => gcd(s.weight, d), 0)).toBe(1);
  });

  it('leaves a color at 0% out (NGINX rejects weight=0)', () => {
    const servers = { blue: ['127.0.0.1:1', '127.0.0.1:2'], green: ['127.0.0.1:3'] };
    expect(exactSplit({ blue: 100, green: 0 }, servers)).toEqual([
      { color: 'blue', server: '127.0.0.1:1', weight: 1, backup: false },
      { color: 'blue', server: '127.0.0.1:2', weight: 1, backup: false },
    ]);
    expect(exactSplit({ blue: 0, green: 100 }, servers)).toEqual([{ color: 'green', server: '127.0.0.1:3', weight: 1, backup: false }]);
    expect(exactSplit({ blue: 25, green: 75 }, servers)).toEqual([
      { color: 'blue', server: '127.0.0.1:1', weight: 1, backup: false },
      { color: 'blue', server: '127.0.0.1:2', weight: 1, backup: false },
      { color: 'green', server: '127.0.0.1:3', weight: 6, backup: false },
    ]);
  });

  it('nginx.fallback at 100/0: the idle color joins as `backup` servers, never weighted', () => {
    const servers = { blue: ['127.0.0.1:1', '127.0.0.1:2'], green: ['127.0.0.1:3'] };
    expect(exactSplit({ blue: 0, green: 100 }, servers, 'blue')).toEqual([
      { color: 'green', server: '127.0.0.1:3', weight: 1, backup: false },
      { color: 'blue', server: '127.0.0.1:1', weight: 1, backup: true },
      { color: 'blue', server: '127.0.0.1:2', weight: 1, backup: true },
    ]);
    // mid-split there is no backup: both colors already carry traffic and retry on each other
    expect(exactSplit({ blue: 50, green: 50 }, servers, 'blue').some((s) => s.backup)).toBe(false);
  });

  it('renders the fallback into the site: backup servers (exact split), error_page retry (pick), and the status JSON names it', () => {
    const exact = renderConfig(ips(1, 1), { ...step(100), backup: 'blue' }).site;
    expect(exact).toMatch(
      /upstream bgctl_split \{[^}]*server 127\.0\.0\.1:8200 weight=1 max_fails=3 fail_timeout=10s; # green\n\s+server 127\.0\.0\.1:8100 weight=1 backup max_fails=3/,
    );
    expect(exact).toContain('        proxy_pass http://bgctl_split;\n');
    expect(exact).toContain(`"backup":"blue"`);
    const none = renderConfig(ips(1, 1), step(100)).site;
    expect(none).toContain('        proxy_pass http://bgctl_green;\n');
    expect(none).not.toContain('backup');
    // a backup that is not the idle color is a bug, never rendered
    expect(() => renderConfig(ips(1, 1), { ...step(50), backup: 'blue' })).toThrow(/backup color/);
  });

  it('renders the servers of both colors with their weights into one upstream with a zone', () => {
    const { site } = renderConfig(ips(1, 2), step(25));
    expect(site).toContain(
      [
        'upstream bgctl_split {',
        '    zone bgctl_split 256k;',
        '    server 127.0.0.1:8100 weight=6 max_fails=3 fail_timeout=10s; # blue',
        '    server 127.0.0.1:8200 weight=1 max_fails=3 fail_timeout=10s; # green',
        '    server [::1]:8201 weight=1 max_fails=3 fail_timeout=10s; # green',
        '    keepalive 32;',
        '    keepalive_timeout 4s;',
        '}',
      ].join('\n'),
    );
    // one fixed upstream for ordinary traffic; a forced request goes by @bgctl_forced
    expect(site).toContain('        proxy_pass http://bgctl_split;\n');
    expect(site).not.toContain('$bgctl_upstream');
    // NGINX fails over between servers of both colors itself; a POST already sent is never repeated
    expect(site).toContain('proxy_next_upstream error timeout http_502 http_503 http_504;');
    expect(site).not.toContain('non_idempotent');
    expect(site).not.toContain('split_clients');
    // no retry on the other color by error_page (the only error_page sends forced requests on their way)
    expect(site).not.toContain('error_page 502');
    expect(site).not.toContain('@bgctl_other');
    // the per-color upstreams stay, without weights
    expect(site).toContain('upstream bgctl_blue {\n    server 127.0.0.1:8100 max_fails=3 fail_timeout=10s;\n');
  });

  it('needs no split upstream at 0% and 100%', () => {
    for (const [percent, only] of [
      [0, 'bgctl_blue'],
      [100, 'bgctl_green'],
    ] as const) {
      const { site } = renderConfig(ips(2, 2), step(percent));
      expect(site).not.toContain('bgctl_split');
      expect(site).toContain(`        proxy_pass http://${only};\n`);
      const off = renderConfig(ips(2, 2, { routing: { forceHeader: null } }), step(percent)).site;
      expect(off).toContain(`proxy_pass http://${only};`);
    }
  });

  it('names the color that served from the last address in $upstream_addr', () => {
    const { site } = renderConfig(ips(2, 2), step(50));
    // read first by the response header (after the upstream answered), then kept for the access log
    expect(site).toMatch(/map \$upstream_addr \$bgctl_served \{\n {4}"127\.0\.0\.1:8100" blue;\n/);
    expect(site).not.toContain('volatile');
    const served = block(site, 'map $upstream_addr $bgctl_served');
    expect(
      [
        '127.0.0.1:8100',
        '[::1]:8101',
        '127.0.0.1:8200',
        '[::1]:8201',
        '127.0.0.1:8200, 127.0.0.1:8100',
        '127.0.0.1:8100, [::1]:8201',
        '127.0.0.1:8100 : [::1]:8101',
        'bgctl_green',
        'bgctl_split',
        '127.0.0.1:82001',
        '127.0.0.1:8200x',
        '',
      ].map((addr) => lookup(served, addr)),
    ).toEqual(['blue', 'blue', 'green', 'green', 'blue', 'green', 'blue', 'green', '', '', '', '']);
    // one server tried (the usual case) is an exact key: a hash lookup, no regex
    expect(served.filter(([k]) => !k.startsWith('~'))).toEqual([
      ['127.0.0.1:8100', 'blue'],
      ['[::1]:8101', 'blue'],
      ['127.0.0.1:8200', 'green'],
      ['[::1]:8201', 'green'],
      ['bgctl_blue', 'blue'],
      ['bgctl_green', 'green'],
      ['default', ''],
    ]);
    expect(site).toContain('add_header X-Bgctl-Color $bgctl_served always;');
    expect(site).toContain('"color":"$bgctl_served"');
  });

  it('matches the address NGINX prints, not the one written (IPv6 is normalized)', () => {
    const { site } = renderConfig(
      config({ environments: { blue: { servers: ['[0:0::1]:80'] }, green: { servers: ['[::FFFF:7f00:1]:81'] } } }),
      step(50),
    );
    const served = block(site, 'map $upstream_addr $bgctl_served');
    expect([lookup(served, '[::1]:80'), lookup(served, '[::ffff:127.0.0.1]:81')]).toEqual(['blue', 'green']);
  });

  it('leaves an address too long for the smallest map hash bucket to its regex', () => {
    const long = '[2001:db8:1234:5678:9abc:def0:1234:5678]:8080';
    const { site } = renderConfig(config({ environments: { blue: { servers: [long] }, green: { servers: ['127.0.0.1:81'] } } }), step(50));
    const served = block(site, 'map $upstream_addr $bgctl_served');
    expect(served.filter(([k]) => !k.startsWith('~')).map(([k]) => k)).toEqual(['127.0.0.1:81', 'bgctl_blue', 'bgctl_green', 'default']);
    expect([lookup(served, long), lookup(served, `127.0.0.1:81, ${long}`)]).toEqual(['blue', 'blue']);
  });
});

describe('upstreamAddrText: what NGINX 1.22 writes into $upstream_addr', () => {
  // measured: upstreams with these servers, $upstream_addr logged by /usr/sbin/nginx 1.22.1
  it.each([
    ['127.0.0.1:8081', '127.0.0.1:8081'],
    ['[::1]:1', '[::1]:1'],
    ['[0:0:0:0:0:0:0:1]:1', '[::1]:1'],
    ['[::ffff:127.0.0.1]:1', '[::ffff:127.0.0.1]:1'],
    ['[::FFFF:7f00:1]:1', '[::ffff:127.0.0.1]:1'],
    ['[0::ffff:0:1]:1', '[::ffff:0.0.0.1]:1'],
    ['[::7f00:1]:1', '[::127.0.0.1]:1'],
    ['[1:0:0:2:0:0:0:3]:1', '[1:0:0:2::3]:1'],
    ['[1:0:0:2:0:0:3:4]:1', '[1::2:0:0:3:4]:1'],
    ['[::0.0.0.2]:1', '[::2]:1'],
    ['[::0.1.0.2]:1', '[::0.1.0.2]:1'],
    ['[1::]:1', '[1::]:1'],
    ['[1:0:2:3:4:5:6:7]:1', '[1:0:2:3:4:5:6:7]:1'],
    ['[ABCD::EF]:1', '[abcd::ef]:1'],
    ['[::]:1', '[::]:1'],
    ['[::ffff:0:0]:1', '[::ffff:0.0.0.0]:1'],
    ['[0:0:0:0:0:ffff:1.2.3.4]:1', '[::ffff:1.2.3.4]:1'],
    ['[1:2:3:4:5:6:0:0]:1', '[1:2:3:4:5:6::]:1'],
    ['[::0:0:1:0]:1', '[::0.1.0.0]:1'],
    ['[64:ff9b::1.2.3.4]:1', '[64:ff9b::102:304]:1'],
  ])('%s → %s', (server, printed) => {
    expect(upstreamAddrText(server)).toBe(printed);
  });

  it.each(['app-blue:80', 'localhost:8080', '[:::1]:80', '[1::2::3]:80', '[1:2:3:4:5:6:7:8:9]:80', '[1.2.3.4::]:80'])(
    '%s has no address before NGINX resolves it (or is none): null',
    (server) => {
      expect(upstreamAddrText(server)).toBeNull();
    },
  );
});

describe('host names: split_clients per request, error_page fail-over', () => {
  it('keeps the random split and the fail-over location, and says why', () => {
    const { site } = renderConfig(config(), step(25));
    expect(block(site, 'split_clients $bgctl_request_id $bgctl_pick')).toEqual([
      ['25%', 'green'],
      ['*', 'blue'],
    ]);
    expect(site).toContain('# weighted, with a host name among the servers');
    expect(site).toContain('proxy_pass http://bgctl_$bgctl_route;');
    expect(site).toContain('error_page 502 504 = @bgctl_other;');
    expect(site).not.toContain('bgctl_split');
    expect(site).not.toContain('$upstream_addr $bgctl_served');
  });

  it('sends a color at 0% nothing and a color at 100% everything', () => {
    expect(block(renderConfig(config(), step(0)).site, 'split_clients $bgctl_request_id $bgctl_pick')).toEqual([['*', 'blue']]);
    expect(block(renderConfig(config(), step(100)).site, 'split_clients $bgctl_request_id $bgctl_pick')).toEqual([['*', 'green']]);
  });

  it('fails over to the other color only while both carry traffic', () => {
    for (const percent of PERCENTS) {
      const { site } = renderConfig(config(), step(percent));
      const both = percent > 0 && percent < 100;
      expect(site.includes('error_page 502 504 = @bgctl_other;')).toBe(both);
      expect(site.includes('location @bgctl_other {')).toBe(both);
    }
  });

  it('tries the other color only for an idempotent request that was not forced', () => {
    const failover = block(renderConfig(config(), step(50)).site, 'map "$bgctl_force$request_method" $bgctl_may_fail_over');
    expect(['GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'greenGET', 'blueHEAD'].map((k) => lookup(failover, k))).toEqual([
      '1',
      '1',
      '1',
      '0',
      '0',
      '0',
      '0',
    ]);
    const off = renderConfig(config({ routing: { forceHeader: null } }), step(50)).site;
    expect(lookup(block(off, 'map "$request_method" $bgctl_may_fail_over'), 'GET')).toBe('1');
    expect(off).not.toContain('$bgctl_force');
  });

  it('is also chosen when two colors name the same address (the served color would be ambiguous)', () => {
    // the config schema refuses this (colors must not share servers); the render stays safe without it
    const base = config();
    const environments = {
      blue: { ...base.environments.blue, servers: ['[::1]:80'] },
      green: { ...base.environments.green, servers: ['[0::1]:80'] },
    };
    const { site } = renderConfig({ ...base, environments }, step(50));
    expect(site).toContain('split_clients $bgctl_request_id $bgctl_pick');
  });
});

describe('sticky: a client keeps its bucket, the growing color owns the low buckets', () => {
  const sticky = (percent: number, growing: Color = 'green') =>
    renderConfig(ips(1, 1), step(percent, { strategy: 'sticky', growing, weights: weightsFor(growing, percent) })).site;

  it('gives a new client one of 100 buckets of 1%: * closes, never 0%, 100% in all', () => {
    const entries = block(sticky(25), 'split_clients "${remote_addr}${http_user_agent}" $bgctl_bucket_new');
    expect(entries).toHaveLength(100);
    expect(entries.map(([, bucket]) => bucket)).toEqual(Array.from({ length: 100 }, (_, i) => String(i)));
    expect(entries.slice(0, 99).every(([p]) => p === '1%')).toBe(true);
    expect(entries[99]).toEqual(['*', '99']);
  });

  it.each([1, 25, 50, 99, 100])('green at %i percent: buckets 0 to share-1 are green, the rest blue', (percent) => {
    const pick = block(sticky(percent), 'map $bgctl_bucket $bgctl_pick');
    const colors = Array.from({ length: 100 }, (_, b) => lookup(pick, String(b)));
    expect(colors).toEqual(Array.from({ length: 100 }, (_, b) => (b < percent ? 'green' : 'blue')));
  });

  it('growing blue back owns the low buckets too', () => {
    const pick = block(sticky(25, 'blue'), 'map $bgctl_bucket $bgctl_pick');
    expect(lookup(pick, '24')).toBe('blue');
    expect(lookup(pick, '25')).toBe('green');
  });

  it('routes by a valid bgctl_bucket cookie, else hands one out', () => {
    const site = sticky(25);
    const kept = block(site, 'map $cookie_bgctl_bucket $bgctl_bucket_kept');
    expect(['0', '7', '42', '99', '100', '07', '-1', 'x', ''].map((v) => lookup(kept, v))).toEqual([
      '$cookie_bgctl_bucket',
      '$cookie_bgctl_bucket',
      '$cookie_bgctl_bucket',
      '$cookie_bgctl_bucket',
      '',
      '',
      '',
      '',
      '',
    ]);
    expect(block(site, 'map $bgctl_bucket_kept $bgctl_set_cookie')).toEqual([
      ['', 'bgctl_bucket=$bgctl_bucket_new; Path=/; Max-Age=2592000; HttpOnly; SameSite=Lax'],
      ['default', ''],
    ]);
    expect(site).toContain('add_header Set-Cookie $bgctl_set_cookie always;');
    // sticky never uses the exact split: a client must not move, whatever server answers
    expect(site).not.toContain('bgctl_split');
    expect(site).toContain('error_page 502 504 = @bgctl_other;');
  });
});

describe('forced routes', () => {
  const SECRET = 'S3cret-token_0123.4567~89';
  const forced = (routing: ConfigInput['routing'], servers = ips(1, 1)) =>
    renderConfig(configSchema.parse({ ...servers, routing: { forceSecret: OWN_SECRET, ...routing } }), step(50)).site;

  it("bgctl's own secret: the default header, only COLOR:SECRET, loopback alone is not enough", () => {
    const site = forced({});
    // the header alone: where the request comes from does not count, loopback included
    const header = block(site, 'map $http_x_bgctl_color $bgctl_force');
    const keys = [`green:${OWN_SECRET}`, `blue:${OWN_SECRET}`, 'green', 'blue', 'Green', 'green:x', '', 'greenish'];
    expect(keys.map((k) => lookup(header, k))).toEqual(['green', 'blue', '', '', '', '', '', '']);
    // no header: an exact key, so no regex runs for ordinary traffic
    expect(header[0]).toEqual(['', '']);
    expect(site).not.toContain('$http_cookie');
    // the header never reaches the backends
    expect(site).toContain('proxy_set_header X-Bgctl-Color "";');
  });

  it('without any secret: no forced route at all, and /__bgctl/ answers nobody', () => {
    const site = forced({ forceSecret: null });
    expect(site).not.toContain('$bgctl_force');
    expect(block(site, 'map "$bgctl_loopback:$http_x_bgctl_secret" $bgctl_trusted')).toEqual([['default', '0']]);
  });

  it('/__bgctl/ needs loopback and X-Bgctl-Secret, which never reaches the backends', () => {
    const site = forced({ forceSecret: SECRET });
    const trust = block(site, 'map "$bgctl_loopback:$http_x_bgctl_secret" $bgctl_trusted');
    const keys = [`1:${SECRET}`, `0:${SECRET}`, '1:', `1:${SECRET}x`, `1:${SECRET.toUpperCase()}`, `1:${SECRET.replace('.', 'x')}`];
    expect(keys.map((k) => lookup(trust, k))).toEqual(['1', '0', '0', '0', '0', '0']);
    expect(site).toContain('proxy_set_header X-Bgctl-Secret "";');
    for (const where of ['location = /__bgctl/status {', 'location = /__bgctl/health/green {']) {
      expect(site.slice(site.indexOf(where)).split('\n').slice(1, 9).join('\n')).toContain(
        'if ($bgctl_trusted = 0) {\n            return 403;',
      );
    }
  });

  it('with a secret: from anywhere, only COLOR:SECRET', () => {
    const site = forced({ forceHeader: 'X-Route', forceSecret: SECRET });
    const header = block(site, 'map $http_x_route $bgctl_force');
    const keys = [`green:${SECRET}`, `blue:${SECRET}`, 'green', `green:${SECRET}x`, `green:${SECRET.toUpperCase()}`];
    expect(keys.map((k) => lookup(header, k))).toEqual(['green', 'blue', '', '', '']);
    // `.` in the secret is a literal dot, not any character
    expect(lookup(header, `green:${SECRET.replace('.', 'x')}`)).toBe('');
    expect(site).toContain('proxy_set_header X-Route "";');
    expect(site.slice(site.indexOf('log_format'))).not.toContain(SECRET);
  });

  it('the cookie, found among others; the header wins over it', () => {
    const site = forced({ forceCookie: 'bgctl-force', forceSecret: SECRET });
    const cookie = block(site, 'map $http_cookie $bgctl_force_cookie');
    const jar = (v: string) => `a=1; bgctl-force=${v}; b=2`;
    expect(
      [
        jar(`green:${SECRET}`),
        `bgctl-force=blue:${SECRET}`,
        jar('green'),
        `xbgctl-force=green:${SECRET}`,
        `bgctl-force=green:${SECRET}x`,
      ].map((k) => lookup(cookie, k)),
    ).toEqual(['green', 'blue', '', '', '']);
    expect(block(site, 'map $bgctl_force_header $bgctl_force')).toEqual([
      ['', '$bgctl_force_cookie'],
      ['default', '$bgctl_force_header'],
    ]);
    // the forcing cookie is taken out of what the backends get
    const strip = block(site, 'map $http_cookie $bgctl_cookie');
    const rest = (input: string): string | undefined => {
      const hit = strip.find(([k]) => k.startsWith('~') && new RegExp(k.slice(1)).test(input));
      if (!hit) return input;
      const groups = new RegExp(hit[0].slice(1)).exec(input)?.groups ?? {};
      return hit[1].replace(/\$(bgctl_cookie_\w+)/g, (_, name: string) => groups[name] ?? '');
    };
    expect(
      ['bgctl-force=x', 'bgctl-force=x; b=2', 'a=1; bgctl-force=x', 'a=1; bgctl-force=x; b=2', 'a=1', 'xbgctl-force=1'].map(rest),
    ).toEqual(['', 'b=2', 'a=1', 'a=1; b=2', 'a=1', 'xbgctl-force=1']);
    expect(site).toContain('proxy_set_header Cookie $bgctl_cookie;');
  });

  it('sends a forced request to its color whatever the weights: per-color upstream (exact) or route (host names)', () => {
    // exact: ordinary traffic has a fixed upstream; a forced request leaves for @bgctl_forced, its color's
    const exact = forced({});
    expect(exact).toContain(
      [
        '        if ($bgctl_force) {',
        '            return 418;',
        '        }',
        '        error_page 418 = @bgctl_forced;',
        '        proxy_pass http://bgctl_split;',
      ].join('\n'),
    );
    expect(exact).toContain('    location @bgctl_forced {\n        proxy_pass http://bgctl_$bgctl_force;\n');
    expect(forced({ forceHeader: null, forceCookie: null, forceSecret: SECRET })).not.toContain('@bgctl_forced');
    const names = forced({}, config());
    expect(block(names, 'map $bgctl_force $bgctl_route')).toEqual([
      ['blue', 'blue'],
      ['green', 'green'],
      ['default', '$bgctl_pick'],
    ]);
  });

  it('is absent when neither header nor cookie is configured; the log says so', () => {
    const site = forced({ forceHeader: null, forceCookie: null, forceSecret: SECRET });
    expect(site).not.toContain('bgctl_force');
    expect(site).not.toContain(SECRET);
    expect(site).toContain('"forced":""');
    expect(forced({})).toContain('"forced":"$bgctl_force"');
  });
});

describe('listen addresses', () => {
  const listens = (address: string): string[] =>
    renderConfig(config({ listenAddress: address, listen: 8080 }), step(0))
      .site.split('\n')
      .filter((l) => l.trim().startsWith('listen '))
      .map((l) => l.trim());

  it('listens where told, and on loopback too when the address is not loopback (bgctl asks NGINX there)', () => {
    expect(listens('127.0.0.1')).toEqual(['listen 127.0.0.1:8080;']);
    expect(listens('*')).toEqual(['listen *:8080;']);
    expect(listens('[::1]')).toEqual(['listen [::1]:8080;']);
    expect(listens('192.0.2.10')).toEqual(['listen 192.0.2.10:8080;', 'listen 127.0.0.1:8080;']);
  });
});

import { describe, expect, it } from 'vitest';
import type { Color } from '../../src/core/color.js';
import { weightsFor } from '../../src/core/weights.js';
import { configSchema, type Config, type ConfigInput } from '../../src/config/schema.js';
import { renderConfig, splitPlan, type RenderOptions } from '../../src/render/render.js';

function config(over: Partial<ConfigInput> = {}): Config {
  return configSchema.parse({
    environments: {
      blue: { servers: ['127.0.0.1:8081', '127.0.0.1:8083'] },
      green: { servers: ['127.0.0.1:8082', '[::1]:8084', 'app-green.internal:8080'], health: '/healthz' },
    },
    ...over,
  });
}

/** A step of a blue → green migration: green grows to `percent`. */
function step(percent: number, over: Partial<RenderOptions> = {}): RenderOptions {
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
  it.each(PERCENTS)('at %i%% keeps both upstreams and every server, never weight=0 or 0%%', (percent) => {
    const { site, main, revision, weights } = renderConfig(config(), step(percent));
    expect(revision).toBe(12);
    expect(weights).toEqual(weightsFor('green', percent));
    expect(main).toContain('include conf.d/bgctl.conf;');
    expect(site).toMatch(/upstream bgctl_blue \{/);
    expect(site).toMatch(/upstream bgctl_green \{/);
    for (const server of ['127.0.0.1:8081', '127.0.0.1:8083', '127.0.0.1:8082', '[::1]:8084', 'app-green.internal:8080']) {
      expect(site).toContain(`    server ${server} max_fails=3 fail_timeout=10s;`);
    }
    expect(site).not.toMatch(/weight=/);
    expect(site).not.toMatch(/(^|\D)0%/m);
    expect(site).toMatch(/^ {4}\* (blue|green);$/m);
    expect(site).toContain('add_header X-Bgctl-Color $bgctl_served always;');
    expect(site).toContain('proxy_pass http://bgctl_$bgctl_pick;');
    const status = /return 200 '(.*)';/.exec(site)?.[1] ?? '';
    expect(JSON.parse(status)).toEqual({ revision: 12, ...weightsFor('green', percent), strategy: 'weighted', stable: 'blue' });
  });

  it('sends a color at 0% nothing and a color at 100% everything', () => {
    expect(renderConfig(config(), step(0)).site).toMatch(/split_clients \$request_id \$bgctl_pick \{\n {4}\* blue;\n\}/);
    expect(renderConfig(config(), step(100)).site).toMatch(/split_clients \$request_id \$bgctl_pick \{\n {4}\* green;\n\}/);
  });

  it('fails over to the other color only while both carry traffic', () => {
    for (const percent of PERCENTS) {
      const { site } = renderConfig(config(), step(percent));
      const both = percent > 0 && percent < 100;
      expect(site.includes('error_page 502 504 = @bgctl_other;')).toBe(both);
      expect(site.includes('location @bgctl_other {')).toBe(both);
    }
  });

  it('splits per client and hands out the cookie in sticky mode', () => {
    const { site } = renderConfig(config(), step(25, { strategy: 'sticky' }));
    expect(site).toContain('split_clients $bgctl_client_key $bgctl_pick {');
    expect(site).toContain('""      $remote_addr$http_user_agent;');
    expect(site).toContain('add_header Set-Cookie $bgctl_set_cookie always;');
    expect(site).not.toContain('split_clients $request_id');
  });

  it('listens where the config says', () => {
    expect(renderConfig(config({ listen: 9000 }), step(0)).site).toContain('listen 127.0.0.1:9000;');
    expect(renderConfig(config({ listenAddress: '*' }), step(0)).site).toContain('listen *:8080;');
    expect(renderConfig(config({ listenAddress: '[::1]' }), step(0)).site).toContain('listen [::1]:8080;');
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
  });

  it('renders a typical config', () => {
    const { main, site } = renderConfig(config(), step(25));
    expect(main).toMatchSnapshot('nginx.conf');
    expect(site).toMatchSnapshot('conf.d/bgctl.conf');
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

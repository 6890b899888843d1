import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../../src/serve/rate-limit.js';
import { allowedHosts, authorize, bearerToken, hostAllowed, hostOfHeader, isLoopback, tokenMatches } from '../../src/serve/security.js';

const TOKEN = 's3cret-token-0123456789';

describe('bearer token check', () => {
  it('accepts the configured token and refuses any other, whatever its length, without throwing', () => {
    expect(tokenMatches(TOKEN, TOKEN)).toBe(true);
    expect(tokenMatches(TOKEN, `${TOKEN}x`)).toBe(false);
    expect(tokenMatches(TOKEN, TOKEN.slice(0, -1))).toBe(false);
    expect(tokenMatches(TOKEN, '')).toBe(false);
    expect(tokenMatches(TOKEN, 'x'.repeat(10_000))).toBe(false);
    expect(tokenMatches(TOKEN, 'é'.repeat(7))).toBe(false);
  });

  it('reads only the Bearer scheme', () => {
    expect(bearerToken(`Bearer ${TOKEN}`)).toBe(TOKEN);
    expect(bearerToken(`bearer   ${TOKEN} `)).toBe(TOKEN);
    expect(bearerToken(`Basic ${TOKEN}`)).toBeNull();
    expect(bearerToken('Bearer')).toBeNull();
    expect(bearerToken('Bearer a b')).toBeNull();
    expect(bearerToken(undefined)).toBeNull();
  });

  it('refuses every mutating call when no token is configured, saying how to configure one', () => {
    const d = authorize(null, `Bearer ${TOKEN}`);
    expect(d).toMatchObject({ ok: false, status: 403 });
    expect(d.ok ? '' : d.message).toMatch(/BGCTL_API_TOKEN/);
  });

  it('answers 401 for a missing or wrong token and lets the right one through', () => {
    expect(authorize(TOKEN, undefined)).toMatchObject({ ok: false, status: 401 });
    expect(authorize(TOKEN, 'Bearer nope')).toMatchObject({ ok: false, status: 401, message: 'wrong API token' });
    expect(authorize(TOKEN, `Bearer ${TOKEN}`)).toEqual({ ok: true });
  });
});

describe('Host allowlist (DNS rebinding)', () => {
  const allowed = allowedHosts('127.0.0.1', ['ops.example.com']);

  it('accepts loopback names, the bind address and configured names, with or without a port', () => {
    for (const h of ['localhost', 'localhost:9000', '127.0.0.1:9000', '[::1]:8090', '[::1]', 'LOCALHOST', 'ops.example.com:9000'])
      expect(hostAllowed(h, allowed), h).toBe(true);
  });

  it('refuses other names, a missing header and garbage', () => {
    for (const h of [undefined, '', 'evil.example', 'evil.example:9000', '127.0.0.2', 'localhost.evil.example', 'localhost:9000:1', 'a b'])
      expect(hostAllowed(h, allowed), String(h)).toBe(false);
  });

  it('adds an IPv6 bind address in brackets', () => {
    expect(hostAllowed('[fd00::5]:9000', allowedHosts('fd00::5'))).toBe(true);
    expect(hostOfHeader('[FD00::5]:9000')).toBe('[fd00::5]');
  });

  it('knows loopback addresses', () => {
    expect(['127.0.0.1', '127.1.2.3', '::1', 'localhost'].every(isLoopback)).toBe(true);
    expect(['0.0.0.0', '10.0.0.1', '::', '128.0.0.1'].some(isLoopback)).toBe(false);
  });
});

describe('rate limiter (token bucket per source)', () => {
  it('lets a burst through, then refuses with a Retry-After, then refills over time', () => {
    const r = new RateLimiter({ perSecond: 2, burst: 4 });
    const t0 = 1_000_000;
    const first = Array.from({ length: 6 }, () => r.take('10.0.0.1', t0).ok);
    expect(first).toEqual([true, true, true, true, false, false]);
    expect(r.take('10.0.0.1', t0)).toEqual({ ok: false, retryAfterSeconds: 1 });
    expect(r.take('10.0.0.2', t0).ok).toBe(true); // another source has its own bucket
    expect(r.take('10.0.0.1', t0 + 500).ok).toBe(true); // 0.5 s × 2/s = one token back
    expect(r.take('10.0.0.1', t0 + 500).ok).toBe(false);
  });

  it('keeps at most maxSources buckets', () => {
    const r = new RateLimiter({ perSecond: 1, burst: 1, maxSources: 100 });
    for (let i = 0; i < 1000; i++) r.take(`10.0.${i >> 8}.${i & 255}`, 0);
    expect(r.sources).toBe(100);
  });

  it('0 per second means no limit', () => {
    const r = new RateLimiter({ perSecond: 0, burst: 0 });
    expect(Array.from({ length: 1000 }, () => r.take('a', 0).ok).every(Boolean)).toBe(true);
  });
});

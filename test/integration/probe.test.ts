import { createServer } from 'node:http';
import type { RequestListener, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpProber, summarizeColor } from '../../src/adapters/probe.js';
import type { ServerHealth } from '../../src/app/ports.js';

const servers: Server[] = [];

/** A real HTTP backend on a free loopback port; returns its host:port. */
async function backend(handler: RequestListener, host = '127.0.0.1'): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

async function closeAll(): Promise<void> {
  await Promise.all(
    servers.splice(0).map((s) => {
      s.closeAllConnections();
      return new Promise<void>((resolve) => s.close(() => resolve()));
    }),
  );
}

/** A port nothing listens on: bind one, remember it, close it. */
async function refusedPort(): Promise<string> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return `127.0.0.1:${port}`;
}

const json =
  (status: number, body: unknown): RequestListener =>
  (req, res) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ path: req.url, ...(body as object) }));
  };

const TIMEOUT = 300;
let ok1: string, ok2: string, other: string, sick: string, slow: string, refused: string, plain: string, huge: string;
let ipv6: string | null = null;

beforeAll(async () => {
  ok1 = await backend(json(200, { version: '2.1.0' }));
  ok2 = await backend(json(200, { version: '2.1.0', status: 'ok' }));
  other = await backend(json(200, { version: '2.0.0' }));
  sick = await backend(json(503, { version: '2.1.0', error: 'db down' }));
  slow = await backend((_req, res) => void setTimeout(() => res.end('{"version":"late"}'), TIMEOUT * 4));
  plain = await backend((_req, res) => res.end('OK'));
  huge = await backend((_req, res) => res.end(`{"version":"big","pad":"${'x'.repeat(200 * 1024)}"}`));
  refused = await refusedPort();
  ipv6 = await backend(json(200, { version: '6.0.0' }), '::1');
});
afterAll(closeAll);

type Routing = ConstructorParameters<typeof HttpProber>[0]['routing'];

function prober(
  blue: string[],
  green: string[],
  nginx = { host: '127.0.0.1', port: 1 },
  routing: Routing = { forceHeader: 'X-Bgctl-Color', forceSecret: null },
): HttpProber {
  return new HttpProber({
    environments: { blue: { servers: blue, health: '/health' }, green: { servers: green, health: '/healthz' } },
    timeoutMs: TIMEOUT,
    nginx,
    routing,
  });
}

async function withProber<T>(p: HttpProber, fn: (p: HttpProber) => Promise<T>): Promise<T> {
  try {
    return await fn(p);
  } finally {
    await p.close();
  }
}

describe('HttpProber', () => {
  it('healthy servers that agree give the color their version', async () => {
    const h = await withProber(prober([ok1, ok2], [ok1]), (p) => p.color('blue'));
    expect(h).toMatchObject({ color: 'blue', healthy: true, version: '2.1.0' });
    expect(h.servers).toEqual([
      expect.objectContaining({ server: ok1, healthy: true, status: 200, version: '2.1.0', error: null }),
      expect.objectContaining({ server: ok2, healthy: true, status: 200, version: '2.1.0', error: null }),
    ]);
  });

  it('uses the color health path', async () => {
    const seen: string[] = [];
    const spy = await backend((req, res) => {
      seen.push(String(req.url));
      res.end();
    });
    await withProber(prober([ok1], [spy]), (p) => p.color('green'));
    expect(seen).toEqual(['/healthz']);
  });

  it('reports 503, timeout and refused as unhealthy with a short error', async () => {
    const h = await withProber(prober([ok1, sick, slow, refused], [ok1]), (p) => p.color('blue'));
    expect(h.healthy).toBe(false);
    expect(h.version).toBe('2.1.0'); // the healthy ones still agree
    const [, s503, sSlow, sRefused] = h.servers;
    expect(s503).toMatchObject({ healthy: false, status: 503, version: null, error: 'HTTP 503' });
    expect(sSlow).toMatchObject({ healthy: false, status: null, error: `timeout after ${TIMEOUT} ms` });
    expect(sSlow?.latencyMs).toBeGreaterThanOrEqual(TIMEOUT - 20);
    expect(sSlow?.latencyMs).toBeLessThan(TIMEOUT * 4);
    expect(sRefused).toMatchObject({ healthy: false, status: null, error: 'connection refused' });
  });

  it('mixed versions give version null; a body without version is healthy with version null', async () => {
    const mixed = await withProber(prober([ok1, other], [plain]), (p) => Promise.all([p.color('blue'), p.color('green')]));
    expect(mixed[0]).toMatchObject({ healthy: true, version: null });
    expect(mixed[1]).toMatchObject({ healthy: true, version: null });
    expect(mixed[1].servers[0]).toMatchObject({ status: 200, version: null });
  });

  it('caps the body at 64 KiB: status decides, version is unknown', async () => {
    const h = await withProber(prober([huge], [ok1]), (p) => p.color('blue'));
    expect(h.servers[0]).toMatchObject({ healthy: true, status: 200, version: null });
  });

  it('probes IPv6 servers written as [::1]:port', async () => {
    expect(ipv6, 'an IPv6 loopback backend').not.toBeNull();
    const h = await withProber(prober([ipv6 as string], [ok1]), (p) => p.color('blue'));
    expect(h).toMatchObject({ healthy: true, version: '6.0.0' });
  });

  // What the probe asks and how it reads the answer. That real NGINX routes it: routing-force.test.ts.
  it('throughNginx asks for the color health path with the forced header (COLOR:SECRET with a secret)', async () => {
    const seen: string[] = [];
    const front = await backend((req, res) => {
      const forced = req.headers['x-route'];
      seen.push(`${req.url} ${forced === undefined ? '-' : String(forced)}`);
      const color = typeof forced === 'string' ? forced.split(':')[0] : /\/__bgctl\/health\/(\w+)/.exec(req.url ?? '')?.[1];
      res.writeHead(200, { 'x-bgctl-color': color ?? '' });
      res.end('{"version":"2.1.0"}');
    });
    const [host, port] = front.split(':') as [string, string];
    const nginx = { host, port: Number(port) };
    const secret = 'S3cret-token_0123.4567~89';
    for (const routing of [
      { forceHeader: 'X-Route', forceSecret: null },
      { forceHeader: 'X-Route', forceSecret: secret },
      { forceHeader: null, forceSecret: secret },
    ]) {
      const h = await withProber(prober([ok1], [ok1], nginx, routing), (p) => p.throughNginx('green'));
      expect(h).toMatchObject({ server: front, healthy: true, status: 200, version: '2.1.0', error: null });
    }
    // forceHeader null: the loopback-only health location of the color
    expect(seen).toEqual(['/healthz green', `/healthz green:${secret}`, '/__bgctl/health/green -']);
  });

  it('throughNginx is unhealthy when NGINX says another color (or none) answered', async () => {
    for (const [served, error] of [
      ['blue', 'served by blue'],
      [null, 'no X-Bgctl-Color'],
    ] as const) {
      const front = await backend((_req, res) => {
        res.writeHead(200, served === null ? {} : { 'x-bgctl-color': served });
        res.end('{"version":"2.1.0"}');
      });
      const [host, port] = front.split(':') as [string, string];
      const h = await withProber(prober([ok1], [ok1], { host, port: Number(port) }), (p) => p.throughNginx('green'));
      expect(h).toMatchObject({ healthy: false, status: 200, version: null, error });
    }
  });
});

describe('summarizeColor', () => {
  const s = (healthy: boolean, version: string | null): ServerHealth => ({
    server: 'x:1',
    healthy,
    status: healthy ? 200 : 503,
    version,
    latencyMs: 1,
    error: healthy ? null : 'HTTP 503',
  });
  it('needs every server healthy and a shared version', () => {
    expect(summarizeColor('green', [])).toMatchObject({ healthy: false, version: null });
    expect(summarizeColor('green', [s(true, '1'), s(true, '1')])).toMatchObject({ healthy: true, version: '1' });
    expect(summarizeColor('green', [s(true, '1'), s(false, null)])).toMatchObject({ healthy: false, version: '1' });
    expect(summarizeColor('green', [s(true, '1'), s(true, null)])).toMatchObject({ healthy: true, version: null });
    expect(summarizeColor('green', [s(false, null)])).toMatchObject({ healthy: false, version: null });
  });
});

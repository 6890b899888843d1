import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseColor, parseVersion, type Color } from '../core/color.js';

/**
 * A tiny HTTP app standing in for one color in `bgctl demo` and the integration tests.
 * Versions can model bad releases, all healthy at first (so pre-flight passes); after BROKEN_AFTER
 * ordinary requests:
 * - "broken": every answer, health too, is a 500;
 * - "flaky": health stays fine, but every other ordinary request is a 500 (only real traffic shows it);
 * - "slow": health stays fine, ordinary requests take SLOW_MS longer.
 */
export const BROKEN_AFTER = 15;
export const SLOW_MS = 1500;

export interface DemoBackendOptions {
  /** checked at start: anything but blue or green is refused */
  readonly color: string;
  readonly version: string;
  readonly host?: string;
  readonly port?: number;
  /** delay before answering an ordinary request; health answers at once */
  readonly latencyMs?: number;
}

export interface DemoBackend {
  readonly color: Color;
  readonly port: number;
  readonly url: string;
  readonly version: string;
  /** ordinary (non-health) requests served since the version was set */
  readonly served: number;
  setVersion(version: string): void;
  close(): Promise<void>;
}

/** Env var through which the demo's deploy hook learns each color's backend port. */
export const DEMO_PORTS_ENV = 'BGCTL_DEMO_PORTS';

/** `{ blue: 8081, green: 8082 }` → "blue=8081,green=8082" (the value of BGCTL_DEMO_PORTS). */
export const formatDemoPorts = (ports: Partial<Record<Color, number>>): string =>
  Object.entries(ports)
    .map(([color, port]) => `${color}=${port}`)
    .join(',');

export function parseDemoPorts(spec: string | undefined): Partial<Record<Color, number>> {
  const ports: Partial<Record<Color, number>> = {};
  for (const part of (spec ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const m = /^(blue|green)=(\d{1,5})$/.exec(part);
    const port = Number(m?.[2]);
    if (!m || port < 1 || port > 65535) throw new Error(`${DEMO_PORTS_ENV}: ${JSON.stringify(part)} is not color=port`);
    ports[m[1] as Color] = port;
  }
  return ports;
}

const isLoopback = (address: string | undefined): boolean =>
  address !== undefined && (address.startsWith('127.') || address === '::1' || address.startsWith('::ffff:127.'));

function send(res: ServerResponse, status: number, body: Record<string, unknown>): void {
  if (res.destroyed || res.writableEnded) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export async function startDemoBackend(options: DemoBackendOptions): Promise<DemoBackend> {
  const color = parseColor(String(options.color), 'color');
  const host = options.host ?? '127.0.0.1';
  const latencyMs = Math.max(0, options.latencyMs ?? 2);
  let version = parseVersion(options.version, 'version');
  let served = 0;
  const timers = new Set<NodeJS.Timeout>();

  const failing = (): boolean => version.includes('broken') && served >= BROKEN_AFTER;
  const degraded = (kind: 'flaky' | 'slow'): boolean => version.includes(kind) && served >= BROKEN_AFTER;

  function setVersion(next: string): void {
    version = parseVersion(next, 'version');
    served = 0;
  }

  function deploy(req: IncomingMessage, res: ServerResponse, url: URL): void {
    // The deploy hook runs on this machine; nothing else may change what a backend serves.
    if (!isLoopback(req.socket.remoteAddress)) return send(res, 403, { error: 'deploy is allowed from loopback only' });
    const next = url.searchParams.get('version') ?? '';
    const previous = version;
    try {
      setVersion(next);
    } catch (error) {
      return send(res, 400, { error: error instanceof Error ? error.message : String(error) });
    }
    send(res, 200, { color, version, previous });
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    req.resume(); // drain any body; we never read one
    const url = new URL(req.url ?? '/', 'http://backend');
    if (url.pathname === '/__demo/deploy') {
      if (req.method !== 'POST') return send(res, 405, { error: 'use POST' });
      return deploy(req, res, url);
    }
    const health = url.pathname === '/health';
    if (failing()) return send(res, 500, { status: 'error', color, version, error: 'broken release' });
    if (health) return send(res, 200, { status: 'ok', color, version });
    served++;
    if (degraded('flaky') && served % 2 === 0) return send(res, 500, { status: 'error', color, version, error: 'flaky release' });
    const answer = { color, version, path: url.pathname };
    const delay = latencyMs + (degraded('slow') ? SLOW_MS : 0);
    if (delay === 0) return send(res, 200, answer);
    const timer = setTimeout(() => {
      timers.delete(timer);
      send(res, 200, answer);
    }, delay);
    timers.add(timer);
  }

  // keepAliveTimeout stays at Node's default (5 s): NGINX's upstream keepalive_timeout is kept
  // below it, and the demo should behave like a stock Node app would.
  const server = createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  let closing: Promise<void> | null = null;
  function close(): Promise<void> {
    closing ??= new Promise<void>((resolve) => {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      server.close(() => resolve());
      // Idle keep-alive sockets would hold close() open for up to 5 s (and a test run with them).
      server.closeAllConnections();
    });
    return closing;
  }

  return {
    color,
    port,
    url,
    get version() {
      return version;
    },
    get served() {
      return served;
    },
    setVersion,
    close,
  };
}

import { performance } from 'node:perf_hooks';
import type { ColorHealth, Prober, ServerHealth } from '../app/ports.js';
import { VERSION_RE, type Color } from '../core/color.js';
import { SECRET_HEADER } from './force-secret.js';
import { httpGet } from './http-get.js';

export interface ProbeEnvironment {
  readonly servers: readonly string[];
  readonly health: string;
}

export interface HttpProberOptions {
  readonly environments: Readonly<Record<Color, ProbeEnvironment>>;
  readonly timeoutMs: number;
  /** Where NGINX listens: the config's listenAddress (`*`, 0.0.0.0 and [::] mean loopback) and listen port. */
  /** serverName: the Host (and SNI) of the server block (a system NGINX with several) */
  readonly nginx: { readonly host: string; readonly port: number; readonly tls?: boolean; readonly serverName?: string | null };
  /**
   * The config's forced routes (`routing`): throughNginx asks NGINX for the color's health path with
   * `forceHeader: COLOR` (`COLOR:SECRET` when forceSecret is set). forceHeader null: it asks the
   * loopback-only `/__bgctl/health/COLOR` location instead.
   */
  readonly routing: { readonly forceHeader: string | null; readonly forceSecret: string | null };
}

/** Enough for any health JSON; a bigger body is cut off rather than read forever. */
const BODY_CAP = 64 * 1024;

/**
 * Health probes over HTTP. Every attempt has one deadline covering connect, headers and body.
 * Connections are NOT reused: a probe must see whether the server accepts a new connection now, and
 * a pooled socket closed by a restarting backend would report a false failure.
 */
export class HttpProber implements Prober {
  constructor(private readonly options: HttpProberOptions) {}

  async color(color: Color): Promise<ColorHealth> {
    const env = this.options.environments[color];
    const servers = await Promise.all(env.servers.map((s) => this.probe(s, `http://${s}${env.health}`)));
    return summarizeColor(color, servers);
  }

  /**
   * The color's health path through NGINX's traffic route, so the answer proves NGINX can route to
   * the color at all; healthy only when NGINX says (X-Bgctl-Color) that color served it.
   */
  throughNginx(color: Color): Promise<ServerHealth> {
    const { host, port } = this.options.nginx;
    const { forceHeader, forceSecret } = this.options.routing;
    // a wildcard listen address is reached through loopback (forced routes without a secret and the
    // health locations only serve loopback anyway)
    const loop = host === '*' || host === '0.0.0.0' ? '127.0.0.1' : host === '[::]' || host === '::' ? '::1' : host;
    const h = loop.includes(':') && !loop.startsWith('[') ? `[${loop}]` : loop;
    const origin = `${this.options.nginx.tls ? 'https' : 'http'}://${h}:${port}`;
    if (forceHeader === null) {
      const trust: Record<string, string> = forceSecret === null ? {} : { [SECRET_HEADER]: forceSecret };
      return this.probe(`${h}:${port}`, `${origin}/__bgctl/health/${color}`, trust, color, true);
    }
    const value = forceSecret === null ? color : `${color}:${forceSecret}`;
    const path = this.options.environments[color].health;
    return this.probe(`${h}:${port}`, `${origin}${path}`, { [forceHeader]: value }, color, true);
  }

  /** Nothing to release (every probe has its own connection); kept for callers that close probers. */
  close(): Promise<void> {
    return Promise.resolve();
  }

  /** `servedBy`: through NGINX, the color its X-Bgctl-Color must name. */
  private async probe(
    server: string,
    url: string,
    headers: Record<string, string> = {},
    servedBy?: Color,
    /** NGINX's own loopback port: with tls its certificate names the public host, so it is not checked */
    ownNginx = false,
  ): Promise<ServerHealth> {
    const { timeoutMs } = this.options;
    const started = performance.now();
    const latency = (): number => Math.round(performance.now() - started);
    try {
      const res = await httpGet(url, {
        headers: { ...headers, accept: 'application/json', 'user-agent': 'bgctl-probe' },
        timeoutMs,
        maxBytes: BODY_CAP, // too big to be a health document: status decides, version unknown
        insecure: ownNginx,
        ...(ownNginx && this.options.nginx.serverName ? { serverName: this.options.nginx.serverName } : {}),
      });
      const body = res.body;
      const served = res.headers['x-bgctl-color'];
      const wrong = servedBy !== undefined && served !== servedBy;
      const ok = res.statusCode >= 200 && res.statusCode < 300 && !wrong;
      let error: string | null = null;
      if (res.statusCode < 200 || res.statusCode >= 300) error = `HTTP ${res.statusCode}`;
      else if (wrong) error = typeof served === 'string' && served !== '' ? `served by ${served.slice(0, 16)}` : 'no X-Bgctl-Color';
      return { server, healthy: ok, status: res.statusCode, version: ok ? versionOf(body) : null, latencyMs: latency(), error };
    } catch (e) {
      return { server, healthy: false, status: null, version: null, latencyMs: latency(), error: describeError(e, timeoutMs) };
    }
  }
}

/** Pure: the color is healthy when it has servers and every one is; its version is the one they agree on. */
export function summarizeColor(color: Color, servers: readonly ServerHealth[]): ColorHealth {
  const healthy = servers.length > 0 && servers.every((s) => s.healthy);
  const versions = new Set(servers.filter((s) => s.healthy).map((s) => s.version));
  const [only] = versions;
  return { color, healthy, servers, version: versions.size === 1 && only !== undefined ? only : null };
}

/**
 * Pure: the `version` string of a JSON body, if any. A value outside the version pattern (terminal
 * escapes, `$(...)`, 10 kB of text) counts as no version: it never reaches state, lock, log or terminal.
 */
export function versionOf(body: string | null): string | null {
  if (body === null) return null;
  try {
    const v = (JSON.parse(body) as { version?: unknown } | null)?.version;
    return typeof v === 'string' && VERSION_RE.test(v) ? v : null;
  } catch {
    return null;
  }
}

/** Short, stable error texts: they end up in status output, history and alerts. */
export function describeError(e: unknown, timeoutMs: number): string {
  const err = e as { name?: string; code?: string; message?: string; errors?: unknown[]; cause?: unknown };
  const code = err.code ?? (err.errors?.[0] as { code?: string } | undefined)?.code;
  if (err.name === 'TimeoutError' || err.name === 'AbortError' || /TIMEOUT/.test(code ?? '')) return `timeout after ${timeoutMs} ms`;
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
      return 'connection closed';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host not found';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'host unreachable';
  }
  if (err.cause !== undefined && err.cause !== e) return describeError(err.cause, timeoutMs);
  return (err.message ?? String(e)).slice(0, 200);
}

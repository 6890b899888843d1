import { performance } from 'node:perf_hooks';
import type { ColorHealth, Prober, ServerHealth } from '../../app/ports.js';
import type { Color } from '../../core/color.js';
import { versionOf } from '../probe.js';
import { curlCommand } from './docker-commands.js';
import { SECRET_HEADER } from '../force-secret.js';

/**
 * Through-NGINX probes for the docker driver and for fleets. The color's health path is asked through
 * NGINX's own traffic route (forced to the color), so the answer proves NGINX can reach it.
 */

export type ThroughProbe = (color: Color) => Promise<ServerHealth>;

/** Direct probes from `direct`; through-NGINX probes through every target: healthy only if healthy through all. */
export class TargetsProber implements Prober {
  constructor(
    private readonly direct: Prober,
    private readonly through: readonly { readonly name: string; readonly probe: ThroughProbe }[],
  ) {}

  color(color: Color): Promise<ColorHealth> {
    return this.direct.color(color);
  }

  async throughNginx(color: Color): Promise<ServerHealth> {
    const all = await Promise.all(this.through.map(async (t) => ({ name: t.name, h: await t.probe(color) })));
    const [only] = all;
    if (only === undefined) throw new Error('no NGINX target to probe through');
    if (all.length === 1) return only.h;
    const bad = all.find((x) => !x.h.healthy);
    const slowest = all.reduce((a, b) => (b.h.latencyMs > a.h.latencyMs ? b : a));
    const pick = bad ?? slowest;
    return {
      ...pick.h,
      server: `${pick.name} (${pick.h.server})`,
      error: bad ? `target ${bad.name}: ${bad.h.error ?? 'unhealthy'}` : null,
    };
  }
}

export interface DockerThroughOptions {
  readonly docker?: string;
  readonly container: string;
  readonly port: number;
  /** tls: the listen port speaks HTTPS */
  readonly tls?: boolean;
  readonly timeoutMs: number;
  readonly environments: Readonly<Record<Color, { readonly health: string }>>;
  readonly routing: { readonly forceHeader: string | null; readonly forceSecret: string | null };
}

/**
 * `docker exec C curl -i -H @- http://127.0.0.1:PORT/HEALTH` with the forced-route header (COLOR:SECRET)
 * on stdin, so the secret never shows in the process list; from inside the container the request comes
 * from loopback, which `/__bgctl/health/COLOR` also needs (with X-Bgctl-Secret) when there is no header.
 */
export function dockerThroughProbe(o: DockerThroughOptions): ThroughProbe {
  return async (color) => {
    const { url, headers } = throughRequest(o, color);
    const server = `${o.container} → 127.0.0.1:${o.port}`;
    const started = performance.now();
    const seconds = Math.max(1, Math.ceil(o.timeoutMs / 1000));
    const { execa } = await import('execa'); // loaded on first use: CLI start stays quick
    const r = await execa(
      o.docker ?? 'docker',
      curlCommand(o.container, url, { timeoutSeconds: seconds, headersOnStdin: true, insecure: o.tls === true }),
      {
        input: `${headers.join('\n')}\n`,
        reject: false,
        timeout: o.timeoutMs + 10_000,
      },
    );
    const latencyMs = Math.round(performance.now() - started);
    if (r.exitCode !== 0) {
      const why = (r.stderr || r.message || 'docker exec failed').trim().split('\n').at(-1) ?? '';
      return { server, healthy: false, status: null, version: null, latencyMs, error: why.slice(0, 200) };
    }
    return parseCurlAnswer(server, r.stdout, color, latencyMs);
  };
}

/**
 * Pure: what a through-NGINX probe of `color` asks from inside the container: the color's health path
 * with the forced-route header (COLOR:SECRET), or `/__bgctl/health/COLOR` with X-Bgctl-Secret when there
 * is no such header.
 */
export function throughRequest(o: Omit<DockerThroughOptions, 'docker'>, color: Color): { url: string; headers: string[] } {
  const { forceHeader, forceSecret } = o.routing;
  const path = forceHeader === null ? `/__bgctl/health/${color}` : o.environments[color].health;
  const headers = ['Accept: application/json', 'User-Agent: bgctl-probe'];
  if (forceHeader !== null) headers.push(`${forceHeader}: ${forceSecret === null ? color : `${color}:${forceSecret}`}`);
  else if (forceSecret !== null) headers.push(`${SECRET_HEADER}: ${forceSecret}`);
  return { url: `${o.tls ? 'https' : 'http'}://127.0.0.1:${o.port}${path}`, headers };
}

/** Pure: `curl -i` output (status line, headers, blank line, body) → the probe's verdict; `color`: the X-Bgctl-Color NGINX must answer (null: a server asked directly). */
export function parseCurlAnswer(server: string, text: string, color: Color | null, latencyMs: number): ServerHealth {
  const cut = text.search(/\r?\n\r?\n/);
  const head = cut < 0 ? text : text.slice(0, cut);
  const body = cut < 0 ? '' : text.slice(cut).replace(/^\r?\n\r?\n/, '');
  const [statusLine = '', ...lines] = head.split(/\r?\n/);
  const status = Number(/^HTTP\/\S+ (\d{3})/.exec(statusLine)?.[1] ?? NaN);
  if (!Number.isInteger(status)) return { server, healthy: false, status: null, version: null, latencyMs, error: 'no HTTP answer' };
  const served = lines
    .find((l) => /^x-bgctl-color:/i.test(l))
    ?.replace(/^[^:]*:\s*/, '')
    .trim();
  const ok2xx = status >= 200 && status < 300;
  const wrong = color !== null && served !== color;
  const healthy = ok2xx && !wrong;
  let error: string | null = null;
  if (!ok2xx) error = `HTTP ${status}`;
  else if (wrong) error = served ? `served by ${served.slice(0, 16)}` : 'no X-Bgctl-Color';
  return { server, healthy, status, version: healthy ? versionOf(body) : null, latencyMs, error };
}

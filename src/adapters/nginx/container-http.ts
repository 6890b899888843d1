import { performance } from 'node:perf_hooks';
import type { ColorHealth, Prober, ServerHealth } from '../../app/ports.js';
import type { Color } from '../../core/color.js';
import { summarizeColor } from '../probe.js';
import type { ContainerShell } from './container-shell.js';
import { parseCurlAnswer, throughRequest, type DockerThroughOptions, type ThroughProbe } from './through.js';

/**
 * HTTP from inside a container behind an engine, through its session (container-shell.ts): curl there,
 * a new process and so a new connection each time, request headers on curl's stdin (a secret never
 * shows in a process list). What bgctl asks NGINX (its status location, the through-NGINX probes) and,
 * when every target is behind an engine, the colors' own health (their servers are addresses as NGINX
 * sees them, which this machine may not reach).
 */

export interface InsideAnswer {
  /** curl's output (`-i`: status line, headers, blank line, body), or its error */
  readonly text: string;
  /** curl's exit code (0: an HTTP answer came) */
  readonly code: number;
}

export async function httpInside(
  shell: ContainerShell,
  url: string,
  o: { headers?: readonly string[]; timeoutMs: number; insecure?: boolean },
): Promise<InsideAnswer> {
  const timeoutSeconds = Math.max(1, Math.ceil(o.timeoutMs / 1000));
  const [r] = await shell.run(
    [{ op: 'http', url, headers: o.headers ?? [], timeoutSeconds, insecure: o.insecure === true }],
    timeoutSeconds * 1000 + 15_000,
  );
  return { text: r?.data.toString('utf8') ?? '', code: Number(r?.words[0] ?? -1) };
}

/** The through-NGINX probe of a target behind an engine (what dockerThroughProbe asks, through the session). */
export function containerThroughProbe(shell: ContainerShell, o: Omit<DockerThroughOptions, 'docker'>): ThroughProbe {
  return async (color) => {
    const { url, headers } = throughRequest(o, color);
    const server = `${o.container} → 127.0.0.1:${o.port}`;
    return probeInside(shell, server, url, { headers, timeoutMs: o.timeoutMs, insecure: o.tls === true }, color);
  };
}

/**
 * Every probe from inside one container behind an engine: each color's servers asked directly (curl
 * from there), and through NGINX with `through`.
 */
export class ContainerProber implements Prober {
  constructor(
    private readonly shell: ContainerShell,
    private readonly o: {
      readonly environments: Readonly<Record<Color, { readonly servers: readonly string[]; readonly health: string }>>;
      readonly timeoutMs: number;
      readonly through: ThroughProbe;
    },
  ) {}

  async color(color: Color): Promise<ColorHealth> {
    const env = this.o.environments[color];
    const headers = ['Accept: application/json', 'User-Agent: bgctl-probe'];
    const servers = await Promise.all(
      env.servers.map((s) => probeInside(this.shell, s, `http://${s}${env.health}`, { headers, timeoutMs: this.o.timeoutMs })),
    );
    return summarizeColor(color, servers);
  }

  throughNginx(color: Color): Promise<ServerHealth> {
    return this.o.through(color);
  }
}

/** `servedBy`: through NGINX, the color its X-Bgctl-Color must name. */
async function probeInside(
  shell: ContainerShell,
  server: string,
  url: string,
  o: { headers: readonly string[]; timeoutMs: number; insecure?: boolean },
  servedBy?: Color,
): Promise<ServerHealth> {
  const started = performance.now();
  const latency = (): number => Math.round(performance.now() - started);
  try {
    const r = await httpInside(shell, url, o);
    if (r.code !== 0) {
      const why = r.text.trim().split('\n').at(-1) ?? `curl exit ${r.code}`;
      return { server, healthy: false, status: null, version: null, latencyMs: latency(), error: why.slice(0, 200) };
    }
    return parseCurlAnswer(server, r.text, servedBy ?? null, latency());
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    return { server, healthy: false, status: null, version: null, latencyMs: latency(), error: why.slice(0, 200) };
  }
}

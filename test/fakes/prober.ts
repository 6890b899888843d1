import type { ColorHealth, Prober, ServerHealth } from '../../src/app/ports.js';
import type { Color } from '../../src/core/color.js';
import type { FakeClock } from './clock.js';
import { io } from './io.js';

/** Health of a color as a function of how often it was probed (1-based) and of the fake time elapsed. */
export type HealthScript = (call: number, elapsedMs: number) => boolean;

/** Healthy until `ms` of fake time have passed, unhealthy from then on. */
export const healthyUntil =
  (ms: number): HealthScript =>
  (_call, elapsed) =>
    elapsed < ms;

const SERVERS: Record<Color, string> = { blue: '127.0.0.1:8081', green: '127.0.0.1:8082' };

/** Scripted health and versions per color; counts the probes of each color. */
export class FakeProber implements Prober {
  readonly health: Record<Color, HealthScript>;
  readonly versions: Record<Color, string | null>;
  readonly calls: Record<Color, number> = { blue: 0, green: 0 };
  /** what the probe through NGINX answers, per color */
  readonly throughNginxHealthy: Record<Color, boolean> = { blue: true, green: true };

  constructor(
    private readonly clock: FakeClock,
    opts: { health?: Partial<Record<Color, boolean | HealthScript>>; versions?: Partial<Record<Color, string | null>> } = {},
  ) {
    const script = (h: boolean | HealthScript | undefined): HealthScript => (typeof h === 'function' ? h : () => h ?? true);
    this.health = { blue: script(opts.health?.blue), green: script(opts.health?.green) };
    this.versions = { blue: '2.0.0', green: '2.1.0', ...opts.versions };
  }

  setHealth(color: Color, h: boolean | HealthScript): void {
    this.health[color] = typeof h === 'function' ? h : () => h;
  }

  async color(color: Color): Promise<ColorHealth> {
    await io();
    const healthy = this.health[color](++this.calls[color], this.clock.elapsed);
    const version = this.versions[color];
    const server: ServerHealth = {
      server: SERVERS[color],
      healthy,
      status: healthy ? 200 : 503,
      version: healthy ? version : null,
      latencyMs: 3,
      error: healthy ? null : 'HTTP 503',
    };
    return { color, healthy, servers: [server], version: server.version };
  }

  async throughNginx(color: Color): Promise<ServerHealth> {
    await io();
    const healthy = this.throughNginxHealthy[color];
    return {
      server: 'nginx',
      healthy,
      status: healthy ? 200 : 502,
      version: this.versions[color],
      latencyMs: 4,
      error: healthy ? null : 'HTTP 502',
    };
  }
}

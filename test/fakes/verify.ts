import type { BackupInfo, HttpAnswer, LoadRun, LoadStats, VerifyOptions, VerifyProbes } from '../../src/app/verify.js';
import type { Color } from '../../src/core/color.js';
import type { FakeNginx } from './nginx.js';
import { io } from './io.js';

export const FRONT = 'http://127.0.0.1:8080';
export const API = 'http://127.0.0.1:9000';
export const MONITOR = 'http://127.0.0.1:8090';

/** Options as the CLI builds them from the defaults, with short fake-time migrations. */
export function verifyOptions(over: Partial<VerifyOptions> = {}): VerifyOptions {
  return {
    suite: 'validate',
    frontUrl: FRONT,
    path: '/',
    serve: { apiUrl: API, monitorUrl: MONITOR, required: false },
    probe: { seconds: 3, connections: 4 },
    migration: { steps: [50, 100], stepSeconds: 2 },
    stress: { cycles: 2, connections: 8 },
    maxFailed: { count: 0 },
    ...over,
  };
}

const answer = (status: number, body: unknown, color: string | null = null): HttpAnswer => ({
  status,
  color,
  body: typeof body === 'string' ? body : JSON.stringify(body),
  ms: 2,
  error: null,
  refused: false,
});
const refused: HttpAnswer = { status: null, color: null, body: '', ms: 1, error: 'connection refused', refused: true };

/**
 * The outside world of `verify` in memory. The front answers with the color the FakeNginx serves (all
 * of it at 100%, alternating in a split), so a migration really changes what requests see. The load
 * records the colors NGINX served while it ran; `failedRequests` makes it report failures.
 */
export class FakeVerifyProbes implements VerifyProbes {
  readonly gets: string[] = [];
  readonly loads: { url: string; connections: number; maxSeconds: number }[] = [];
  /** absent: nothing listens; running: bgctl serve; other: another program answers 404 */
  serve: 'absent' | 'running' | 'degraded' | 'other' = 'absent';
  failedRequests = 0;
  site: string | null;
  stateExists = true;
  backup: BackupInfo = { path: '/fake/state/state.json.bak', status: 'valid', detail: 'parses' };
  private flip = 0;

  constructor(
    private readonly nginx: FakeNginx,
    servers: Readonly<Record<Color, readonly string[]>> = { blue: ['127.0.0.1:8081'], green: ['127.0.0.1:8082'] },
  ) {
    this.site = siteWith(servers);
  }

  /** The color a new request through the front gets now, or null when NGINX does not answer. */
  servedNow(): Color | null {
    const live = this.nginx.running && this.nginx.answering ? this.nginx.current : null;
    if (!live) return null;
    if (live.weights.blue === 100 || live.weights.green === 100) return live.weights.blue === 100 ? 'blue' : 'green';
    return this.flip++ % 2 === 0 ? 'blue' : 'green';
  }

  async get(url: string): Promise<HttpAnswer> {
    await io();
    this.gets.push(url);
    if (url.startsWith(FRONT)) {
      const color = this.servedNow();
      return color ? answer(200, { color }, color) : refused;
    }
    if (this.serve === 'absent') return refused;
    if (this.serve === 'other') return answer(404, 'not found');
    if (url === `${API}/status`) return answer(200, { stable: 'blue', revision: 1, weights: { blue: 100, green: 0 } });
    if (url === `${MONITOR}/health`)
      return this.serve === 'degraded'
        ? answer(503, {
            status: 'degraded',
            nginx: { up: true },
            colors: { blue: { up: true }, green: { up: false } },
            bgctl: { problem: null },
          })
        : answer(200, { status: 'ok' });
    return answer(404, 'not found');
  }

  load(o: { url: string; connections: number; maxSeconds: number }): LoadRun {
    this.loads.push(o);
    const from = this.nginx.calls.length;
    const stats = (): LoadStats => {
      const byColor = { blue: 0, green: 0, other: 0 };
      const weights = [
        ...this.nginx.calls
          .slice(from)
          .filter((c) => c.op === 'apply')
          .map((c) => c.weights)
          .filter((w) => w !== null),
        this.nginx.current?.weights ?? null,
      ].filter((w) => w !== null);
      for (const w of weights) for (const c of ['blue', 'green'] as const) if (w[c] > 0) byColor[c] += 100;
      const total = byColor.blue + byColor.green + this.failedRequests;
      const errors = Array.from({ length: Math.min(10, this.failedRequests) }, () => 'UND_ERR_SOCKET: other side closed');
      return { total, ok: total - this.failedRequests, failed: this.failedRequests, byColor, errors };
    };
    return { stats, stop: () => Promise.resolve(stats()) };
  }

  liveSite(): Promise<string | null> {
    return Promise.resolve(this.site);
  }

  stateFileExists(): Promise<boolean> {
    return Promise.resolve(this.stateExists);
  }

  stateBackup(): Promise<BackupInfo> {
    return Promise.resolve(this.backup);
  }
}

/** A site config with the two color upstreams, as the template renders them. */
export function siteWith(servers: Readonly<Record<Color, readonly string[]>>): string {
  const upstream = (c: Color): string =>
    `upstream bgctl_${c} {\n${servers[c].map((s) => `    server ${s} max_fails=3 fail_timeout=10s;\n`).join('')}    keepalive 32;\n}\n`;
  return `# bgctl site config, revision 1.\n${upstream('blue')}\n${upstream('green')}\nserver {\n    listen 127.0.0.1:8080;\n}\n`;
}

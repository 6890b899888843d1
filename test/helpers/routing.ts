import { randomBytes } from 'node:crypto';
import { chmod, readFile, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import path from 'node:path';
import { Agent, request, type Dispatcher } from 'undici';
import { LocalNginxDriver } from '../../src/adapters/nginx/local.js';
import type { ApplyReport } from '../../src/app/ports.js';
import type { Color } from '../../src/core/color.js';
import type { Strategy } from '../../src/core/strategy.js';
import { weightsFor } from '../../src/core/weights.js';
import { configSchema, type ConfigInput } from '../../src/config/schema.js';
import { renderConfig, type DynamicOptions } from '../../src/render/render.js';
import { startTraffic, type TrafficOptions, type TrafficStats } from '../../src/adapters/load.js';
import { jsonOf, type CliResult } from './cli.js';
import { freePorts } from './ports.js';
import { makeTmpDir } from './tmp.js';

/**
 * Real NGINX (the rendered config, started and reloaded by the real driver) in front of real HTTP
 * backends that record every request they get. Nothing is mocked: these tests check what a user sees.
 */

export interface Seen {
  readonly method: string;
  readonly url: string;
  /** NGINX's $request_id, passed as X-Request-Id */
  readonly id: string;
  readonly headers: IncomingMessage['headers'];
}

/**
 * One backend server of a color. `ok` answers `{"color","name"}`; `crash` reads the request and
 * drops the connection without answering (a process dying mid-request); close() makes it refuse
 * connections, open() brings it back on the same port.
 */
export class Backend {
  readonly seen: Seen[] = [];
  mode: 'ok' | 'crash' = 'ok';
  port = 0;
  private server: Server | null = null;

  constructor(
    readonly color: Color,
    readonly name: string,
  ) {}

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async open(): Promise<this> {
    if (this.server) return this;
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        this.seen.push({ method: req.method ?? '', url: req.url ?? '', id: String(req.headers['x-request-id']), headers: req.headers });
        if (this.mode === 'crash') {
          req.socket.destroy();
          return;
        }
        const body = JSON.stringify({ color: this.color, name: this.name, version: '1.0.0' });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', resolve);
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
    return this;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

export interface Answer {
  readonly status: number;
  /** X-Bgctl-Color */
  readonly color: string | undefined;
  /** the backend that answered (from its body), or null when NGINX answered itself */
  readonly backend: { color: string; name: string } | null;
  readonly setCookie: string | undefined;
}

export interface HitOptions {
  readonly method?: 'GET' | 'POST';
  readonly headers?: Record<string, string>;
  readonly body?: string;
  readonly path?: string;
  readonly dispatcher?: Dispatcher;
  /** ask this host instead of 127.0.0.1 */
  readonly host?: string;
}

const one = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);

export async function hit(port: number, o: HitOptions = {}): Promise<Answer> {
  const res = await request(`http://${o.host ?? '127.0.0.1'}:${port}${o.path ?? '/'}`, {
    method: o.method ?? 'GET',
    headers: o.headers ?? {},
    body: o.body ?? null,
    headersTimeout: 10_000,
    bodyTimeout: 10_000,
    ...(o.dispatcher ? { dispatcher: o.dispatcher } : {}),
  });
  const text = await res.body.text();
  let backend: Answer['backend'] = null;
  try {
    const parsed = JSON.parse(text) as { color?: unknown; name?: unknown };
    if (typeof parsed.color === 'string' && typeof parsed.name === 'string') backend = { color: parsed.color, name: parsed.name };
  } catch {
    // NGINX's own error page
  }
  return { status: res.statusCode, color: one(res.headers['x-bgctl-color']), backend, setCookie: one(res.headers['set-cookie']) };
}

/** Runs fn(0..n-1) with at most `concurrency` at a time; results in index order. */
export async function pool<T>(n: number, concurrency: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out = new Array<T>(n);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      out[i] = await fn(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  return out;
}

export interface SiteStep {
  readonly percent: number;
  readonly strategy?: Strategy;
  /** the growing color (default green) */
  readonly growing?: Color;
}

/** An NGINX front rendered by bgctl from `config`, started and re-rendered through the real driver. */
export interface Site {
  readonly port: number;
  readonly dir: string;
  readonly accessLog: string;
  /** routing.forceSecret, or the one made up for this site like bgctl makes its own: `/__bgctl/` needs it */
  readonly secret: string;
  apply(step: SiteStep): Promise<ApplyReport>;
  stop(): Promise<void>;
}

/** `o.dynamic`: render for nginx.mode dynamic (njs, weights file) instead of reload mode. */
export async function startSite(
  name: string,
  config: Omit<ConfigInput, 'listen'>,
  first: SiteStep,
  o: { dynamic?: DynamicOptions } = {},
): Promise<Site> {
  const dir = await makeTmpDir(name);
  // NGINX started as root runs its workers as nobody: in dynamic mode they read the weights file in here
  if (o.dynamic) await chmod(dir, 0o755);
  const [port = 0] = await freePorts(1);
  const given = configSchema.parse({ ...config, listen: port, nginx: { ...config.nginx, dir: path.join(dir, 'nginx') } });
  // as bgctl does (wire.ts): without a configured secret, one of its own
  const secret = given.routing.forceSecret ?? randomBytes(24).toString('base64url');
  const parsed = { ...given, routing: { ...given.routing, forceSecret: secret } };
  const driver = new LocalNginxDriver({
    secret,
    dir: parsed.nginx.dir,
    binary: process.env['BGCTL_TEST_NGINX'] ?? '/usr/sbin/nginx',
    listenHost: '127.0.0.1',
    listenPort: port,
    confirmTimeoutMs: 10_000,
  });
  let revision = 0;
  const rendered = (step: SiteStep) => {
    const growing = step.growing ?? 'green';
    return renderConfig(
      parsed,
      {
        weights: weightsFor(growing, step.percent),
        revision: ++revision,
        strategy: step.strategy ?? parsed.migration.strategy,
        stable: growing === 'green' ? 'blue' : 'green',
        growing,
      },
      o.dynamic ?? null,
    );
  };
  await driver.start(rendered(first));
  return {
    port,
    dir: parsed.nginx.dir,
    accessLog: driver.accessLog,
    secret,
    apply: (step) => driver.apply(rendered(step)),
    stop: () => driver.stop(),
  };
}

/**
 * A way to reach NGINX from an address it does not count as loopback: a non-loopback address of this
 * machine when it has one (NGINX then also listens there), else the source address 127.0.0.2 (NGINX's
 * `$bgctl_loopback` lists 127.0.0.1 and ::1 only).
 */
export function outsider(): { listenAddress: string; host: string; agent: Agent; label: string } {
  const external = Object.values(networkInterfaces())
    .flat()
    .find((a) => a !== undefined && a.family === 'IPv4' && !a.internal);
  if (external) return { listenAddress: external.address, host: external.address, agent: new Agent(), label: external.address };
  return {
    listenAddress: '127.0.0.1',
    host: '127.0.0.1',
    agent: new Agent({ connect: { localAddress: '127.0.0.2' } }),
    label: '127.0.0.2',
  };
}

/** The access log's JSON lines. */
/**
 * The JSON access log once NGINX has written all of it: the site logs through a buffer flushed every
 * 50 ms (and whenever 64k fill up), so the file is read when its size has held still for 200 ms.
 */
export async function accessLines(file: string): Promise<Record<string, unknown>[]> {
  let size = -1;
  for (let i = 0; i < 50; i++) {
    const now = (await stat(file)).size;
    if (now === size) break;
    size = now;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const text = await readFile(file, 'utf8');
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

export function share(values: readonly (string | undefined)[], of: string): number {
  return (100 * values.filter((v) => v === of).length) / values.length;
}

/** How long each step took from its record to NGINX confirmed (startedAt → appliedAt), from `gradual --json`. */
export function stepApplyMs(json: unknown): number[] {
  const steps = (json as { migration?: { steps?: { startedAt: string; appliedAt: string | null }[] } }).migration?.steps ?? [];
  return steps.filter((s) => s.appliedAt !== null).map((s) => Date.parse(s.appliedAt ?? '') - Date.parse(s.startedAt));
}

/** What a `gradual` (25/50/75/100, 1 s steps) then a `rollback` under load did, for the migration and for the rollback. */
export interface MigrationUnderLoad {
  readonly gradual: CliResult;
  readonly rollback: CliResult;
  readonly migration: TrafficStats;
  readonly afterRollback: TrafficStats;
  /** each step's record → NGINX confirmed, ms */
  readonly stepApplies: number[];
}

/** Runs `gradual green 2.1.0` then `rollback` through `box` while `traffic` loads the front; stops the traffic. */
export async function migrateUnderLoad(
  box: { cli(args: readonly string[]): Promise<CliResult> },
  traffic: TrafficOptions,
): Promise<MigrationUnderLoad> {
  const load = startTraffic(traffic);
  const gradual = await box.cli(['gradual', 'green', '2.1.0', '--steps', '25,50,75,100', '--step-seconds', '1', '--json']);
  const migration = load.stats();
  load.reset();
  const rollback = await box.cli(['rollback', '--json']);
  await new Promise((r) => setTimeout(r, 500));
  const afterRollback = await load.stop();
  return { gradual, rollback, migration, afterRollback, stepApplies: gradual.exitCode === 0 ? stepApplyMs(jsonOf(gradual)) : [] };
}

import { COLORS, otherColor } from '../core/color.js';
import type { Color } from '../core/color.js';
import type { Weights } from '../core/weights.js';
import { STRATEGIES, isHostPort } from '../config/schema.js';
import type { Config } from '../config/schema.js';

/**
 * Pure: Config + what a step wants → the values the NGINX templates print. Nothing else reaches a
 * template. zod has already checked the config; everything is re-checked here anyway, because the
 * templates run with `noEscape` and a single stray `;`, `{`, `"`, `$` or newline would change the
 * NGINX config's structure (config injection). Anything impossible throws a plain Error: it is a bug.
 */

export type Strategy = (typeof STRATEGIES)[number];

export interface RenderOptions {
  readonly weights: Weights;
  /** written into the status JSON; NGINX answering it proves the config is live */
  readonly revision: number;
  readonly strategy: Strategy;
  readonly stable: Color;
  /** the color listed first in split_clients; see splitPlan */
  readonly growing: Color;
}

/** One split_clients entry: `25% green;` or `* blue;`. */
export interface SplitEntry {
  readonly color: Color;
  readonly percent: string;
}

export interface UpstreamView {
  readonly color: Color;
  readonly servers: readonly string[];
  readonly health: string;
}

export interface SiteView {
  readonly revision: number;
  readonly listens: readonly string[];
  readonly sticky: boolean;
  readonly split: readonly SplitEntry[];
  /** error_page retry on the other color: only while both colors carry traffic */
  readonly failover: boolean;
  readonly upstreams: readonly UpstreamView[];
  readonly maxFails: number;
  readonly failTimeout: number;
  /** null: no upstream keep-alive (NGINX rejects `keepalive 0`) */
  readonly keepalive: number | null;
  readonly keepaliveTimeout: number;
  /** the body of GET /__bgctl/status */
  readonly statusJson: string;
}

export interface MainView {
  readonly revision: number;
}

const HEALTH_PATH = /^\/[A-Za-z0-9._~/-]{0,200}$/;
const IPV4 = /^(\d{1,3})(\.\d{1,3}){3}$/;
const IPV6_BRACKETED = /^\[[0-9A-Fa-f:.]{2,45}\]$/;

function fail(what: string, value: unknown): never {
  throw new Error(`render: impossible ${what}: ${JSON.stringify(value)}`);
}

function int(what: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) fail(what, value);
  return value;
}

function color(what: string, value: unknown): Color {
  if (!(COLORS as readonly unknown[]).includes(value)) fail(what, value);
  return value as Color;
}

function checkWeights(weights: Weights): void {
  const blue = int('weight of blue', weights.blue, 0, 100);
  const green = int('weight of green', weights.green, 0, 100);
  if (blue + green !== 100) fail('weights (must total 100)', weights);
}

/**
 * The split_clients entries, growing color first. Its bucket is the start of the hash range, so as it
 * grows from 25% to 50% the clients it already had stay on it (sticky moves only new clients over).
 * `0%` never appears (an empty bucket is pointless) and `*` always closes the list, so the shares
 * total exactly 100% whatever the rounding: a color at 0% gets nothing, at 100% everything.
 */
export function splitPlan(weights: Weights, growing: Color): SplitEntry[] {
  checkWeights(weights);
  const first = color('growing color', growing);
  const rest = otherColor(first);
  const share = weights[first];
  if (share === 0) return [{ color: rest, percent: '*' }];
  if (share === 100) return [{ color: first, percent: '*' }];
  return [
    { color: first, percent: `${share}%` },
    { color: rest, percent: '*' },
  ];
}

/**
 * The listen directives. bgctl itself talks to NGINX on 127.0.0.1 (status location, through-NGINX
 * probes), so an address that is neither loopback nor `*` also gets a loopback listener.
 */
function listensOf(config: Config): string[] {
  const port = int('listen port', config.listen, 1, 65535);
  const address = config.listenAddress;
  if (address === '*') return [`*:${port}`];
  if (!IPV4.test(address) && !(IPV6_BRACKETED.test(address) && address.includes(':'))) return fail('listenAddress', address);
  const loopback = address.startsWith('127.') || address === '[::1]';
  return loopback ? [`${address}:${port}`] : [`${address}:${port}`, `127.0.0.1:${port}`];
}

function upstreamOf(config: Config, c: Color): UpstreamView {
  const env = config.environments[c];
  if (env.servers.length < 1 || env.servers.length > 64) fail(`server count of ${c}`, env.servers.length);
  for (const server of env.servers) if (!isHostPort(server)) fail(`server of ${c}`, server);
  if (!HEALTH_PATH.test(env.health)) fail(`health path of ${c}`, env.health);
  return { color: c, servers: [...env.servers], health: env.health };
}

export function siteView(config: Config, opts: RenderOptions): SiteView {
  const revision = int('revision', opts.revision, 0, Number.MAX_SAFE_INTEGER);
  const stable = color('stable color', opts.stable);
  const strategy = opts.strategy;
  if (!(STRATEGIES as readonly unknown[]).includes(strategy)) fail('strategy', strategy);
  const split = splitPlan(opts.weights, opts.growing);
  const { blue, green } = opts.weights;
  const n = config.nginx;
  const keepalive = int('nginx.keepalive', n.keepalive, 0, 1024);
  // Only numbers and enum words go in, so the JSON holds no quote, backslash or `$` of its own.
  const statusJson = JSON.stringify({ revision, blue, green, strategy, stable });
  if (!/^[{}":,a-z0-9]+$/.test(statusJson)) fail('status JSON', statusJson);
  return {
    revision,
    listens: listensOf(config),
    sticky: strategy === 'sticky',
    split,
    failover: blue > 0 && green > 0,
    upstreams: COLORS.map((c) => upstreamOf(config, c)),
    maxFails: int('nginx.maxFails', n.maxFails, 0, 100),
    failTimeout: int('nginx.failTimeout', n.failTimeout, 1, 3600),
    keepalive: keepalive === 0 ? null : keepalive,
    // below Node's 5 s keepAliveTimeout: NGINX closes idle sockets before the backend does
    keepaliveTimeout: int('nginx.keepaliveTimeoutSeconds', n.keepaliveTimeoutSeconds, 1, 4),
    statusJson,
  };
}

export function mainView(opts: Pick<RenderOptions, 'revision'>): MainView {
  return { revision: int('revision', opts.revision, 0, Number.MAX_SAFE_INTEGER) };
}

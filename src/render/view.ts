import { COLORS } from '../core/color.js';
import type { Color } from '../core/color.js';
import type { Weights } from '../core/weights.js';
import type { RenderRequest } from '../app/ports.js';
import { STRATEGIES } from '../core/strategy.js';
import { NJS_MODULE_RE, WEIGHTS_DIR_RE, isHostPort } from '../config/schema.js';
import { IPV4_RE, IPV6_BRACKETED_RE, URL_PATH_RE } from '../config/patterns.js';
import { CONFIG_ID_PENDING, fallbackColor } from './dynamic.js';
import { OWN_LAYOUT, SYSTEM_LAYOUT, type FileLayout } from './layout.js';
import type { Config } from '../config/schema.js';
import { forceView, trustPattern, type ForceView } from './force.js';
import { checkColor, exactSplit, servedByAddress, splitPlan, stickyBuckets } from './routing.js';
import type { PatternEntry, SplitEntry, StickyBuckets, WeightedServer } from './routing.js';

export { splitPlan, type SplitEntry } from './routing.js';

/**
 * Pure: Config + what a step wants → the values the NGINX templates print. Nothing else reaches a
 * template. zod has already checked the config; everything is re-checked here anyway, because the
 * templates run with `noEscape` and a single stray `;`, `{`, `"`, `$` or newline would change the
 * NGINX config's structure (config injection). Anything impossible throws a plain Error: it is a bug.
 */

/** Dynamic mode (nginx.mode): njs routes every request by the weights file. null: reload mode. */
export interface DynamicOptions {
  /** the njs module's `load_module` path; null when njs is built into the nginx binary */
  readonly module: string | null;
  /** nginx.weightsDir, absolute: the folder of the weights file; null/absent: conf.d under the prefix */
  readonly weightsDir?: string | null;
  /**
   * every NGINX's njs has `js_shared_dict_zone` (njs 0.8 and newer): the checked weights are kept in
   * shared memory for the workers, so a request reads no file; absent/false: read per request (njs 0.7)
   */
  readonly sharedDict?: boolean;
}

/** What the site config of dynamic mode prints besides the structure. */
export interface DynamicView {
  /** everything goes here when neither weights file can be read */
  readonly fallback: Color;
  /** CONFIG_ID_PENDING: render.ts fills in the structure's id */
  readonly configId: string;
  /** nginx.weightsDir (absolute), told to njs by `js_var $bgctl_weights_dir`; null: conf.d */
  readonly weightsDir: string | null;
  /** njs 0.8+: `js_shared_dict_zone` holds the checked weights for the workers (DynamicOptions.sharedDict) */
  readonly sharedDict: boolean;
}

export interface UpstreamView {
  readonly color: Color;
  readonly servers: readonly string[];
  readonly health: string;
}

/** weighted, every server an IP literal: one upstream of both colors, exact shares. */
export interface ExactView {
  /** the servers of bgctl_split with their weights; null at 100/0 (no split needed) */
  readonly split: readonly WeightedServer[] | null;
  /** the upstream ordinary traffic goes to: bgctl_split, or the color at 100% (a forced request: its color's) */
  readonly target: string;
  /** `$upstream_addr` → the color that served */
  readonly served: readonly PatternEntry[];
}

/** sticky, or a host name among the servers: pick a color (per request or per client), then its upstream. */
export interface PickView {
  /** the split_clients $request_id entries (weighted only) */
  readonly split: readonly SplitEntry[];
  /** the variable holding the color to proxy to: `bgctl_route` (forced routes on) or `bgctl_pick` */
  readonly route: string;
  /** the source of the may-fail-over map: a forced request never fails over */
  readonly failoverKey: string;
}

/** tls: the HTTPS listen port's certificate and key, as NGINX reads them (docker: inside the container). */
export interface TlsView {
  readonly certificate: string;
  readonly key: string;
}

/** tls.redirectFrom: a plain-HTTP server that redirects every request to HTTPS. */
export interface RedirectView {
  readonly listens: readonly string[];
  /** `:PORT` of the HTTPS listen port, empty for 443 */
  readonly port: string;
}

export interface SiteView {
  readonly revision: number;
  /** where the njs module and the access log are (render/layout.ts) */
  readonly files: FileLayout;
  /** which parts to print: bgctl's own site has all three; a system NGINX gets http (http.conf), then server (server.conf) */
  readonly parts: SiteParts;
  readonly listens: readonly string[];
  readonly tls: TlsView | null;
  readonly redirect: RedirectView | null;
  readonly exact: ExactView | null;
  readonly pick: PickView | null;
  /** the bucket machinery; in dynamic mode always (njs uses it while the weights file says sticky) */
  readonly sticky: StickyBuckets | null;
  /** the variable of the Set-Cookie header: the map's, or njs's (dynamic: only while sticky) */
  readonly setCookie: string;
  readonly dynamic: DynamicView | null;
  /** error_page retry on the other color: pick mode, only while both colors carry traffic (dynamic: njs checks that) */
  readonly failover: boolean;
  readonly force: ForceView | null;
  /** the forced-route header, cleared before proxying (it may carry the secret) */
  readonly stripHeader: string | null;
  /** the forced-route cookie, taken out of the Cookie header before proxying */
  readonly stripCookie: string | null;
  /** the access log's `forced` field: `$bgctl_force` (a color or empty), or empty when forcing is off */
  readonly forcedLog: string;
  readonly upstreams: readonly UpstreamView[];
  readonly maxFails: number;
  readonly failTimeout: number;
  /** null: no upstream keep-alive (NGINX rejects `keepalive 0`) */
  readonly keepalive: number | null;
  readonly keepaliveTimeout: number;
  /** the body of GET /__bgctl/status */
  readonly statusJson: string;
  /** the map key that lets a request into `/__bgctl/` (loopback + X-Bgctl-Secret); null: nobody */
  readonly trust: string | null;
}

export interface SiteParts {
  /** upstreams, maps, log format, njs: the http level */
  readonly http: boolean;
  /** bgctl's own `server {` with its listen and TLS lines (and the closing brace) */
  readonly block: boolean;
  /** what goes inside the server block: the locations that route to the colors and /__bgctl/ */
  readonly server: boolean;
}

export const ALL_PARTS: SiteParts = { http: true, block: true, server: true };

/**
 * The layout the rendered files name: bgctl's own (relative to its prefix), or, for a system NGINX
 * (nginx.driver system), absolute paths in nginx.dir (its conf prefix is the operator's folder).
 */
export function filesOf(config: Config): FileLayout {
  if (config.nginx.driver !== 'system') return OWN_LAYOUT;
  const dir = config.nginx.dir.replace(/\/+$/, '');
  if (!dir.startsWith('/') || !WEIGHTS_DIR_RE.test(dir) || dir.split('/').includes('..')) fail('nginx.dir', dir);
  const at = (rel: string): string => `${dir}/${rel}`;
  return {
    ...SYSTEM_LAYOUT,
    main: at(SYSTEM_LAYOUT.main),
    site: at(SYSTEM_LAYOUT.site),
    js: at(SYSTEM_LAYOUT.js),
    accessLog: at(SYSTEM_LAYOUT.accessLog),
  };
}

export interface MainView {
  readonly revision: number;
  /** where the site config, pid file and error log are (render/layout.ts) */
  readonly files: FileLayout;
  readonly dynamic: boolean;
  /** `load_module` path (dynamic mode, njs not built in) */
  readonly module: string | null;
}

function fail(what: string, value: unknown): never {
  throw new Error(`render: impossible ${what}: ${JSON.stringify(value)}`);
}

function int(what: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) fail(what, value);
  return value;
}

/**
 * The listen directives. bgctl itself talks to NGINX on 127.0.0.1 (status location, through-NGINX
 * probes), so an address that is neither loopback nor `*` also gets a loopback listener.
 */
function listensOf(config: Config): string[] {
  const port = int('listen port', config.listen, 1, 65535);
  const address = config.listenAddress;
  if (address === '*') return [`*:${port}`];
  if (!IPV4_RE.test(address) && !(IPV6_BRACKETED_RE.test(address) && address.includes(':'))) return fail('listenAddress', address);
  const loopback = address.startsWith('127.') || address === '[::1]';
  return loopback ? [`${address}:${port}`] : [`${address}:${port}`, `127.0.0.1:${port}`];
}

const TLS_PATH = /^\/[A-Za-z0-9._/+@-]{1,400}$/;

/**
 * Where NGINX reads the certificate and key: the absolute paths of the config (local), or, for the docker
 * driver, the same files under nginx.containerDir (they must be inside nginx.dir, which is mounted there).
 */
export function tlsPathsOf(config: Config): TlsView | null {
  const tls = config.tls;
  if (!tls) return null;
  const inside = (file: string): string => {
    if (config.nginx.driver !== 'docker') return file;
    const dir = config.nginx.dir.replace(/\/+$/, '');
    if (!file.startsWith(`${dir}/`)) return fail('tls file outside nginx.dir (docker driver)', file);
    return `${config.nginx.containerDir.replace(/\/+$/, '')}/${file.slice(dir.length + 1)}`;
  };
  const view = { certificate: inside(tls.certificate), key: inside(tls.key) };
  for (const p of [view.certificate, view.key]) if (!TLS_PATH.test(p) || p.split('/').includes('..')) fail('tls file path', p);
  return view;
}

function redirectOf(config: Config): RedirectView | null {
  const from = config.tls?.redirectFrom ?? null;
  if (from === null) return null;
  int('tls.redirectFrom', from, 1, 65535);
  const listens = listensOf({ ...config, listen: from });
  const port = int('listen port', config.listen, 1, 65535);
  return { listens, port: port === 443 ? '' : `:${port}` };
}

function upstreamOf(config: Config, c: Color): UpstreamView {
  const env = config.environments[c];
  if (env.servers.length < 1 || env.servers.length > 64) fail(`server count of ${c}`, env.servers.length);
  for (const server of env.servers) if (!isHostPort(server)) fail(`server of ${c}`, server);
  if (!URL_PATH_RE.test(env.health)) fail(`health path of ${c}`, env.health);
  return { color: c, servers: [...env.servers], health: env.health };
}

function exactView(weights: Weights, servers: Readonly<Record<Color, readonly string[]>>, backup: Color | null): ExactView | null {
  const served = servedByAddress(servers);
  if (served === null) return null;
  const both = weights.blue > 0 && weights.green > 0;
  const split = both || backup !== null;
  const target = split ? 'bgctl_split' : `bgctl_${weights.blue > 0 ? 'blue' : 'green'}`;
  return { split: split ? exactSplit(weights, servers, backup) : null, target, served };
}

/** The backup color asked for, checked: only the color at 0% while the other carries 100%. */
function backupOf(opts: RenderRequest): Color | null {
  if (opts.backup === undefined || opts.backup === null) return null;
  const backup = checkColor('backup color', opts.backup);
  if (opts.weights[backup] !== 0) fail('backup color (must be the color at 0%)', { backup, weights: opts.weights });
  return backup;
}

export function siteView(
  config: Config,
  opts: RenderRequest,
  dynamic: DynamicOptions | null = null,
  parts: SiteParts = ALL_PARTS,
): SiteView {
  const revision = int('revision', opts.revision, 0, Number.MAX_SAFE_INTEGER);
  const stable = checkColor('stable color', opts.stable);
  const strategy = opts.strategy;
  if (!(STRATEGIES as readonly unknown[]).includes(strategy)) fail('strategy', strategy);
  const split = splitPlan(opts.weights, opts.growing);
  const { blue, green } = opts.weights;
  const n = config.nginx;
  const keepalive = int('nginx.keepalive', n.keepalive, 0, 1024);
  // Only numbers and enum words go in, so the JSON holds no quote, backslash or `$` of its own.
  const backup = backupOf(opts);
  const statusJson = JSON.stringify({ revision, blue, green, strategy, stable, ...(backup ? { backup } : {}) });
  if (!/^[{}":,a-z0-9]+$/.test(statusJson)) fail('status JSON', statusJson);
  const upstreams = { blue: upstreamOf(config, 'blue'), green: upstreamOf(config, 'green') };
  const force = forceView(config.routing);
  const sticky = strategy === 'sticky';
  const servers = { blue: upstreams.blue.servers, green: upstreams.green.servers };
  // dynamic mode: nothing printed depends on the weights; njs picks, the sticky machinery is always there
  const dyn = dynamic !== null;
  const exact = sticky || dyn ? null : exactView(opts.weights, servers, backup);
  return {
    revision,
    files: filesOf(config),
    parts,
    listens: listensOf(config),
    tls: tlsPathsOf(config),
    redirect: redirectOf(config),
    exact,
    pick: exact
      ? null
      : {
          split: sticky || dyn ? [] : split,
          route: force ? 'bgctl_route' : 'bgctl_pick',
          failoverKey: force ? '$bgctl_force$request_method' : '$request_method',
        },
    sticky: sticky || dyn ? stickyBuckets(opts.weights, opts.growing) : null,
    setCookie: dyn ? 'bgctl_dyn_cookie' : 'bgctl_set_cookie',
    dynamic: dyn
      ? {
          fallback: checkColor('fallback color', fallbackColor({ weights: opts.weights, stable })),
          configId: CONFIG_ID_PENDING,
          weightsDir: weightsDirOf(dynamic),
          sharedDict: dynamic.sharedDict === true,
        }
      : null,
    // dynamic: njs allows the retry while both carry traffic or the weights file arms the fallback
    failover: dyn || (!exact && ((blue > 0 && green > 0) || backup !== null)),
    force,
    stripHeader: force?.strip ?? null,
    stripCookie: force?.stripCookie ?? null,
    forcedLog: force ? '$bgctl_force' : '',
    upstreams: COLORS.map((c) => upstreams[c]),
    maxFails: int('nginx.maxFails', n.maxFails, 0, 100),
    failTimeout: int('nginx.failTimeout', n.failTimeout, 1, 3600),
    keepalive: keepalive === 0 ? null : keepalive,
    // below Node's 5 s keepAliveTimeout: NGINX closes idle sockets before the backend does
    keepaliveTimeout: int('nginx.keepaliveTimeoutSeconds', n.keepaliveTimeoutSeconds, 1, 4),
    statusJson,
    trust: trustPattern(config.routing),
  };
}

export function mainView(opts: Pick<RenderRequest, 'revision'>, dynamic: DynamicOptions | null = null): MainView {
  const module = dynamic?.module ?? null;
  if (module !== null && (!NJS_MODULE_RE.test(module) || module.split('/').includes('..'))) fail('njs module path', module);
  return { revision: int('revision', opts.revision, 0, Number.MAX_SAFE_INTEGER), files: OWN_LAYOUT, dynamic: dynamic !== null, module };
}

/** Goes into the site config: an absolute path of plain characters (checked again: the text reaches NGINX). */
function weightsDirOf(dynamic: DynamicOptions | null): string | null {
  const d = dynamic?.weightsDir ?? null;
  if (d === null) return null;
  if (!d.startsWith('/') || !WEIGHTS_DIR_RE.test(d) || d.split('/').includes('..')) {
    throw new Error(`render: impossible weights folder ${JSON.stringify(d)}`);
  }
  return d.length > 1 && d.endsWith('/') ? d.slice(0, -1) : d;
}

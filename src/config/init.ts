import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { quote } from '../core/color.js';
import { UsageError } from '../core/errors.js';
import { configSchema } from './schema.js';
import { sameServer } from './servers.js';

export interface InitOptions {
  readonly blue: readonly string[];
  readonly green: readonly string[];
  readonly listen: number;
  readonly driver: 'local' | 'docker' | 'system';
  /** system: the NGINX's main config (absolute, or relative to the config file's folder) */
  readonly conf?: string;
}

/**
 * The schema's defaults: every value `init` writes comes from here (bar the servers, the flags and the
 * examples), so the file always shows what leaving a key out means. The colors need servers to parse;
 * deploy and tls, absent by default, need their required keys to show the defaults of the rest.
 */
function parseDefaults() {
  return {
    config: configSchema.parse({ environments: { blue: { servers: ['127.0.0.1:1'] }, green: { servers: ['127.0.0.1:2'] } } }),
    deploy: configSchema.shape.deploy.unwrap().parse({ command: ['true'] }),
    tls: configSchema.shape.tls.unwrap().unwrap().parse({ certificate: '/c', key: '/k' }),
  };
}
// parsed when `init` runs, not when any command starts
let parsed: ReturnType<typeof parseDefaults> | undefined;
const defaults = (): ReturnType<typeof parseDefaults> => (parsed ??= parseDefaults());

export const INIT_DEFAULTS: InitOptions = {
  blue: ['127.0.0.1:8081'],
  green: ['127.0.0.1:8082'],
  // the two keys `init --help` shows, each from its own field's schema
  listen: configSchema.shape.listen.parse(undefined),
  driver: configSchema.shape.nginx.unwrap().shape.driver.parse(undefined),
};

/** Where editors find the JSON Schema when bgctl is a dependency of the project holding this file. */
export const SCHEMA_HINT_PATH = './node_modules/bgctl/schema/bgctl.schema.json';

// The very schemas the config is validated with, so `init` can never write what `validate` refuses.
const serversSchema = configSchema.shape.environments.shape.blue.shape.servers;
const listenSchema = configSchema.shape.listen;
const driverSchema = configSchema.shape.nginx.unwrap().shape.driver;

function check<T>(schema: z.ZodType<T>, value: unknown, flag: string, shown: (path: PropertyKey[]) => string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  throw new UsageError(`${flag} ${shown(issue?.path ?? [])}: ${issue?.message ?? 'invalid'}`);
}

function validateOptions(opts: InitOptions): InitOptions {
  // An issue on servers[i] names the value the user typed; one on the list names how many were given.
  const server = (list: readonly string[]) => (p: PropertyKey[]) =>
    typeof p[0] === 'number' ? quote(list[p[0]] ?? '') : `(${list.length} given)`;
  const blue = check(serversSchema, [...opts.blue], '--blue', server(opts.blue));
  const green = check(serversSchema, [...opts.green], '--green', server(opts.green));
  const listen = check(listenSchema, opts.listen, '--listen', () => String(opts.listen));
  const driver = check(driverSchema, opts.driver, '--driver', () => quote(String(opts.driver)));
  const shared = green.find((s) => blue.some((b) => sameServer(b, s)));
  if (shared !== undefined) throw new UsageError(`--green ${quote(shared)}: is also a --blue server; colors must not share servers`);
  if (driver === 'system' && (opts.conf === undefined || opts.conf === ''))
    throw new UsageError('--driver system needs --conf: the main config of that NGINX (e.g. /etc/nginx/nginx.conf)');
  if (driver !== 'system' && opts.conf !== undefined) throw new UsageError('--conf goes with --driver system');
  if (opts.conf !== undefined && !/^[A-Za-z0-9._/+@-]{1,400}$/.test(opts.conf))
    throw new UsageError(`--conf ${quote(opts.conf)}: not a plain file path (letters, digits and . _ / + @ - only)`);
  return { blue, green, listen, driver, ...(opts.conf !== undefined ? { conf: opts.conf } : {}) };
}

const COMMENT_COLUMN = 36;

/** `key: value   # comment`, optionally commented out; comments aligned so the file reads as a table. */
function entry(indent: number, key: string, value: string, comment: string, off = false): string {
  const left = `${off ? '# ' : ''}${' '.repeat(indent)}${key}:${value === '' ? '' : ` ${value}`}`;
  return `${left.padEnd(COMMENT_COLUMN - 1)} # ${comment}`;
}

const flowList = (items: readonly string[]): string => `[${items.map((s) => JSON.stringify(s)).join(', ')}]`;

/** A value as YAML on one line: a string plain when YAML reads it back as that string, lists and maps in flow style. */
function yamlValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `[${value.map(yamlValue).join(', ')}]`;
  if (typeof value === 'object') {
    return `{ ${Object.entries(value)
      .map(([k, v]) => `${k}: ${yamlValue(v)}`)
      .join(', ')} }`;
  }
  if (typeof value === 'string') return /^[A-Za-z0-9._/-]+$/.test(value) && parseYaml(value) === value ? value : JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new Error(`init: no YAML form for ${typeof value}`);
}

/** `entry` for a key set to its schema default. */
function byDefault<T extends object>(indent: number, defaults: T, key: keyof T & string, comment: string, off = false): string {
  return entry(indent, key, yamlValue(defaults[key]), comment, off);
}

/** system: bgctl's folder beside the NGINX's main config (/etc/nginx/nginx.conf → /etc/nginx/bgctl). */
export function systemDirFor(conf: string): string {
  const cut = conf.lastIndexOf('/');
  return cut <= 0 ? 'bgctl' : `${conf.slice(0, cut)}/bgctl`;
}

/** The two lines an operator adds to a system NGINX (driver system). */
export function includeLines(dir: string): { http: string; server: string } {
  return { http: `include ${dir}/http.conf;`, server: `include ${dir}/server.conf;` };
}

/**
 * Pure: the commented bgctl.yaml `bgctl init` writes. Every key of the contract is set (to the
 * defaults unless given); the tuning keys are listed commented out; deploy is an example, off.
 */
export function renderInitConfig(opts: InitOptions): string {
  const o = validateOptions(opts);
  const docker = o.driver === 'docker';
  const system = o.driver === 'system';
  const { config: DEFAULTS, deploy: DEPLOY_DEFAULTS, tls: TLS_DEFAULTS } = defaults();
  const { nginx, migration, probe, thresholds, routing } = DEFAULTS;
  const health = DEFAULTS.environments.blue; // both colors have the same defaults
  const lines = [
    `# yaml-language-server: $schema=${SCHEMA_HINT_PATH}`,
    '# bgctl configuration, written by `bgctl init`. Check it with `bgctl validate`.',
    "# Paths in this file are relative to this file's folder. Lines starting with # are defaults or examples.",
    '',
    entry(0, 'listen', String(o.listen), 'port the NGINX front listens on (1-65535)'),
    docker
      ? entry(0, 'listenAddress', '"*"', 'docker: all addresses, so the published port reaches NGINX')
      : byDefault(0, DEFAULTS, 'listenAddress', 'address the front binds: IPv4, [IPv6] or * for all', true),
    '',
    entry(0, 'environments', '', 'the two colors traffic moves between'),
    entry(2, 'blue', '', 'stable color of a fresh install (100% of traffic)'),
    entry(4, 'servers', flowList(o.blue), 'backends as host:port, one or more; all get traffic'),
    byDefault(4, health, 'health', 'path probed on every server; 2xx = healthy; JSON may carry "version"'),
    entry(2, 'green', '', 'the other color; new versions go to the idle one'),
    entry(4, 'servers', flowList(o.green), 'backends as host:port, one or more; all get traffic'),
    byDefault(4, health, 'health', 'path probed on every server; 2xx = healthy; JSON may carry "version"'),
    '',
    entry(0, 'nginx', '', 'the NGINX front bgctl drives'),
    entry(2, 'driver', o.driver, 'local (bgctl runs an NGINX master) | docker (a container) | system (yours)'),
    system
      ? entry(2, 'dir', yamlValue(systemDirFor(o.conf ?? '')), 'system: the only folder bgctl writes (http.conf, server.conf)')
      : byDefault(2, nginx, 'dir', 'folder bgctl owns (nginx.conf, conf.d/, logs/); docker: bind-mounted'),
    byDefault(2, nginx, 'container', 'docker: the container to `docker exec` into'),
    byDefault(2, nginx, 'containerDir', 'docker: where dir is mounted in the container (a folder)', !docker),
    entry(
      2,
      'composeFile',
      docker ? 'docker-compose.yml' : yamlValue(nginx.composeFile),
      'docker: start/stop run `docker compose -f FILE up -d`/`down`',
      !docker,
    ),
    byDefault(2, nginx, 'service', 'docker: the compose service of the NGINX container', !docker),
    byDefault(2, nginx, 'dockerHost', 'docker: its engine, e.g. ssh://deploy@edge-1 (no shared folder then)', true),
    byDefault(2, nginx, 'mode', 'auto (dynamic if njs is installed, else reload) | dynamic | reload'),
    byDefault(2, nginx, 'njsModule', 'dynamic: the njs module to load; null: found by `nginx -V`', true),
    byDefault(2, nginx, 'weightsDir', 'dynamic: folder of the weights file (e.g. /run/bgctl); null: dir/conf.d', true),
    byDefault(2, nginx, 'binary', 'local: nginx executable, a name on PATH or a path', true),
    // the NGINX you already run: set with --driver system, listed commented out otherwise
    system
      ? entry(2, 'conf', yamlValue(o.conf), 'system: its main config; every change is tested with it whole')
      : byDefault(2, nginx, 'conf', 'system: the main config of the NGINX you already run', true),
    byDefault(2, nginx, 'reload', 'system: argv that reloads it, e.g. ["systemctl", "reload", "nginx"]', !system),
    byDefault(2, nginx, 'listenTls', 'system: the server block on `listen` speaks HTTPS', true),
    byDefault(2, nginx, 'serverName', 'system: Host/SNI bgctl sends to that server block', true),
    byDefault(2, nginx, 'fallback', 'at 100/0 the idle color (if healthy) backs up the live one inside NGINX', true),
    byDefault(2, nginx, 'maxFails', 'failed attempts before NGINX marks a server down (count)', true),
    byDefault(2, nginx, 'failTimeout', 'how long a failed server stays marked down (seconds)', true),
    byDefault(2, nginx, 'keepalive', 'idle keep-alive connections kept per upstream (count)', true),
    byDefault(2, nginx, 'keepaliveTimeoutSeconds', "upstream keep-alive timeout (seconds, 1-4: below Node's 5 s)", true),
    byDefault(2, nginx, 'confirmTimeoutMs', 'wait for NGINX to serve a new config after reload (ms)', true),
    byDefault(2, nginx, 'targets', 'a fleet: [{ name, dir, listen, driver, container... }], applied as one', true),
    '',
    entry(0, 'migration', '', 'how `bgctl gradual` moves traffic'),
    byDefault(2, migration, 'steps', 'percent of traffic on the new color per step; ends at 100'),
    byDefault(2, migration, 'stepSeconds', 'how long each step is observed before the next (seconds)'),
    byDefault(2, migration, 'strategy', 'weighted (per request) | sticky (per client)'),
    byDefault(2, migration, 'maxExtendSeconds', 'a step with too little traffic to judge waits this long, then rolls back', true),
    byDefault(2, migration, 'warmup', 'quiet service: GETs forced to the new color (needs routing.forceHeader), counted apart', true),
    '',
    entry(0, 'probe', '', 'health probes of the backends'),
    byDefault(2, probe, 'intervalMs', 'time between probe rounds during a step (ms)'),
    byDefault(2, probe, 'timeoutMs', 'timeout of one probe request (ms)'),
    byDefault(2, probe, 'failuresBeforeRollback', 'failed rounds in a row that trigger a rollback (count)', true),
    byDefault(2, probe, 'waitHealthySeconds', 'deploy: wait this long for the new color to be healthy (s)', true),
    '',
    entry(0, 'thresholds', '', 'when real traffic (the access log) says the new color misbehaves'),
    byDefault(2, thresholds, 'errorRate', 'share of 5xx answers from the new color (0-1) that is too many'),
    byDefault(2, thresholds, 'errorRateForSeconds', 'how long the error-rate breach must last (seconds; 0 = at once)'),
    byDefault(2, thresholds, 'p95LatencyMs', 'p95 upstream latency of the new color that is too slow (ms)'),
    byDefault(2, thresholds, 'latencyForSeconds', 'how long the latency breach must last (seconds)'),
    byDefault(2, thresholds, 'minRequests', 'fewer requests than this in a window decide nothing (count)'),
    byDefault(2, thresholds, 'windowSeconds', 'sliding window error rate and p95 are computed over (seconds)', true),
    byDefault(2, thresholds, 'checkIntervalMs', 'how often the log is read and thresholds checked (ms)', true),
    byDefault(2, thresholds, 'maxErrorRateRatio', "new color's error rate at most this times the stable one's", true),
    '',
    entry(0, 'routing', '', 'forced routes: a request can name its color, whatever the weights', true),
    byDefault(2, routing, 'forceHeader', 'header naming the color (blue|green); null = off', true),
    byDefault(2, routing, 'forceCookie', 'cookie naming the color; off by default', true),
    byDefault(2, routing, 'forceSecret', 'null: bgctl makes one (stateDir/force-secret); a forced route sends COLOR:SECRET', true),
    '',
    entry(0, 'deploy', '', 'optional: how a version gets onto a color (bgctl deploy/gradual)', true),
    entry(
      2,
      'command',
      '["docker", "compose", "up", "-d", "--no-deps", "app-{{color}}"]',
      'argv, never a shell string; {{color}} and {{version}} are filled in',
      true,
    ),
    entry(2, 'env', '{ APP_VERSION: "{{version}}" }', 'extra environment for the command, templated too', true),
    byDefault(2, DEPLOY_DEFAULTS, 'timeoutSeconds', 'how long the command may run (seconds)', true),
    '',
    byDefault(0, DEFAULTS, 'stateDir', 'folder for state.json, its backup, the lock and history'),
    '',
    entry(0, 'tls', '', "optional: `listen` serves HTTPS (bgctl's own NGINX)", true),
    entry(2, 'certificate', '/etc/ssl/app.crt', 'PEM certificate (chain), relative to this file', true),
    entry(2, 'key', '/etc/ssl/app.key', 'its private key; checked before anything is written', true),
    byDefault(2, TLS_DEFAULTS, 'redirectFrom', 'a plain-HTTP port that redirects (308) to HTTPS', true),
  ];
  return `${lines.join('\n')}\n`;
}

import type { z } from 'zod';
import { quote } from '../core/color.js';
import { UsageError } from '../core/errors.js';
import { configSchema } from './schema.js';
import { sameServer } from './servers.js';

export interface InitOptions {
  readonly blue: readonly string[];
  readonly green: readonly string[];
  readonly listen: number;
  readonly driver: 'local' | 'docker';
}

export const INIT_DEFAULTS: InitOptions = {
  blue: ['127.0.0.1:8081'],
  green: ['127.0.0.1:8082'],
  listen: 8080,
  driver: 'local',
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
  return { blue, green, listen, driver };
}

const COMMENT_COLUMN = 36;

/** `key: value   # comment`, optionally commented out; comments aligned so the file reads as a table. */
function entry(indent: number, key: string, value: string, comment: string, off = false): string {
  const left = `${off ? '# ' : ''}${' '.repeat(indent)}${key}:${value === '' ? '' : ` ${value}`}`;
  return `${left.padEnd(COMMENT_COLUMN - 1)} # ${comment}`;
}

const flowList = (items: readonly string[]): string => `[${items.map((s) => JSON.stringify(s)).join(', ')}]`;

/**
 * Pure: the commented bgctl.yaml `bgctl init` writes. Every key of the contract is set (to the
 * defaults unless given); the tuning keys are listed commented out; deploy is an example, off.
 */
export function renderInitConfig(opts: InitOptions): string {
  const o = validateOptions(opts);
  const docker = o.driver === 'docker';
  const lines = [
    `# yaml-language-server: $schema=${SCHEMA_HINT_PATH}`,
    '# bgctl configuration, written by `bgctl init`. Check it with `bgctl validate`.',
    "# Paths in this file are relative to this file's folder. Lines starting with # are defaults or examples.",
    '',
    entry(0, 'listen', String(o.listen), 'port the NGINX front listens on (1-65535)'),
    docker
      ? entry(0, 'listenAddress', '"*"', 'docker: all addresses, so the published port reaches NGINX')
      : entry(0, 'listenAddress', '127.0.0.1', 'address the front binds: IPv4, [IPv6] or * for all', true),
    '',
    entry(0, 'environments', '', 'the two colors traffic moves between'),
    entry(2, 'blue', '', 'stable color of a fresh install (100% of traffic)'),
    entry(4, 'servers', flowList(o.blue), 'backends as host:port, one or more; all get traffic'),
    entry(4, 'health', '/health', 'path probed on every server; 2xx = healthy; JSON may carry "version"'),
    entry(2, 'green', '', 'the other color; new versions go to the idle one'),
    entry(4, 'servers', flowList(o.green), 'backends as host:port, one or more; all get traffic'),
    entry(4, 'health', '/health', 'path probed on every server; 2xx = healthy; JSON may carry "version"'),
    '',
    entry(0, 'nginx', '', 'the NGINX front bgctl drives'),
    entry(2, 'driver', o.driver, 'local (bgctl runs an NGINX master) | docker (a container)'),
    entry(2, 'dir', '.bgctl/nginx', 'folder bgctl owns (nginx.conf, conf.d/, logs/); docker: bind-mounted'),
    entry(2, 'container', 'nginx', 'docker: the container to `docker exec` into'),
    entry(2, 'containerDir', '/etc/nginx/bgctl', 'docker: where dir is mounted in the container (a folder)', !docker),
    entry(
      2,
      'composeFile',
      docker ? 'docker-compose.yml' : 'null',
      'docker: start/stop run `docker compose -f FILE up -d`/`down`',
      !docker,
    ),
    entry(2, 'service', 'nginx', 'docker: the compose service of the NGINX container', !docker),
    entry(2, 'mode', 'auto', 'auto (dynamic if njs is installed, else reload) | dynamic | reload'),
    entry(2, 'njsModule', 'null', 'dynamic: the njs module to load; null: found by `nginx -V`', true),
    entry(2, 'weightsDir', 'null', 'dynamic: folder of the weights file (e.g. /run/bgctl); null: dir/conf.d', true),
    entry(2, 'binary', 'nginx', 'local: nginx executable, a name on PATH or a path', true),
    entry(2, 'fallback', 'true', 'at 100/0 the idle color (if healthy) backs up the live one inside NGINX', true),
    entry(2, 'maxFails', '3', 'failed attempts before NGINX marks a server down (count)', true),
    entry(2, 'failTimeout', '10', 'how long a failed server stays marked down (seconds)', true),
    entry(2, 'keepalive', '32', 'idle keep-alive connections kept per upstream (count)', true),
    entry(2, 'keepaliveTimeoutSeconds', '4', "upstream keep-alive timeout (seconds, 1-4: below Node's 5 s)", true),
    entry(2, 'confirmTimeoutMs', '10000', 'wait for NGINX to serve a new config after reload (ms)', true),
    entry(2, 'targets', 'null', 'a fleet: [{ name, dir, listen, driver, container... }], applied as one', true),
    '',
    entry(0, 'migration', '', 'how `bgctl gradual` moves traffic'),
    entry(2, 'steps', '[25, 50, 75, 100]', 'percent of traffic on the new color per step; ends at 100'),
    entry(2, 'stepSeconds', '30', 'how long each step is observed before the next (seconds)'),
    entry(2, 'strategy', 'weighted', 'weighted (per request) | sticky (per client)'),
    entry(2, 'maxExtendSeconds', '120', 'a step with too little traffic to judge waits this long, then rolls back', true),
    entry(
      2,
      'warmup',
      '{ enabled: false, rps: 5, path: / }',
      'quiet service: GETs forced to the new color (needs routing.forceHeader), counted apart',
      true,
    ),
    '',
    entry(0, 'probe', '', 'health probes of the backends'),
    entry(2, 'intervalMs', '1000', 'time between probe rounds during a step (ms)'),
    entry(2, 'timeoutMs', '2000', 'timeout of one probe request (ms)'),
    entry(2, 'failuresBeforeRollback', '1', 'failed rounds in a row that trigger a rollback (count)', true),
    entry(2, 'waitHealthySeconds', '60', 'deploy: wait this long for the new color to be healthy (s)', true),
    '',
    entry(0, 'thresholds', '', 'when real traffic (the access log) says the new color misbehaves'),
    entry(2, 'errorRate', '0.05', 'share of 5xx answers from the new color (0-1) that is too many'),
    entry(2, 'errorRateForSeconds', '60', 'how long the error-rate breach must last (seconds; 0 = at once)'),
    entry(2, 'p95LatencyMs', '1000', 'p95 upstream latency of the new color that is too slow (ms)'),
    entry(2, 'latencyForSeconds', '30', 'how long the latency breach must last (seconds)'),
    entry(2, 'minRequests', '20', 'fewer requests than this in a window decide nothing (count)'),
    entry(2, 'windowSeconds', '10', 'sliding window error rate and p95 are computed over (seconds)', true),
    entry(2, 'checkIntervalMs', '100', 'how often the log is read and thresholds checked (ms)', true),
    entry(2, 'maxErrorRateRatio', 'null', "new color's error rate at most this times the stable one's", true),
    '',
    entry(0, 'routing', '', 'forced routes: a request can name its color, whatever the weights', true),
    entry(2, 'forceHeader', 'X-Bgctl-Color', 'header naming the color (blue|green); null = off', true),
    entry(2, 'forceCookie', 'null', 'cookie naming the color; off by default', true),
    entry(2, 'forceSecret', 'null', 'null: bgctl makes one (stateDir/force-secret); a forced route sends COLOR:SECRET', true),
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
    entry(2, 'timeoutSeconds', '600', 'how long the command may run (seconds)', true),
    '',
    entry(0, 'stateDir', '.bgctl', 'folder for state.json, its backup, the lock and history'),
    '',
    entry(0, 'tls', '', "optional: `listen` serves HTTPS (bgctl's own NGINX)", true),
    entry(2, 'certificate', '/etc/ssl/app.crt', 'PEM certificate (chain), relative to this file', true),
    entry(2, 'key', '/etc/ssl/app.key', 'its private key; checked before anything is written', true),
    entry(2, 'redirectFrom', 'null', 'a plain-HTTP port that redirects (308) to HTTPS', true),
  ];
  return `${lines.join('\n')}\n`;
}

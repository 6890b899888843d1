import { z } from 'zod';
import { VERSION_RE } from '../core/color.js';
import { MAX_STEP_SECONDS } from '../core/gradual-options.js';
import { STRATEGIES } from '../core/strategy.js';
import { HOSTNAME_RE, IPV4_RE, IPV6_BRACKETED_RE, SECRET_RE, URL_PATH_RE } from './patterns.js';
import { sameServer } from './servers.js';
import { remoteIssues, targetConflicts } from './targets.js';

/**
 * The bgctl configuration. This schema is the documentation: every field is described here, the JSON
 * Schema for editors (schema/bgctl.schema.json) is generated from it, and nothing reaches an NGINX
 * template without passing it. Values are checked by allowlist: no `;`, `{`, `}`, quotes, `$`,
 * spaces or newlines can get into the rendered config.
 */

export function isHostPort(value: string): boolean {
  const m = /^(.+):(\d{1,5})$/.exec(value);
  if (!m) return false;
  const [, host = '', port = ''] = m;
  const p = Number(port);
  if (!Number.isInteger(p) || p < 1 || p > 65535 || String(p) !== port) return false;
  if (IPV4_RE.test(host)) return true;
  if (IPV6_BRACKETED_RE.test(host)) return host.slice(1, -1).includes(':');
  // a last label of digits or 0x-hex makes resolvers read the name as an IPv4 number (127.1, 0x7f.0.0.1)
  return HOSTNAME_RE.test(host) && !/(?:^|\.)(?:\d+|0x[0-9a-f]*)$/i.test(host);
}

const hostPort = z.string().refine(isHostPort, { message: 'not a host:port (an IPv4 address, [IPv6] or DNS name, then :1-65535)' });

const port = z.number().int('must be a whole number').min(1, 'must be 1-65535').max(65535, 'must be 1-65535');

const urlPath = z.string().regex(URL_PATH_RE, 'not a plain URL path (starts with /; letters, digits and . _ ~ / - only)');

const argWord = z
  .string()
  .max(4096)
  .refine((s) => !s.includes('\0'), 'must not contain NUL');

const environment = z
  .strictObject({
    servers: z
      .array(hostPort)
      .min(1, 'needs at least one server')
      .max(64, 'at most 64 servers')
      .describe('Backends of this color as host:port, one or more. Every one is probed and receives traffic.'),
    health: urlPath.default('/health').describe('Health path probed on every server; 2xx = healthy. A JSON body may carry "version".'),
  })
  .describe('One color: its servers and health path.');

const warmup = z
  .strictObject({
    enabled: z.boolean().default(false).describe('Send warmup requests to the new color during a migration (off by default).'),
    rps: z.number().min(0.1).max(100).default(5).describe('Warmup requests per second, sent one at a time.'),
    path: urlPath.default('/').describe('Path the warmup requests ask for (GET); pick one that is safe to call repeatedly.'),
  })
  .prefault({})
  .describe(
    'For a quiet service: GET requests through NGINX with the forced route (needs routing.forceHeader) to the new color while a migration runs, so its steps can be judged. Marked in the access log as warmup and counted apart from real traffic.',
  );

const percentSteps = z
  .array(z.number().int('steps are whole percentages').min(1, 'steps are 1-100').max(100, 'steps are 1-100'))
  .min(1, 'needs at least one step')
  .refine((a) => a.every((v, i) => i === 0 || v > (a[i - 1] ?? 0)), 'steps must be strictly increasing')
  .refine((a) => a[a.length - 1] === 100, 'the last step must be 100');

/**
 * Headers NGINX sets itself on the way to the backends, that HTTP needs (framing, hop-by-hop), that carry
 * credentials, or bgctl's own: a forced route cannot use them (its header is cleared before proxying).
 */
const RESERVED_HEADERS = [
  'host',
  'connection',
  'cookie',
  'x-real-ip',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-request-id',
  'content-length',
  'content-type',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'keep-alive',
  'proxy-connection',
  'expect',
  'authorization',
  'proxy-authorization',
  'proxy-authenticate',
  'x-bgctl-secret',
];
const headerName = z
  .string()
  .regex(/^[A-Za-z0-9-]{1,64}$/, 'not an HTTP header name (letters, digits, -)')
  .refine((h) => !RESERVED_HEADERS.includes(h.toLowerCase()), 'is a header bgctl or HTTP itself sets; pick another name');
const cookieName = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'not a cookie name (letters, digits, _ and -)');
const secret = z.string().regex(SECRET_RE, 'must be 16-128 characters of A-Z a-z 0-9 . _ ~ -');

/** Goes into the site config (ssl_certificate PATH;): a path of plain characters, nothing NGINX would parse. */
const tlsPath = z.string().regex(/^[A-Za-z0-9._/+@-]{1,400}$/, 'not a plain file path (letters, digits and . _ / + @ - only)');
const listenAddress = z.string().refine((s) => IPV4_RE.test(s) || IPV6_BRACKETED_RE.test(s) || s === '*', 'not an IP address or *');
const driverName = z.enum(['local', 'docker']);
const singleDriverName = z.enum(['local', 'docker', 'system']);
/** A host name as NGINX's server_name and TLS SNI know it. */
const serverName = z.string().regex(HOSTNAME_RE, 'not a host name (letters, digits, - and dots)');
const containerName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/, 'not a container name');
/** An absolute POSIX path inside the container; it only ever reaches argv (`docker exec ... nginx -p PATH`). */
const containerPath = z
  .string()
  .regex(/^\/[A-Za-z0-9._/-]{0,200}$/, 'not an absolute path (starts with /; letters, digits and . _ / - only)')
  .refine((p) => !p.split('/').includes('..'), 'must not contain ..');
const composeService = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'not a compose service name');
/** Goes into nginx.conf (`load_module PATH;`): an absolute path of plain characters, nothing NGINX would parse. */
export const NJS_MODULE_RE = /^\/[A-Za-z0-9._/-]{0,250}\.so$/;
const njsModulePath = z
  .string()
  .regex(NJS_MODULE_RE, 'not an absolute path to a .so file (starts with /; letters, digits and . _ / - only)')
  .refine((p) => !p.split('/').includes('..'), 'must not contain ..');
/** Goes into the site config (`js_var $bgctl_weights_dir "DIR";`): a path of plain characters only. */
export const WEIGHTS_DIR_RE = /^[A-Za-z0-9._/-]{1,200}$/;
const weightsDirPath = z
  .string()
  .regex(WEIGHTS_DIR_RE, 'not a folder path (letters, digits and . _ / - only)')
  .refine((p) => !p.split('/').includes('..'), 'must not contain ..');
export const APPLY_MODES = ['auto', 'dynamic', 'reload'] as const;
/**
 * A DOCKER_HOST value: `unix:///PATH`, `tcp://HOST:PORT` or `ssh://[USER@]HOST[:PORT]`. It only ever
 * reaches the docker client's environment, never a shell or a config file; still plain characters only.
 */
export const DOCKER_HOST_RE =
  /^(?:unix:\/\/\/[A-Za-z0-9._/-]{1,200}|tcp:\/\/(?:[A-Za-z0-9][A-Za-z0-9.-]{0,252}|\[[0-9A-Fa-f:.]{2,45}\]):\d{1,5}|ssh:\/\/(?:[A-Za-z0-9_][A-Za-z0-9._-]{0,31}@)?(?:[A-Za-z0-9][A-Za-z0-9.-]{0,252}|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?)$/;
const dockerHost = z
  .string()
  .regex(DOCKER_HOST_RE, 'not a DOCKER_HOST value (unix:///PATH, tcp://HOST:PORT or ssh://[USER@]HOST[:PORT])')
  .refine((h) => !h.split('/').includes('..'), 'must not contain ..')
  .refine((h) => {
    const port = /:(\d{1,5})$/.exec(h)?.[1];
    return port === undefined || h.startsWith('unix:') || (Number(port) >= 1 && Number(port) <= 65535);
  }, 'the port must be 1-65535');
const DOCKER_HOST_DOC =
  "docker: the engine the container runs on, as a DOCKER_HOST value (unix:///PATH, tcp://HOST:PORT, ssh://USER@HOST[:PORT]); every docker call for it gets DOCKER_HOST. With it bgctl needs no folder shared with the container: the files are written inside it (nginx.containerDir) and the access log is read through the engine. ssh: the docker client runs the system ssh (keys, known_hosts and ControlMaster from ~/.ssh/config). null: the docker client's own default.";
const targetName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'not a target name (letters, digits, _ . -)');

/** One NGINX instance of a fleet. Keys left out take the value of the same key under `nginx` (and `listen`). */
const nginxTarget = z
  .strictObject({
    name: targetName.describe('Name of this instance, shown by `bgctl status` and in errors (unique).'),
    driver: driverName.optional().describe('local | docker; default: nginx.driver.'),
    dir: z
      .string()
      .min(1)
      .optional()
      .describe('The folder bgctl owns for this instance (prefix, or the docker bind mount); default: nginx.dir/<name>.'),
    listen: port.optional().describe('Its listen port; default: the top-level listen.'),
    listenAddress: listenAddress.optional().describe('Its listen address; default: the top-level listenAddress.'),
    binary: z.string().min(1).optional().describe('local: the nginx executable; default: nginx.binary.'),
    container: containerName.optional().describe('docker: the container to `docker exec` into; default: the name.'),
    containerDir: containerPath.optional().describe('docker: where dir is mounted in the container; default: nginx.containerDir.'),
    composeFile: z.string().min(1).nullable().optional().describe('docker: the compose file of its stack; default: nginx.composeFile.'),
    service: composeService.optional().describe('docker: its compose service; default: nginx.service.'),
    njsModule: njsModulePath.nullable().optional().describe('dynamic mode: its njs module path; default: nginx.njsModule.'),
    dockerHost: dockerHost.nullable().optional().describe(`${DOCKER_HOST_DOC} Default: nginx.dockerHost.`),
  })
  .describe('One NGINX instance of the fleet.');

export const configSchema = z
  .strictObject({
    $schema: z.string().optional().describe('Path or URL of the JSON Schema, for editors.'),
    listen: port.default(8080).describe('Port the NGINX front listens on.'),
    listenAddress: listenAddress.default('127.0.0.1').describe('Address the NGINX front binds: an IPv4 address, [IPv6] or * for all.'),
    environments: z.strictObject({ blue: environment, green: environment }).describe('The two colors traffic moves between.'),
    nginx: z
      .strictObject({
        driver: singleDriverName
          .default('local')
          .describe(
            'local: bgctl runs an NGINX master; docker: it drives a container; system: an NGINX that bgctl never starts or stops (a system service), which includes the two files bgctl writes in nginx.dir.',
          ),
        conf: z
          .string()
          .min(1)
          .nullable()
          .default(null)
          .describe(
            'system: the main config of that NGINX (e.g. /etc/nginx/nginx.conf); every change is tested with it whole (nginx -t -c CONF). Required with driver system.',
          ),
        reload: z
          .array(z.string().min(1))
          .min(1)
          .max(32)
          .default(['nginx', '-s', 'reload'])
          .describe(
            'system: the argv that makes that NGINX reload (never a shell string), e.g. ["systemctl", "reload", "nginx"]. Its exit code proves nothing: bgctl confirms every reload.',
          ),
        listenTls: z
          .boolean()
          .default(false)
          .describe('system: the server block that includes server.conf speaks HTTPS on `listen` (bgctl confirms and probes over TLS).'),
        serverName: serverName
          .nullable()
          .default(null)
          .describe(
            'system: the Host (and TLS SNI) bgctl sends to that server block, e.g. app.example.com. null: none (the default server).',
          ),
        dir: z
          .string()
          .min(1)
          .default('.bgctl/nginx')
          .describe(
            'NGINX prefix folder that bgctl owns (nginx.conf, conf.d/, logs/). docker: a host folder bind-mounted (as a folder) at containerDir; not used with dockerHost (the files live in the container).',
          ),
        binary: z.string().min(1).default('nginx').describe('local: the nginx executable (name on PATH or path).'),
        container: containerName.default('nginx').describe('docker: the container to `docker exec` into.'),
        containerDir: containerPath
          .default('/etc/nginx/bgctl')
          .describe(
            'docker: where nginx.dir is mounted inside the container (with dockerHost: the folder bgctl keeps its files in, there); NGINX runs there with -p DIR -c DIR/nginx.conf (see docker-compose.yml).',
          ),
        composeFile: z
          .string()
          .min(1)
          .nullable()
          .default(null)
          .describe(
            'docker: the compose file of the stack; `bgctl start` runs `docker compose -f FILE up -d --no-recreate`, `bgctl stop` runs `down`. null: start only applies to a running container and stop is refused.',
          ),
        service: composeService
          .default('nginx')
          .describe(
            'docker: the compose service of the NGINX container; before its first start the config is tested in a one-off container of it.',
          ),
        dockerHost: dockerHost.nullable().default(null).describe(DOCKER_HOST_DOC),
        targets: z
          .array(nginxTarget)
          .min(1, 'needs at least one target')
          .max(32, 'at most 32 targets')
          .nullable()
          .default(null)
          .describe(
            'A fleet: several NGINX instances that every step is applied to as one (nginx -t on all, then reload all, confirm all, or restore all). null: the single instance described by the keys above.',
          ),
        mode: z
          .enum(APPLY_MODES)
          .default('auto')
          .describe(
            'How weight changes reach NGINX. dynamic: njs reads the weights from a file per request, so a step, hold or rollback is a file write, never a reload (needs the njs module). reload: nginx -t + reload + confirm for every change. auto: dynamic when the njs module is available, else reload. Structural changes (servers, listen) always reload.',
          ),
        njsModule: njsModulePath
          .nullable()
          .default(null)
          .describe(
            'dynamic mode: the njs module NGINX loads (load_module), an absolute path (docker: inside the container). null: found from `nginx -V` (--modules-path), e.g. /usr/lib/nginx/modules/ngx_http_js_module.so.',
          ),
        weightsDir: weightsDirPath
          .nullable()
          .default(null)
          .describe(
            'dynamic mode: the folder of the weights file NGINX reads per request (absolute, or relative to this file), e.g. /run/bgctl when a parent of nginx.dir is not enterable by the NGINX workers (a root master runs them as nobody). bgctl creates it (0755). null: nginx.dir/conf.d. docker: a folder inside nginx.dir. Not with nginx.targets.',
          ),
        fallback: z
          .boolean()
          .default(true)
          .describe(
            'While one color carries 100%, the other color backs it up inside NGINX (its servers take over when every live server fails), so a dead live color fails over with no bgctl process running. Armed only when the other color was healthy at the last check. The fallback runs the other version.',
          ),
        maxFails: z.number().int().min(0).max(100).default(3).describe('Per-server max_fails before NGINX marks it down.'),
        failTimeout: z.number().int().min(1).max(3600).default(10).describe('Per-server fail_timeout in seconds.'),
        keepalive: z.number().int().min(0).max(1024).default(32).describe('Idle keep-alive connections kept per upstream.'),
        keepaliveTimeoutSeconds: z
          .number()
          .int()
          .min(1)
          .max(4)
          .default(4)
          .describe("Upstream keep-alive timeout; stays below Node's 5 s server default so NGINX never reuses a closing socket."),
        confirmTimeoutMs: z
          .number()
          .int()
          .min(200)
          .max(60000)
          .default(10000)
          .describe('How long to wait for NGINX to serve a new revision after a reload.'),
      })
      .prefault({})
      .describe('The NGINX front bgctl drives.'),
    migration: z
      .strictObject({
        steps: percentSteps.default([25, 50, 75, 100]).describe('Percentages of traffic the new color gets, step by step; ends at 100.'),
        stepSeconds: z.number().min(0).max(MAX_STEP_SECONDS).default(30).describe('How long each step is observed before the next.'),
        strategy: z
          .enum(STRATEGIES)
          .default('weighted')
          .describe('weighted (per request, exact shares) | sticky (per client: a cookie keeps each client on its color).'),
        maxExtendSeconds: z
          .number()
          .min(0)
          .max(86400)
          .default(120)
          .describe(
            'A step whose new color saw fewer than thresholds.minRequests requests (or whose access log could not be read) is extended up to this long, then rolled back: never promoted blind.',
          ),
        warmup: warmup,
      })
      .prefault({})
      .describe('How a gradual migration proceeds.'),
    probe: z
      .strictObject({
        intervalMs: z.number().int().min(50).max(60000).default(1000).describe('Time between health probe rounds during a step.'),
        timeoutMs: z.number().int().min(50).max(60000).default(2000).describe('Timeout of one probe attempt.'),
        failuresBeforeRollback: z
          .number()
          .int()
          .min(1)
          .max(100)
          .default(1)
          .describe('Consecutive failed probe rounds of the target color that trigger a rollback (1 = at once).'),
        waitHealthySeconds: z
          .number()
          .min(0)
          .max(3600)
          .default(60)
          .describe('deploy: how long to wait for the new color to become healthy.'),
      })
      .prefault({})
      .describe('Health probes.'),
    thresholds: z
      .strictObject({
        errorRate: z.number().min(0).max(1).default(0.05).describe('Share of 5xx answers from the new color that is too many.'),
        errorRateForSeconds: z
          .number()
          .min(0)
          .max(3600)
          .default(60)
          .describe('How long the error-rate breach must last (0 = act at once).'),
        p95LatencyMs: z.number().min(1).max(600000).default(1000).describe('p95 upstream latency of the new color that is too slow.'),
        latencyForSeconds: z.number().min(0).max(3600).default(30).describe('How long the latency breach must last.'),
        minRequests: z
          .number()
          .int()
          .min(0)
          .max(1_000_000)
          .default(20)
          .describe(
            'Fewer requests than this in a window decides nothing. 0: steps are judged on health probes alone when there is no traffic.',
          ),
        windowSeconds: z
          .number()
          .min(0.1)
          .max(3600)
          .default(10)
          .describe('Length of the sliding window the error rate and p95 are computed over (never reaching back before the step).'),
        checkIntervalMs: z
          .number()
          .int()
          .min(50)
          .max(60000)
          .default(100)
          .describe('How often the access log is read and the thresholds checked during a step.'),
        maxErrorRateRatio: z
          .number()
          .min(1)
          .max(1000)
          .nullable()
          .default(null)
          .describe(
            "Optional relative check: the new color's error rate may be at most this many times the stable color's in the same window (null = off).",
          ),
      })
      .prefault({})
      .describe('When real traffic says the new color misbehaves.'),
    routing: z
      .strictObject({
        forceHeader: headerName
          .nullable()
          .default('X-Bgctl-Color')
          .describe('Request header that sends a request to the color it names (blue|green), whatever the weights. null = off.'),
        forceCookie: cookieName
          .nullable()
          .default(null)
          .describe('Cookie that sends a request to the color it names, like forceHeader. null (the default) = off.'),
        forceSecret: secret
          .nullable()
          .default(null)
          .describe(
            'null (the default): bgctl makes a secret of its own (stateDir/force-secret, 0600). Either way a forced route needs the value COLOR:SECRET, from anywhere: loopback alone is never enough.',
          ),
      })
      .prefault({})
      .describe("Forced routes for testers and for bgctl's own probes of the idle color."),
    deploy: z
      .strictObject({
        command: z
          .array(argWord)
          .min(1, 'needs the program to run')
          .describe('argv (never a shell string) that puts a version onto a color; {{color}} and {{version}} are filled in.'),
        env: z
          .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'not an environment variable name'), argWord)
          .default({})
          .describe('Extra environment for the command; values are templated too.'),
        timeoutSeconds: z.number().min(1).max(7200).default(600).describe('How long the deploy command may run.'),
      })
      .optional()
      .describe('Optional: how a version gets onto a color.'),
    stateDir: z.string().min(1).default('.bgctl').describe('Folder for state.json, its backup, the lock and history.'),
    tls: z
      .strictObject({
        certificate: tlsPath.describe('PEM certificate (chain) of the HTTPS listen port; relative to the config file.'),
        key: tlsPath.describe('PEM private key of that certificate; checked (readable, matching) before anything is written.'),
        redirectFrom: port
          .nullable()
          .default(null)
          .describe('A plain-HTTP port that answers every request with a 308 redirect to HTTPS on `listen`. null: none.'),
      })
      .nullable()
      .default(null)
      .describe("Optional, bgctl's own NGINX (local and docker drivers): `listen` serves HTTPS with this certificate."),
  })
  .superRefine((cfg, ctx) => {
    if (cfg.tls && cfg.tls.redirectFrom === cfg.listen)
      ctx.addIssue({ code: 'custom', path: ['tls', 'redirectFrom'], message: 'must differ from listen (the HTTPS port)' });
    if (cfg.tls && cfg.nginx.targets !== null)
      ctx.addIssue({
        code: 'custom',
        path: ['tls'],
        message: 'not supported with nginx.targets (a fleet) yet: terminate TLS in front of the fleet',
      });
    if (cfg.nginx.driver === 'system') {
      if (cfg.nginx.conf === null)
        ctx.addIssue({ code: 'custom', path: ['nginx', 'conf'], message: 'required with driver system: the main config of that NGINX' });
      if (cfg.nginx.targets !== null)
        ctx.addIssue({
          code: 'custom',
          path: ['nginx', 'targets'],
          message: 'not supported with driver system yet: one system NGINX per config',
        });
      if (cfg.tls !== null)
        ctx.addIssue({
          code: 'custom',
          path: ['tls'],
          message: "driver system: TLS is the system NGINX's own (its server block); set nginx.listenTls: true instead",
        });
    }
    if (cfg.nginx.weightsDir !== null && cfg.nginx.targets !== null)
      ctx.addIssue({ code: 'custom', path: ['nginx', 'weightsDir'], message: 'not supported with nginx.targets (a fleet) yet' });
    for (const issue of targetConflicts(cfg))
      ctx.addIssue({ code: 'custom', path: ['nginx', 'targets', ...issue.path], message: issue.message });
    for (const issue of remoteIssues(cfg)) ctx.addIssue({ code: 'custom', path: ['nginx', ...issue.path], message: issue.message });
    if (cfg.tls && cfg.nginx.targets === null && cfg.nginx.driver === 'docker' && cfg.nginx.dockerHost !== null)
      ctx.addIssue({
        code: 'custom',
        path: ['tls'],
        message: 'not supported with nginx.dockerHost yet: the certificate would have to be in the container',
      });
    cfg.environments.green.servers.forEach((s, i) => {
      const same = cfg.environments.blue.servers.find((b) => sameServer(b, s));
      if (same !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['environments', 'green', 'servers', i],
          message: `${s} is also a blue server${same === s ? '' : ` (${same})`}; colors must not share servers`,
        });
      }
    });
  })
  .describe('bgctl configuration (bgctl.yaml)');

export type ConfigInput = z.input<typeof configSchema>;
export type Config = z.output<typeof configSchema>;

/** A loaded config plus where it came from; paths in it are already absolute. */
export interface LoadedConfig {
  readonly file: string;
  readonly baseDir: string;
  readonly config: Config;
}

export { VERSION_RE };

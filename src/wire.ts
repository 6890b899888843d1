import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { hostname, userInfo } from 'node:os';
import { actorOf } from './core/actor.js';
import { systemClock } from './adapters/clock.js';
import { ControlFiles } from './adapters/control-file.js';
import { ExecDeployRunner } from './adapters/deploy.js';
import { FileLock } from './adapters/lock.js';
import { ensureForceSecret } from './adapters/force-secret.js';
import { createLogger, type LogLevel } from './adapters/logger.js';
import { setupNginx } from './adapters/nginx/setup.js';
import { checkTls } from './adapters/tls-check.js';
import { FileStateStore } from './adapters/state-store.js';
import type { AppContext } from './app/context.js';
import { detectMode, type ApplyMode } from './app/mode.js';
import type { ProgressEvent, RenderedConfig, RenderRequest, Warmup } from './app/ports.js';
import { httpWarmup } from './adapters/warmup.js';
import { createReporter, type Streams } from './report/progress.js';
import type { Config, LoadedConfig } from './config/schema.js';
import { SINGLE_TARGET, nginxTargets, type NginxTargetConfig } from './config/targets.js';
import { renderConfig, type DynamicOptions } from './render/render.js';

/**
 * Wires the real adapters for a loaded config. Tests of the app layer wire fakes instead. Resolves
 * nginx.mode (auto/dynamic look for the njs module) so every config this process renders is for one mode.
 */
export async function wireContext(
  given: LoadedConfig,
  opts: { logLevel: LogLevel; json: boolean; signal: AbortSignal; streams: Streams; events: ProgressEvent[] },
): Promise<AppContext> {
  // forced routes and /__bgctl/ always need a secret: bgctl's own one when none is configured
  const loaded = await withForceSecret(given);
  const { config } = loaded;
  const logger = createLogger({ level: opts.logLevel, json: opts.json });
  // one NGINX (local or docker) or a fleet (nginx.targets), its probes and its access logs
  const targets = nginxTargets(config, loaded.baseDir);
  const { nginx, prober, traffic } = setupNginx(config, targets, logger);
  const mode = await detectMode(config.nginx.mode, nginx);
  logger.debug('apply mode', { mode: mode.mode, detail: mode.detail });
  // auto fell back to reload for a reason the operator can fix: said by every command, not only start
  if (mode.warning) logger.warn(`nginx.mode auto: reload mode, not dynamic: ${mode.warning}`);
  return {
    loaded,
    nginx,
    prober,
    store: new FileStateStore(config.stateDir),
    lock: new FileLock(config.stateDir, { logger }),
    traffic,
    deploy: config.deploy ? new ExecDeployRunner({ deploy: config.deploy, cwd: loaded.baseDir }) : null,
    clock: systemClock,
    logger,
    reporter: createReporter(opts.streams, opts.json, opts.events),
    mode,
    render:
      targets.length > 1
        ? (req) => renderFleet(config, targets, req, mode)
        : (req) => renderConfig(config, req, dynamicOf(mode, SINGLE_TARGET, weightsDirSeen(config))),
    signal: opts.signal,
    pid: process.pid,
    host: hostname(),
    newId: () => randomUUID().slice(0, 8),
    checkTls: () => checkTls(config, (msg, fields) => logger.warn(msg, fields)),
    control: new ControlFiles(config.stateDir),
    ...warmupOf(config),
    actor: actorOf(process.env, safeUser(), hostname()),
  };
}

/** The login name; a container may run as a uid with no passwd entry. */
function safeUser(): string | null {
  try {
    return userInfo().username;
  } catch {
    return null;
  }
}

/** migration.warmup when it is on and a forced-route header exists to send the requests with. */
function warmupOf(config: Config): { warmup?: Warmup } {
  const w = config.migration.warmup;
  const header = config.routing.forceHeader;
  if (!w.enabled || header === null) return {};
  const secret = config.routing.forceSecret;
  const system = config.nginx.driver === 'system';
  const host = system || config.listenAddress === '*' || config.listenAddress === '0.0.0.0' ? '127.0.0.1' : config.listenAddress;
  const https = system ? config.nginx.listenTls : config.tls !== null;
  return {
    warmup: httpWarmup({
      origin: `${https ? 'https' : 'http'}://${host}:${config.listen}`,
      serverName: system ? config.nginx.serverName : null,
      path: w.path,
      rps: w.rps,
      forceHeader: header,
      forceValue: (color) => (secret === null ? color : `${color}:${secret}`),
    }),
  };
}

/** The config with routing.forceSecret set: the configured one, else bgctl's own (stateDir/force-secret). */
export async function withForceSecret(loaded: LoadedConfig): Promise<LoadedConfig> {
  const { config } = loaded;
  if (config.routing.forceSecret !== null) return loaded;
  const forceSecret = await ensureForceSecret(config.stateDir);
  return { ...loaded, config: { ...config, routing: { ...config.routing, forceSecret } } };
}

/** What `renderConfig` needs for a target in `mode` (null: reload mode). */
function dynamicOf(mode: ApplyMode | null, target: string, weightsDir: string | null = null): DynamicOptions | null {
  return mode?.mode === 'dynamic' ? { module: mode.modules[target] ?? null, weightsDir, sharedDict: mode.sharedDict === true } : null;
}

/** nginx.weightsDir as NGINX sees it: docker, the same folder under the bind mount (load.ts keeps it inside nginx.dir). */
export function weightsDirSeen(config: Config): string | null {
  const { driver, dir, containerDir, weightsDir } = config.nginx;
  // a system NGINX's conf prefix is the operator's folder: njs is always told where the weights are
  if (driver === 'system') return weightsDir ?? dir;
  if (weightsDir === null || driver !== 'docker') return weightsDir;
  return path.posix.join(containerDir, path.relative(dir, weightsDir).split(path.sep).join('/'));
}

/** A fleet's step: the files of every target, each rendered with its own listen port and address (and njs module). */
export function renderFleet(
  config: Config,
  targets: readonly NginxTargetConfig[],
  req: RenderRequest,
  mode: ApplyMode | null = null,
): RenderedConfig {
  const base = renderConfig(config, req, dynamicOf(mode, targets[0]?.name ?? SINGLE_TARGET));
  const byTarget = Object.fromEntries(
    targets.map((t) => {
      const { main, site, js, configId } = renderConfig(
        { ...config, listen: t.listen, listenAddress: t.listenAddress },
        req,
        dynamicOf(mode, t.name),
      );
      return [t.name, js === undefined ? { main, site } : { main, site, js, configId }];
    }),
  );
  return { ...base, byTarget };
}

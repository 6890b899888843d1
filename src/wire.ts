import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { systemClock } from './adapters/clock.js';
import { ExecDeployRunner } from './adapters/deploy.js';
import { FileLock } from './adapters/lock.js';
import { createLogger, type LogLevel } from './adapters/logger.js';
import { setupNginx } from './adapters/nginx/setup.js';
import { FileStateStore } from './adapters/state-store.js';
import type { AppContext, RenderRequest } from './app/context.js';
import type { ProgressEvent, RenderedConfig } from './app/ports.js';
import { createReporter, type Streams } from './cli/output.js';
import type { Config, LoadedConfig } from './config/schema.js';
import { nginxTargets, type NginxTargetConfig } from './config/targets.js';
import { renderConfig } from './render/render.js';

/** Wires the real adapters for a loaded config. Tests of the app layer wire fakes instead. */
export function wireContext(
  loaded: LoadedConfig,
  opts: { logLevel: LogLevel; json: boolean; signal: AbortSignal; streams: Streams; events: ProgressEvent[] },
): AppContext {
  const { config } = loaded;
  const logger = createLogger({ level: opts.logLevel, json: opts.json });
  // one NGINX (local or docker) or a fleet (nginx.targets), its probes and its access logs
  const targets = nginxTargets(config, loaded.baseDir);
  const { nginx, prober, traffic } = setupNginx(config, targets, logger);
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
    render: targets.length > 1 ? (req) => renderFleet(config, targets, req) : (req) => renderConfig(config, req),
    signal: opts.signal,
    pid: process.pid,
    host: hostname(),
    newId: () => randomUUID().slice(0, 8),
  };
}

/** A fleet's step: the files of every target, each rendered with its own listen port and address. */
export function renderFleet(config: Config, targets: readonly NginxTargetConfig[], req: RenderRequest): RenderedConfig {
  const base = renderConfig(config, req);
  const byTarget = Object.fromEntries(
    targets.map((t) => {
      const { main, site } = renderConfig({ ...config, listen: t.listen, listenAddress: t.listenAddress }, req);
      return [t.name, { main, site }];
    }),
  );
  return { ...base, byTarget };
}

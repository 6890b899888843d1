import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { systemClock } from './adapters/clock.js';
import { ExecDeployRunner } from './adapters/deploy.js';
import { FileLock } from './adapters/lock.js';
import { createLogger, type LogLevel } from './adapters/logger.js';
import { LocalNginxDriver } from './adapters/nginx/local.js';
import { HttpProber } from './adapters/probe.js';
import { FileStateStore } from './adapters/state-store.js';
import { TrafficLog } from './adapters/traffic-log.js';
import type { AppContext } from './app/context.js';
import type { ProgressEvent } from './app/ports.js';
import { createReporter, type Streams } from './cli/output.js';
import type { LoadedConfig } from './config/schema.js';
import { UsageError } from './core/errors.js';
import { renderConfig } from './render/render.js';

/** Wires the real adapters for a loaded config. Tests of the app layer wire fakes instead. */
export function wireContext(
  loaded: LoadedConfig,
  opts: { logLevel: LogLevel; json: boolean; signal: AbortSignal; streams: Streams; events: ProgressEvent[] },
): AppContext {
  const { config } = loaded;
  const logger = createLogger({ level: opts.logLevel, json: opts.json });
  if (config.nginx.driver !== 'local') {
    throw new UsageError('nginx.driver: the docker driver is not available in this version; use driver: local');
  }
  // bgctl asks NGINX on loopback: the rendered config always listens there (see render/view.ts)
  const address = config.listenAddress;
  const listenHost = address.startsWith('127.') ? address : address === '[::1]' ? '::1' : '127.0.0.1';
  const nginx = new LocalNginxDriver({
    dir: config.nginx.dir,
    binary: config.nginx.binary,
    listenHost,
    listenPort: config.listen,
    confirmTimeoutMs: config.nginx.confirmTimeoutMs,
    logger,
  });
  return {
    loaded,
    nginx,
    prober: new HttpProber({
      environments: config.environments,
      timeoutMs: config.probe.timeoutMs,
      nginx: { host: listenHost, port: config.listen },
      routing: config.routing,
    }),
    store: new FileStateStore(config.stateDir),
    lock: new FileLock(config.stateDir, { logger }),
    traffic: new TrafficLog(nginx.accessLog, { blue: config.environments.blue.servers, green: config.environments.green.servers }),
    deploy: config.deploy ? new ExecDeployRunner({ deploy: config.deploy, cwd: loaded.baseDir }) : null,
    clock: systemClock,
    logger,
    reporter: createReporter(opts.streams, opts.json, opts.events),
    render: (req) => renderConfig(config, req),
    signal: opts.signal,
    pid: process.pid,
    host: hostname(),
    newId: () => randomUUID().slice(0, 8),
  };
}

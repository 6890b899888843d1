import path from 'node:path';
import type { Logger, NginxDriver, Prober, TrafficSource } from '../../app/ports.js';
import type { Config } from '../../config/schema.js';
import type { NginxTargetConfig } from '../../config/targets.js';
import { HttpProber } from '../probe.js';
import { TrafficLog } from '../traffic-log.js';
import { DockerNginxDriver } from './docker.js';
import { FleetDriver } from './fleet.js';
import { FleetTraffic } from './fleet-traffic.js';
import { LocalNginxDriver } from './local.js';
import { SystemNginxDriver } from './system.js';
import type { StagedNginx } from './sequence.js';
import { TargetsProber, dockerThroughProbe, type ThroughProbe } from './through.js';

/**
 * The NGINX side of the wiring: one driver per target (local or docker), a fleet around them when there
 * are several, probes through each, and a traffic source reading each target's access log (the docker
 * driver's is on the host, inside the bind-mounted folder).
 */
export interface NginxSetup {
  readonly nginx: NginxDriver;
  readonly prober: Prober;
  readonly traffic: TrafficSource;
}

/** bgctl asks a local NGINX on loopback: the rendered config always listens there (see render/view.ts). */
function loopbackOf(listenAddress: string): string {
  return listenAddress.startsWith('127.') ? listenAddress : listenAddress === '[::1]' ? '::1' : '127.0.0.1';
}

export function memberOf(t: NginxTargetConfig, config: Config, logger?: Logger): StagedNginx {
  const common = {
    name: t.name,
    confirmTimeoutMs: config.nginx.confirmTimeoutMs,
    njsModule: t.njsModule,
    secret: config.routing.forceSecret,
    ...(logger ? { logger } : {}),
  };
  if (t.driver === 'system' && t.system !== null) {
    return new SystemNginxDriver({
      ...common,
      dir: t.dir,
      weightsDir: config.nginx.weightsDir,
      conf: t.system.conf,
      reload: t.system.reload,
      binary: t.binary,
      listenPort: t.listen,
      tls: t.system.tls,
      serverName: t.system.serverName,
      versionCache: path.join(config.stateDir, 'nginx-version.json'),
    });
  }
  if (t.driver === 'docker') {
    return new DockerNginxDriver({
      ...common,
      dir: t.dir,
      weightsDir: config.nginx.weightsDir,
      container: t.container,
      containerDir: t.containerDir,
      composeFile: t.composeFile,
      service: t.service,
      listenPort: t.listen,
      tls: config.tls !== null,
    });
  }
  return new LocalNginxDriver({
    ...common,
    dir: t.dir,
    binary: t.binary,
    listenHost: loopbackOf(t.listenAddress),
    listenPort: t.listen,
    tls: config.tls !== null,
    versionCache: path.join(config.stateDir, 'nginx-version.json'),
    weightsDir: config.nginx.weightsDir,
  });
}

export function setupNginx(config: Config, targets: readonly NginxTargetConfig[], logger?: Logger): NginxSetup {
  const [first] = targets;
  if (first === undefined) throw new Error('no NGINX target');
  const members = targets.map((t) => memberOf(t, config, logger));
  const nginx = members.length === 1 && members[0] ? members[0] : new FleetDriver(members, logger);
  const direct = httpProber(config, first);
  const prober =
    targets.length === 1 && first.driver !== 'docker'
      ? direct
      : new TargetsProber(
          direct,
          targets.map((t) => ({ name: t.name, probe: throughOf(config, t) })),
        );
  const servers = { blue: config.environments.blue.servers, green: config.environments.green.servers };
  const logs = members.map((m) => new TrafficLog(m.accessLog, servers));
  const traffic = logs.length === 1 && logs[0] ? logs[0] : new FleetTraffic(logs);
  return { nginx, prober, traffic };
}

function httpProber(config: Config, t: NginxTargetConfig): HttpProber {
  return new HttpProber({
    environments: config.environments,
    timeoutMs: config.probe.timeoutMs,
    nginx: {
      host: t.system ? '127.0.0.1' : loopbackOf(t.listenAddress),
      port: t.listen,
      tls: t.system ? t.system.tls : config.tls !== null,
      serverName: t.system?.serverName ?? null,
    },
    routing: config.routing,
  });
}

function throughOf(config: Config, t: NginxTargetConfig): ThroughProbe {
  if (t.driver === 'docker') {
    return dockerThroughProbe({
      container: t.container,
      port: t.listen,
      tls: config.tls !== null,
      timeoutMs: config.probe.timeoutMs,
      environments: config.environments,
      routing: config.routing,
    });
  }
  const prober = httpProber(config, t);
  return (color) => prober.throughNginx(color);
}

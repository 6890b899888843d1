import path from 'node:path';
import type { Logger, NginxDriver, Prober, TrafficSource } from '../../app/ports.js';
import type { Config } from '../../config/schema.js';
import type { NginxTargetConfig } from '../../config/targets.js';
import { HttpProber } from '../probe.js';
import { TrafficLog } from '../traffic-log.js';
import { ContainerProber, containerThroughProbe } from './container-http.js';
import { ContainerTrafficLog } from './container-log.js';
import { ContainerShell } from './container-shell.js';
import { DockerClient } from './docker-client.js';
import { RemoteDockerNginxDriver } from './docker-remote.js';
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
 * driver's is on the host, inside the bind-mounted folder; behind a remote engine, nginx.dockerHost,
 * it is streamed from the container). A target behind an engine has one session into its container
 * (container-shell.ts) that its files, its status, its probes and `status`'s log window all go through.
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

export function memberOf(t: NginxTargetConfig, config: Config, logger?: Logger, shell = shellOf(t, logger)): StagedNginx {
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
  if (shell !== null) {
    return new RemoteDockerNginxDriver({ ...common, shell, containerDir: t.containerDir, listenPort: t.listen, tls: config.tls !== null });
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

/** The session into a target's container behind an engine (nginx.dockerHost); null: no such target. */
export function shellOf(t: NginxTargetConfig, logger?: Logger): ContainerShell | null {
  if (t.driver !== 'docker' || t.dockerHost === null) return null;
  return new ContainerShell(new DockerClient({ host: t.dockerHost, ...(logger ? { logger } : {}) }), t.container);
}

export function setupNginx(config: Config, targets: readonly NginxTargetConfig[], logger?: Logger): NginxSetup {
  const [first] = targets;
  if (first === undefined) throw new Error('no NGINX target');
  const shells = targets.map((t) => shellOf(t, logger));
  const members = targets.map((t, i) => memberOf(t, config, logger, shells[i] ?? null));
  const nginx = members.length === 1 && members[0] ? members[0] : new FleetDriver(members, logger);
  const through = targets.map((t, i) => ({ name: t.name, probe: throughOf(config, t, shells[i] ?? null) }));
  const [firstShell] = shells;
  // every target behind an engine: the colors' servers are probed from there too (this machine may not reach them)
  const direct =
    firstShell && shells.every((s) => s !== null)
      ? new ContainerProber(firstShell, { environments: config.environments, timeoutMs: config.probe.timeoutMs, through: at0(through) })
      : httpProber(config, first);
  const prober = targets.length === 1 && first.driver !== 'docker' ? direct : new TargetsProber(direct, through);
  const servers = { blue: config.environments.blue.servers, green: config.environments.green.servers };
  const logs = members.map((m, i) => {
    const shell = shells[i];
    return shell ? new ContainerTrafficLog(shell, m.accessLog, servers) : new TrafficLog(m.accessLog, servers);
  });
  const traffic = logs.length === 1 && logs[0] ? logs[0] : new FleetTraffic(logs);
  return { nginx, prober, traffic };
}

const at0 = (list: readonly { readonly probe: ThroughProbe }[]): ThroughProbe => {
  const [first] = list;
  if (first === undefined) throw new Error('no NGINX target');
  return first.probe;
};

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

function throughOf(config: Config, t: NginxTargetConfig, shell: ContainerShell | null): ThroughProbe {
  if (t.driver === 'docker') {
    const o = {
      container: t.container,
      port: t.listen,
      tls: config.tls !== null,
      timeoutMs: config.probe.timeoutMs,
      environments: config.environments,
      routing: config.routing,
    };
    return shell === null ? dockerThroughProbe(o) : containerThroughProbe(shell, o);
  }
  const prober = httpProber(config, t);
  return (color) => prober.throughNginx(color);
}

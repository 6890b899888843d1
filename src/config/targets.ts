import path from 'node:path';
import type { Config } from './schema.js';

/**
 * Pure: the NGINX instances a config describes. Without `nginx.targets` that is exactly one, named
 * `nginx`, from the keys under `nginx` (a single-NGINX config works as it always did). With targets,
 * each one's left-out keys take the value of the same key under `nginx` (and the top-level `listen`,
 * `listenAddress`), and its folder defaults to `nginx.dir/<name>`.
 */
export interface NginxTargetConfig {
  readonly name: string;
  readonly driver: 'local' | 'docker' | 'system';
  /** absolute: the prefix (local), the host side of the bind mount (docker), the folder of the two includes (system) */
  readonly dir: string;
  readonly listen: number;
  readonly listenAddress: string;
  readonly binary: string;
  readonly container: string;
  readonly containerDir: string;
  /** absolute, or null */
  readonly composeFile: string | null;
  readonly service: string;
  /** dynamic mode: the njs module path (inside the container for docker); null: detect */
  readonly njsModule: string | null;
  /** system: the NGINX's main config (absolute), how it reloads, whether its listen speaks TLS, the Host/SNI to send */
  readonly system: SystemTarget | null;
  /** docker: the engine (a DOCKER_HOST value); null: the client's default, with `dir` bind-mounted */
  readonly dockerHost: string | null;
}

export interface SystemTarget {
  readonly conf: string;
  readonly reload: readonly string[];
  readonly tls: boolean;
  readonly serverName: string | null;
}

export const SINGLE_TARGET = 'nginx';

/** A bare name ("nginx") is looked up on PATH; anything with a slash is a path relative to the config. */
const executable = (baseDir: string, binary: string): string =>
  binary.includes('/') || binary.includes('\\') ? path.resolve(baseDir, binary) : binary;

/** `baseDir`: the config file's folder (paths in the config are relative to it). */
export function nginxTargets(config: Config, baseDir: string): NginxTargetConfig[] {
  const n = config.nginx;
  const base: NginxTargetConfig = {
    name: SINGLE_TARGET,
    driver: n.driver,
    dir: path.resolve(baseDir, n.dir),
    listen: config.listen,
    listenAddress: config.listenAddress,
    binary: executable(baseDir, n.binary),
    container: n.container,
    containerDir: n.containerDir,
    composeFile: n.composeFile === null ? null : path.resolve(baseDir, n.composeFile),
    service: n.service,
    njsModule: n.njsModule,
    system:
      n.driver === 'system' && n.conf !== null
        ? { conf: path.resolve(baseDir, n.conf), reload: n.reload, tls: n.listenTls, serverName: n.serverName }
        : null,
    dockerHost: n.driver === 'docker' ? n.dockerHost : null,
  };
  if (n.targets === null) return [base];
  return n.targets.map((t) => {
    const composeFile = t.composeFile === undefined ? base.composeFile : t.composeFile;
    return {
      name: t.name,
      driver: t.driver ?? base.driver,
      dir: t.dir === undefined ? path.join(base.dir, t.name) : path.resolve(baseDir, t.dir),
      listen: t.listen ?? base.listen,
      listenAddress: t.listenAddress ?? base.listenAddress,
      binary: t.binary === undefined ? base.binary : executable(baseDir, t.binary),
      container: t.container ?? t.name,
      containerDir: t.containerDir ?? base.containerDir,
      composeFile: composeFile === null ? null : path.resolve(baseDir, composeFile),
      service: t.service ?? base.service,
      njsModule: t.njsModule === undefined ? base.njsModule : t.njsModule,
      system: null,
      dockerHost: (t.driver ?? base.driver) === 'docker' ? (t.dockerHost === undefined ? n.dockerHost : t.dockerHost) : null,
    };
  });
}

export interface TargetIssue {
  /** below `nginx.targets` */
  readonly path: (string | number)[];
  readonly message: string;
}

/**
 * Pure: fleet members that would fight over the same thing: a name, a folder, a container, or (local
 * targets, which share this machine's network) a listen address and port.
 */
export function targetConflicts(config: Config): TargetIssue[] {
  if (config.nginx.targets === null) return [];
  const targets = nginxTargets(config, '/');
  const issues: TargetIssue[] = [];
  const seen = new Map<string, string>();
  const claim = (key: string, i: number, field: string, what: string): void => {
    const owner = seen.get(key);
    if (owner === undefined) seen.set(key, targets[i]?.name ?? '');
    else issues.push({ path: [i, field], message: `${what} is also used by target ${owner}` });
  };
  targets.forEach((t, i) => {
    claim(`name:${t.name}`, i, 'name', `the name ${t.name}`);
    // a target behind an engine (dockerHost) keeps its files in its container, not in dir
    if (t.dockerHost === null) claim(`dir:${t.dir}`, i, 'dir', `the folder ${t.dir}`);
    if (t.driver === 'docker') {
      const engine = t.dockerHost === null ? '' : ` on ${t.dockerHost}`;
      claim(`container:${t.dockerHost ?? ''}:${t.container}`, i, 'container', `the container ${t.container}${engine}`);
    } else {
      // `*` takes the port on every address
      const others = targets.slice(0, i).filter((o) => o.driver === 'local' && o.listen === t.listen);
      const clash = others.find((o) => o.listenAddress === t.listenAddress || o.listenAddress === '*' || t.listenAddress === '*');
      if (clash) issues.push({ path: [i, 'listen'], message: `${t.listenAddress}:${t.listen} is also where target ${clash.name} listens` });
    }
  });
  return issues;
}

/**
 * Pure: what a target behind an engine (dockerHost) cannot have yet, as key paths below `nginx`:
 * everything that needs a folder shared with the container (a compose stack's bind mount, a weights
 * folder or TLS files under nginx.dir).
 */
export function remoteIssues(config: Config): TargetIssue[] {
  const n = config.nginx;
  const targets = nginxTargets(config, '/');
  const issues: TargetIssue[] = [];
  targets.forEach((t, i) => {
    if (t.dockerHost === null || t.composeFile === null) return;
    const own = n.targets?.[i]?.composeFile !== undefined;
    issues.push({
      path: n.targets === null || !own ? ['composeFile'] : ['targets', i, 'composeFile'],
      message: `not with dockerHost (${t.dockerHost}): bring the container up with that engine's own tools; bgctl writes its files into it and starts NGINX there`,
    });
  });
  if (targets.some((t) => t.dockerHost !== null)) {
    if (n.weightsDir !== null)
      issues.push({ path: ['weightsDir'], message: 'not supported with dockerHost yet (the weights file stays in nginx.containerDir)' });
  }
  return issues.filter((x, i) => issues.findIndex((y) => y.path.join('.') === x.path.join('.')) === i);
}

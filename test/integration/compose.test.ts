import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { request } from 'undici';
import { parse } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { startCommand } from '../../src/adapters/nginx/commands.js';
import { composeUpCommand, containerTargets } from '../../src/adapters/nginx/docker-commands.js';
import { loadConfig } from '../../src/config/load.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { freePort } from '../helpers/ports.js';

/**
 * docker-compose.yml (repository root) and the bgctl config shipped for it (examples/compose/bgctl.yaml)
 * must describe the same stack: checked here without an engine (bgctl's own config validation, and the
 * example app); compose-real.test.ts brings the stack up on a real one.
 */
const COMPOSE = path.join(REPO_ROOT, 'docker-compose.yml');
const EXAMPLE = path.join(REPO_ROOT, 'examples', 'compose');

interface Service {
  image?: string;
  build?: string | { context: string; dockerfile?: string; args?: Record<string, string> };
  container_name?: string;
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
  restart?: string;
  healthcheck?: { test: string[] };
  networks?: Record<string, { ipv4_address?: string }> | string[];
  working_dir?: string;
}

const compose = parse(await readFile(COMPOSE, 'utf8'), { merge: true }) as {
  name: string;
  services: Record<string, Service>;
  networks: Record<string, unknown>;
};
const loaded = await loadConfig(path.join(EXAMPLE, 'bgctl.yaml'));
const config = loaded.config;
const fromCompose = (p: string): string => path.resolve(REPO_ROOT, p);
const service = (name: string): Service => {
  const s = compose.services[name];
  if (!s) throw new Error(`docker-compose.yml has no service ${name}`);
  return s;
};

describe('docker-compose.yml and examples/compose/bgctl.yaml', () => {
  const children: { kill(): void }[] = [];
  afterAll(() => children.forEach((c) => c.kill()));

  it('parses, names its project, and every service has a healthcheck and a restart policy', () => {
    expect(compose.name).toBe('bgctl'); // one project whichever folder compose runs from (the deploy hook)
    expect(Object.keys(compose.services).sort()).toEqual(['app-blue', 'app-green', 'bgctl', 'nginx']);
    for (const [name, s] of Object.entries(compose.services)) {
      expect(s.healthcheck?.test[0], name).toBe('CMD');
      expect(s.restart, name).toBe('unless-stopped');
    }
  });

  it('the bgctl config passes bgctl’s own validation, with the docker driver pointing at this compose file', () => {
    expect(config.nginx.driver).toBe('docker');
    expect(path.resolve(loaded.baseDir, config.nginx.composeFile ?? '')).toBe(COMPOSE);
    expect(config.listenAddress).toBe('*'); // a published port reaches NGINX on the container's interface
  });

  it('nginx: the official image, the config folder mounted as a folder at containerDir, run the way bgctl expects', () => {
    const nginx = service(config.nginx.service);
    // the official image unless BGCTL_NGINX_IMAGE names another (offline: a locally built one)
    expect(nginx.image).toMatch(/^\$\{BGCTL_NGINX_IMAGE:-nginx:1\.\d+\}$/);
    expect(nginx.container_name).toBe(config.nginx.container);
    const mounts = (nginx.volumes ?? []).map((v) => v.split(':'));
    const mount = mounts.find(([, target]) => target === config.nginx.containerDir);
    expect(mount, 'a bind mount at nginx.containerDir').toBeDefined();
    expect(fromCompose(mount?.[0] ?? '')).toBe(config.nginx.dir);
    expect(mounts.filter(([, target]) => target?.startsWith(config.nginx.containerDir))).toHaveLength(1); // no single-file mounts into it
    // the very words the docker driver's reload/test use for the live config, plus foreground mode
    expect(nginx.command).toEqual(['nginx', ...startCommand(containerTargets(config.nginx.containerDir).live), '-g', 'daemon off;']);
    expect(nginx.ports).toContain(`\${BGCTL_HTTP_PORT:-${config.listen}}:${config.listen}`);
    expect(nginx.healthcheck?.test).toEqual(['CMD', 'curl', '-sS', '-o', '/dev/null', `http://127.0.0.1:${config.listen}/__bgctl/status`]);
    expect(Object.keys(nginx.depends_on ?? {}).sort()).toEqual(['app-blue', 'app-green']);
  });

  it('app-blue/app-green: at the addresses the config lists, healthchecked on its health path, version from APP_VERSION', () => {
    for (const color of ['blue', 'green'] as const) {
      const app = service(`app-${color}`);
      const env = config.environments[color];
      const networks = app.networks as Record<string, { ipv4_address: string }>;
      const address = Object.values(networks)[0]?.ipv4_address;
      expect(env.servers).toEqual([`${address}:${app.environment?.['PORT']}`]);
      expect(app.environment).toMatchObject({ APP_COLOR: color, APP_VERSION: expect.stringMatching(/^\$\{APP_VERSION[:-]/) });
      expect(app.healthcheck?.test.at(-1)).toBe(`http://127.0.0.1:${app.environment?.['PORT']}${env.health}`);
      const build = app.build as { context: string; args: Record<string, string> };
      expect(fromCompose(build.context)).toBe(path.join(EXAMPLE, 'app'));
      expect(build.args).toEqual({ NODE_IMAGE: '${BGCTL_NODE_IMAGE:-node:20-alpine}' });
    }
    const subnet = JSON.stringify(compose.networks);
    expect(subnet).toContain('172.28.0.0/24');
  });

  it('the deploy hook recreates the color’s app service of this stack with APP_VERSION', () => {
    const deploy = config.deploy;
    expect(deploy?.command).toEqual(['docker', 'compose', 'up', '-d', '--no-deps', 'app-{{color}}']);
    expect(deploy?.env['APP_VERSION']).toBe('{{version}}');
    expect(path.resolve(loaded.baseDir, deploy?.env['COMPOSE_FILE'] ?? '')).toBe(COMPOSE); // the hook runs in the config's folder
    for (const color of ['blue', 'green']) expect(compose.services[`app-${color}`]).toBeDefined();
    // bgctl start never recreates: a deployed app keeps its version
    expect(composeUpCommand(COMPOSE)).toContain('--no-recreate');
  });

  it('bgctl serve: the shipped config, the docker socket, the compose file where the hook looks for it', () => {
    const serve = service('bgctl');
    const command = serve.command ?? [];
    expect(command[0]).toBe('serve');
    const inContainer = command[command.indexOf('--config') + 1] ?? '';
    const mounts = (serve.volumes ?? []).map((v) => v.split(':'));
    const mount = mounts.find(([, target]) => target !== undefined && inContainer.startsWith(`${target}/`));
    expect(fromCompose(path.join(mount?.[0] ?? '', inContainer.slice((mount?.[1] ?? '').length)))).toBe(path.join(EXAMPLE, 'bgctl.yaml'));
    // COMPOSE_FILE (relative to the config's folder) resolves to the mounted compose file inside the container too
    const hookFile = path.posix.resolve(path.posix.dirname(inContainer), config.deploy?.env['COMPOSE_FILE'] ?? '');
    expect(mounts.find(([, target]) => target === hookFile)?.[0]).toBe('./docker-compose.yml');
    expect(mounts.map(([source]) => source)).toContain('/var/run/docker.sock');
    expect(command).toEqual(expect.arrayContaining(['--host', '0.0.0.0', '--api-port', '9000', '--monitor-port', '8090']));
    expect(serve.ports).toEqual(['127.0.0.1:${BGCTL_API_PORT:-9000}:9000', '127.0.0.1:${BGCTL_MONITOR_PORT:-8090}:8090']);
    expect(serve.environment).toHaveProperty('BGCTL_API_TOKEN');
    expect(serve.depends_on).toEqual({ nginx: { condition: 'service_healthy' } });
    const build = serve.build as { context: string; dockerfile: string };
    expect(existsSync(path.join(fromCompose(build.context), build.dockerfile))).toBe(true);
  });

  it('the example app reports the version it was given on /health', async () => {
    const dockerfile = await readFile(path.join(EXAMPLE, 'app', 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^CMD \["node", "server\.mjs"\]$/m);
    const port = await freePort();
    const app = execa(process.execPath, [path.join(EXAMPLE, 'app', 'server.mjs')], {
      env: { APP_COLOR: 'green', APP_VERSION: '3.4.5', PORT: String(port), HOST: '127.0.0.1' },
      reject: false,
    });
    children.push(app);
    await expect
      .poll(
        async () => {
          try {
            const res = await request(`http://127.0.0.1:${port}/health`);
            return res.statusCode === 200 ? await res.body.json() : null;
          } catch {
            return null;
          }
        },
        { timeout: 10_000 },
      )
      .toEqual({ status: 'ok', color: 'green', version: '3.4.5' });
    app.kill('SIGTERM');
    expect((await app).exitCode).toBe(0);
  });
});

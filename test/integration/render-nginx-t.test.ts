import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Color } from '../../src/core/color.js';
import { weightsFor } from '../../src/core/weights.js';
import { configSchema, type ConfigInput } from '../../src/config/schema.js';
import { renderConfig } from '../../src/render/render.js';
import { freePort } from '../helpers/ports.js';
import { cleanupTmpDirs, makeTmpDir } from '../helpers/tmp.js';

// Every rendered config must pass the real `nginx -t` (argv, never a shell). Nothing is started:
// -t parses, resolves upstream host names and creates temp/*, but binds no port.

const NGINX = process.env.BGCTL_NGINX ?? 'nginx';

let listen = 0;
beforeAll(async () => {
  listen = await freePort();
});
afterAll(cleanupTmpDirs);

async function nginxTest(
  environments: Environments,
  strategy: 'weighted' | 'sticky',
  growing: Color,
  percent: number,
  extra: Partial<ConfigInput> = {},
  subdir = '.',
) {
  const config = configSchema.parse({ listen, environments, migration: { strategy }, ...extra });
  const rendered = renderConfig(config, {
    weights: weightsFor(growing, percent),
    revision: percent + 1,
    strategy,
    stable: growing === 'green' ? 'blue' : 'green',
    growing,
  });
  const dir = await makeTmpDir('render');
  // the driver's job in real life: the prefix with logs/ and temp/ (NGINX creates temp/* itself)
  const tree = path.join(dir, subdir);
  await mkdir(path.join(tree, 'conf.d'), { recursive: true });
  await mkdir(path.join(dir, 'logs'));
  await mkdir(path.join(dir, 'temp'));
  await writeFile(path.join(tree, 'nginx.conf'), rendered.main);
  await writeFile(path.join(tree, 'conf.d', 'bgctl.conf'), rendered.site);
  const conf = path.join(tree, 'nginx.conf');
  return execa(NGINX, ['-t', '-p', dir, '-c', conf, '-e', path.join(dir, 'logs', 'error.log')], { reject: false, all: true });
}

type Environments = ConfigInput['environments'];

const ENVIRONMENTS = {
  ipv4: { blue: { servers: ['127.0.0.1:8081'] }, green: { servers: ['127.0.0.1:8082'] } },
  ipv6: { blue: { servers: ['[::1]:8081', '[::1]:8083'] }, green: { servers: ['[::1]:8082'], health: '/healthz' } },
  hostname: {
    blue: { servers: ['localhost:8081', '127.0.0.1:8083'] },
    green: { servers: ['localhost:8082', '[::1]:8084', '127.0.0.2:8085'], health: '/status/ready' },
  },
  // the exact split over 3 + 3 servers, IPv6 written the long way (NGINX prints it short)
  mixed: {
    blue: { servers: ['127.0.0.1:8081', '[0:0:0:0:0:0:0:1]:8083', '127.0.0.3:8085'] },
    green: { servers: ['[::ffff:127.0.0.1]:8082', '127.0.0.2:8084', '[::1]:8086'] },
  },
} satisfies Record<string, Environments>;

const SECRET = 'S3cret-token_0123.4567~89';
const ROUTINGS = {
  'default header': {},
  'header and cookie': { forceCookie: 'bgctl-force' },
  'header and cookie with a secret': { forceCookie: 'bgctl_force', forceSecret: SECRET },
  'cookie only with a secret': { forceHeader: null, forceCookie: 'Route-To', forceSecret: SECRET },
  'no forced routes': { forceHeader: null },
} satisfies Record<string, ConfigInput['routing']>;

describe('rendered configs pass nginx -t', () => {
  const cases = (Object.keys(ENVIRONMENTS) as (keyof typeof ENVIRONMENTS)[]).flatMap((servers) =>
    (['weighted', 'sticky'] as const).flatMap((strategy) => [0, 25, 50, 100].map((percent) => ({ servers, strategy, percent }))),
  );

  it.each(cases)('$servers servers, $strategy, green at $percent%', async ({ servers, strategy, percent }) => {
    const result = await nginxTest(ENVIRONMENTS[servers], strategy, 'green', percent);
    expect(result.all).toContain('test is successful');
    expect(result.exitCode).toBe(0);
  });

  it.each([0, 25, 100])('green → blue at %i%%', async (percent) => {
    const result = await nginxTest(ENVIRONMENTS.hostname, 'weighted', 'blue', percent);
    expect(result.exitCode, result.all).toBe(0);
  });

  it.each([
    { listenAddress: '*' },
    { listenAddress: '[::1]' },
    { nginx: { keepalive: 0, maxFails: 0, failTimeout: 1, keepaliveTimeoutSeconds: 1 } },
  ])('with %o', async (extra) => {
    const result = await nginxTest(ENVIRONMENTS.ipv4, 'sticky', 'green', 25, extra);
    expect(result.exitCode, result.all).toBe(0);
  });

  const routed = (['ipv4', 'hostname', 'mixed'] as const).flatMap((servers) =>
    (['weighted', 'sticky'] as const).flatMap((strategy) =>
      (Object.keys(ROUTINGS) as (keyof typeof ROUTINGS)[]).map((routing) => ({ servers, strategy, routing })),
    ),
  );
  it.each(routed)('forced routes ($routing): $servers servers, $strategy, green at 50%', async ({ servers, strategy, routing }) => {
    const result = await nginxTest(ENVIRONMENTS[servers], strategy, 'green', 50, { routing: ROUTINGS[routing] });
    expect(result.exitCode, result.all).toBe(0);
  });

  it.each([
    { strategy: 'weighted', percent: 1 },
    { strategy: 'weighted', percent: 33 },
    { strategy: 'weighted', percent: 99 },
    { strategy: 'sticky', percent: 1 },
    { strategy: 'sticky', percent: 99 },
  ] as const)('mixed servers, $strategy, green at $percent%', async ({ strategy, percent }) => {
    const result = await nginxTest(ENVIRONMENTS.mixed, strategy, 'green', percent);
    expect(result.exitCode, result.all).toBe(0);
  });

  it('as a candidate tree: include resolves next to candidate/nginx.conf', async () => {
    const result = await nginxTest(ENVIRONMENTS.ipv4, 'weighted', 'green', 25, {}, 'candidate');
    expect(result.exitCode, result.all).toBe(0);
  });
});

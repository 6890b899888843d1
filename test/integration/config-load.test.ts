import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { writeInitConfig } from '../../src/adapters/init-file.js';
import { INIT_DEFAULTS, renderInitConfig } from '../../src/config/init.js';
import { loadConfig, resolveConfigPath } from '../../src/config/load.js';
import { UsageError } from '../../src/core/errors.js';
import { writeConfig } from '../helpers/fixture.js';
import { cleanupTmpDirs, makeTmpDir } from '../helpers/tmp.js';

const YAML_CONFIG = `
listen: 18080
environments:
  blue: { servers: ["127.0.0.1:18081"] }
  green: { servers: ["127.0.0.1:18082"] }
nginx: { dir: run/nginx }
stateDir: ../shared-state
`;

async function failure(promise: Promise<unknown>): Promise<UsageError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(UsageError);
  return error as UsageError;
}

let dir: string;
beforeEach(async () => {
  dir = await makeTmpDir('config-load');
});
afterAll(cleanupTmpDirs);

describe('loadConfig', () => {
  it('loads YAML, resolving paths against the config file folder, not cwd', async () => {
    await mkdir(path.join(dir, 'etc'));
    const file = path.join(dir, 'etc', 'bgctl.yaml');
    await writeFile(file, YAML_CONFIG);
    expect(process.cwd()).not.toBe(path.join(dir, 'etc'));
    const loaded = await loadConfig(file);
    expect(loaded.file).toBe(file);
    expect(loaded.baseDir).toBe(path.join(dir, 'etc'));
    expect(loaded.config.listen).toBe(18080);
    expect(loaded.config.nginx.dir).toBe(path.join(dir, 'etc', 'run', 'nginx'));
    expect(loaded.config.stateDir).toBe(path.join(dir, 'shared-state'));
    expect(loaded.config.nginx.binary).toBe('nginx'); // a bare name stays a PATH lookup
  });

  it('loads JSON (.json) and keeps absolute paths as they are', async () => {
    const file = path.join(dir, 'bgctl.json');
    const config = {
      environments: { blue: { servers: ['127.0.0.1:1'] }, green: { servers: ['127.0.0.1:2'] } },
      stateDir: '/var/lib/bgctl',
      nginx: { binary: './bin/nginx' },
    };
    await writeFile(file, JSON.stringify(config));
    const loaded = await loadConfig(file);
    expect(loaded.config.stateDir).toBe('/var/lib/bgctl');
    expect(loaded.config.nginx.dir).toBe(path.join(dir, '.bgctl', 'nginx'));
    expect(loaded.config.nginx.binary).toBe(path.join(dir, 'bin', 'nginx'));
  });

  it('loads what `bgctl init` writes (.yml too)', async () => {
    const file = path.join(dir, 'bgctl.yml');
    await writeInitConfig(file, renderInitConfig(INIT_DEFAULTS), { force: false });
    const loaded = await loadConfig(file);
    expect(loaded.config.environments.green.servers).toEqual(['127.0.0.1:8082']);
    expect(loaded.config.stateDir).toBe(path.join(dir, '.bgctl'));
  });

  it('reports broken YAML as one line with file:line:col and the reason', async () => {
    const file = path.join(dir, 'bgctl.yaml');
    await writeFile(file, 'listen: 8080\nenvironments:\n  blue: { servers: ["127.0.0.1:1"]\n  green: 1\n');
    const error = await failure(loadConfig(file));
    expect(error.message).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: invalid YAML: \\S`));
    expect(error.message).not.toContain('\n');
  });

  it('points at the duplicated key in YAML', async () => {
    const file = path.join(dir, 'bgctl.yaml');
    await writeFile(file, 'listen: 1\nlisten: 2\n');
    expect((await failure(loadConfig(file))).message).toBe(`${file}:2:1: invalid YAML: Map keys must be unique`);
  });

  it('reports broken JSON with file:line:col', async () => {
    const file = path.join(dir, 'bgctl.json');
    await writeFile(file, '{\n  "listen": 8080,\n  "environments": }\n');
    const error = await failure(loadConfig(file));
    expect(error.message).toMatch(/bgctl\.json:3:19: invalid JSON: \S/);
    expect(error.message).not.toContain('\n');
  });

  it('names the file and key path of an invalid value', async () => {
    const file = path.join(dir, 'bgctl.yaml');
    await writeFile(file, YAML_CONFIG.replace('127.0.0.1:18082', '127.0.0.1:80; include /etc/passwd'));
    const error = await failure(loadConfig(file));
    // file:line:col of the value in the YAML, then the key path
    expect(error.message).toMatch(
      new RegExp(`^${file.replace(/[.]/g, '\\.')}:\\d+:\\d+: environments\\.green\\.servers\\[0\\]: not a host:port`),
    );
  });

  it('explains a missing file with a hint to run init', async () => {
    const error = await failure(loadConfig(path.join(dir, 'nope', 'bgctl.yaml')));
    expect(error.message).toContain('not found');
    expect(error.message).toContain(path.join(dir, 'nope', 'bgctl.yaml'));
    expect(error.hint).toBe('run `bgctl init` to write one, or pass --config PATH');
  });

  it.each(['', '   \n', '# only a comment\n'])('refuses an empty file %j', async (text) => {
    const file = path.join(dir, 'bgctl.yaml');
    await writeFile(file, text);
    expect((await failure(loadConfig(file))).message).toMatch(/bgctl\.yaml: the config file (is empty|has no settings)/);
  });

  it('refuses other extensions and folders', async () => {
    await writeFile(path.join(dir, 'bgctl.toml'), 'listen = 1');
    expect((await failure(loadConfig(path.join(dir, 'bgctl.toml')))).message).toMatch(/unsupported config file extension ".toml"/);
    await mkdir(path.join(dir, 'd.yaml'));
    expect((await failure(loadConfig(path.join(dir, 'd.yaml')))).message).toMatch(/is a folder/);
  });
});

describe('test fixture (test/helpers/fixture.ts)', () => {
  it.each(['bgctl.yaml', 'bgctl.json'])('writes a valid %s with nginx.dir and stateDir inside the folder', async (name) => {
    const file = await writeConfig(dir, {
      blue: 18081,
      green: ['127.0.0.1:18082'],
      listen: 18080,
      file: name,
      overrides: { migration: { steps: [100] } },
    });
    const { config } = await loadConfig(file);
    expect(config.environments.blue.servers).toEqual(['127.0.0.1:18081']);
    expect(config.nginx.dir).toBe(path.join(dir, 'nginx'));
    expect(config.stateDir).toBe(path.join(dir, 'state'));
    expect(config.migration).toEqual({
      steps: [100],
      stepSeconds: 1,
      strategy: 'weighted',
      maxExtendSeconds: 5,
      warmup: { enabled: false, rps: 5, path: '/' },
    });
    expect(config.probe.intervalMs).toBe(200);
  });
});

describe('resolveConfigPath', () => {
  it('prefers --config, then BGCTL_CONFIG, then ./bgctl.yaml, resolved against cwd', () => {
    const env = { BGCTL_CONFIG: 'from-env/bgctl.json' };
    expect(resolveConfigPath({ flag: 'x/c.yaml', env, cwd: dir })).toBe(path.join(dir, 'x', 'c.yaml'));
    expect(resolveConfigPath({ env, cwd: dir })).toBe(path.join(dir, 'from-env', 'bgctl.json'));
    expect(resolveConfigPath({ env: { BGCTL_CONFIG: '/etc/bgctl.yaml' }, cwd: dir })).toBe('/etc/bgctl.yaml');
    expect(resolveConfigPath({ env: {}, cwd: dir })).toBe(path.join(dir, 'bgctl.yaml'));
    expect(resolveConfigPath({ env: { BGCTL_CONFIG: '' }, cwd: dir })).toBe(path.join(dir, 'bgctl.yaml'));
    expect(() => resolveConfigPath({ flag: '', env, cwd: dir })).toThrow(UsageError);
  });

  it('loads the file BGCTL_CONFIG names', async () => {
    await mkdir(path.join(dir, 'conf'));
    await writeFile(path.join(dir, 'conf', 'prod.yaml'), YAML_CONFIG);
    const file = resolveConfigPath({ env: { BGCTL_CONFIG: 'conf/prod.yaml' }, cwd: dir });
    const loaded = await loadConfig(file);
    expect(loaded.config.nginx.dir).toBe(path.join(dir, 'conf', 'run', 'nginx'));
  });
});

describe('writeInitConfig', () => {
  it('refuses to overwrite without --force, overwrites with it, leaves no temp files', async () => {
    const file = path.join(dir, 'bgctl.yaml');
    await writeInitConfig(file, 'a: 1\n', { force: false });
    const error = await failure(writeInitConfig(file, 'b: 2\n', { force: false }));
    expect(error.message).toBe('bgctl.yaml already exists; use --force to overwrite');
    await writeInitConfig(file, 'b: 2\n', { force: true });
    const { readFile, readdir } = await import('node:fs/promises');
    expect(await readFile(file, 'utf8')).toBe('b: 2\n');
    expect(await readdir(dir)).toEqual(['bgctl.yaml']);
  });

  it('refuses a non-YAML file name', async () => {
    const error = await failure(writeInitConfig(path.join(dir, 'bgctl.json'), 'a: 1\n', { force: false }));
    expect(error.message).toMatch(/writes YAML/);
  });
});

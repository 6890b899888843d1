import { describe, expect, it } from 'vitest';
import { withDockerHost } from '../../src/config/load.js';
import { nginxTargets } from '../../src/config/targets.js';
import { validateConfig } from '../../src/config/validate.js';
import { UsageError } from '../../src/core/errors.js';

const base = {
  listen: 8080,
  environments: { blue: { servers: ['127.0.0.1:8081'] }, green: { servers: ['127.0.0.1:8082'] } },
};

describe('nginx targets', () => {
  it('a config without targets is one instance, exactly as before', () => {
    const c = validateConfig({ ...base, nginx: { dir: 'ng', binary: './bin/nginx' } });
    expect(c.nginx.targets).toBeNull();
    expect(nginxTargets(c, '/srv/app')).toEqual([
      {
        name: 'nginx',
        driver: 'local',
        dir: '/srv/app/ng',
        listen: 8080,
        listenAddress: '127.0.0.1',
        binary: '/srv/app/bin/nginx',
        container: 'nginx',
        containerDir: '/etc/nginx/bgctl',
        composeFile: null,
        service: 'nginx',
        njsModule: null,
        system: null,
        dockerHost: null,
      },
    ]);
  });

  it('fleet targets take what they leave out from nginx.* (dir: nginx.dir/<name>; container: the name)', () => {
    const c = validateConfig({
      ...base,
      nginx: {
        dir: 'fleet',
        composeFile: 'compose.yml',
        targets: [
          { name: 'edge-1' },
          { name: 'edge-2', listen: 9090, dir: '/var/lib/edge-2' },
          { name: 'edge-3', driver: 'docker', containerDir: '/srv/bg', composeFile: null },
        ],
      },
    });
    const t = nginxTargets(c, '/srv/app');
    expect(t.map((x) => [x.name, x.driver, x.dir, x.listen, x.container, x.containerDir, x.composeFile])).toEqual([
      ['edge-1', 'local', '/srv/app/fleet/edge-1', 8080, 'edge-1', '/etc/nginx/bgctl', '/srv/app/compose.yml'],
      ['edge-2', 'local', '/var/lib/edge-2', 9090, 'edge-2', '/etc/nginx/bgctl', '/srv/app/compose.yml'],
      ['edge-3', 'docker', '/srv/app/fleet/edge-3', 8080, 'edge-3', '/srv/bg', null],
    ]);
  });

  it('refuses targets that would fight over a name, a folder, a container or a local listen port', () => {
    const refuse = (targets: unknown[]): string => {
      try {
        validateConfig({ ...base, nginx: { targets } }, 'bgctl.yaml');
      } catch (e) {
        expect(e).toBeInstanceOf(UsageError);
        return (e as UsageError).message;
      }
      throw new Error('accepted');
    };
    expect(
      refuse([
        { name: 'a', listen: 1 },
        { name: 'a', listen: 2 },
      ]),
    ).toMatch(/nginx\.targets\[1\]\.name: the name a is also used by target a/);
    expect(
      refuse([
        { name: 'a', listen: 1, dir: 'x' },
        { name: 'b', listen: 2, dir: 'x' },
      ]),
    ).toMatch(/nginx\.targets\[1\]\.dir: /);
    expect(refuse([{ name: 'a' }, { name: 'b' }])).toMatch(/nginx\.targets\[1\]\.listen: 127\.0\.0\.1:8080 is also where target a listens/);
    expect(
      refuse([
        { name: 'a', listenAddress: '*' },
        { name: 'b', listenAddress: '127.0.0.2' },
      ]),
    ).toMatch(/targets\[1\]\.listen/);
    expect(
      refuse([
        { name: 'a', driver: 'docker', container: 'c' },
        { name: 'b', driver: 'docker', container: 'c' },
      ]),
    ).toMatch(/targets\[1\]\.container: the container c is also used by target a/);
    // containers have their own network: the same port is fine
    expect(() => validateConfig({ ...base, nginx: { driver: 'docker', targets: [{ name: 'a' }, { name: 'b' }] } })).not.toThrow();
    expect(refuse([])).toMatch(/nginx\.targets: needs at least one target/);
    expect(refuse([{ name: '-x' }])).toMatch(/nginx\.targets\[0\]\.name: not a target name/);
  });

  it('refuses a containerDir that is relative, climbs out or holds odd characters', () => {
    for (const containerDir of ['etc/nginx', '/etc/../root', '/etc/nginx bgctl', '/etc/$x']) {
      expect(() => validateConfig({ ...base, nginx: { containerDir } }), containerDir).toThrow(/nginx\.containerDir: /);
    }
  });

  it('dockerHost: under nginx or per target, a DOCKER_HOST value; only docker targets get one', () => {
    const c = validateConfig({
      ...base,
      nginx: {
        driver: 'docker',
        dockerHost: 'ssh://deploy@edge.example.com:2222',
        targets: [
          { name: 'edge-1' },
          { name: 'edge-2', dockerHost: 'unix:///run/docker-2.sock' },
          { name: 'edge-3', dockerHost: null },
          { name: 'edge-4', driver: 'local', listen: 9000 },
        ],
      },
    });
    expect(nginxTargets(c, '/srv').map((t) => [t.name, t.dockerHost])).toEqual([
      ['edge-1', 'ssh://deploy@edge.example.com:2222'],
      ['edge-2', 'unix:///run/docker-2.sock'],
      ['edge-3', null],
      ['edge-4', null],
    ]);
    for (const ok of [
      'unix:///var/run/docker.sock',
      'tcp://10.0.0.5:2376',
      'tcp://[::1]:2375',
      'ssh://host',
      'ssh://root@127.0.0.1:2222',
    ]) {
      expect(validateConfig({ ...base, nginx: { driver: 'docker', dockerHost: ok } }).nginx.dockerHost, ok).toBe(ok);
    }
    for (const bad of [
      '/var/run/docker.sock',
      'unix://relative',
      'tcp://host',
      'ssh://a b@host',
      'ssh://host:0',
      'ssh://-oProxyCommand=x',
      'ssh://-oProxyCommand',
      'tcp://-h:1',
      'npipe:////./pipe/x',
      'unix:///a/../b',
    ]) {
      expect(() => validateConfig({ ...base, nginx: { driver: 'docker', dockerHost: bad } }), bad).toThrow(/nginx\.dockerHost: /);
    }
  });

  it('the same container name on two engines is two containers; a folder is not claimed by a target behind an engine', () => {
    const two = (a: Record<string, unknown>, b: Record<string, unknown>) =>
      validateConfig({
        ...base,
        nginx: {
          driver: 'docker',
          targets: [
            { name: 'a', container: 'c', ...a },
            { name: 'b', container: 'c', ...b },
          ],
        },
      });
    expect(() => two({ dockerHost: 'unix:///run/a.sock' }, { dockerHost: 'unix:///run/b.sock' })).not.toThrow();
    expect(() => two({ dockerHost: 'unix:///run/a.sock', dir: 'x' }, { dockerHost: 'ssh://h', dir: 'x' })).not.toThrow();
    expect(() => two({ dockerHost: 'unix:///run/a.sock' }, { dockerHost: 'unix:///run/a.sock' })).toThrow(
      /targets\[1\]\.container: the container c on unix:\/\/\/run\/a\.sock is also used by target a/,
    );
  });

  it('refuses with dockerHost what needs a folder shared with the container: a compose file, a weights folder, TLS files', () => {
    const refuse = (nginx: Record<string, unknown>, more: Record<string, unknown> = {}): string => {
      try {
        validateConfig({ ...base, ...more, nginx: { driver: 'docker', dockerHost: 'ssh://h', ...nginx } }, 'bgctl.yaml');
      } catch (e) {
        return (e as Error).message;
      }
      throw new Error('accepted');
    };
    expect(refuse({ composeFile: 'compose.yml' })).toMatch(/nginx\.composeFile: not with dockerHost \(ssh:\/\/h\)/);
    expect(refuse({ targets: [{ name: 'a', composeFile: 'a.yml' }] })).toMatch(/nginx\.targets\[0\]\.composeFile: not with dockerHost/);
    expect(refuse({ weightsDir: '/run/bgctl' })).toMatch(/nginx\.weightsDir: not supported with dockerHost/);
    expect(refuse({}, { tls: { certificate: 'a.crt', key: 'a.key' } })).toMatch(/tls: not supported with nginx\.dockerHost/);
  });

  it('BGCTL_DOCKER_HOST is nginx.dockerHost for a run (empty: the file’s); a bad value names the variable', () => {
    const raw = { ...base, nginx: { driver: 'docker', dockerHost: 'unix:///run/a.sock' } };
    expect(withDockerHost(raw, undefined)).toBe(raw);
    expect(withDockerHost(raw, ' ')).toBe(raw);
    expect(validateConfig(withDockerHost(raw, 'ssh://ci@edge-1')).nginx.dockerHost).toBe('ssh://ci@edge-1');
    expect(validateConfig(withDockerHost(base, 'ssh://ci@edge-1')).nginx.dockerHost).toBe('ssh://ci@edge-1');
    expect(() => withDockerHost(raw, 'ssh://ci@edge-1 -oProxyCommand=x')).toThrow(/^BGCTL_DOCKER_HOST: .* is not a DOCKER_HOST value/);
  });
});

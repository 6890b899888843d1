import type { Stats } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { nginxLayout } from '../../src/adapters/nginx/files.js';
import { blockedBy, notAvailable, workersBlocked } from '../../src/adapters/nginx/njs.js';
import { chooseMode } from '../../src/app/mode.js';
import { checkWeightsDir, resolvePaths } from '../../src/config/load.js';
import { configSchema, type ConfigInput } from '../../src/config/schema.js';
import { ExitCode } from '../../src/core/errors.js';
import { weightsFor } from '../../src/core/weights.js';
import { renderConfig, type RenderRequest } from '../../src/render/render.js';
import { weightsDirSeen } from '../../src/wire.js';

// nginx.weightsDir: where the weights file lives when NGINX's workers cannot enter nginx.dir. NGINX
// itself reads it in test/integration/weights-dir.test.ts.

const MODULE = '/usr/lib/nginx/modules/ngx_http_js_module.so';

const config = (over: Partial<ConfigInput> = {}) =>
  configSchema.parse({
    environments: { blue: { servers: ['127.0.0.1:8081'] }, green: { servers: ['127.0.0.1:8082'] } },
    routing: { forceSecret: 'own-secret_0123456789' },
    ...over,
  });

const step: RenderRequest = { weights: weightsFor('green', 25), revision: 3, strategy: 'weighted', stable: 'blue', growing: 'green' };

describe('nginx.weightsDir', () => {
  it('tells njs the folder in the site config, which changes the structure id; absent: no such line', () => {
    const plain = renderConfig(config(), step, { module: MODULE });
    const moved = renderConfig(config(), step, { module: MODULE, weightsDir: '/run/bgctl' });
    expect(plain.site).not.toContain('bgctl_weights_dir');
    expect(moved.site).toContain('js_var $bgctl_weights_dir /run/bgctl;');
    expect(moved.configId).not.toBe(plain.configId);
    expect(moved.js).toContain('r.variables.bgctl_weights_dir');
    expect(() => renderConfig(config(), step, { module: MODULE, weightsDir: '/run/x;evil' })).toThrow(/impossible weights folder/);
    expect(() => renderConfig(config(), step, { module: MODULE, weightsDir: 'relative' })).toThrow(/impossible weights folder/);
  });

  it('accepts plain paths only, and no fleet', () => {
    expect(config({ nginx: { weightsDir: '/run/bgctl' } }).nginx.weightsDir).toBe('/run/bgctl');
    expect(config().nginx.weightsDir).toBeNull();
    for (const bad of ['/run/bg ctl', '/run/a;b', '/run/../etc', '/run/"x"', ''])
      expect(() => config({ nginx: { weightsDir: bad } }), bad).toThrow();
    expect(() =>
      config({
        nginx: {
          weightsDir: '/run/bgctl',
          targets: [
            { name: 'a', listen: 8001 },
            { name: 'b', listen: 8002 },
          ],
        },
      }),
    ).toThrow(/nginx\.targets/);
  });

  it('is relative to the config file; docker refuses a folder outside nginx.dir (exit 2)', () => {
    const local = resolvePaths(config({ nginx: { weightsDir: 'run/w' } }), '/srv/app');
    expect(local.nginx.weightsDir).toBe('/srv/app/run/w');
    expect(() => checkWeightsDir(local, 'bgctl.yaml')).not.toThrow();
    const docker = (weightsDir: string) => resolvePaths(config({ nginx: { driver: 'docker', dir: 'ngx', weightsDir } }), '/srv/app');
    expect(() => checkWeightsDir(docker('ngx/weights'), 'bgctl.yaml')).not.toThrow();
    for (const outside of ['/run/bgctl', 'ngx-other', 'ngx']) {
      let code: number | undefined;
      try {
        checkWeightsDir(docker(outside), 'bgctl.yaml');
      } catch (e) {
        code = (e as { exitCode?: number }).exitCode;
        expect((e as Error).message).toMatch(/nginx\.weightsDir .* is outside nginx\.dir/);
      }
      expect(code, outside).toBe(ExitCode.USAGE);
    }
    // what NGINX is told: the same folder under the bind mount (docker), the host path (local)
    expect(weightsDirSeen(docker('ngx/run/w'))).toBe('/etc/nginx/bgctl/run/w');
    expect(weightsDirSeen(local)).toBe('/srv/app/run/w');
    expect(weightsDirSeen(resolvePaths(config(), '/srv/app'))).toBeNull();
  });

  it('moves the weights file and its copy; the rest stays under nginx.dir', () => {
    const l = nginxLayout('/srv/ngx', '/run/bgctl');
    expect([l.weights, l.weightsPrev, l.site]).toEqual([
      '/run/bgctl/bgctl-weights.json',
      '/run/bgctl/bgctl-weights.json.prev',
      '/srv/ngx/conf.d/bgctl.conf',
    ]);
    expect(nginxLayout('/srv/ngx').weights).toBe('/srv/ngx/conf.d/bgctl-weights.json');
  });

  it('as root, checks the folders up to weightsDir instead of nginx.dir, and points to it', async () => {
    const modes: Record<string, number> = { '/': 0o755, '/home': 0o755, '/home/me': 0o700, '/run': 0o755 };
    const statOf = (p: string) => {
      const mode = modes[String(p)];
      return mode === undefined ? Promise.reject(new Error('ENOENT')) : Promise.resolve({ mode: 0o40000 | mode } as Stats);
    };
    expect(await workersBlocked('/home/me/app/ngx', true, statOf as never)).toMatch(
      /cannot enter \/home\/me \(mode 0700\).*nginx\.weightsDir: \/run\/bgctl/,
    );
    expect(await workersBlocked('/home/me/app/ngx', true, statOf as never, '/run/bgctl')).toBeNull();
    modes['/run'] = 0o700;
    expect(await workersBlocked('/home/me/app/ngx', true, statOf as never, '/run/bgctl')).toMatch(/cannot enter \/run \(mode 0700\)/);
  });

  it('auto falling back because the workers are blocked is a warning; a missing module is not', () => {
    const blocked = chooseMode('auto', { nginx: blockedBy('cannot enter /home/me') });
    expect(blocked).toMatchObject({ mode: 'reload', ok: true, warning: 'cannot enter /home/me' });
    expect(chooseMode('auto', { nginx: notAvailable('no module') }).warning).toBeNull();
    expect(chooseMode('auto', { nginx: { available: true, module: MODULE, detail: 'found' } }).warning ?? null).toBeNull();
  });
});

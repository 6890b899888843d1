import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { nginxLayout } from '../../src/adapters/nginx/files.js';
import { configSchema } from '../../src/config/schema.js';
import { weightsFor } from '../../src/core/weights.js';
import { OWN_LAYOUT, SYSTEM_LAYOUT } from '../../src/render/layout.js';
import { renderConfig } from '../../src/render/render.js';

// The file layout is defined once (render/layout.ts): the templates, the drivers and the njs module agree on it.

const config = configSchema.parse({
  environments: { blue: { servers: ['127.0.0.1:8081'] }, green: { servers: ['127.0.0.1:8082'] } },
});
const step = { weights: weightsFor('green', 25), revision: 3, strategy: 'weighted', stable: 'blue', growing: 'green' } as const;

describe('the NGINX file layout', () => {
  it('is what the rendered nginx.conf and site config name', () => {
    const cfg = renderConfig(config, step, { module: null });
    expect(cfg.main).toContain(`pid ${OWN_LAYOUT.pid};`);
    expect(cfg.main).toContain(`error_log ${OWN_LAYOUT.errorLog} warn;`);
    expect(cfg.main).toContain(`include ${OWN_LAYOUT.site};`);
    expect(cfg.site).toContain(`js_import bgctl from ${OWN_LAYOUT.js};`);
    expect(cfg.site).toContain(`access_log ${OWN_LAYOUT.accessLog} bgctl_json`);
  });

  it('is where the njs module looks for the weights file', () => {
    const js = readFileSync(new URL('../../nginx/njs/bgctl.js', import.meta.url), 'utf8');
    expect(js).toContain(`var FILE = '${OWN_LAYOUT.weights}';`);
  });

  it('gives the drivers absolute paths under nginx.dir, the weights file under nginx.weightsDir when set', () => {
    const own = nginxLayout('/srv/ngx');
    expect(own).toMatchObject({
      main: '/srv/ngx/nginx.conf',
      site: '/srv/ngx/conf.d/bgctl.conf',
      candidateSite: '/srv/ngx/candidate/conf.d/bgctl.conf',
      sitePrev: '/srv/ngx/conf.d/bgctl.conf.prev',
      pidFile: '/srv/ngx/logs/nginx.pid',
    });
    const system = nginxLayout('/etc/nginx/bgctl', '/run/bgctl', SYSTEM_LAYOUT);
    expect(system).toMatchObject({
      main: '/etc/nginx/bgctl/http.conf',
      site: '/etc/nginx/bgctl/server.conf',
      candidateMain: '/etc/nginx/bgctl/candidate/http.conf',
      weights: '/run/bgctl/bgctl-weights.json',
      pidFile: null,
      errorLog: null,
    });
  });
});

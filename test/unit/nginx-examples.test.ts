import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { inspectConf, parseConf, type Directive } from '../../src/adapters/nginx/operator-conf.js';
import { includeProblems } from '../../src/adapters/nginx/system.js';
import { configSchema } from '../../src/config/schema.js';

// nginx/system: the example of an NGINX you already run, and the bgctl.yaml for it, agree with each other.

const read = (name: string): string => readFileSync(new URL(`../../nginx/system/${name}`, import.meta.url), 'utf8');

describe('nginx/system, the example of the NGINX you already run', () => {
  it('has both include lines where bgctl looks for them, and its bgctl.yaml is a valid config for it', () => {
    const config = configSchema.parse(parse(read('bgctl.yaml')));
    const dir = config.nginx.dir;
    const main = parseConf(read('nginx.conf'), '/etc/nginx/nginx.conf');
    const app = parseConf(read('app.conf'), '/etc/nginx/sites-enabled/app');
    // what NGINX does with `include /etc/nginx/sites-enabled/*;`: the site's directives in http { }
    const withSite = main.map((d): Directive => (d.name === 'http' ? { ...d, block: [...(d.block ?? []), ...app] } : d));
    const files = { http: `${dir}/http.conf`, server: `${dir}/server.conf` };
    const found = inspectConf(withSite, files, config.listen, '/etc/nginx');
    expect(includeProblems(found, config.nginx.conf ?? '', files, config.listen)).toEqual([]);
    expect(found).toMatchObject({ pid: '/run/nginx.pid', user: 'www-data' });
  });
});

import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { includeLines, renderInitConfig } from '../../src/config/init.js';
import { configSchema } from '../../src/config/schema.js';

describe('bgctl init --driver system', () => {
  const base = { blue: ['127.0.0.1:8081'], green: ['127.0.0.1:8082'], listen: 443 };

  it('writes a config for the NGINX you already run, with bgctl folder beside its main config', () => {
    const text = renderInitConfig({ ...base, driver: 'system', conf: '/etc/nginx/nginx.conf' });
    const config = configSchema.parse(parse(text));
    expect(config.nginx).toMatchObject({
      driver: 'system',
      conf: '/etc/nginx/nginx.conf',
      dir: '/etc/nginx/bgctl',
      reload: ['nginx', '-s', 'reload'],
    });
    expect(includeLines('/etc/nginx/bgctl')).toEqual({
      http: 'include /etc/nginx/bgctl/http.conf;',
      server: 'include /etc/nginx/bgctl/server.conf;',
    });
  });

  it('refuses --driver system without --conf, and --conf without it', () => {
    expect(() => renderInitConfig({ ...base, driver: 'system' })).toThrow(/--driver system needs --conf/);
    expect(() => renderInitConfig({ ...base, driver: 'local', conf: '/etc/nginx/nginx.conf' })).toThrow(/--conf goes with --driver system/);
  });

  it('a system config without conf, with targets or with tls is refused by the schema', () => {
    const environments = { blue: { servers: ['127.0.0.1:1'] }, green: { servers: ['127.0.0.1:2'] } };
    const r = configSchema.safeParse({ environments, nginx: { driver: 'system' }, tls: { certificate: '/c', key: '/k' } });
    expect(r.success).toBe(false);
    const messages = r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(messages).toEqual(
      expect.arrayContaining([
        'nginx.conf: required with driver system: the main config of that NGINX',
        "tls: driver system: TLS is the system NGINX's own (its server block); set nginx.listenTls: true instead",
      ]),
    );
  });
});

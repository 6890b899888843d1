import { describe, expect, it } from 'vitest';
import { inspectConf, parseConf, portOf } from '../../src/adapters/nginx/operator-conf.js';
import { includeProblems } from '../../src/adapters/nginx/system.js';

// The system driver reads the operator's NGINX config to say which include line is missing, where.

const FILES = { http: '/etc/nginx/bgctl/http.conf', server: '/etc/nginx/bgctl/server.conf' };

const conf = (text: string) => inspectConf(parseConf(text, '/etc/nginx/nginx.conf'), FILES, 443, '/etc/nginx');

describe('reading an NGINX config bgctl did not write', () => {
  it('parses directives, blocks, quotes and comments with their lines', () => {
    const d = parseConf('user www-data;\n# a comment { ;\nhttp {\n  log_format x \'a;b\' "c\\"d";\n}\n', 'f');
    expect(d.map((x) => [x.name, x.line])).toEqual([
      ['user', 1],
      ['http', 3],
    ]);
    expect(d[1]?.block?.[0]).toMatchObject({ name: 'log_format', args: ['x', 'a;b', 'c"d'], line: 4 });
    expect(() => parseConf('http {\n', 'f')).toThrow(/f:1: unexpected end of file/);
    expect(() => parseConf('}', 'f')).toThrow(/unexpected "}"/);
  });

  it('finds the two include lines, the pid file, the user and the njs module', () => {
    const c = conf(
      'user www-data;\npid /run/nginx.pid;\nload_module modules/ngx_http_js_module.so;\nhttp {\n  include bgctl/http.conf;\n' +
        '  server { listen 80; }\n  server {\n    listen [::]:443 ssl;\n    include /etc/nginx/bgctl/server.conf;\n  }\n}\n',
    );
    expect(c.httpInclude?.line).toBe(5);
    expect(c.serverInclude).toMatchObject({ onPort: true, server: { line: 7 } });
    expect(c).toMatchObject({ pid: '/run/nginx.pid', user: 'www-data', njs: { line: 3 } });
    expect(includeProblems(c, '/etc/nginx/nginx.conf', FILES, 443)).toEqual([]);
  });

  it('names the missing line and the file and line it belongs in', () => {
    const c = conf('http {\n  server {\n    listen 443 ssl;\n  }\n}\n');
    expect(includeProblems(c, '/etc/nginx/nginx.conf', FILES, 443)).toEqual([
      '`include /etc/nginx/bgctl/http.conf;` is missing inside http { } (/etc/nginx/nginx.conf:1)',
      '`include /etc/nginx/bgctl/server.conf;` is missing inside the server block that listens on 443 (/etc/nginx/nginx.conf:2)',
    ]);
    const elsewhere = conf('http {\n include bgctl/http.conf;\n server {\n  listen 8080;\n  include bgctl/server.conf;\n }\n}\n');
    expect(includeProblems(elsewhere, '/etc/nginx/nginx.conf', FILES, 443)).toEqual([
      '`include /etc/nginx/bgctl/server.conf;` is in the server block at /etc/nginx/nginx.conf:3, which does not listen on 443 (listen)',
    ]);
    expect(includeProblems(conf('events {}\n'), '/etc/nginx/nginx.conf', FILES, 443)).toEqual([
      '/etc/nginx/nginx.conf has no http { } block',
    ]);
  });

  it('reads the port of every listen form', () => {
    expect(['443', '*:80', '127.0.0.1:8080', '[::]:443', 'unix:/run/x.sock', '[::1]', '10.0.0.1'].map(portOf)).toEqual([
      443,
      80,
      8080,
      443,
      null,
      80,
      80,
    ]);
  });
});

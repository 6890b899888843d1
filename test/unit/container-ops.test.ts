import { describe, expect, it } from 'vitest';
import { RecordReader, batchEnd, encodeBatch, parsePs } from '../../src/adapters/nginx/container-ops.js';
import { clientWords } from '../../src/adapters/nginx/docker-client.js';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

describe('the container session protocol (container-ops.ts)', () => {
  it('encodes a batch as one line per request, data as one base64 line, ending with its id', () => {
    const text = encodeBatch(
      [
        { op: 'dir', path: '/etc/nginx/bgctl/conf.d' },
        { op: 'mkdirp', path: '/etc/nginx/bgctl', mode: 0o755 },
        { op: 'put', path: '/etc/nginx/bgctl/conf.d/bgctl.conf', mode: 0o600, data: 'server {\n  listen 80;\n}\n' },
        { op: 'copy', from: '/a/x', to: '/a/x.prev', mode: 0o644 },
        { op: 'move', from: '/a/candidate/x', to: '/a/x' },
        { op: 'sync', paths: ['/a', '/a/x'] },
        { op: 'sync', paths: [] },
        { op: 'since', path: '/a/logs/error.log', offset: 12.7 },
        {
          op: 'http',
          url: 'http://127.0.0.1:8080/__bgctl/status',
          headers: ['X-Bgctl-Secret: s3cr3t'],
          timeoutSeconds: 1.2,
          insecure: false,
        },
        { op: 'nginx', argv: ['-s', 'reload', '-p', '/a', '-c', '/a/nginx.conf', '-e', 'stderr'] },
        { op: 'ps' },
        { op: 'holds', path: '/usr/lib/nginx/modules/ngx_http_js_module.so', text: 'js_shared_dict_zone' },
      ],
      'abc123',
    );
    expect(text.split('\n')).toEqual([
      'dir /etc/nginx/bgctl/conf.d',
      'mkdirp /etc/nginx/bgctl 0755',
      'put /etc/nginx/bgctl/conf.d/bgctl.conf 0600',
      b64('server {\n  listen 80;\n}\n'),
      'copy /a/x /a/x.prev 0644',
      'move /a/candidate/x /a/x',
      'sync /a /a/x',
      'since /a/logs/error.log 12',
      'http 2 verify http://127.0.0.1:8080/__bgctl/status',
      b64('X-Bgctl-Secret: s3cr3t\n'),
      'nginx -s reload -p /a -c /a/nginx.conf -e stderr',
      'ps',
      'holds /usr/lib/nginx/modules/ngx_http_js_module.so js_shared_dict_zone',
      'end abc123',
      '',
    ]);
  });

  it('refuses a word a shell would split or expand: nothing but plain words reach the loop', () => {
    expect(encodeBatch([{ op: 'read', path: 'http://[::1]:8081/health' }], 'x')).toContain('read http://[::1]:8081/health\n');
    for (const bad of ['/a b', '/a;rm', '/a$(x)', '/a*', '/a?', '/a\nend x', "/a'", '/a`id`', '/a|b', '/a&b', '']) {
      expect(() => encodeBatch([{ op: 'read', path: bad }], 'x'), JSON.stringify(bad)).toThrow(/not a plain word/);
    }
    // the secret travels as data, never as a word
    expect(
      encodeBatch([{ op: 'http', url: 'http://127.0.0.1:1/', headers: ['A: b c;$d'], timeoutSeconds: 1, insecure: true }], 'x'),
    ).toContain('http 1 insecure http://127.0.0.1:1/\n');
  });

  it('reads the end line of its own batch only: ok, a refusal naming the path, or an error', () => {
    expect(batchEnd('@@ abc ok', 'abc')).toEqual({ ok: true });
    expect(batchEnd('@@ abc ok', 'abd')).toBeNull();
    expect(batchEnd('@ 1 read 1', 'abc')).toBeNull();
    expect(batchEnd('@@ abc fail unsafe /e/conf.d a symbolic link', 'abc')).toEqual({
      ok: false,
      unsafe: { path: '/e/conf.d', what: 'a symbolic link' },
      message: 'unsafe /e/conf.d a symbolic link',
    });
    expect(batchEnd('@@ abc fail error rename /e/x to /e/y: mv: cannot move', 'abc')).toEqual({
      ok: false,
      unsafe: null,
      message: 'rename /e/x to /e/y: mv: cannot move',
    });
  });

  it('collects records: header words and base64 payload lines (wrapped or not)', () => {
    const r = new RecordReader();
    const body = b64('{"revision":3}\nline two\n');
    for (const line of ['@ 1 read 1', body.slice(0, 8), body.slice(8), '@ 2 read 0', '@ 3 http 0', b64('HTTP/1.1 200 OK\r\n\r\nok')])
      r.push(line);
    const records = r.records();
    expect(records.map((x) => [x.index, x.words, x.data.toString('utf8')])).toEqual([
      [1, ['1'], '{"revision":3}\nline two\n'],
      [2, ['0'], ''],
      [3, ['0'], 'HTTP/1.1 200 OK\r\n\r\nok'],
    ]);
  });

  it('parses the nginx processes seen in /proc: the master, its workers, the ones shutting down', () => {
    const text = [
      '7 1 nginx: master process nginx -p /etc/nginx/bgctl -c /etc/nginx/bgctl/nginx.conf -e /etc/nginx/bgctl/logs/error.log   ',
      '8 7 nginx: worker process is shutting down  ',
      '21 7 nginx: worker process',
      '22 7 nginx: cache manager process',
      '30 1 nginx: worker process',
      'garbage',
    ].join('\n');
    expect(parsePs(text)).toEqual({
      master: 7,
      workers: [
        { pid: 8, title: 'nginx: worker process is shutting down', shuttingDown: true },
        { pid: 21, title: 'nginx: worker process', shuttingDown: false },
      ],
    });
    expect(parsePs('8 7 nginx: worker process\n')).toBeNull();
    // the host's process list (--pid host): the master of this config, not another one
    const two = '5 1 nginx: master process /usr/sbin/nginx -g daemon on;\n6 5 nginx: worker process\n' + text;
    expect(parsePs(two, '/etc/nginx/bgctl/nginx.conf')?.master).toBe(7);
    expect(parsePs(two)?.master).toBe(5);
    expect(parsePs('')).toBeNull();
  });
});

describe('what the docker client said', () => {
  it("puts ssh's own words first when the client could not reach the engine through ssh", () => {
    const said =
      'error during connect: Get "http://docker.example.com/v1.50/containers/edge-3/json": command [ssh -o ConnectTimeout=30 -T -l root -p 2222 -- 10.0.0.5 docker system dial-stdio] has exited with exit status 255, make sure the URL is valid, and Docker 18.09 or later is installed on the remote host: stderr=Host key verification failed.\r\n';
    expect(clientWords(said)).toBe('ssh to the docker engine failed (exit 255): Host key verification failed.');
    expect(clientWords('Error response from daemon: Container abc is not running\n')).toBe(
      'Error response from daemon: Container abc is not running',
    );
  });
});

describe('ssh refusing a changed host key', () => {
  it('is said with ssh’s verdict, not its banner', () => {
    const said = [
      'error during connect: Get "http://docker.example.com/v1.50/_ping": command [ssh -o ConnectTimeout=30 -T -l root -p 2222 -- 10.0.0.5 docker system dial-stdio] has exited with exit status 255, make sure the URL is valid, and Docker 18.09 or later is installed on the remote host: stderr=@@@@@@@@@@@@',
      '@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @',
      '@@@@@@@@@@@@',
      'IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!',
      'Host key for [10.0.0.5]:2222 has changed and you have requested strict checking.',
      'Host key verification failed.',
      '',
    ].join('\n');
    expect(clientWords(said)).toBe(
      'ssh to the docker engine failed (exit 255): Host key verification failed. (the host key is not the one in known_hosts)',
    );
  });
});

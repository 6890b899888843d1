import { describe, expect, it } from 'vitest';
import { lockHint } from '../../src/adapters/lock.js';
import { listeningInodes } from '../../src/adapters/port-owner.js';
import { bindFailures, portInUseMessage, portKey } from '../../src/core/port-in-use.js';

const NGINX_STDERR = [1, 2, 3, 4, 5]
  .map(
    (i) =>
      `nginx: [emerg] bind() to 127.0.0.1:8080 failed (98: Address already in use)${i === 5 ? '\nnginx: [emerg] still could not bind()' : ''}`,
  )
  .join('\n');

describe('a port already in use', () => {
  it('NGINX retries five times: one failure per address, and the key that sets the port', () => {
    expect(bindFailures(NGINX_STDERR)).toEqual([{ address: '127.0.0.1', port: 8080 }]);
    expect(bindFailures('nginx: [emerg] unknown directive "x"')).toEqual([]);
    expect(portKey(8080, { listen: 8080 })).toBe('listen');
    expect(portKey(80, { listen: 8443, tls: { redirectFrom: 80 } })).toBe('tls.redirectFrom');
  });

  it('names the process when it is known', () => {
    expect(
      portInUseMessage(
        { address: '127.0.0.1', port: 8080 },
        'listen',
        { pid: 42, command: 'python3 -m http.server 8080' },
        '/srv/bgctl.yaml',
      ),
    ).toBe(
      'port 8080 (127.0.0.1:8080) is already in use by pid 42 (python3 -m http.server 8080): change `listen` in /srv/bgctl.yaml or stop that process; nothing was started',
    );
    expect(portInUseMessage({ address: '*', port: 80 }, 'listen', null, 'bgctl.yaml')).toMatch(
      /in use by another process: change `listen`/,
    );
  });

  it('finds the listening socket of a port in /proc/net/tcp', () => {
    const table = [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 123456 1 0000000000000000 100 0 0 10 0',
      '   1: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000  1000        0 999 1 0000000000000000 100 0 0 10 0',
      '   2: 0100007F:1F91 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 777 1 0000000000000000 100 0 0 10 0',
    ].join('\n');
    expect(listeningInodes(table, 8080)).toEqual(['123456']);
  });
});

describe('lock hints say what is true', () => {
  const info = { pid: 7, host: 'here', command: 'gradual green 2.1.0', startedAt: '2025-01-01T00:00:00.000Z', token: 't' };
  it('a holder on this host: wait, bgctl reclaims the lock itself once it is gone', () => {
    const h = lockHint({ kind: 'held', info }, 'here', '/s/lock');
    expect(h).toMatch(/reclaims the lock by itself/);
    expect(h).not.toMatch(/remove/);
  });
  it('a holder on another host cannot be checked: only then remove it by hand', () => {
    expect(lockHint({ kind: 'held', info: { ...info, host: 'ci-7' } }, 'here', '/s/lock')).toMatch(/host ci-7.*remove \/s\/lock/);
  });
});

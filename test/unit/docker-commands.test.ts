import { describe, expect, it } from 'vitest';
import { reloadCommand, testCommand } from '../../src/adapters/nginx/commands.js';
import {
  composeDownCommand,
  composeRunNginxCommand,
  composeStopCommand,
  composeUpCommand,
  containerTargets,
  curlCommand,
  execCommand,
  parseTop,
  topCommand,
} from '../../src/adapters/nginx/docker-commands.js';
import { parseCurlAnswer } from '../../src/adapters/nginx/through.js';

describe('docker argv builders', () => {
  const inside = containerTargets('/etc/nginx/bgctl/');

  it('runs nginx on the bind mount with container paths: the live config and the candidate', () => {
    expect(inside.live).toEqual({
      prefix: '/etc/nginx/bgctl',
      conf: '/etc/nginx/bgctl/nginx.conf',
      errorLog: '/etc/nginx/bgctl/logs/error.log',
    });
    expect(execCommand('edge', ['nginx', ...testCommand(inside.candidate)])).toEqual([
      'exec',
      'edge',
      'nginx',
      '-t',
      '-p',
      '/etc/nginx/bgctl',
      '-c',
      '/etc/nginx/bgctl/candidate/nginx.conf',
      '-e',
      'stderr',
    ]);
    expect(execCommand('edge', ['nginx', ...reloadCommand(inside.live)])).toEqual([
      'exec',
      'edge',
      'nginx',
      '-s',
      'reload',
      '-p',
      '/etc/nginx/bgctl',
      '-c',
      '/etc/nginx/bgctl/nginx.conf',
      '-e',
      '/etc/nginx/bgctl/logs/error.log',
    ]);
  });

  it('drives the compose stack without recreating containers, and tests in a one-off container', () => {
    expect(composeUpCommand('/srv/docker-compose.yml')).toEqual(['compose', '-f', '/srv/docker-compose.yml', 'up', '-d', '--no-recreate']);
    expect(composeDownCommand('/srv/c.yml')).toEqual(['compose', '-f', '/srv/c.yml', 'down']);
    expect(composeStopCommand('/srv/c.yml', 'nginx')).toEqual(['compose', '-f', '/srv/c.yml', 'stop', 'nginx']);
    expect(composeRunNginxCommand('/srv/c.yml', 'nginx', ['-t'])).toEqual([
      'compose',
      '-f',
      '/srv/c.yml',
      'run',
      '--rm',
      '--no-deps',
      '-T',
      '--entrypoint',
      'nginx',
      'nginx',
      '-t',
    ]);
    expect(topCommand('edge')).toEqual(['top', 'edge']);
  });

  it('asks NGINX from inside the container with curl; extra headers (a secret) only on stdin', () => {
    expect(curlCommand('edge', 'http://127.0.0.1:8080/__bgctl/status', { timeoutSeconds: 2 })).toEqual([
      'exec',
      'edge',
      'curl',
      '-sS',
      '--max-time',
      '2',
      'http://127.0.0.1:8080/__bgctl/status',
    ]);
    const probe = curlCommand('edge', 'http://127.0.0.1:8080/health', { timeoutSeconds: 1, headersOnStdin: true });
    expect(probe).toEqual(['exec', '-i', 'edge', 'curl', '-sS', '--max-time', '1', '-i', '-H', '@-', 'http://127.0.0.1:8080/health']);
  });
});

describe('parseTop', () => {
  const top = [
    'UID                 PID                 PPID                C                   STIME               TTY                 TIME                CMD',
    'root                4101                4080                0                   10:00               ?                   00:00:00            nginx: master process nginx -p /etc/nginx/bgctl -g daemon off;',
    '101                 4200                4101                0                   10:00               ?                   00:00:00            nginx: worker process',
    '101                 4150                4101                0                   09:59               ?                   00:00:00            nginx: worker process is shutting down',
    '101                 4300                1                   0                   10:00               ?                   00:00:00            nginx: worker process',
  ].join('\n');

  it('finds the master and its workers, and which of them are shutting down', () => {
    expect(parseTop(top)).toEqual({
      master: 4101,
      workers: [
        { pid: 4200, title: 'nginx: worker process', shuttingDown: false },
        { pid: 4150, title: 'nginx: worker process is shutting down', shuttingDown: true },
      ],
    });
  });

  it('null when no nginx master is listed (or no table at all)', () => {
    expect(
      parseTop(
        top
          .split('\n')
          .filter((l) => !l.includes('master'))
          .join('\n'),
      ),
    ).toBeNull();
    expect(parseTop('')).toBeNull();
  });
});

describe('parseCurlAnswer', () => {
  const answer = (status: string, color: string | null, body: string) =>
    [`HTTP/1.1 ${status}`, 'Server: nginx', ...(color ? [`X-Bgctl-Color: ${color}`] : []), '', body].join('\r\n');

  it('healthy: 2xx served by the color, version from the body', () => {
    expect(parseCurlAnswer('c', answer('200 OK', 'green', '{"version":"2.1.0"}'), 'green', 5)).toEqual({
      server: 'c',
      healthy: true,
      status: 200,
      version: '2.1.0',
      latencyMs: 5,
      error: null,
    });
  });

  it('unhealthy: another color served it, no color header, or not 2xx', () => {
    expect(parseCurlAnswer('c', answer('200 OK', 'blue', '{}'), 'green', 5)).toMatchObject({ healthy: false, error: 'served by blue' });
    expect(parseCurlAnswer('c', answer('200 OK', null, '{}'), 'green', 5)).toMatchObject({ healthy: false, error: 'no X-Bgctl-Color' });
    expect(parseCurlAnswer('c', answer('502 Bad Gateway', 'green', ''), 'green', 5)).toMatchObject({
      healthy: false,
      status: 502,
      error: 'HTTP 502',
    });
    expect(parseCurlAnswer('c', 'garbage', 'green', 5)).toMatchObject({ healthy: false, status: null });
  });
});

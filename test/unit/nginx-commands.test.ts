import { describe, expect, it } from 'vitest';
import type { NginxTarget } from '../../src/adapters/nginx/commands.js';
import { quitCommand, reloadCommand, signalCommand, startCommand, testCommand } from '../../src/adapters/nginx/commands.js';

const live: NginxTarget = { prefix: '/srv/bg', conf: '/srv/bg/nginx.conf', errorLog: '/srv/bg/logs/error.log' };
const candidate: NginxTarget = { prefix: '/srv/bg', conf: '/srv/bg/candidate/nginx.conf', errorLog: 'stderr' };

describe('nginx argv builders', () => {
  it('tests a candidate config against the same prefix', () => {
    expect(testCommand(candidate)).toEqual(['-t', '-p', '/srv/bg', '-c', '/srv/bg/candidate/nginx.conf', '-e', 'stderr']);
  });

  it('starts a master with prefix, config and early error log', () => {
    expect(startCommand(live)).toEqual(['-p', '/srv/bg', '-c', '/srv/bg/nginx.conf', '-e', '/srv/bg/logs/error.log']);
  });

  it('reloads and quits through -s with the live config (nginx finds the pid file through it)', () => {
    const where = ['-p', '/srv/bg', '-c', '/srv/bg/nginx.conf', '-e', '/srv/bg/logs/error.log'];
    expect(reloadCommand(live)).toEqual(['-s', 'reload', ...where]);
    expect(quitCommand(live)).toEqual(['-s', 'quit', ...where]);
    expect(signalCommand(live, 'reopen')).toEqual(['-s', 'reopen', ...where]);
  });

  it('keeps values as single words, whatever they contain (no shell involved)', () => {
    const odd: NginxTarget = { prefix: '/tmp/a b;c', conf: '/tmp/a b;c/$x.conf', errorLog: 'stderr' };
    expect(testCommand(odd)).toEqual(['-t', '-p', '/tmp/a b;c', '-c', '/tmp/a b;c/$x.conf', '-e', 'stderr']);
  });

  it('composes with a docker exec prefix unchanged', () => {
    const argv = ['exec', 'nginx', 'nginx', ...reloadCommand({ prefix: '/etc/nginx', conf: '/etc/nginx/nginx.conf', errorLog: 'stderr' })];
    expect(argv).toEqual(['exec', 'nginx', 'nginx', '-s', 'reload', '-p', '/etc/nginx', '-c', '/etc/nginx/nginx.conf', '-e', 'stderr']);
  });
});

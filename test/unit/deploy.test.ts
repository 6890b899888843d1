import { describe, expect, it } from 'vitest';
import { expandDeployCommand } from '../../src/adapters/deploy.js';
import { ExitCode, UsageError } from '../../src/core/errors.js';

const deploy = {
  command: ['docker', 'compose', 'up', '-d', '--no-deps', 'app-{{color}}'],
  env: { APP_VERSION: '{{version}}', COLOR_AND_VERSION: '{{color}}:{{version}}', PLAIN: 'x' },
  timeoutSeconds: 600,
};

describe('expandDeployCommand', () => {
  it('fills color and version into argv words and env values', () => {
    expect(expandDeployCommand(deploy, 'green', '2.1.0')).toEqual({
      file: 'docker',
      args: ['compose', 'up', '-d', '--no-deps', 'app-green'],
      env: { APP_VERSION: '2.1.0', COLOR_AND_VERSION: 'green:2.1.0', PLAIN: 'x' },
    });
  });

  it('replaces every occurrence, also inside the program word', () => {
    const r = expandDeployCommand(
      { command: ['./deploy-{{color}}.sh', '{{version}}-{{version}}', '--tag={{color}}/{{version}}'], timeoutSeconds: 1 },
      'blue',
      'v1',
    );
    expect(r).toEqual({ file: './deploy-blue.sh', args: ['v1-v1', '--tag=blue/v1'], env: {} });
  });

  it('keeps the number of words: nothing is split on spaces or shell characters', () => {
    const cmd = { command: ['sh', '-c', 'echo "$1"', 'arg0', 'a b {{version}};x'], timeoutSeconds: 1 };
    const r = expandDeployCommand(cmd, 'blue', '1.0+build.7');
    expect(r.args).toEqual(['-c', 'echo "$1"', 'arg0', 'a b 1.0+build.7;x']);
    expect(r.args).toHaveLength(cmd.command.length - 1);
  });

  it('refuses a version that is not valid, even though callers validate it already', () => {
    for (const bad of ['1.0;rm', '1.0 rm', '$(id)', '', '-rf', 'a\nb']) {
      expect(() => expandDeployCommand(deploy, 'blue', bad)).toThrow(UsageError);
    }
    try {
      expandDeployCommand(deploy, 'blue', '1.0;rm');
    } catch (e) {
      expect((e as UsageError).exitCode).toBe(ExitCode.USAGE);
    }
  });

  it('never interprets $-patterns of String.replace', () => {
    const r = expandDeployCommand({ command: ['x', "$&{{version}}$'"], timeoutSeconds: 1 }, 'green', '3');
    expect(r.args).toEqual(["$&3$'"]);
  });

  it('leaves unknown placeholders alone', () => {
    expect(expandDeployCommand({ command: ['x', '{{colour}}', '{{ color }}'], timeoutSeconds: 1 }, 'green', '3').args).toEqual([
      '{{colour}}',
      '{{ color }}',
    ]);
  });
});

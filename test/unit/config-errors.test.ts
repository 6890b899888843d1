import { describe, expect, it } from 'vitest';
import { locator } from '../../src/config/locate.js';
import { validateConfig } from '../../src/config/validate.js';
import { UsageError } from '../../src/core/errors.js';
import { closest, editDistance } from '../../src/core/suggest.js';
import { parse } from 'yaml';

function refusal(text: string, file = 'bgctl.yaml'): UsageError {
  try {
    validateConfig(parse(text), file, locator(text));
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return e as UsageError;
  }
  throw new Error('expected the config to be refused');
}

const TYPO = `listen: 8080
enviroments:
  blue:
    servers: ["127.0.0.1:8081"]
  green:
    servers: ["127.0.0.1:8082"]
`;

describe('config errors that teach', () => {
  it('a mistyped top-level key: did-you-mean with file:line:col, and every problem shown', () => {
    const e = refusal(TYPO);
    expect(e.message).toBe(
      [
        'bgctl.yaml: 2 problems in the config:',
        '  bgctl.yaml:2:1: unknown key "enviroments" (did you mean "environments"?)',
        '  bgctl.yaml:1:1: environments: is required',
      ].join('\n'),
    );
    expect(e.message).not.toMatch(/and \d+ more/);
    expect(e.details?.['problems']).toEqual(['unknown key "enviroments" (did you mean "environments"?)', 'environments: is required']);
  });

  it('a nested typo points at its own line and column', () => {
    const e = refusal(`environments:
  blue:
    servers: ["127.0.0.1:8081"]
  green:
    servers: ["127.0.0.1:8082"]
nginx:
  drvier: docker
`);
    expect(e.message).toBe('bgctl.yaml:7:3: nginx: unknown key "drvier" (did you mean "driver"?)');
  });

  it('a bad value points at its line; a key far from every accepted one gets no guess', () => {
    const bad = refusal(`listen: 99999
environments:
  blue: { servers: ["127.0.0.1:8081"] }
  green: { servers: ["127.0.0.1:8082"] }
`);
    expect(bad.message).toBe('bgctl.yaml:1:1: listen: must be 1-65535');
    const far = refusal(`${TYPO.replace('enviroments', 'environments')}zzzzzz: 1\n`);
    expect(far.message).toBe('bgctl.yaml:7:1: unknown key "zzzzzz"');
  });

  it('JSON configs get positions too', () => {
    const text =
      '{\n  "environments": {"blue": {"servers": ["127.0.0.1:8081"]}, "green": {"servers": ["127.0.0.1:8082"]}},\n  "listne": 8080\n}\n';
    const e = refusal(text, 'bgctl.json');
    expect(e.message).toBe('bgctl.json:3:3: unknown key "listne" (did you mean "listen"?)');
  });

  it('refuses `listen` equal to the port of a local backend (NGINX would take it or proxy to itself)', () => {
    const e = refusal(`listen: 8081
environments:
  blue: { servers: ["127.0.0.1:8081"] }
  green: { servers: ["10.0.0.7:8081", "localhost:8082"] }
`);
    expect(e.message).toBe(
      'bgctl.yaml:3:21: environments.blue.servers[0]: 127.0.0.1:8081 is the port NGINX listens on (listen: 8081); give the backend or `listen` another port',
    );
  });

  it('edit distance and closest', () => {
    expect(editDistance('enviroments', 'environments')).toBe(1);
    expect(editDistance('drvier', 'driver')).toBe(1);
    expect(editDistance('', 'abc')).toBe(3);
    expect(closest('stepsecond', ['steps', 'stepSeconds', 'strategy'])).toBe('stepSeconds');
    expect(closest('x', ['listen', 'nginx'])).toBeNull();
  });
});

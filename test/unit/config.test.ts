import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { INIT_DEFAULTS, renderInitConfig } from '../../src/config/init.js';
import { jsonErrorOffset, lineColAt } from '../../src/config/load.js';
import { configSchema } from '../../src/config/schema.js';
import { validateConfig } from '../../src/config/validate.js';
import { UsageError } from '../../src/core/errors.js';

// The contract's config example, verbatim (CONTRACT.md, "Config keys that must be accepted").
const CONTRACT_EXAMPLE = `
listen: 8080                    # port the NGINX front listens on
environments:
  blue:
    servers: ["127.0.0.1:8081"] # host:port, one or more
    health: /health             # probed on every server; 2xx = healthy; JSON body may carry "version"
  green:
    servers: ["127.0.0.1:8082"]
    health: /health
nginx:
  driver: local                 # local | docker
  dir: .bgctl/nginx             # local: NGINX prefix folder that bgctl owns (nginx.conf, conf.d/, logs/)
  container: nginx              # docker: the container to \`docker exec\` into
  mode: auto                    # auto | dynamic (njs reads the weights per request, no reload) | reload;
                                # until dynamic mode exists, auto means reload
migration:
  steps: [25, 50, 75, 100]
  stepSeconds: 30               # how long each step is observed before the next
  strategy: weighted            # weighted (per request) | sticky (split_clients, per client)
probe:
  intervalMs: 1000
  timeoutMs: 2000
thresholds:
  errorRate: 0.05               # share of 5xx answers from the new color
  errorRateForSeconds: 60       # breach must last this long (0 = act at once)
  p95LatencyMs: 1000
  latencyForSeconds: 30
  minRequests: 20               # fewer requests than this in a window decides nothing
deploy:                         # optional: how a version gets onto a color (argv, never a shell string)
  command: ["docker", "compose", "up", "-d", "--no-deps", "app-{{color}}"]
  env: { APP_VERSION: "{{version}}" }
stateDir: .bgctl                # state.json, its backup, the lock and history
`;

/** Every key path of a parsed document, e.g. "environments.blue.servers" (arrays are leaves). */
function keyPaths(value: unknown, prefix = ''): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return [];
  return Object.entries(value).flatMap(([k, v]) => {
    const p = prefix === '' ? k : `${prefix}.${k}`;
    // deploy.env is a free-form map of variable names, not config keys
    return p === 'deploy.env' ? [p] : [p, ...keyPaths(v, p)];
  });
}

function get(obj: unknown, dotted: string): unknown {
  return dotted.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], obj);
}

const minimal = (): Record<string, unknown> => ({
  environments: { blue: { servers: ['127.0.0.1:8081'] }, green: { servers: ['127.0.0.1:8082'] } },
});

function problemOf(raw: unknown): string {
  try {
    validateConfig(raw, 'bgctl.yaml');
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as UsageError).message;
  }
  throw new Error('expected the config to be refused');
}

describe('validateConfig', () => {
  it('accepts the contract example with every key, keeping each value', () => {
    const raw = parse(CONTRACT_EXAMPLE) as unknown;
    const config = validateConfig(raw);
    const paths = keyPaths(raw);
    expect(paths.length).toBeGreaterThan(25);
    for (const p of paths) {
      const value = get(raw, p);
      // leaves must be kept as written; objects may gain defaults for keys the example leaves out
      if (value !== null && typeof value === 'object' && !Array.isArray(value)) expect(get(config, p), p).toMatchObject(value);
      else expect(get(config, p), p).toEqual(value);
    }
  });

  it('fills every default when only environments is given', () => {
    const c = validateConfig(minimal());
    expect(c.listen).toBe(8080);
    expect(c.environments.blue.health).toBe('/health');
    expect(c.environments.green.health).toBe('/health');
    expect(c.nginx).toMatchObject({ driver: 'local', dir: '.bgctl/nginx', container: 'nginx', mode: 'auto' });
    expect(c.migration).toEqual({
      steps: [25, 50, 75, 100],
      stepSeconds: 30,
      strategy: 'weighted',
      maxExtendSeconds: 120,
      warmup: { enabled: false, rps: 5, path: '/' },
    });
    expect(c.probe).toMatchObject({ intervalMs: 1000, timeoutMs: 2000 });
    expect(c.thresholds).toEqual({
      errorRate: 0.05,
      errorRateForSeconds: 60,
      p95LatencyMs: 1000,
      latencyForSeconds: 30,
      minRequests: 20,
      windowSeconds: 10,
      checkIntervalMs: 100,
      maxErrorRateRatio: null,
    });
    expect(c.routing).toEqual({ forceHeader: 'X-Bgctl-Color', forceCookie: null, forceSecret: null });
    expect(c.deploy).toBeUndefined();
    expect(c.stateDir).toBe('.bgctl');
  });

  it('names the key path of an injected server value', () => {
    const raw = minimal();
    (raw.environments as { green: { servers: string[] } }).green.servers = ['127.0.0.1:80; include /etc/passwd'];
    expect(problemOf(raw)).toBe(
      'bgctl.yaml: environments.green.servers[0]: not a host:port (an IPv4 address, [IPv6] or DNS name, then :1-65535)',
    );
  });

  it.each(['127.0.0.1:8080}', 'host:80\nlisten 1', '$host:80', '"a":80', 'a b:80', '127.0.0.1'])('refuses server %j', (server) => {
    const raw = minimal();
    (raw.environments as { blue: { servers: string[] } }).blue.servers = [server];
    expect(problemOf(raw)).toMatch(/^bgctl\.yaml: environments\.blue\.servers\[0\]: not a host:port/);
  });

  it('names unknown keys at the top level and nested', () => {
    expect(problemOf({ ...minimal(), listne: 8080 })).toBe('bgctl.yaml: unknown key "listne" (did you mean "listen"?)');
    expect(problemOf({ ...minimal(), migration: { step: [100] } })).toBe(
      'bgctl.yaml: migration: unknown key "step" (did you mean "steps"?)',
    );
  });

  it('refuses steps that do not increase, pass 100 or do not end at 100', () => {
    expect(problemOf({ ...minimal(), migration: { steps: [50, 25, 100] } })).toMatch(/migration\.steps: steps must be strictly increasing/);
    expect(problemOf({ ...minimal(), migration: { steps: [50, 50, 100] } })).toMatch(/migration\.steps: steps must be strictly increasing/);
    expect(problemOf({ ...minimal(), migration: { steps: [50, 150] } })).toMatch(/migration\.steps\[1\]: steps are 1-100/);
    expect(problemOf({ ...minimal(), migration: { steps: [25, 50] } })).toMatch(/migration\.steps: the last step must be 100/);
  });

  it.each([0, 70000, -1])('refuses listen port %d', (listen) => {
    expect(problemOf({ ...minimal(), listen })).toBe('bgctl.yaml: listen: must be 1-65535');
  });

  // zod 4 reports `issue.input` only when parsed with { reportInput: true }; without it a wrong type
  // would read "is required".
  it.each([80.5, 'abc'])('names the real problem of listen %j (not "is required")', (listen) => {
    expect(problemOf({ ...minimal(), listen })).not.toMatch(/is required/);
  });

  it('refuses forced-route settings that would fight headers bgctl sets, or a guessable secret', () => {
    expect(problemOf({ ...minimal(), routing: { forceHeader: 'X-Request-Id' } })).toMatch(
      /^bgctl\.yaml: routing\.forceHeader: is a header bgctl or HTTP itself sets/,
    );
    expect(problemOf({ ...minimal(), routing: { forceHeader: 'host' } })).toMatch(/routing\.forceHeader: is a header/);
    expect(problemOf({ ...minimal(), routing: { forceCookie: 'a;b' } })).toMatch(/routing\.forceCookie: not a cookie name/);
    expect(problemOf({ ...minimal(), routing: { forceSecret: 'short' } })).toMatch(/routing\.forceSecret: must be 16-128 characters/);
    expect(
      validateConfig({ ...minimal(), routing: { forceHeader: 'X-Test-Color', forceSecret: 'a'.repeat(16) } }, 'bgctl.yaml').routing,
    ).toEqual({
      forceHeader: 'X-Test-Color',
      forceCookie: null,
      forceSecret: 'a'.repeat(16),
    });
  });

  it('refuses a bad driver, naming the key', () => {
    expect(problemOf({ ...minimal(), nginx: { driver: 'kubernetes' } })).toMatch(/^bgctl\.yaml: nginx\.driver: /);
  });

  it('refuses a missing environment as required', () => {
    expect(problemOf({ environments: { blue: { servers: ['127.0.0.1:1'] } } })).toBe('bgctl.yaml: environments.green: is required');
  });
});

describe('renderInitConfig', () => {
  const text = renderInitConfig(INIT_DEFAULTS);

  it('parses and validates, with the given servers, port and driver', () => {
    const custom = renderInitConfig({
      blue: ['10.0.0.1:80', 'app-b.internal:8080'],
      green: ['[::1]:9000'],
      listen: 9090,
      driver: 'docker',
    });
    const c = validateConfig(parse(custom));
    expect(c.environments.blue.servers).toEqual(['10.0.0.1:80', 'app-b.internal:8080']);
    expect(c.environments.green.servers).toEqual(['[::1]:9000']);
    expect(c.listen).toBe(9090);
    expect(c.nginx.driver).toBe('docker');
    expect(c.deploy).toBeUndefined(); // present but commented out
  });

  it('points editors at the shipped JSON Schema', () => {
    expect(text.split('\n')[0]).toBe('# yaml-language-server: $schema=./node_modules/bgctl/schema/bgctl.schema.json');
  });

  it('sets every key of the contract example (deploy commented out), each with a comment', () => {
    const active = keyPaths(parse(text));
    const contract = keyPaths(parse(CONTRACT_EXAMPLE)).filter((p) => !p.startsWith('deploy'));
    expect(active).toEqual(expect.arrayContaining(contract));
    for (const line of text.split('\n')) {
      if (/^\s*[A-Za-z$][\w$]*:/.test(line)) expect(line, line).toMatch(/ # \S/);
    }
  });

  it('lists every contract key and every schema key, the commented-out ones valid once uncommented', () => {
    // Uncomment the example lines ("# key: value  # comment"); the result must validate and hold every key.
    const uncommented = text
      .split('\n')
      .map((l) => (/^# {0,4}[A-Za-z]\w*:/.test(l) ? l.slice(2) : l))
      .join('\n');
    const raw = parse(uncommented) as unknown;
    const c = validateConfig(raw);
    expect(c.deploy?.command).toEqual(['docker', 'compose', 'up', '-d', '--no-deps', 'app-{{color}}']);
    const all = keyPaths(raw);
    expect(all).toEqual(expect.arrayContaining(keyPaths(parse(CONTRACT_EXAMPLE))));
    for (const line of uncommented.split('\n')) {
      if (/^\s*[A-Za-z$][\w$]*:/.test(line)) expect(line, line).toMatch(/ # \S/);
    }
    // Every key the schema knows (except $schema, which the yaml-language-server line covers) is documented.
    const schemaKeys = keyPaths(validateConfig({ ...(raw as object), $schema: 'x' })).filter((p) => p !== '$schema');
    expect(all).toEqual(expect.arrayContaining(schemaKeys));
  });

  it('writes every value as its schema default, bar the servers and the deploy and tls examples', () => {
    const uncommented = text
      .split('\n')
      .map((l) => (/^# {0,4}[A-Za-z]\w*:/.test(l) ? l.slice(2) : l))
      .join('\n');
    const written = parse(uncommented) as unknown;
    // deploy and tls have no defaults of their own: given their required keys, the rest come from the schema
    const defaults = configSchema.parse({
      environments: { blue: { servers: INIT_DEFAULTS.blue }, green: { servers: INIT_DEFAULTS.green } },
      deploy: { command: ['true'] },
      tls: { certificate: '/c', key: '/k' },
    });
    const examples = [
      'environments.blue.servers',
      'environments.green.servers',
      'deploy.command',
      'deploy.env',
      'tls.certificate',
      'tls.key',
    ];
    const values = keyPaths(written).filter((p) => !examples.includes(p) && keyPaths(get(written, p)).length === 0);
    expect(values.length).toBeGreaterThan(40);
    for (const p of values) expect(get(written, p), p).toEqual(get(defaults, p));
  });

  it('refuses a bad --blue/--green value, naming the flag and the value', () => {
    expect(() => renderInitConfig({ ...INIT_DEFAULTS, green: ['127.0.0.1:80; include /etc/passwd'] })).toThrow(
      /^--green "127\.0\.0\.1:80; include \/etc\/passwd": not a host:port/,
    );
    expect(() => renderInitConfig({ ...INIT_DEFAULTS, blue: ['127.0.0.1:0'] })).toThrow(/^--blue "127\.0\.0\.1:0": not a host:port/);
    expect(() => renderInitConfig({ ...INIT_DEFAULTS, blue: [] })).toThrow(/^--blue \(0 given\): needs at least one server/);
    expect(() => renderInitConfig({ ...INIT_DEFAULTS, blue: ['127.0.0.1:8082'] })).toThrow(
      /--green "127\.0\.0\.1:8082": is also a --blue server/,
    );
  });

  it.each([0, 70000, Number.NaN, 1.5])('refuses --listen %d', (listen) => {
    expect(() => renderInitConfig({ ...INIT_DEFAULTS, listen })).toThrow(UsageError);
    expect(() => renderInitConfig({ ...INIT_DEFAULTS, listen })).toThrow(/^--listen /);
  });

  it('refuses a bad --driver', () => {
    expect(() => renderInitConfig({ ...INIT_DEFAULTS, driver: 'k8s' as 'local' })).toThrow(/^--driver "k8s": /);
  });
});

describe('locating JSON errors', () => {
  it.each([
    ['{"a" 1}', 5],
    ['[1,2', 4],
    ['{"a":1,}', 7],
    ['{"a":"x\ny"}', 7],
    ['{"a":01}', 6],
    ['{"a":"\\q"}', 6],
    ['1 2', 2],
    ["{'a':1}", 1],
    ['{"a":[true,nul]}', 11],
    ['{"a":1}', 7],
  ])('%j fails at offset %d', (text, offset) => {
    expect(jsonErrorOffset(text)).toBe(offset);
  });

  it('turns offsets into 1-based line and column', () => {
    expect(lineColAt('ab\ncd', 0)).toEqual({ line: 1, col: 1 });
    expect(lineColAt('ab\ncd', 4)).toEqual({ line: 2, col: 2 });
    expect(lineColAt('ab\n', 3)).toEqual({ line: 2, col: 1 });
  });
});

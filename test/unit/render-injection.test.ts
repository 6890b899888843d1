import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { COLORS } from '../../src/core/color.js';
import { weightsFor } from '../../src/core/weights.js';
import { configSchema, type Config } from '../../src/config/schema.js';
import { renderConfig } from '../../src/render/render.js';

/**
 * NGINX config injection: whatever the schema accepts, the rendered site config must have the same
 * structure (directives, their argument counts, blocks) as one rendered from plain values. A value
 * that smuggled in `;`, `{`, `}`, a quote, `#` or a newline would add or split a token.
 */

/** Just enough of NGINX's tokenizer: words, quoted strings with escapes, `;`, `{`, `}`, comments. */
function tokenize(text: string): string[] {
  const tokens: string[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text.charAt(i);
    if (/\s/.test(ch)) i++;
    else if (ch === '#') while (i < text.length && text[i] !== '\n') i++;
    else if (ch === ';' || ch === '{' || ch === '}') tokens.push(text[i++] as string);
    else if (ch === '"' || ch === "'") {
      let word = '';
      for (i++; i < text.length && text[i] !== ch; i++) word += text[i] === '\\' ? text[++i] : text[i];
      if (i >= text.length) throw new Error('unterminated quoted string');
      i++;
      tokens.push(`q:${word}`);
    } else {
      let word = '';
      while (i < text.length && !/[\s;{}]/.test(text.charAt(i))) {
        // `${name}` is a variable inside a word, not a block
        const end = text[i] === '$' && text[i + 1] === '{' ? text.indexOf('}', i) + 1 : i + 1;
        if (end <= i) throw new Error('unterminated ${');
        word += text.slice(i, end);
        i = end;
      }
      tokens.push(`w:${word}`);
    }
  }
  return tokens;
}

/**
 * The shape: `name/argc;`, `name/argc {`, `}`. A quoted directive name is a map key (a regex built
 * from a server address or a secret): its text is masked, its being one token is what counts.
 */
function structure(text: string): string[] {
  const out: string[] = [];
  let words: string[] = [];
  let depth = 0;
  for (const token of tokenize(text)) {
    if (token === ';' || token === '{') {
      const [first = '(none)', ...args] = words;
      const name = first.startsWith('q:') ? 'q:…' : first;
      out.push(`${'  '.repeat(depth)}${name}/${args.length}${token}`);
      if (token === '{') depth++;
      words = [];
    } else if (token === '}') {
      if (words.length > 0) throw new Error('directive without ;');
      depth--;
      out.push(`${'  '.repeat(depth)}}`);
    } else words.push(token);
  }
  if (depth !== 0 || words.length > 0) throw new Error('unbalanced config');
  return out;
}

const HOSTILE = [';', '{', '}', '"', "'", '$', '\n', '\r', '#', ' ', '\t', '\\', '\0', '`', '(', ')'];
const NEAR = ['a', 'Z', '0', '9', '.', ':', '[', ']', '/', '-', '_', '~', '*'];
const char = fc.constantFrom(...HOSTILE, ...NEAR);
const hostile = fc.string({ unit: char, maxLength: 24 });
const payload = fc.constantFrom('; evil', ' backup', '\n}', '{', '";', "'", '$host', '#', '\r\n', ' ', ';', '}server{');

/** Mostly valid values, some hostile, some valid with a payload stuck on: schema must sort them. */
function mix(valid: fc.Arbitrary<string>, ...nearMisses: fc.Arbitrary<string>[]): fc.Arbitrary<string> {
  return fc.oneof(
    ...nearMisses.map((arbitrary) => ({ arbitrary, weight: 1 })),
    { arbitrary: valid, weight: 40 },
    { arbitrary: hostile, weight: 1 },
    { arbitrary: fc.tuple(valid, payload).map(([v, p]) => v + p), weight: 1 },
    { arbitrary: fc.tuple(payload, valid).map(([p, v]) => p + v), weight: 1 },
  );
}

const server = mix(
  fc.oneof(
    fc
      .tuple(
        fc.constantFrom('127.0.0.1', '10.1.2.3', '[::1]', '[fe80::1]', 'localhost', 'app-1.internal'),
        fc.integer({ min: 1, max: 65535 }),
      )
      .map(([h, p]) => `${h}:${p}`),
    fc.constantFrom('[::ffff:1.2.3.4]:80', 'a:1', '[::]:8080'),
  ),
  // near misses the schema must refuse
  fc.constantFrom('0.0.0.0:0', '256.1.1.1:80', 'host:080', '1.2.3.4', '[]:80', '[1.2.3.4]:80', '-a:1', '1.2.3:80'),
);
const health = mix(fc.constantFrom('/health', '/', '/a/b.c~d-e_f', '/healthz/'));
const text = mix(fc.constantFrom('nginx', '.bgctl', 'bin/nginx', 'app_1'));
const nullable = (a: fc.Arbitrary<string>): fc.Arbitrary<string | null> => fc.oneof(fc.constant(null), a);
const forceHeader = mix(
  fc.constantFrom('X-Bgctl-Color', 'X-Force', 'Route-To-1', 'host', 'X-Request-Id'),
  fc.constantFrom('X_Force', 'X:1'),
);
const forceCookie = mix(fc.constantFrom('bgctl-force', 'bgctl_force', 'Route', 'a-b_c'), fc.constantFrom('a=b', 'a b'));
const forceSecret = mix(
  fc.constantFrom('0123456789abcdef', 'S3cret-token_0123.4567~89', 'a.b.c.d.e.f.g.h.i', `x${'~'.repeat(127)}`),
  fc.constantFrom('short', 'secret with spaces', 'secret:with:colons'),
);

const rawConfig = fc.record(
  {
    listen: fc.oneof(
      { arbitrary: fc.integer({ min: 1, max: 65535 }), weight: 20 },
      { arbitrary: fc.constantFrom(0, 65536, 1.5), weight: 1 },
    ),
    listenAddress: mix(fc.constantFrom('127.0.0.1', '*', '[::1]', '[::]', '0.0.0.0', '192.0.2.7')),
    environments: fc.record({
      blue: fc.record({ servers: fc.array(server, { minLength: 1, maxLength: 4 }), health }, { requiredKeys: ['servers'] }),
      green: fc.record({ servers: fc.array(server, { minLength: 1, maxLength: 4 }), health }, { requiredKeys: ['servers'] }),
    }),
    nginx: fc.record(
      {
        driver: fc.constantFrom('local', 'docker'),
        dir: text,
        binary: text,
        container: text,
        maxFails: fc.integer({ min: 0, max: 100 }),
        failTimeout: fc.integer({ min: 1, max: 3600 }),
        keepalive: fc.integer({ min: 0, max: 1024 }),
        keepaliveTimeoutSeconds: fc.integer({ min: 1, max: 4 }),
      },
      { requiredKeys: [] },
    ),
    migration: fc.record({ strategy: mix(fc.constantFrom('weighted', 'sticky')) }, { requiredKeys: [] }),
    deploy: fc.record({
      command: fc.array(text, { minLength: 1, maxLength: 3 }),
      env: fc.dictionary(fc.constantFrom('APP_VERSION', 'A'), text),
    }),
    routing: fc.record(
      { forceHeader: nullable(forceHeader), forceCookie: nullable(forceCookie), forceSecret: nullable(forceSecret) },
      { requiredKeys: [] },
    ),
    stateDir: text,
  },
  { requiredKeys: ['environments'] },
);

const SET_BY_BGCTL = ['connection', 'host', 'x-real-ip', 'x-forwarded-for', 'x-forwarded-proto', 'x-request-id'];

/**
 * The same config with every string that reaches the template replaced by a plain one of the same
 * kind: an IP literal by an IP literal, a host name by a host name (they are routed differently),
 * equal servers by equal servers.
 */
function benign(config: Config): Config {
  const copy = structuredClone(config);
  // a non-loopback address legitimately adds a loopback listener for bgctl itself; keep the class
  const loopback = config.listenAddress === '*' || config.listenAddress.startsWith('127.') || config.listenAddress === '[::1]';
  copy.listenAddress = loopback ? '127.0.0.1' : '192.0.2.1';
  const plain = new Map<string, string>();
  for (const [c, color] of COLORS.entries()) {
    const env = copy.environments[color];
    env.servers = env.servers.map((server, i) => {
      const ip = /^(\d|\[)/.test(server);
      const got = plain.get(server) ?? (ip ? `10.0.${c}.${i + 1}:80` : `host-${c}-${i}.internal:80`);
      plain.set(server, got);
      return got;
    });
    env.health = '/health';
  }
  const { forceHeader, forceCookie, forceSecret } = config.routing;
  // a header bgctl sets itself is not stripped before proxying: keep that class too
  copy.routing.forceHeader = forceHeader === null ? null : SET_BY_BGCTL.includes(forceHeader.toLowerCase()) ? 'Host' : 'X-Plain';
  copy.routing.forceCookie = forceCookie === null ? null : 'plain';
  copy.routing.forceSecret = forceSecret === null ? null : 'a'.repeat(16);
  return copy;
}

describe('no value the schema accepts changes the NGINX config structure', () => {
  it('the tokenizer sees through quotes, escapes and comments', () => {
    expect(structure(`a "b;c" 'd\\'{'; # x { ;\nblock x { inner 1 2; }`)).toEqual(['w:a/2;', 'w:block/1{', '  w:inner/2;', '}']);
  });

  it('would notice a smuggled token', () => {
    const config = configSchema.parse({ environments: { blue: { servers: ['10.0.0.1:80'] }, green: { servers: ['10.0.1.1:80'] } } });
    const opts = {
      weights: weightsFor('green', 50),
      revision: 1,
      strategy: 'weighted' as const,
      stable: 'blue' as const,
      growing: 'green' as const,
    };
    const { site } = renderConfig(config, opts);
    for (const evil of ['10.0.0.1:80 backup', '10.0.0.1:80; server 6.6.6.6:80', '10.0.0.1:80 #', '"10.0.0.1:80']) {
      expect(() => expect(structure(site.replace('10.0.0.1:80', evil))).toEqual(structure(site))).toThrow();
    }
    // the map keys carrying a secret are masked, but a quote smuggled into one still shows
    const secret = 'a-secret-of-16-chars';
    const forced = renderConfig(configSchema.parse({ ...config, routing: { forceSecret: secret, forceCookie: 'force' } }), opts).site;
    expect(forced).toContain(secret);
    for (const evil of ['x" default "y', 'x"; evil "', 'x" "y']) {
      expect(() => expect(structure(forced.replaceAll(secret, evil))).toEqual(structure(forced))).toThrow();
    }
  });

  it('holds for arbitrary, hostile input', () => {
    let accepted = 0;
    fc.assert(
      fc.property(rawConfig, fc.integer({ min: 0, max: 100 }), fc.constantFrom(...COLORS), fc.nat(), (raw, percent, growing, revision) => {
        const parsed = configSchema.safeParse(raw);
        if (!parsed.success) return;
        accepted++;
        const opts = {
          weights: weightsFor(growing, percent),
          revision,
          strategy: parsed.data.migration.strategy,
          stable: growing === 'blue' ? ('green' as const) : ('blue' as const),
          growing,
        };
        const got = renderConfig(parsed.data, opts);
        const base = renderConfig(benign(parsed.data), opts);
        expect(structure(got.site)).toEqual(structure(base.site));
        expect(structure(got.main)).toEqual(structure(base.main));
        // dynamic mode (nginx.mode): the same guarantee for its config
        const module = { module: '/usr/lib/nginx/modules/ngx_http_js_module.so' };
        const dyn = renderConfig(parsed.data, opts, module);
        const dynBase = renderConfig(benign(parsed.data), opts, module);
        expect(structure(dyn.site)).toEqual(structure(dynBase.site));
        expect(structure(dyn.main)).toEqual(structure(dynBase.main));
      }),
      { numRuns: 1500 },
    );
    // the property means little unless plenty of inputs got through the schema
    expect(accepted).toBeGreaterThan(150);
  });
});

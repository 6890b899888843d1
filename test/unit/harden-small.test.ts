import { describe, expect, it } from 'vitest';
import { parseStatus } from '../../src/adapters/nginx/status-parse.js';
import { parseCurlAnswer } from '../../src/adapters/nginx/through.js';
import { versionOf } from '../../src/adapters/probe.js';
import { parseStateText } from '../../src/adapters/state-store.js';
import { rollback } from '../../src/app/rollback.js';
import { validateConfig } from '../../src/config/validate.js';
import { ExitCode, LockHeldError, UsageError } from '../../src/core/errors.js';
import { failure, makeContext } from '../fakes/context.js';
import { FakeNginx } from '../fakes/nginx.js';
import { blue, startedState } from '../fakes/states.js';

const config = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  listen: 8080,
  environments: { blue: { servers: ['127.0.0.1:8081'] }, green: { servers: ['127.0.0.1:8082'] } },
  ...over,
});

function refusal(raw: unknown): UsageError {
  try {
    validateConfig(raw, 'bgctl.yaml');
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return e as UsageError;
  }
  throw new Error('expected the config to be refused');
}

describe('a version read from a health body', () => {
  it('outside the version pattern counts as no version: never reaches state, lock, log or terminal', () => {
    for (const bad of ['\u001b[31mred', '$(id)', '1.0 beta', '-1', '', 'x'.repeat(65), '1.0\n2.0']) {
      expect(versionOf(JSON.stringify({ version: bad })), JSON.stringify(bad)).toBeNull();
    }
    expect(versionOf('{"version":"2.1.0+build.7"}')).toBe('2.1.0+build.7');
    const curl = `HTTP/1.1 200 OK\r\nX-Bgctl-Color: green\r\n\r\n${JSON.stringify({ version: '$(touch /tmp/x)' })}`;
    expect(parseCurlAnswer('c', curl, 'green', 1)).toMatchObject({ healthy: true, version: null });
  });
});

describe('the state schema', () => {
  it('refuses weights that do not total 100, top level or in a step', () => {
    const good = startedState();
    expect(parseStateText(JSON.stringify(good)).ok).toBe(true);
    const bad = parseStateText(JSON.stringify({ ...good, weights: { blue: 60, green: 60 } }));
    expect(bad).toMatchObject({ ok: false, why: expect.stringContaining('weights: blue and green must total 100') as unknown });
    expect(parseStateText(JSON.stringify({ ...good, weights: { blue: 0, green: 0 } })).ok).toBe(false);
  });
});

describe('routing.forceHeader', () => {
  it.each([
    'Authorization',
    'Content-Type',
    'Transfer-Encoding',
    'TE',
    'Upgrade',
    'Keep-Alive',
    'Proxy-Authorization',
    'Cookie',
    'Connection',
    'Host',
    'X-Bgctl-Secret',
  ])('refuses %s, a header HTTP, a proxy or bgctl itself uses (exit 2)', (header) => {
    const e = refusal(config({ routing: { forceHeader: header } }));
    expect(e.exitCode).toBe(ExitCode.USAGE);
    expect(e.message).toMatch(/^bgctl\.yaml: routing\.forceHeader: is a header bgctl or HTTP itself sets; pick another name/);
  });

  it('accepts an ordinary header name', () => {
    expect(validateConfig(config({ routing: { forceHeader: 'X-Route-To' } }), 'bgctl.yaml').routing.forceHeader).toBe('X-Route-To');
  });
});

describe('colors must not share servers, whatever the spelling', () => {
  it.each([
    ['localhost:8081', '127.0.0.1:8081'],
    ['LocalHost:8081', '[::1]:8081'],
    ['app.localhost:8081', '127.0.0.1:8081'],
    ['[0:0::1]:8081', '[::1]:8081'],
    ['[::ffff:127.0.0.1]:8081', '127.0.0.1:8081'],
    ['0.0.0.0:8081', '127.0.0.1:8081'],
  ])('%s and %s are one server', (green, blueServer) => {
    const e = refusal(config({ environments: { blue: { servers: [blueServer] }, green: { servers: [green] } } }));
    expect(e.message).toMatch(/environments\.green\.servers\[0\]: .* is also a blue server.*colors must not share servers/);
  });

  it.each(['0x7f.0.0.1:8082', '127.1:8082', '0x7f000001:8082', '2130706433:8082', 'host.0x1:8082', 'a.b.12:8082'])(
    'refuses %s: a number resolvers read as an IPv4 address, not a host:port',
    (server) => {
      const e = refusal(config({ environments: { blue: { servers: ['127.0.0.1:8081'] }, green: { servers: [server] } } }));
      expect(e.message).toMatch(/environments\.green\.servers\[0\]: not a host:port/);
    },
  );

  it('keeps different servers apart', () => {
    const ok = validateConfig(
      config({
        environments: {
          blue: { servers: ['localhost:8081', '127.0.0.2:8082'] },
          green: { servers: ['127.0.0.1:8082', 'app-1.internal:8081'] },
        },
      }),
      'bgctl.yaml',
    );
    expect(ok.environments.green.servers).toEqual(['127.0.0.1:8082', 'app-1.internal:8081']);
  });
});

describe('a revision outside the safe integer range', () => {
  it('is no answer on /__bgctl/status', () => {
    const status = (revision: string): string => `{"revision":${revision},"blue":100,"green":0,"strategy":"weighted","stable":"blue"}`;
    expect(parseStatus(status('9007199254740991'))).toMatchObject({ revision: 9007199254740991 });
    for (const r of ['9007199254740992', '1e300', '-1', '1.5']) expect(parseStatus(status(r)), r).toBeNull();
  });
});

describe('rollback', () => {
  it('the second of two concurrent rollbacks exits 5 saying the first is doing the job', async () => {
    const w = makeContext();
    w.lock.holdBy({ pid: 77, host: 'test-host', command: 'rollback', startedAt: '2025-01-01T00:00:00.000Z', alive: true });
    const e = await failure(rollback(w.ctx));
    expect(e).toBeInstanceOf(LockHeldError);
    expect(e.exitCode).toBe(ExitCode.LOCKED);
    expect((e as LockHeldError).hint).toMatch(/another `bgctl rollback` \(pid 77\) is returning traffic to the stable color already/);
    expect(w.lock.interrupted).toEqual([]);
  });

  it('leaves no weights drift when NGINX already serves the stable color at the recorded revision', async () => {
    const state = { ...startedState(), weights: { blue: 50, green: 50 } };
    // no fallback to arm either (that alone would be a reason to re-apply)
    const w = makeContext({
      state,
      config: { nginx: { fallback: false } },
      nginx: new FakeNginx({ revision: state.revision, weights: blue(100) }),
    });
    const r = await rollback(w.ctx);
    expect(r.action).toBe('reasserted');
    expect(w.store.state).toMatchObject({ weights: blue(100), revision: state.revision });
  });
});

import { describe, expect, it } from 'vitest';
import {
  ExitCode,
  LockHeldError,
  PreflightError,
  RolledBackError,
  UnknownStateError,
  UsageError,
  InterruptedError,
} from '../../src/core/errors.js';
import { errorReply, HttpError } from '../../src/serve/http-errors.js';
import { parseServeOptions, parseSwitchRequest } from '../../src/serve/options.js';
import { matchRoute, type Route } from '../../src/serve/routes.js';

const TOKEN = { BGCTL_API_TOKEN: 'a-long-enough-token-123' };
const fail = (f: () => unknown): Error & { exitCode?: number } => {
  try {
    f();
  } catch (e) {
    return e as Error & { exitCode?: number };
  }
  throw new Error('expected a failure');
};

describe('bgctl serve options', () => {
  it('defaults: loopback, API 9000, monitoring 8090, no token (mutating calls refused), 10 calls/s', () => {
    expect(parseServeOptions({}, {})).toMatchObject({
      host: '127.0.0.1',
      apiPort: 9000,
      monitorPort: 8090,
      token: null,
      rateLimit: 10,
      maxBodyBytes: 16384,
      webhook: null,
      alerts: { cpuPercent: 80, memoryPercent: 90, availability: 0.99, hostForSeconds: 30 },
    });
  });

  it('refuses to bind a non-loopback address without a token (exit 2), and accepts it with one', () => {
    const e = fail(() => parseServeOptions({ host: '0.0.0.0' }, {}));
    expect(e.exitCode).toBe(ExitCode.USAGE);
    expect(e.message).toMatch(/refusing to listen on 0\.0\.0\.0 without an API token: set BGCTL_API_TOKEN/);
    expect(parseServeOptions({ host: '0.0.0.0' }, TOKEN).token).toBe(TOKEN.BGCTL_API_TOKEN);
    expect(parseServeOptions({ host: '::1' }, {}).host).toBe('::1');
  });

  it('refuses a weak token, bad ports, a clash, a bad address and a non-http webhook', () => {
    const cases: [Parameters<typeof parseServeOptions>[0], NodeJS.ProcessEnv, RegExp][] = [
      [{}, { BGCTL_API_TOKEN: 'short' }, /BGCTL_API_TOKEN: must be 16-512 printable characters/],
      [{ apiPort: '70000' }, {}, /--api-port: must be 0-65535/],
      [{ apiPort: '9x' }, {}, /--api-port: not a whole number/],
      [{ apiPort: '9100', monitorPort: '9100' }, {}, /both 9100/],
      [{ host: 'example.com' }, {}, /--host: not an IP address/],
      [{ alertWebhook: 'file:///etc/passwd' }, {}, /--alert-webhook: not an http/],
      [{}, { BGCTL_ALERT_WEBHOOK: 'https://user:pw@chat.example/hook' }, /--alert-webhook/],
      [{ alertCpu: '0' }, {}, /--alert-cpu: must be 1-100/],
      [{ allowHost: ['evil;host'] }, {}, /--allow-host/],
    ];
    for (const [flags, env, message] of cases) {
      const e = fail(() => parseServeOptions(flags, env));
      expect(e.exitCode, message.source).toBe(ExitCode.USAGE);
      expect(e.message).toMatch(message);
    }
  });

  it('takes the webhook from the environment when no flag is given', () => {
    expect(parseServeOptions({}, { BGCTL_ALERT_WEBHOOK: 'https://chat.example/hooks/abc' }).webhook).toBe('https://chat.example/hooks/abc');
  });
});

describe('POST /switch body', () => {
  it('accepts the same values as `bgctl gradual`', () => {
    expect(parseSwitchRequest('green', { version: '2.1.0', steps: [10, 50, 100], stepSeconds: 5, strategy: 'sticky' })).toEqual({
      color: 'green',
      version: '2.1.0',
      steps: [10, 50, 100],
      stepSeconds: 5,
      strategy: 'sticky',
      dryRun: false,
    });
    expect(parseSwitchRequest('blue', undefined)).toMatchObject({ color: 'blue', version: null, steps: undefined });
    expect(parseSwitchRequest('blue', { steps: '25,50,100' }).steps).toEqual([25, 50, 100]);
  });

  it('refuses what the CLI refuses, naming the field (exit 2 → HTTP 400)', () => {
    const cases: [string, unknown, RegExp][] = [
      ['purple', {}, /color: "purple" is not a color/],
      ['green', { version: '2.1.0; rm -rf /' }, /version: not a valid version/],
      ['green', { version: '$(id)' }, /version: not a valid version/],
      ['green', { steps: [50, 25, 100] }, /steps: steps must be strictly increasing/],
      ['green', { steps: [25, 50] }, /steps: the last step must be 100/],
      ['green', { steps: [0, 100] }, /steps: 0 is outside 1-100/],
      ['green', { steps: [12.5, 100] }, /steps\[0\]: steps are whole percentages/],
      ['green', { stepSeconds: 86401 }, /stepSeconds: must be 0-86400/],
      ['green', { stepSeconds: '5' }, /stepSeconds/],
      ['green', { strategy: 'random' }, /strategy/],
      ['green', { version: '2.1.0', color: 'blue' }, /unknown key "color"/],
      ['green', [1, 2], /body/],
    ];
    for (const [color, body, message] of cases) {
      const e = fail(() => parseSwitchRequest(color, body));
      expect(e.exitCode, message.source).toBe(ExitCode.USAGE);
      expect(e.message).toMatch(message);
    }
  });
});

describe('routes and error mapping', () => {
  const routes: Route<string>[] = [
    { method: 'GET', path: '/status', mutating: false, handler: 'status' },
    { method: 'POST', path: '/switch/:color', mutating: true, handler: 'switch' },
  ];

  it('matches paths with parameters, answers HEAD like GET, and tells 404 from 405', () => {
    expect(matchRoute(routes, 'POST', '/switch/green')).toMatchObject({ kind: 'found', params: { color: 'green' } });
    expect(matchRoute(routes, 'HEAD', '/status')).toMatchObject({ kind: 'found', route: { handler: 'status' } });
    expect(matchRoute(routes, 'GET', '/switch/green')).toEqual({ kind: 'wrong_method', allow: ['POST'] });
    expect(matchRoute(routes, 'DELETE', '/status')).toEqual({ kind: 'wrong_method', allow: ['GET', 'HEAD'] });
    expect(matchRoute(routes, 'GET', '/nope')).toEqual({ kind: 'not_found' });
    expect(matchRoute(routes, 'POST', '/switch/')).toEqual({ kind: 'not_found' });
    expect(matchRoute(routes, 'POST', '/switch/%E0%A4%A')).toEqual({ kind: 'not_found' });
  });

  it('maps every exit code to its HTTP status with {error: {message, code}}', () => {
    const cases: [Error, number, number][] = [
      [new UsageError('bad'), 400, 2],
      [new RolledBackError('rolled back'), 502, 3],
      [new UnknownStateError('look'), 500, 4],
      [new LockHeldError('locked'), 409, 5],
      [new PreflightError('unhealthy'), 422, 6],
      [new InterruptedError('stopping'), 503, 130],
      [new TypeError('oops'), 500, 1],
    ];
    for (const [error, status, code] of cases) {
      const r = errorReply(error);
      expect([r.status, r.body.error.code], error.message).toEqual([status, code]);
    }
    expect(errorReply(new TypeError('oops')).body.error.message).toBe('internal error (a bug): oops');
    const http = errorReply(new HttpError(429, 'slow down', 'rate_limited', { headers: { 'Retry-After': '1' } }));
    expect(http).toEqual({
      status: 429,
      headers: { 'Retry-After': '1' },
      body: { error: { message: 'slow down', code: 2, kind: 'rate_limited' } },
    });
  });
});

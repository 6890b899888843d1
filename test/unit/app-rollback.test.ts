import { describe, expect, it } from 'vitest';
import { rollback } from '../../src/app/rollback.js';
import { canary, gradual } from '../../src/app/traffic-commands.js';
import { ExitCode, LockHeldError, PreflightError, RolledBackError, UnknownStateError } from '../../src/core/errors.js';
import { rollbackFailed } from '../../src/core/migration.js';
import { failure, makeContext, type World } from '../fakes/context.js';
import { FakeNginx } from '../fakes/nginx.js';
import { healthyUntil } from '../fakes/prober.js';
import { blue, green, interruptedState } from '../fakes/states.js';

const appliedGreen = (w: World): number[] => w.nginx.applied.map((c) => c.weights?.green ?? -1);

/** A world where gradual green 2.1.0 has completed: green stable at 100%. */
async function afterGradual(): Promise<World> {
  const w = makeContext();
  await gradual(w.ctx, { color: 'green', version: '2.1.0' });
  return w;
}

describe('rollback', () => {
  it('reverts a completed migration: blue gets 100% and is stable again', async () => {
    const w = await afterGradual();
    const r = await rollback(w.ctx);
    expect(r).toMatchObject({ action: 'reverted', color: 'blue' });
    expect(appliedGreen(w).at(-1)).toBe(0);
    expect(w.nginx.current?.weights).toEqual(blue(100));
    expect(w.store.state).toMatchObject({ stable: 'blue', weights: blue(100), revision: 6 });
    expect(w.store.state.migration).toMatchObject({ status: 'rolled_back', outcome: 'rolled back by operator', reason: 'manual rollback' });
    expect(w.store.state.history.at(-1)?.status).toBe('rolled_back');
    expect(w.lock.held).toBe(false);
  });

  it('a second rollback re-asserts blue and never flip-flops back to green', async () => {
    const w = await afterGradual();
    await rollback(w.ctx);
    const applies = w.nginx.applied.length;
    for (let i = 0; i < 2; i++) {
      const r = await rollback(w.ctx);
      expect(r).toMatchObject({ action: 'reasserted', color: 'blue', state: { stable: 'blue' } });
    }
    expect(w.nginx.applied.length).toBe(applies); // NGINX already serves blue: nothing to apply
    expect(w.store.state).toMatchObject({ stable: 'blue', weights: blue(100) });
  });

  it('after an automatic rollback it re-asserts the stable color', async () => {
    const w = makeContext();
    w.prober.setHealth('green', healthyUntil(4500));
    expect(await failure(gradual(w.ctx, { color: 'green', version: '2.1.0' }))).toBeInstanceOf(RolledBackError);
    expect(await rollback(w.ctx)).toMatchObject({ action: 'reasserted', color: 'blue' });
    expect(w.nginx.current?.weights).toEqual(blue(100));
  });

  it('re-asserts by applying when NGINX drifted away from the stable color', async () => {
    const w = makeContext({ nginx: new FakeNginx({ revision: 9, weights: green(30) }) });
    const r = await rollback(w.ctx);
    expect(r.action).toBe('reasserted');
    expect(w.nginx.applied).toEqual([{ op: 'apply', revision: 10, weights: blue(100) }]);
    expect(w.store.state).toMatchObject({ revision: 10, weights: blue(100) });
  });

  it('reverts an interrupted migration from what NGINX really serves', async () => {
    const state = interruptedState({ passed: [25], pending: 50 });
    const w = makeContext({ state, nginx: new FakeNginx({ revision: 3, weights: green(50) }) });
    const r = await rollback(w.ctx);
    expect(r).toMatchObject({ action: 'reverted', color: 'blue' });
    expect(w.nginx.applied).toEqual([{ op: 'apply', revision: 4, weights: blue(100) }]);
    expect(w.store.state).toMatchObject({
      stable: 'blue',
      weights: blue(100),
      revision: 4,
      migration: { id: 'dead1', status: 'rolled_back' },
    });
  });

  it('leaves no step of the reverted migration pending or falsely applied', async () => {
    const state = interruptedState({ passed: [25], pending: 50 });
    const w = makeContext({ state, nginx: new FakeNginx({ revision: 2, weights: green(25) }) });
    await rollback(w.ctx);
    const step = w.store.state.migration?.steps[1];
    expect(step?.revision).not.toBe(3);
    expect(step?.verdict).not.toBe('pending');
  });

  it('reverts a held canary', async () => {
    const w = makeContext();
    await canary(w.ctx, { color: 'green', percent: 20 });
    expect(await rollback(w.ctx)).toMatchObject({ action: 'reverted', color: 'blue' });
    expect(w.store.state).toMatchObject({ stable: 'blue', weights: blue(100), migration: { status: 'rolled_back' } });
  });

  it('writes the reverted migration with the confirmed weights in one save', async () => {
    const w = makeContext();
    await canary(w.ctx, { color: 'green', percent: 20 });
    const before = w.store.saves.length;
    await rollback(w.ctx);
    expect(w.store.saves.length).toBe(before + 1);
    expect(w.store.saves.at(-1)).toMatchObject({
      weights: blue(100),
      migration: { status: 'rolled_back', outcome: 'rolled back by operator' },
    });
  });

  it('reverts a migration whose automatic rollback failed', async () => {
    const w = await afterGradual();
    await w.store.save(rollbackFailed(w.store.state, 'rollback failed: boom', '2025-01-01T01:00:00.000Z'));
    expect(w.store.state.migration?.status).toBe('failed');
    expect(await rollback(w.ctx)).toMatchObject({ action: 'reverted', color: 'blue' });
  });

  it('needs no metrics: one probe of each color, and a healthy target is enough', async () => {
    const w = await afterGradual();
    w.prober.setHealth('green', false);
    const probes = { ...w.prober.calls };
    expect(await rollback(w.ctx)).toMatchObject({ action: 'reverted', forced: null, backup: null });
    expect(w.prober.calls).toEqual({ blue: probes.blue + 1, green: probes.green + 1 });
    expect(w.nginx.current?.weights).toEqual(blue(100));
  });

  it('refuses to move traffic onto a target that fails its probe: exit 6 naming it, nothing changed', async () => {
    const w = await afterGradual();
    w.prober.setHealth('blue', false);
    const before = structuredClone(w.store.state);
    const applies = w.nginx.calls.length;
    const e = await failure(rollback(w.ctx));
    expect(e).toBeInstanceOf(PreflightError);
    expect(e.exitCode).toBe(ExitCode.PREFLIGHT);
    expect(e.message).toMatch(/rollback: blue is not healthy \(127\.0\.0\.1:8081: HTTP 503\); nothing was changed/);
    expect(w.nginx.calls.length).toBe(applies);
    expect(w.nginx.current?.weights).toEqual(green(100));
    expect(w.store.state).toEqual(before);
    expect(w.lock.held).toBe(false);
  });

  it('--force moves traffic onto an unhealthy target and says so', async () => {
    const w = await afterGradual();
    w.prober.setHealth('blue', false);
    const r = await rollback(w.ctx, { force: true });
    expect(r).toMatchObject({ action: 'reverted', color: 'blue' });
    expect(r.forced).toMatch(/blue failed its health probe .*--force/);
    expect(w.nginx.current?.weights).toEqual(blue(100));
  });

  it('arms the fallback: the idle color, healthy, backs up the one at 100%; none when it fails its probe', async () => {
    const w = await afterGradual();
    const r = await rollback(w.ctx);
    expect(r.backup).toBe('green');
    expect(w.renders.at(-1)).toMatchObject({ weights: blue(100), backup: 'green' });
    expect(w.store.state.backup).toBe('green');
    expect(w.nginx.current?.backup).toBe('green');
    w.prober.setHealth('green', false);
    expect(await rollback(w.ctx)).toMatchObject({ action: 'reasserted', backup: null });
    expect(w.renders.at(-1)).toMatchObject({ weights: blue(100), backup: null });
  });

  it('nginx.fallback: false never arms one', async () => {
    const w = makeContext({ config: { nginx: { fallback: false } } });
    await gradual(w.ctx, { color: 'green', version: '2.1.0' });
    expect(w.renders.every((r) => (r.backup ?? null) === null)).toBe(true);
    expect(await rollback(w.ctx)).toMatchObject({ backup: null });
  });

  it('starts NGINX on the stable color when it is not running', async () => {
    const w = await afterGradual();
    await w.nginx.stop();
    const r = await rollback(w.ctx);
    expect(r.action).toBe('reverted');
    expect(w.nginx.calls.at(-1)).toEqual({ op: 'start', revision: 6, weights: blue(100) });
    expect(w.nginx.running).toBe(true);
    expect(w.store.state).toMatchObject({ stable: 'blue', weights: blue(100), revision: 6 });
  });

  it('throws UnknownStateError (4) when the rollback cannot be applied, and releases the lock', async () => {
    const w = await afterGradual();
    w.nginx.failNext('apply', 'reload failed');
    const e = await failure(rollback(w.ctx));
    expect(e).toBeInstanceOf(UnknownStateError);
    expect(e.exitCode).toBe(ExitCode.UNKNOWN_STATE);
    expect(e.message).toMatch(/rollback to blue failed: reload failed/);
    expect(w.nginx.current?.weights).toEqual(green(100));
    expect(w.lock.held).toBe(false);
  });

  it('throws UnknownStateError (4) when NGINX is down and cannot be started', async () => {
    const w = await afterGradual();
    await w.nginx.stop();
    w.nginx.failNext('start', 'bind() to 127.0.0.1:8080 failed (98: Address already in use)');
    const e = await failure(rollback(w.ctx));
    expect(e.exitCode).toBe(ExitCode.UNKNOWN_STATE);
  });

  for (const holder of [
    { what: 'a migration on another host', host: 'other-host', command: 'gradual green 2.1.0' },
    { what: 'a non-migration operation', host: 'test-host', command: 'start' },
  ]) {
    it(`refuses while ${holder.what} holds the lock (5) and changes nothing`, async () => {
      const w = await afterGradual();
      const saves = w.store.saves.length;
      w.lock.holdBy({ pid: 77, host: holder.host, command: holder.command, startedAt: '2025-01-01T00:00:00.000Z', alive: true });
      const e = await failure(rollback(w.ctx));
      expect(e).toBeInstanceOf(LockHeldError);
      expect(e.exitCode).toBe(ExitCode.LOCKED);
      expect(w.lock.interrupted).toEqual([]);
      expect(w.store.saves.length).toBe(saves);
      expect(w.nginx.current?.weights).toEqual(green(100));
    });
  }

  it('stops a migration in progress on this host first, then reverts what is left', async () => {
    const w = await afterGradual();
    w.lock.holdBy({ pid: 77, host: 'test-host', command: 'canary blue 30', startedAt: '2025-01-01T00:00:00.000Z', alive: true });
    const r = await rollback(w.ctx);
    expect(w.lock.interrupted).toEqual([77]);
    expect(r).toMatchObject({ preempted: { pid: 77, command: 'canary blue 30' }, color: 'blue' });
    expect(w.lock.held).toBe(false);
  });

  it('reclaims the lock of a dead holder', async () => {
    const w = await afterGradual();
    w.lock.holdBy({ pid: 77, host: 'test-host', command: 'gradual green 2.1.0', startedAt: '2025-01-01T00:00:00.000Z', alive: false });
    expect((await rollback(w.ctx)).action).toBe('reverted');
    expect(w.lock.held).toBe(false);
  });
});

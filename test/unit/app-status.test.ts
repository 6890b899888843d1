import { describe, expect, it } from 'vitest';
import { status } from '../../src/app/status.js';
import { canary } from '../../src/app/traffic-commands.js';
import { makeContext, PID } from '../fakes/context.js';
import { FakeNginx } from '../fakes/nginx.js';
import { MemoryLock } from '../fakes/store.js';
import { blue, green, interruptedState } from '../fakes/states.js';

const at = '2025-01-01T00:00:00.000Z';

describe('status', () => {
  it('reports the stable color, live weights, versions and health; no drift when NGINX matches the state', async () => {
    const w = makeContext();
    const r = await status(w.ctx);
    expect(r).toMatchObject({ stable: 'blue', active: 'blue', weights: blue(100), revision: 1, drift: null, migration: null });
    expect(r.versions).toEqual({ blue: '2.0.0', green: '2.1.0' });
    expect(r.nginx).toMatchObject({ running: true, live: { revision: 1 } });
    expect(r.health.green.healthy).toBe(true);
  });

  it('changes nothing and takes no lock', async () => {
    const w = makeContext();
    await status(w.ctx);
    expect(w.lock.acquired).toBe(0);
    expect(w.store.saves).toEqual([]);
    expect(w.nginx.calls).toEqual([]);
  });

  it('reports drift between what NGINX serves and state.json, and shows the live weights', async () => {
    const w = makeContext({ nginx: new FakeNginx({ revision: 4, weights: green(75) }) });
    const r = await status(w.ctx);
    expect(r.drift).toBe('NGINX serves revision 4 (blue 25% / green 75%) but state.json says revision 1 (blue 100% / green 0%)');
    expect(r).toMatchObject({ weights: green(75), active: 'green', stable: 'blue' });
  });

  it('reports NGINX not running (weights from the state) and running-but-silent', async () => {
    const down = makeContext({ nginx: new FakeNginx(null) });
    expect(await status(down.ctx)).toMatchObject({
      drift: 'NGINX is not running',
      weights: blue(100),
      nginx: { running: false, live: null },
    });
    const silent = makeContext();
    silent.nginx.answering = false;
    expect((await status(silent.ctx)).drift).toBe('NGINX is running but does not answer its status location');
  });

  it('reports a running migration as interrupted when its process is dead', async () => {
    const lock = new MemoryLock();
    lock.holdBy({ pid: 999, host: 'test-host', command: 'gradual green 2.1.0', startedAt: at, alive: false });
    const w = makeContext({
      state: interruptedState({ passed: [25], pending: 50, pid: 999 }),
      nginx: new FakeNginx({ revision: 2, weights: green(25) }),
      lock,
    });
    const r = await status(w.ctx);
    expect(r.migration).toMatchObject({
      id: 'dead1',
      status: 'interrupted',
      from: 'blue',
      to: 'green',
      step: 2,
      totalSteps: 4,
      percent: 50,
    });
    expect(r.lock).toMatchObject({ pid: 999, alive: false });
  });

  it('reports a running migration as interrupted when nobody holds the lock', async () => {
    const w = makeContext({
      state: interruptedState({ passed: [25], pid: 999 }),
      nginx: new FakeNginx({ revision: 2, weights: green(25) }),
    });
    expect((await status(w.ctx)).migration?.status).toBe('interrupted');
  });

  it('reports running while the migrating process is alive and holds the lock', async () => {
    const lock = new MemoryLock();
    lock.holdBy({ pid: 999, host: 'test-host', command: 'gradual green 2.1.0', startedAt: at, alive: true });
    const w = makeContext({
      state: interruptedState({ passed: [25], pid: 999 }),
      nginx: new FakeNginx({ revision: 2, weights: green(25) }),
      lock,
    });
    const r = await status(w.ctx);
    expect(r).toMatchObject({ drift: null, migration: { status: 'running', step: 1, totalSteps: 4 } });
  });

  it('reports a live lock held by another process than the migration as interrupted', async () => {
    const lock = new MemoryLock();
    lock.holdBy({ pid: PID + 1, host: 'test-host', command: 'rollback', startedAt: at, alive: true });
    const w = makeContext({
      state: interruptedState({ passed: [25], pid: 999 }),
      nginx: new FakeNginx({ revision: 2, weights: green(25) }),
      lock,
    });
    expect((await status(w.ctx)).migration?.status).toBe('interrupted');
  });

  it('a fleet: lists every target and flags only the one that drifted', async () => {
    const fleet = new FakeNginx(null); // the fleet as a whole does not answer as one
    const live = (revision: number, weights: ReturnType<typeof blue>) => ({
      revision,
      weights,
      strategy: 'weighted',
      stable: 'blue' as const,
    });
    const targets = [
      { name: 'edge-1', kind: 'local' as const, where: '/n/1', running: true, live: live(1, blue(100)), problem: null },
      {
        name: 'edge-2',
        kind: 'docker' as const,
        where: 'container e2',
        running: false,
        live: null,
        problem: 'container e2 is not running',
      },
      { name: 'edge-3', kind: 'local' as const, where: '/n/3', running: true, live: live(7, green(50)), problem: null },
    ];
    const w = makeContext({ nginx: Object.assign(fleet, { targets: () => Promise.resolve(targets) }) });
    const r = await status(w.ctx);
    expect(r.targets.map((t) => [t.name, t.revision, t.drift])).toEqual([
      ['edge-1', 1, null],
      ['edge-2', null, 'not running'],
      ['edge-3', 7, 'serves revision 7 (blue 50% / green 50%) but state.json says revision 1 (blue 100% / green 0%)'],
    ]);
    expect(r.targets[1]?.problem).toBe('container e2 is not running');
    expect(r.drift).toBe(
      'target edge-2: not running; target edge-3: serves revision 7 (blue 50% / green 50%) but state.json says revision 1 (blue 100% / green 0%)',
    );
  });

  it('reports a held canary as holding', async () => {
    const w = makeContext();
    await canary(w.ctx, { color: 'green', percent: 10 });
    const r = await status(w.ctx);
    expect(r).toMatchObject({
      stable: 'blue',
      weights: green(10),
      drift: null,
      migration: { kind: 'canary', status: 'holding', percent: 10 },
    });
  });
});

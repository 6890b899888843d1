import { describe, expect, it } from 'vitest';
import { gradual } from '../../src/app/traffic-commands.js';
import { ExitCode, InterruptedError, RolledBackError, StateWriteError } from '../../src/core/errors.js';
import type { State } from '../../src/core/state.js';
import { failure, makeContext, type World } from '../fakes/context.js';
import { blue } from '../fakes/states.js';

// Faults around a migration, with the fakes' timeline (3 s steps, a probe a second): step 2 runs from 3 s to 6 s.

const appliedGreen = (w: World): number[] => w.nginx.applied.map((c) => c.weights?.green ?? -1);

/** From `from` on (clock ms), every state write fails the way a full state folder does. */
function stateFolderFullFrom(w: World, from: number): void {
  const save = w.store.save.bind(w.store);
  w.store.save = async (s: State): Promise<void> => {
    if (w.clock.elapsed >= from) throw new StateWriteError('cannot save the state in /fake/state: no space left on the device');
    return save(s);
  };
}

describe('the state cannot be saved mid-migration', () => {
  it('traffic goes back to blue anyway (NGINX confirms), exit 4 with the real cause', async () => {
    const w = makeContext();
    stateFolderFullFrom(w, 4500);
    const e = await failure(gradual(w.ctx, { color: 'green', version: '2.1.0' }));
    expect(e).toBeInstanceOf(StateWriteError);
    expect(e.exitCode).toBe(ExitCode.UNKNOWN_STATE);
    expect(e.message).toMatch(/no space left on the device; traffic was returned to blue \(100%, confirmed by NGINX, revision 4\)/);
    expect(appliedGreen(w)).toEqual([25, 50, 0]);
    expect(w.nginx.current).toMatchObject({ weights: blue(100), revision: 4 });
    // the last state that could be written: step 2 running; the next command reconciles from NGINX
    expect(w.store.state).toMatchObject({ migration: { status: 'running' } });
    expect(w.lock.held).toBe(false);
  });

  it('a lock that cannot be released does not hide the real cause', async () => {
    const w = makeContext();
    stateFolderFullFrom(w, 4500);
    const acquire = w.lock.acquire.bind(w.lock);
    w.lock.acquire = async (command: string) => {
      const handle = await acquire(command);
      return {
        release: async () => {
          await handle.release();
          throw new Error('EROFS: read-only file system, unlink lock');
        },
      };
    };
    const e = await failure(gradual(w.ctx, { color: 'green', version: '2.1.0' }));
    expect(e).toBeInstanceOf(StateWriteError);
    expect(e.message).toMatch(/no space left on the device/);
  });
});

describe('a signal before the first step', () => {
  it('is recorded as an interrupted migration with a reason, never left running with no step', async () => {
    const w = makeContext();
    const save = w.store.save.bind(w.store);
    w.store.save = async (s: State): Promise<void> => {
      await save(s);
      // SIGTERM arrives while the migration's start is being written
      if (s.migration?.status === 'running' && s.migration.steps.length === 0) w.abort.abort('SIGTERM');
    };
    const e = await failure(gradual(w.ctx, { color: 'green', version: '2.1.0' }));
    expect(e).toBeInstanceOf(InterruptedError);
    expect(w.nginx.applied).toEqual([]);
    expect(w.store.state.migration).toMatchObject({
      status: 'rolled_back',
      outcome: 'interrupted, rolled back',
      reason: 'interrupted before the first step',
      steps: [],
    });
  });
});

describe('NGINX dies inside a step', () => {
  it('is noticed at the next check and the rollback starts it again on blue (exit 3)', async () => {
    const w = makeContext();
    w.clock.at(3500, () => {
      w.nginx.running = false;
      w.nginx.current = null;
    });
    const e = await failure(gradual(w.ctx, { color: 'green', version: '2.1.0' }));
    expect(e).toBeInstanceOf(RolledBackError);
    expect(e.message).toMatch(/step 2: NGINX stopped running/);
    // within two probes (4 s, 5 s), not at the step boundary (6 s)
    expect(w.clock.elapsed).toBeLessThan(6000);
    expect(w.nginx.calls.at(-1)).toMatchObject({ op: 'start', weights: blue(100) });
    expect(w.nginx.running).toBe(true);
    expect(w.store.state).toMatchObject({ stable: 'blue', weights: blue(100), migration: { status: 'rolled_back' } });
    expect(w.store.state.revision).toBe(w.nginx.current?.revision);
  });
});

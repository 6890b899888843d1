import { describe, expect, it } from 'vitest';
import { ACK_TIMEOUT_MS, controlMigration, type ControlChannel } from '../../src/app/control.js';
import { gradual } from '../../src/app/traffic-commands.js';
import type { ControlAction, ControlFileAck, ControlFileRequest } from '../../src/core/control.js';
import { ExitCode, RolledBackError } from '../../src/core/errors.js';
import type { State } from '../../src/core/state.js';
import { failure, HOST, makeContext, type World } from '../fakes/context.js';
import { startedState } from '../fakes/states.js';

/** Control requests in memory; `at` schedules a request (by elapsed fake time) for the running migration. */
class MemoryControl implements ControlChannel {
  readonly sent: ControlFileRequest[] = [];
  readonly answers: ControlFileAck[] = [];
  private seq = 0;
  constructor(private readonly w: World) {}

  at(elapsedMs: number, action: ControlAction, by = 'ann@web1', full = false): void {
    this.w.clock.at(elapsedMs, () => {
      const migration = this.w.store.state.migration?.id ?? 'none';
      this.sent.push({ id: `r${++this.seq}`, migration, action, by, full, at: new Date(this.w.clock.now()).toISOString() });
    });
  }
  send(req: ControlFileRequest): Promise<void> {
    this.sent.push(req);
    return Promise.resolve();
  }
  pending(): Promise<ControlFileRequest[]> {
    return Promise.resolve(this.sent.filter((r) => !this.answers.some((a) => a.id === r.id)));
  }
  answer(ack: ControlFileAck): Promise<void> {
    this.answers.push(ack);
    return Promise.resolve();
  }
  withdraw(id: string): Promise<boolean> {
    const i = this.sent.findIndex((r) => r.id === id);
    if (i < 0) return Promise.resolve(false);
    this.sent.splice(i, 1);
    return Promise.resolve(true);
  }
  takeAnswer(id: string): Promise<ControlFileAck | null> {
    return Promise.resolve(this.answers.find((a) => a.id === id) ?? null);
  }
}

const withControl = (w: World, c: MemoryControl) => ({ ...w.ctx, control: c });

describe('a gradual taking control requests at its check ticks', () => {
  it('pause holds the weights past the step time; resume continues; both are recorded', async () => {
    const w = makeContext();
    const c = new MemoryControl(w);
    c.at(1500, 'pause');
    c.at(30_000, 'resume', 'bob@web2');
    const r = await gradual(withControl(w, c), { color: 'green', version: '2.1.0' });
    expect(r.outcome).toBe('completed');
    // 4 steps of 3 s plus 28.5 s paused
    expect(w.clock.elapsed).toBeGreaterThanOrEqual(12_000 + 28_500);
    const m = w.store.state.history.at(-1);
    expect(m?.controls?.map((x) => `${x.action} ${x.by}`)).toEqual(['pause ann@web1', 'resume bob@web2']);
    expect(m?.paused ?? null).toBeNull();
    expect(c.answers.map((a) => [a.action, a.accepted, a.changed])).toEqual([
      ['pause', true, true],
      ['resume', true, true],
    ]);
    // while paused nothing moved: the second step was applied only after the resume
    const second = m?.steps[1];
    expect(Date.parse(second?.startedAt ?? '')).toBeGreaterThanOrEqual(w.clock.start + 30_000);
  });

  it('abort rolls back with exit 3 naming who aborted; a request for another migration is refused', async () => {
    const w = makeContext();
    const c = new MemoryControl(w);
    c.sent.push({ id: 'old', migration: 'gone', action: 'abort', by: 'x@y', full: false, at: 'T' });
    c.at(4500, 'abort', 'alert GreenErrors (Alertmanager)');
    const e = await failure(gradual(withControl(w, c), { color: 'green', version: '2.1.0' }));
    expect(e).toBeInstanceOf(RolledBackError);
    expect(e.exitCode).toBe(ExitCode.ROLLED_BACK);
    expect(e.message).toMatch(/aborted by alert GreenErrors \(Alertmanager\); traffic is back on blue/);
    expect(w.store.state).toMatchObject({ stable: 'blue', weights: { blue: 100, green: 0 } });
    expect(w.store.state.migration).toMatchObject({ status: 'rolled_back', outcome: 'aborted, rolled back' });
    expect(c.answers.find((a) => a.id === 'old')).toMatchObject({ accepted: false, message: 'the request was for another migration' });
  });
});

describe('controlMigration (the command side)', () => {
  const running = (): State => {
    const s = startedState();
    return {
      ...s,
      migration: {
        id: 'm9',
        kind: 'gradual',
        from: 'blue',
        to: 'green',
        version: '2.1.0',
        strategy: 'weighted',
        plannedSteps: [25, 100],
        status: 'running',
        startedAt: 'x',
        endedAt: null,
        outcome: null,
        reason: null,
        pid: 777,
        host: HOST,
        steps: [],
        rolledBackAt: null,
      },
    };
  };

  it('no migration running: exit 6, nothing sent', async () => {
    const w = makeContext();
    const c = new MemoryControl(w);
    const e = await failure(controlMigration(withControl(w, c), 'pause', 'ann@web1'));
    expect(e.exitCode).toBe(ExitCode.PREFLIGHT);
    expect(e.message).toBe('pause: no migration is running; nothing was changed');
    expect(c.sent).toEqual([]);
  });

  it('its process is gone: exit 6 pointing at rollback', async () => {
    const w = makeContext({ state: running() });
    const e = await failure(controlMigration(withControl(w, new MemoryControl(w)), 'abort', 'ann@web1'));
    expect(e.exitCode).toBe(ExitCode.PREFLIGHT);
    expect(e.message).toMatch(/was interrupted \(its process is gone\)/);
  });

  it('not taken in time: the request is withdrawn, exit 6', async () => {
    const w = makeContext({ state: running() });
    w.lock.holdBy({ pid: 777, host: HOST, command: 'gradual green 2.1.0', startedAt: 'x', alive: true });
    const c = new MemoryControl(w);
    const e = await failure(controlMigration(withControl(w, c), 'promote', 'ann@web1', { full: true }));
    expect(e.exitCode).toBe(ExitCode.PREFLIGHT);
    expect(e.message).toMatch(/did not take the request within 20 s/);
    expect(w.clock.elapsed).toBeGreaterThanOrEqual(ACK_TIMEOUT_MS);
    expect(c.sent).toEqual([]);
  });
});

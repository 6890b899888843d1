import type { Lock, LockHandle, LockInfo, StateStore } from '../../src/app/ports.js';
import { LockHeldError } from '../../src/core/errors.js';
import { initialState, stateSchema, type State } from '../../src/core/state.js';
import { io } from './io.js';

/** state.json in memory. Every save is checked against the schema (as the real store would read it back) and kept. */
export class MemoryStateStore implements StateStore {
  readonly path = '/fake/state/state.json';
  readonly saves: State[] = [];

  constructor(private current: State | null = null) {}

  /** The last saved state, or the initial one. */
  get state(): State {
    return this.current ?? initialState('2025-01-01T00:00:00.000Z');
  }

  async load(): Promise<State> {
    await io();
    return structuredClone(this.state);
  }

  async save(state: State): Promise<void> {
    await io();
    const copy = stateSchema.parse(structuredClone(state));
    this.saves.push(copy);
    this.current = copy;
  }
}

export type Holder = LockInfo & { alive: boolean };

/**
 * The lock in memory. `holdBy` simulates another process: alive → acquire throws LockHeldError;
 * dead → reclaimed on acquire, like the file lock. Counts acquires and releases.
 */
export class MemoryLock implements Lock {
  acquired = 0;
  released = 0;
  private other: Holder | null = null;
  private mine: Holder | null = null;

  constructor(private readonly self: { pid: number; host: string } = { pid: 4242, host: 'test-host' }) {}

  get held(): boolean {
    return this.mine !== null;
  }

  holdBy(holder: Holder | null): void {
    this.other = holder;
  }

  async acquire(command: string): Promise<LockHandle> {
    await io();
    if (this.mine) throw new LockHeldError(`lock held by ourselves (${this.mine.command})`);
    if (this.other?.alive) throw new LockHeldError(`another bgctl operation holds the lock: pid ${this.other.pid} (${this.other.command})`);
    this.other = null;
    this.mine = { ...this.self, command, startedAt: '2025-01-01T00:00:00.000Z', alive: true };
    this.acquired++;
    return {
      release: async () => {
        await io();
        this.mine = null;
        this.released++;
      },
    };
  }

  async holder(): Promise<Holder | null> {
    await io();
    return this.mine ?? this.other;
  }

  interrupted: number[] = [];
  /** What a real holder does on SIGTERM: (optionally) its own work, then it lets the lock go. */
  onInterrupt: (() => void) | null = null;

  async interrupt(holder: { pid: number }): Promise<boolean> {
    await io();
    if (!this.other?.alive || this.other.pid !== holder.pid) return false;
    this.interrupted.push(holder.pid);
    this.onInterrupt?.();
    this.other = null;
    return true;
  }
}

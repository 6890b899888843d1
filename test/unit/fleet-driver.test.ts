import { describe, expect, it } from 'vitest';
import { FleetDriver } from '../../src/adapters/nginx/fleet.js';
import type { Committed, FleetMember, Prepared, RestoreScope } from '../../src/adapters/nginx/phases.js';
import type { LiveNginx, NginxTargetStatus, NjsSupport, RenderedConfig } from '../../src/app/ports.js';
import { ApplyError, UnknownStateError } from '../../src/core/errors.js';

/** A target that records every phase in a shared log and serves what it was last confirmed or restored to. */
class FakeTarget implements FleetMember {
  readonly accessLog: string;
  serving: number;
  failAt: 'prepare' | 'commit' | 'confirm' | 'restore' | null = null;
  /** dynamic mode: this target already runs the step's structure (only its weights file changes) */
  weightsOnly = false;
  readonly restores: (RestoreScope | undefined)[] = [];

  constructor(
    readonly name: string,
    private readonly log: string[],
    revision = 1,
  ) {
    this.accessLog = `/logs/${name}`;
    this.serving = revision;
  }

  private step(phase: string, fail: boolean): void {
    this.log.push(`${phase} ${this.name}`);
    if (fail) throw new ApplyError(`${phase} failed on purpose`, phase === 'prepare' ? 'test' : phase === 'commit' ? 'reload' : 'confirm');
  }

  test(): Promise<string> {
    return Promise.resolve('ok');
  }
  async prepare(cfg: RenderedConfig): Promise<Prepared> {
    await Promise.resolve();
    this.step('prepare', this.failAt === 'prepare');
    const kind = this.weightsOnly ? 'weights' : 'reload';
    return { revision: cfg.revision, previous: this.serving, master: 1, kind, weights: cfg.weightsFile ?? null, js: false, swapped: false };
  }
  async commit(p: Prepared): Promise<Committed> {
    await Promise.resolve();
    p.swapped = true;
    this.step('commit', this.failAt === 'commit');
    return { prepared: p, gen: { master: 1, oldWorkers: new Set(), logOffset: 0 } };
  }
  async confirm(c: Committed): Promise<void> {
    await Promise.resolve();
    this.step('confirm', this.failAt === 'confirm');
    this.serving = c.prepared.revision;
  }
  async restore(previous: number | null, scope?: RestoreScope): Promise<void> {
    await Promise.resolve();
    this.restores.push(scope);
    this.log.push(`restore ${this.name} ${previous}`);
    if (this.failAt === 'restore') throw new Error('restore failed on purpose');
    this.serving = previous ?? 0;
  }
  start(): Promise<void> {
    return Promise.resolve();
  }
  stop(): Promise<void> {
    return Promise.resolve();
  }
  isRunning(): Promise<boolean> {
    return Promise.resolve(true);
  }
  live(): Promise<LiveNginx | null> {
    return Promise.resolve({ revision: this.serving, weights: { blue: 100, green: 0 }, strategy: 'weighted', stable: 'blue' });
  }
  targets(): Promise<readonly NginxTargetStatus[]> {
    return Promise.resolve([]);
  }
  njs(): Promise<Readonly<Record<string, NjsSupport>>> {
    return Promise.resolve({ [this.name]: { available: true, module: null, detail: 'built in' } });
  }
}

const cfg: RenderedConfig = { main: '', site: '', revision: 2, weights: { blue: 50, green: 50 } };

function fleet(): { driver: FleetDriver; log: string[]; t: FakeTarget[] } {
  const log: string[] = [];
  const t = ['a', 'b', 'c'].map((n) => new FakeTarget(n, log));
  return { driver: new FleetDriver(t), log, t };
}

const phases = (log: readonly string[]) => log.map((l) => l.split(' ')[0]);

describe('FleetDriver', () => {
  it('runs each phase on every target before the next phase starts', async () => {
    const { driver, log, t } = fleet();
    const report = await driver.apply(cfg);
    expect(phases(log)).toEqual(['prepare', 'prepare', 'prepare', 'commit', 'commit', 'commit', 'confirm', 'confirm', 'confirm']);
    expect(t.map((x) => x.serving)).toEqual([2, 2, 2]);
    expect(report.revision).toBe(2);
    expect(await driver.live()).toMatchObject({ revision: 2 });
  });

  it('a target refusing its test: nothing is committed or restored anywhere', async () => {
    const { driver, log, t } = fleet();
    t[1]!.failAt = 'prepare';
    const e = await driver.apply(cfg).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ApplyError);
    expect((e as ApplyError).message).toBe('target b: prepare failed on purpose');
    expect((e as ApplyError).stage).toBe('test');
    expect(phases(log)).toEqual(['prepare', 'prepare', 'prepare']);
    expect(t.map((x) => x.serving)).toEqual([1, 1, 1]);
  });

  it('a target failing after the others committed or confirmed: every target is restored to its previous revision', async () => {
    for (const failAt of ['commit', 'confirm'] as const) {
      const { driver, log, t } = fleet();
      t[2]!.failAt = failAt;
      const e = await driver.apply(cfg).catch((x: unknown) => x);
      expect(e, failAt).toBeInstanceOf(ApplyError);
      expect((e as ApplyError).message).toMatch(
        new RegExp(
          `^revision 2 was not applied: target c failed at (reload|confirm) \\(${failAt} failed on purpose\\); every target restored to revision 1 and confirmed$`,
        ),
      );
      expect(log.filter((l) => l.startsWith('restore')).sort()).toEqual(['restore a 1', 'restore b 1', 'restore c 1']);
      expect(t.map((x) => x.serving)).toEqual([1, 1, 1]);
    }
  });

  it('dynamic mode: each target is restored the way it was changed (its weights file, or its files and a reload)', async () => {
    const { driver, t } = fleet();
    t[0]!.weightsOnly = true;
    t[1]!.weightsOnly = true;
    t[2]!.failAt = 'confirm';
    const e = await driver.apply({ ...cfg, weightsFile: '{"revision":2}\n' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ApplyError);
    expect(t.map((x) => x.restores.map((r) => `${r?.kind} ${r?.weights}`))).toEqual([
      ['weights {"revision":2}\n'],
      ['weights {"revision":2}\n'],
      ['reload {"revision":2}\n'],
    ]);
    t[2]!.failAt = null;
    expect((await driver.apply({ ...cfg, weightsFile: '{}' })).reloaded).toBe(true);
    t[2]!.weightsOnly = true;
    expect((await driver.apply({ ...cfg, weightsFile: '{}' })).reloaded).toBe(false);
  });

  it('a restore that fails too: exit 4 (a human must look), naming the target', async () => {
    const { driver, t } = fleet();
    t[0]!.failAt = 'restore';
    t[2]!.failAt = 'confirm';
    const e = await driver.apply(cfg).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(UnknownStateError);
    expect((e as UnknownStateError).message).toMatch(/target c .* restoring failed on a: restore failed on purpose/);
  });

  it('answers as one only when every target serves the same revision', async () => {
    const { driver, t } = fleet();
    expect(await driver.live()).toMatchObject({ revision: 1 });
    t[1]!.serving = 7;
    expect(await driver.live()).toBeNull();
  });
});

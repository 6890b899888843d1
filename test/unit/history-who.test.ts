import { describe, expect, it } from 'vitest';
import { actorOf } from '../../src/core/actor.js';
import { nextTransition, startEngine, type EngineConfig } from '../../src/core/engine.js';
import { applied, beginMigration, completed, rolledBack, stepEnded, stepStarting } from '../../src/core/migration.js';
import { weightsFor } from '../../src/core/weights.js';
import { migrationMarkers, migrationSpan } from '../../src/report/timeline.js';
import { startedState } from '../fakes/states.js';

const t = (s: number): string => new Date(Date.UTC(2025, 0, 1, 0, 0, s)).toISOString();

describe('who started a migration', () => {
  it('a GitLab job names its URL and the user who triggered it; elsewhere user@host', () => {
    expect(actorOf({ CI_JOB_URL: 'https://gitlab.example.com/g/app/-/jobs/42', GITLAB_USER_LOGIN: 'ana' }, 'root', 'runner-1')).toBe(
      'GitLab job https://gitlab.example.com/g/app/-/jobs/42 (ana)',
    );
    expect(actorOf({}, 'ops', 'web-1')).toBe('ops@web-1');
    expect(actorOf({ USER: 'fallback' }, null, 'web-1')).toBe('fallback@web-1');
    expect(actorOf({ CI_JOB_URL: 'https://x/\u001b[31mjob' }, 'ops', 'h')).toBe('GitLab job https://x/[31mjob');
  });

  it('is recorded with the migration', () => {
    const s = beginMigration(startedState(), {
      id: 'm1',
      kind: 'gradual',
      to: 'green',
      version: '2.1.0',
      strategy: 'weighted',
      plannedSteps: [100],
      pid: 1,
      host: 'h',
      nowIso: t(0),
      by: 'ops@web-1',
    });
    expect(s.migration?.by).toBe('ops@web-1');
  });
});

describe('the chart of a migration rolled back by hand after it completed', () => {
  it('spans to the rollback and marks both the completion and the manual rollback', () => {
    let s = beginMigration(startedState(), {
      id: 'm1',
      kind: 'gradual',
      to: 'green',
      version: '2.1.0',
      strategy: 'weighted',
      plannedSteps: [100],
      pid: 1,
      host: 'h',
      nowIso: t(0),
    });
    s = stepStarting(s, { index: 0, percent: 100, weights: weightsFor('green', 100) }, t(1));
    s = applied(s, weightsFor('green', 100), 2, t(2));
    s = stepEnded(s, { verdict: 'passed', reason: null, decision: null, figures: null }, t(10));
    s = completed(s, 'completed', t(10));
    s = rolledBack(s, 'manual rollback', t(300));
    const m = s.migration;
    if (!m) throw new Error('no migration');
    expect(migrationSpan(m, Date.parse(t(400))).toMs).toBeGreaterThanOrEqual(Date.parse(t(300)));
    expect(migrationMarkers(m).map((x) => x.label)).toEqual(['green 100%', 'completed', 'manual rollback: all on blue']);
  });
});

describe('step numbers in reasons follow the record', () => {
  it('a migration continued after a canary step numbers its first new step 2', () => {
    const cfg: EngineConfig = {
      steps: [{ index: 0, percent: 50, weights: weightsFor('green', 50) }],
      stableWeights: weightsFor('blue', 100),
      targetWeights: weightsFor('green', 100),
      stepMs: 1000,
      probeIntervalMs: 1000,
      failuresBeforeRollback: 1,
      checkIntervalMs: 1000,
      maxExtendMs: 0,
      stepOffset: 1,
    };
    const t0 = startEngine(cfg);
    const t1 = nextTransition(cfg, t0.state, { type: 'apply_failed', now: 0, error: 'nginx -t failed' });
    expect(t1.command).toMatchObject({ type: 'rollback', reason: 'step 2 could not be applied: nginx -t failed' });
  });
});

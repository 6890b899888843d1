import { describe, expect, it } from 'vitest';
import { canaryRisk, stopRisk } from '../../src/app/risks.js';
import { decide } from '../../src/cli/confirm.js';
import { commandOf, signalKind, signalMessage } from '../../src/cli/signals.js';
import { applied, beginMigration } from '../../src/core/migration.js';
import { weightsFor } from '../../src/core/weights.js';
import { startedState } from '../fakes/states.js';

const AT = '2025-01-01T00:00:00.000Z';
const canaryAt = (percent: number) => {
  const s = beginMigration(startedState(), {
    id: 'c1',
    kind: 'canary',
    to: 'green',
    version: '2.1.0',
    strategy: 'weighted',
    plannedSteps: [percent],
    pid: 1,
    host: 'h',
    nowIso: AT,
  });
  const held = applied(s, weightsFor('green', percent), 2, AT);
  return {
    ...held,
    versions: { blue: '1.0.0', green: '2.1.0' },
    migration: held.migration ? { ...held.migration, status: 'holding' as const } : null,
  };
};

describe('signals say what is true for the command', () => {
  it('finds the command after global options', () => {
    expect(commandOf(['node', 'bgctl', '--config', 'x.yaml', 'status', '--watch'])).toBe('status');
    expect(commandOf(['node', 'bgctl', '--json', 'gradual', 'green', '2.1.0'])).toBe('gradual');
    expect(commandOf(['node', 'bgctl'])).toBeNull();
  });
  it('read-only commands do not speak of traffic; serve says it shuts down', () => {
    for (const c of ['status', 'history', 'render', 'validate']) expect(signalMessage(signalKind(c), 'SIGINT')).not.toMatch(/traffic/);
    expect(signalMessage(signalKind('serve'), 'SIGTERM')).toMatch(/^bgctl serve: SIGTERM received; shutting down/);
    expect(signalMessage(signalKind('gradual'), 'SIGINT')).toMatch(/returning traffic to the stable color/);
  });
});

describe('surprising changes ask first', () => {
  it('canary that lowers a color is a risk that says where the traffic goes; raising it is not', () => {
    const s = canaryAt(100);
    expect(canaryRisk(s, 'green', 20)).toBe('it lowers green from 100% to 20%: 80% of traffic moves back to blue (1.0.0)');
    expect(canaryRisk(canaryAt(10), 'green', 30)).toBeNull();
  });
  it('stop while a canary holds is a risk; with nothing in progress it is not', () => {
    expect(stopRisk(canaryAt(25))).toMatch(
      /^canary blue → green 2\.1\.0 is holding \(green at 25%\): stopping NGINX takes the service down/,
    );
    expect(stopRisk(startedState())).toBeNull();
  });
  it('--yes goes, a terminal is asked, anything else is refused', () => {
    expect(decide({ yes: true, tty: false })).toBe('go');
    expect(decide({ yes: false, tty: true })).toBe('ask');
    expect(decide({ yes: false, tty: false })).toBe('refuse');
  });
});

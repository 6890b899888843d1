import { describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { gradualOptionsSchema, MAX_STEP_SECONDS } from '../../src/core/gradual-options.js';
import { STRATEGIES } from '../../src/core/strategy.js';

const problem = (input: unknown): string | null => {
  const r = gradualOptionsSchema.safeParse(input);
  return r.success ? null : (r.error.issues[0]?.message ?? 'invalid');
};

describe('the options of a gradual migration (CLI flags and POST /switch body)', () => {
  it('reads steps written as text (the CLI) and as a list (the API) by the same rules', () => {
    expect(gradualOptionsSchema.parse({ steps: '25, 50,100' }).steps).toEqual([25, 50, 100]);
    expect(gradualOptionsSchema.parse({ steps: [25, 50, 100] }).steps).toEqual([25, 50, 100]);
    for (const [text, list] of [
      ['50,25,100', [50, 25, 100]],
      ['25,50', [25, 50]],
      ['0,100', [0, 100]],
      ['50,150', [50, 150]],
    ] as const) {
      expect(problem({ steps: text }), text).not.toBeNull();
      expect(problem({ steps: text })).toBe(problem({ steps: list }));
    }
    expect(problem({ steps: '50,25,100' })).toBe('steps must be strictly increasing (50 then 25)');
    expect(problem({ steps: 'x' })).toBe('"x" is not a comma-separated list of whole percentages');
    expect(problem({ steps: [12.5, 100] })).toBe('steps are whole percentages');
  });

  it('allows a step 0 to one day of observation, like the config', () => {
    expect(problem({ stepSeconds: 0 })).toBeNull();
    expect(problem({ stepSeconds: MAX_STEP_SECONDS })).toBeNull();
    expect(problem({ stepSeconds: MAX_STEP_SECONDS + 1 })).toBe(`must be 0-${MAX_STEP_SECONDS}`);
    expect(problem({ stepSeconds: -1 })).toBe(`must be 0-${MAX_STEP_SECONDS}`);
    const migration = (stepSeconds: number) =>
      configSchema.safeParse({
        environments: { blue: { servers: ['127.0.0.1:1'] }, green: { servers: ['127.0.0.1:2'] } },
        migration: { stepSeconds },
      }).success;
    expect([migration(MAX_STEP_SECONDS), migration(MAX_STEP_SECONDS + 1)]).toEqual([true, false]);
  });

  it('takes the strategies the config takes', () => {
    for (const strategy of STRATEGIES) expect(problem({ strategy })).toBeNull();
    expect(problem({ strategy: 'random' })).not.toBeNull();
  });
});

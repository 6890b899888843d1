import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSandbox, type Sandbox } from '../helpers/sandbox.js';

/** A service nobody calls: only warmup requests reach the new color, and they let its steps be judged. */
describe('a quiet service with migration.warmup', () => {
  let box: Sandbox;
  beforeAll(async () => {
    box = await makeSandbox('quiet-warmup', {
      overrides: {
        migration: { warmup: { enabled: true, rps: 20, path: '/warm' }, maxExtendSeconds: 30 },
        thresholds: { minRequests: 10, windowSeconds: 5 },
      },
    });
  }, 60_000);
  afterAll(async () => {
    await box?.close();
  });

  it('gradual passes on warmup requests alone, counted apart, and they are marked in the access log', async () => {
    const r = await box.cli(['gradual', 'green', '2.1.0', '--steps', '50,100', '--step-seconds', '3']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/warmup: sending requests forced to green/);
    expect(r.stdout).toMatch(
      /step 1\/2 +passed +blue 50% \/ green 50% — \d+ requests \(\d+ of them warmup\) reached green during this step/,
    );
    expect(r.stdout).toMatch(/warmup: \d+ requests sent to green, 0 failed/);
    const log = await readFile(path.join(box.dir, 'nginx', 'logs', 'access.json.log'), 'utf8');
    const warm = log
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { uri: string; warmup: string; forced: string; color: string })
      .filter((l) => l.uri === '/warm');
    expect(warm.length).toBeGreaterThan(10);
    expect(warm.every((l) => l.warmup === '1' && l.forced === 'green' && l.color === 'green')).toBe(true);
    expect((await box.status()).weights).toEqual({ blue: 0, green: 100 });
  });
});

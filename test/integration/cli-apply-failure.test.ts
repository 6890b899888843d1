import { chmod, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTraffic } from '../../src/demo/traffic.js';
import { jsonOf } from '../helpers/cli.js';
import { makeSandbox, type Sandbox } from '../helpers/sandbox.js';

/**
 * A step whose reload fails: bgctl must restore the previous config, keep NGINX serving, roll the
 * migration back and exit 3. The NGINX is real; `nginx.binary` points at a wrapper that passes every
 * call through to it except the reload the test chooses to fail (as a reload fails when its signal
 * cannot be delivered).
 */
describe('a step that cannot be applied', () => {
  let box: Sandbox;
  let counter: string;
  let failAt: string;

  beforeAll(async () => {
    box = await makeSandbox('cli-apply-failure', { noStart: true });
    counter = path.join(box.dir, 'reloads');
    failAt = path.join(box.dir, 'fail-reload-number');
    const wrapper = path.join(box.dir, 'nginx-wrapper.sh');
    await writeFile(
      wrapper,
      [
        '#!/bin/sh',
        'case " $* " in *" -s reload "*)',
        `  n=$(( $(cat ${counter} 2>/dev/null || echo 0) + 1 )); echo $n > ${counter}`,
        `  if [ "$n" = "$(cat ${failAt} 2>/dev/null)" ]; then echo "nginx: [alert] kill(MASTER, 1) failed (simulated)" >&2; exit 1; fi;;`,
        'esac',
        'exec nginx "$@"',
        '',
      ].join('\n'),
    );
    await chmod(wrapper, 0o755);
    const cfgFile = path.join(box.dir, 'bgctl.yaml');
    const text = await readFile(cfgFile, 'utf8');
    await writeFile(cfgFile, text.replace(/binary: \S+/, `binary: ${wrapper}`));
    const started = await box.cli(['start']);
    expect(started.exitCode, started.stderr).toBe(0);
  });
  afterAll(async () => {
    await box?.close();
  });

  it('restores the previous config, rolls back to blue and exits 3', async () => {
    await writeFile(counter, '0');
    await writeFile(failAt, '2'); // step 1 applies, step 2's reload fails
    const traffic = startTraffic({ url: `http://127.0.0.1:${box.listen}/`, connections: 4, keepAlive: false, maxSeconds: 60, pauseMs: 5 });
    const r = await box.cli(['gradual', 'green', '2.1.0', '--steps', '25,50,100', '--step-seconds', '1']);
    const stats = await traffic.stop();
    expect(r.exitCode, r.stdout + r.stderr).toBe(3);
    expect(r.stderr).toMatch(/step 2 could not be applied: .*simulated/);
    // NGINX never stopped answering while the failed step was restored and rolled back
    expect(stats.total).toBeGreaterThan(100);
    expect(stats.failed).toBe(0);
    const s = await box.status();
    expect(s).toMatchObject({ stable: 'blue', weights: { blue: 100, green: 0 }, drift: null });
    const seen = await Promise.all(Array.from({ length: 10 }, () => box.get()));
    expect(seen.every((x) => x.color === 'blue' && x.status === 200)).toBe(true);
    // history tells the truth: step 1 passed, step 2 failed and was never live
    const h = jsonOf<{
      migrations: { status: string; steps: { percent: number; verdict: string; appliedAt: string | null; reason: string | null }[] }[];
    }>(await box.cli(['history', '--json']));
    const steps = h.migrations[0]?.steps ?? [];
    expect(h.migrations[0]?.status).toBe('rolled_back');
    expect(steps.map((x) => [x.percent, x.verdict])).toEqual([
      [25, 'passed'],
      [50, 'failed'],
    ]);
    expect(steps[1]?.appliedAt).toBeNull();
  });

  it('a rollback whose own apply fails exits 4 and says a human must look', async () => {
    await box.cli(['switch', 'green']);
    await writeFile(counter, '0');
    await writeFile(failAt, '1');
    const r = await box.cli(['rollback']);
    expect(r.exitCode).toBe(4);
    expect(r.stderr).toMatch(/rollback to blue failed: .*A human must look/);
    // the failed rollback left green serving, whole and answering
    const seen = await Promise.all(Array.from({ length: 10 }, () => box.get()));
    expect(seen.every((x) => x.color === 'green' && x.status === 200)).toBe(true);
    await writeFile(failAt, '0');
    const again = await box.cli(['rollback']);
    expect(again.exitCode, again.stderr).toBe(0);
    expect((await box.status()).weights).toEqual({ blue: 100, green: 0 });
  });
});

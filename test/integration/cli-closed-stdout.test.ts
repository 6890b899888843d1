import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BGCTL_BIN, cliEnv } from '../helpers/cli.js';
import { makeSandbox, type Sandbox } from '../helpers/sandbox.js';

/**
 * A CI runner that cancels a job stops reading its log and signals it: bgctl must still put traffic
 * back, even though every line it prints from then on goes into a pipe nobody reads (EPIPE).
 */
describe('a migration whose stdout reader went away', () => {
  let box: Sandbox;

  beforeAll(async () => {
    box = await makeSandbox('cli-closed-stdout');
  });
  afterAll(async () => {
    await box?.close();
  });

  it('SIGTERM after the reader closed: traffic back on the stable color, exit 130, lock released', async () => {
    const child = execa(process.execPath, [BGCTL_BIN, 'gradual', 'green', '2.1.0', '--steps', '50,100', '--step-seconds', '60'], {
      cwd: box.dir,
      env: cliEnv(),
      extendEnv: false,
      reject: false,
      stdin: 'ignore',
      timeout: 90_000,
    });
    let seen = '';
    let signalled = false;
    child.stdout?.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      if (signalled || !/^step 1\/2 +applying/m.test(seen)) return;
      signalled = true;
      // the reader goes away first, then the signal comes: the rollback's lines hit a closed pipe
      child.stdout?.destroy();
      setTimeout(() => child.kill('SIGTERM'), 200);
    });
    const r = await child;
    expect(signalled, seen).toBe(true);
    expect(r.exitCode, String(r.stderr)).toBe(130);
    expect(String(r.stderr)).toMatch(/SIGTERM received; returning traffic to the stable color/);
    const s = await box.status();
    expect(s).toMatchObject({ stable: 'blue', weights: { blue: 100, green: 0 }, drift: null });
    expect((await box.get()).color).toBe('blue');
    // nothing left holding the lock: the next command runs
    const next = await box.cli(['switch', 'blue']);
    expect(next.exitCode, next.stderr).toBe(0);
  }, 120_000);
});

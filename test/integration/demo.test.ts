import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { makeTmpDir, removeTmpDir } from '../helpers/tmp.js';

/** Command lines of every process on this machine (Linux /proc). */
function processCmdlines(): string[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      } catch {
        return '';
      }
    });
}

describe('bgctl demo', () => {
  let cwd: string;
  beforeAll(async () => {
    cwd = await makeTmpDir('demo-cwd');
  });
  afterAll(async () => {
    await removeTmpDir(cwd);
  });

  it('runs a migration and an automatic rollback unattended, cleans up and exits 0', async () => {
    const r = await runCli(['demo', '--step-seconds', '1'], { cwd, timeoutMs: 120_000 });
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/step 4\/4 +passed +blue 0% \/ green 100%/);
    expect(r.stdout).toMatch(/blue \d+ req 5xx [\d.]+% p95 [\d.]+ ms · green \d+ req 5xx/);
    // the flaky release passes its health checks: only the access log shows it failing
    expect(r.stdout).toMatch(/ROLLBACK +→ blue 0% \/ green 100%: step 1: error rate 0\.\d+ > 0\.05 for 0\.0 s over \d+ requests/);
    expect(r.stdout).toMatch(/green 2\.1\.0 keeps 100% of traffic/);
    const sandbox = /sandbox in (\S+)/.exec(r.stdout)?.[1];
    expect(sandbox).toBeTruthy();
    expect(existsSync(sandbox as string)).toBe(false);
    expect(processCmdlines().filter((c) => c.includes(sandbox as string))).toEqual([]);
    // it needed no config and wrote nothing where it was run
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('without nginx on PATH it says how to install it and exits 2', async () => {
    const r = await runCli(['demo'], { cwd, env: { PATH: cwd } });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/nginx was not found on PATH/);
    expect(r.stderr).toMatch(/apt-get install -y nginx/);
  });
});

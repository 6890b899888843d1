import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.js';
import { makeSandbox, type Sandbox } from '../helpers/sandbox.js';

/** `bgctl deploy`: the configured hook (argv, no shell) puts a version onto the inactive color. */
describe('bgctl deploy with a deploy hook', () => {
  let box: Sandbox;
  beforeAll(async () => {
    // the hook is the demo's: it tells the demo backend of {{color}} to serve {{version}}
    box = await makeSandbox('cli-deploy', {
      overrides: {
        deploy: { command: [process.execPath, path.join(REPO_ROOT, 'dist', 'demo', 'deploy-hook.js'), '{{color}}', '{{version}}'] },
      },
    });
    // the backend ports are only known now: the env of the hook is written into the config afterwards
    const { readFile, writeFile } = await import('node:fs/promises');
    const file = path.join(box.dir, 'bgctl.yaml');
    const text = await readFile(file, 'utf8');
    await writeFile(
      file,
      text.replace(/deploy:\n/, `deploy:\n  env:\n    BGCTL_DEMO_PORTS: blue=${box.blue.port},green=${box.green.port}\n`),
    );
  });
  afterAll(async () => {
    await box?.close();
  });

  it('deploys onto the inactive color, waits until it is healthy, and switches all traffic', async () => {
    const r = await box.cli(['deploy', 'green', '2.2.0']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/deploy +running the deploy hook for green 2\.2\.0/);
    expect(r.stdout).toMatch(/pre-flight +ok +green healthy and runs 2\.2\.0/);
    const s = await box.status();
    expect(s).toMatchObject({ stable: 'green', weights: { blue: 0, green: 100 } });
    expect((await box.get()).color).toBe('green');
  });

  it('refuses to deploy onto the live color (6) and changes nothing', async () => {
    const before = await box.stateText();
    const r = await box.cli(['deploy', 'green', '2.3.0']);
    expect(r.exitCode).toBe(6);
    expect(r.stderr).toMatch(/green carries 100% of traffic; deploy targets the inactive color/);
    expect(await box.stateText()).toBe(before);
  });

  it('a failing hook is exit 6 with its reason, and traffic stays where it was', async () => {
    await box.blue.stop(); // the hook cannot reach blue's backend now
    const before = JSON.parse(await box.stateText()) as { weights: unknown; stable: string };
    const r = await box.cli(['deploy', 'blue', '1.1.0']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(6);
    expect(r.stderr).toMatch(/deploy command .*(exited|failed).*/i);
    const after = JSON.parse(await box.stateText()) as { weights: unknown; stable: string };
    expect(after).toMatchObject({ weights: before.weights, stable: before.stable });
    expect((await box.get()).color).toBe('green');
  });
});

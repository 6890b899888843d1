import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSandbox, type Sandbox } from '../helpers/sandbox.js';
import { startServeProcess } from '../helpers/serve-http.js';

/** Signals and surprises on a real NGINX (the CLI runs without a terminal here, as in CI). */
describe('signals and surprises', () => {
  let box: Sandbox;
  beforeAll(async () => {
    box = await makeSandbox('signals-surprises');
  }, 60_000);
  afterAll(async () => {
    await box?.close();
  });

  it('Ctrl-C on status --watch says nothing about traffic', async () => {
    const child = box.spawn(['status', '--watch', '--interval', '0.5']);
    let out = '';
    child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
    const end = Date.now() + 30_000;
    while (!/^\d\d:\d\d:\d\dZ {2}OK/m.test(out) && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    child.kill('SIGINT');
    const r = await child;
    expect(r.stderr).not.toMatch(/traffic/);
    expect(r.exitCode).toBe(0); // the last verdict was OK
  });

  it('serve stopped by SIGTERM with no migration running exits 0', async () => {
    const srv = await startServeProcess(box.dir);
    expect(await srv.stop()).toBe(0);
  });

  it('canary that lowers a color and stop during a canary need --yes without a terminal (exit 2, nothing changed)', async () => {
    expect((await box.cli(['canary', 'green', '50'])).exitCode).toBe(0);
    const before = await box.stateText();
    const lower = await box.cli(['canary', 'green', '20']);
    expect(lower.exitCode).toBe(2);
    expect(lower.stderr).toMatch(
      /canary green 20: it lowers green from 50% to 20%: 30% of traffic moves back to blue( \(1\.0\.0\))?; pass --yes/,
    );
    const stop = await box.cli(['stop']);
    expect(stop.exitCode).toBe(2);
    expect(stop.stderr).toMatch(/stop: canary blue → green is holding \(green at 50%\): stopping NGINX takes the service down.*pass --yes/);
    expect(await box.stateText()).toBe(before);
    expect((await box.get()).status).toBe(200);
    const yes = await box.cli(['canary', 'green', '20', '--yes']);
    expect(yes.exitCode, yes.stderr).toBe(0);
    expect((await box.status()).weights).toEqual({ blue: 80, green: 20 });
    expect((await box.cli(['stop', '--yes'])).exitCode).toBe(0);
  });
});

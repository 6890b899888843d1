import { hostname, userInfo } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonOf } from '../helpers/cli.js';
import { makeSandbox, type Sandbox } from '../helpers/sandbox.js';

describe('history: ids, who, no placeholders; one error JSON shape', () => {
  let box: Sandbox;
  beforeAll(async () => {
    box = await makeSandbox('history-errors');
  }, 60_000);
  afterAll(async () => {
    await box?.close();
  });

  it('each migration line starts with the id `history --chart --id` takes, and says who ran it', async () => {
    expect((await box.cli(['switch', 'green'])).exitCode).toBe(0);
    expect(
      (await box.cli(['switch', 'blue'], { CI_JOB_URL: 'https://gitlab.example.com/g/app/-/jobs/77', GITLAB_USER_LOGIN: 'ana' })).exitCode,
    ).toBe(0);
    const h = await box.cli(['history']);
    expect(h.exitCode, h.stderr).toBe(0);
    const lines = h.stdout.split('\n').filter((l) => /^\S/.test(l));
    expect(lines[0]).toMatch(
      /^[0-9a-f]{8} {2}\S+ {2}by GitLab job https:\/\/gitlab\.example\.com\/g\/app\/-\/jobs\/77 \(ana\) {2}switch green → blue/,
    );
    expect(lines[1]).toMatch(new RegExp(`^[0-9a-f]{8} {2}\\S+ {2}by ${userInfo().username}@${hostname()} {2}switch blue → green`));
    expect(h.stdout).not.toMatch(/\?/);
    const id = lines[1]?.slice(0, 8) ?? '';
    const chart = await box.cli(['history', '--chart', 'c.svg', '--id', id]);
    expect(chart.exitCode, chart.stderr).toBe(0);
    expect(chart.stdout).toContain(`migration ${id}`);
  });

  it('errors in --json have the control API shape: error.code, message, kind, hint (exitCode kept)', async () => {
    const r = await box.cli(['history', '--chart', 'c.svg', '--id', 'nope', '--json']);
    expect(r.exitCode).toBe(2);
    const e = jsonOf<{ error: Record<string, unknown> }>(r).error;
    expect(e).toMatchObject({ code: 2, exitCode: 2, kind: 'UsageError', message: 'history --chart: no migration "nope" in the history' });
    expect(e['hint']).toMatch(/`bgctl history` lists the migrations, each line starting with its id \(the newest: [0-9a-f]{8}\)/);
  });
});

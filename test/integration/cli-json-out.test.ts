import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSandbox, type Sandbox } from '../helpers/sandbox.js';

/**
 * `--json-out FILE`: a CI job's log shows the migration as it goes (human lines on stdout) while the
 * machine-readable result, the same document `--json` prints, lands in FILE for later jobs.
 */
describe('--json-out FILE', () => {
  let box: Sandbox;
  const file = (name: string): string => path.join(box.dir, name);
  const readJson = async (name: string): Promise<Record<string, unknown>> =>
    JSON.parse(await readFile(file(name), 'utf8')) as Record<string, unknown>;

  beforeAll(async () => {
    box = await makeSandbox('cli-json-out');
  });
  afterAll(async () => {
    await box?.close();
  });

  it('a migration prints its steps as human lines while the result document goes to the file', async () => {
    const r = await box.cli(['gradual', 'green', '2.1.0', '--steps', '50,100', '--step-seconds', '1', '--json-out', 'result.json']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^step 1\/2 +/m);
    expect(r.stdout).toMatch(/^step 2\/2 +/m);
    expect(r.stdout).toMatch(/^completed: /m);
    expect(r.stdout.trimStart().startsWith('{')).toBe(false);
    const doc = await readJson('result.json');
    expect(doc).toMatchObject({ outcome: 'completed', stable: 'green', weights: { blue: 0, green: 100 } });
    expect(doc['migration']).toMatchObject({ status: 'completed', to: 'green', version: '2.1.0' });
    // the file is written whole through a temp file: nothing else is left in the folder
    expect((await readdir(box.dir)).filter((n) => n.includes('result.json'))).toEqual(['result.json']);
  }, 60_000);

  it('with --json as well, stdout and the file carry the same document', async () => {
    const r = await box.cli(['status', '--json', '--json-out=status.json']);
    expect(r.exitCode, r.stderr).toBe(0);
    const printed = JSON.parse(r.stdout) as Record<string, unknown>;
    const saved = await readJson('status.json');
    expect(saved['stable']).toBe('green');
    // both are status snapshots taken by the one command: the same document
    expect(saved).toEqual(printed);
  });

  it('a refused command writes its error document (exit code included) to the file', async () => {
    const before = await box.stateText();
    const r = await box.cli(['gradual', 'purple', '2.1.0', '--json-out', 'refused.json']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/COLOR: "purple" is not a color/);
    expect(r.stdout).toBe('');
    expect(await readJson('refused.json')).toMatchObject({ error: { exitCode: 2, kind: 'UsageError' } });
    expect(await box.stateText()).toBe(before);
  });

  it('a FILE in a folder that does not exist is refused before anything runs (exit 2)', async () => {
    const before = await box.stateText();
    const r = await box.cli(['switch', 'blue', '--json-out', path.join(box.dir, 'missing', 'r.json')]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/--json-out .*missing\/r\.json: folder .*missing does not exist; nothing was changed/);
    expect(await box.stateText()).toBe(before);
    expect((await box.status()).weights).toEqual({ blue: 0, green: 100 });
  });
});

import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileStateStore } from '../../src/adapters/state-store.js';
import { ExitCode, UnknownStateError } from '../../src/core/errors.js';
import { initialState, stateSchema } from '../../src/core/state.js';
import type { State } from '../../src/core/state.js';

const NOW = Date.parse('2025-06-01T12:00:00.000Z');
const clock = { now: () => NOW };
const withWeights = (green: number, revision: number): State => ({
  ...initialState(new Date(NOW).toISOString()),
  weights: { blue: 100 - green, green },
  revision,
});

let dir: string;
let stateDir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bgctl-state-'));
  stateDir = join(dir, 'nested', '.bgctl'); // save must create it
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function loadError(store: FileStateStore): Promise<UnknownStateError> {
  const e: unknown = await store.load().then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(UnknownStateError);
  return e as UnknownStateError;
}

describe('FileStateStore', () => {
  it('returns the initial state when there is no file (blue stable at 100%)', async () => {
    const store = new FileStateStore(stateDir, clock);
    expect(await store.load()).toEqual(initialState(new Date(NOW).toISOString()));
    expect(store.path).toBe(join(stateDir, 'state.json'));
  });

  it('round-trips a state and keeps the previous one as state.json.bak', async () => {
    const store = new FileStateStore(stateDir, clock);
    await store.save(withWeights(25, 1));
    expect(await store.load()).toEqual(withWeights(25, 1));
    await store.save(withWeights(50, 2));
    expect(await store.load()).toEqual(withWeights(50, 2));
    const bak = stateSchema.parse(JSON.parse(await readFile(join(stateDir, 'state.json.bak'), 'utf8')));
    expect(bak).toEqual(withWeights(25, 1));
    expect((await readdir(stateDir)).sort()).toEqual(['state.json', 'state.json.bak']); // no temp files left
  });

  it('refuses to write a state that does not match the schema', async () => {
    const store = new FileStateStore(stateDir, clock);
    await expect(store.save({ ...withWeights(0, 0), stable: 'red' } as unknown as State)).rejects.toThrow();
  });

  it('a corrupt file stops with exit 4, names the file and how to restore the valid backup', async () => {
    const store = new FileStateStore(stateDir, clock);
    await store.save(withWeights(25, 1));
    await store.save(withWeights(50, 2));
    await writeFile(store.path, '{"schema":1,"stable":"bl');
    const e = await loadError(store);
    expect(e.exitCode).toBe(ExitCode.UNKNOWN_STATE);
    expect(e.message).toContain(store.path);
    expect(e.message).toContain('not valid JSON');
    expect(e.message).toContain('is valid');
    expect(e.message).toContain(`cp ${join(stateDir, 'state.json.bak')} ${store.path}`);
    expect(e.details).toMatchObject({ backupValid: true });
    // never silently replaced
    expect(await readFile(store.path, 'utf8')).toBe('{"schema":1,"stable":"bl');
  });

  it('a schema-invalid file names the bad keys; a missing backup is said so', async () => {
    const store = new FileStateStore(stateDir, clock);
    await store.save(withWeights(0, 0)); // first save: nothing to back up
    await writeFile(store.path, JSON.stringify({ ...withWeights(0, 0), weights: { blue: 'x', green: 0 } }));
    const e = await loadError(store);
    expect(e.message).toContain('weights.blue');
    expect(e.message).toContain('no backup');
    expect(e.details).toMatchObject({ backupValid: false });
  });

  it('a file from a newer schema version is reported as such', async () => {
    const store = new FileStateStore(stateDir, clock);
    await store.save(withWeights(0, 0));
    await writeFile(store.path, JSON.stringify({ ...withWeights(0, 0), schema: 2 }));
    expect((await loadError(store)).message).toContain('schema version 2 is not supported');
  });

  it('does not back up a corrupt file over a good backup', async () => {
    const store = new FileStateStore(stateDir, clock);
    await store.save(withWeights(25, 1));
    await store.save(withWeights(50, 2)); // bak = 25
    await writeFile(store.path, 'garbage');
    await store.save(withWeights(75, 3)); // an explicit save (e.g. after repair) replaces the corrupt file
    expect(await store.load()).toEqual(withWeights(75, 3));
    expect(JSON.parse(await readFile(store.backupPath, 'utf8'))).toEqual(withWeights(25, 1));
  });

  it('a missing state.json next to a backup is not mistaken for a fresh install', async () => {
    const store = new FileStateStore(stateDir, clock);
    await store.save(withWeights(25, 1));
    await store.save(withWeights(50, 2));
    await rm(store.path);
    expect((await loadError(store)).message).toContain('is missing but a backup exists');
  });

  it('concurrent saves leave a complete, parseable file and no temp files', async () => {
    const store = new FileStateStore(stateDir, clock);
    const big = (i: number): State => ({ ...withWeights(i % 101, i), versions: { blue: `v${i}`, green: `${'x'.repeat(60)}` } });
    await store.save(big(0));
    await Promise.all(Array.from({ length: 40 }, (_, i) => store.save(big(i))));
    const loaded = await store.load();
    expect(loaded.revision).toBeGreaterThanOrEqual(0);
    expect(loaded).toEqual(big(loaded.revision));
    stateSchema.parse(JSON.parse(await readFile(store.backupPath, 'utf8')));
    expect((await readdir(stateDir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});

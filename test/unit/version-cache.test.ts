import { chmod, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cachedVersionText, resolveBinary } from '../../src/adapters/nginx/version-cache.js';

let dir: string;
let binary: string;
let cacheFile: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'bgctl-vcache-'));
  binary = path.join(dir, 'nginx');
  await writeFile(binary, '#!/bin/sh\n');
  await chmod(binary, 0o755);
  cacheFile = path.join(dir, 'nginx-version.json');
});
afterEach(() => rm(dir, { recursive: true, force: true }));

/** A fake `nginx -V` that counts how often NGINX was really asked. */
function counter(text: string) {
  const calls = { n: 0 };
  return { calls, run: () => Promise.resolve((calls.n++, text)) };
}

describe('nginx -V cache', () => {
  it('asks NGINX once while the binary is unchanged', async () => {
    const v = counter('configure arguments: --modules-path=/usr/lib/nginx/modules');
    expect(await cachedVersionText(binary, cacheFile, v.run)).toContain('--modules-path=/usr/lib/nginx/modules');
    expect(await cachedVersionText(binary, cacheFile, v.run)).toContain('--modules-path=/usr/lib/nginx/modules');
    expect(v.calls.n).toBe(1);
    expect(JSON.parse(await readFile(cacheFile, 'utf8'))).toHaveProperty([binary, 'text']);
  });

  it('asks again when the binary is replaced (other size or mtime)', async () => {
    const v = counter('old build');
    await cachedVersionText(binary, cacheFile, v.run);
    await writeFile(binary, '#!/bin/sh\n# upgraded\n');
    const w = counter('new build');
    expect(await cachedVersionText(binary, cacheFile, w.run)).toBe('new build');
    await utimes(binary, new Date(), new Date(Date.now() + 5000));
    const x = counter('touched build');
    expect(await cachedVersionText(binary, cacheFile, x.run)).toBe('touched build');
    expect([w.calls.n, x.calls.n]).toEqual([1, 1]);
  });

  it('finds a bare name on PATH and keys the cache on the real file', async () => {
    expect(await resolveBinary('nginx', `/nonexistent${path.delimiter}${dir}`)).toBe(binary);
    expect(await resolveBinary('nginx', '/nonexistent')).toBeNull();
    const v = counter('from PATH');
    await cachedVersionText('nginx', cacheFile, v.run, dir);
    await cachedVersionText('nginx', cacheFile, v.run, dir);
    expect(v.calls.n).toBe(1);
  });

  it('never remembers a failure, and works without a usable cache file', async () => {
    const failure = { available: false, module: null, detail: 'cannot run nginx -V' } as const;
    let calls = 0;
    const failing = () => Promise.resolve((calls++, failure));
    await cachedVersionText(binary, cacheFile, failing);
    await cachedVersionText(binary, cacheFile, failing);
    expect(calls).toBe(2);
    await writeFile(cacheFile, 'not json');
    const v = counter('fresh');
    expect(await cachedVersionText(binary, cacheFile, v.run)).toBe('fresh');
    const unwritable = counter('no cache folder');
    expect(await cachedVersionText(binary, path.join(dir, 'missing', 'c.json'), unwritable.run)).toBe('no cache folder');
  });
});

import { appendFile, mkdir, mkdtemp, rename, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AccessLogReader } from '../../src/adapters/access-log.js';

let dir: string;
let log: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bgctl-log-'));
  log = join(dir, 'access.json.log');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const entry = (color: string, status: number): string =>
  `${JSON.stringify({ time: '2025-06-01T12:00:00+00:00', msec: 1748779200.123, status, upstream_status: String(status), request_time: 0.002, upstream_response_time: '0.002', upstream_addr: '127.0.0.1:8081', color, method: 'GET', uri: '/é', request_id: 'abc' })}\n`;
const lines = (...e: [string, number][]): string => e.map(([c, s]) => entry(c, s)).join('');
const counts = (blue: number, green: number, eBlue = 0, eGreen = 0, readable = true) => ({
  requests: { blue, green },
  errors: { blue: eBlue, green: eGreen },
  readable,
});

describe('AccessLogReader', () => {
  it('counts only what was appended after mark(), across chunks and a split line', async () => {
    await writeFile(log, lines(['blue', 200], ['blue', 500], ['green', 200])); // before mark: ignored
    const cursor = await new AccessLogReader(log).mark();
    expect(await cursor.read()).toEqual(counts(0, 0));

    await appendFile(log, lines(['blue', 200], ['green', 502]));
    expect(await cursor.read()).toEqual(counts(1, 1, 0, 1));

    // a line split in the middle of a multi-byte character: the half line waits for its end
    const split = entry('green', 200);
    const buf = Buffer.from(split);
    const cut = buf.indexOf(Buffer.from('é')) + 1;
    await appendFile(log, Buffer.concat([Buffer.from(lines(['blue', 503])), buf.subarray(0, cut)]));
    expect(await cursor.read()).toEqual(counts(2, 1, 1, 1));
    await appendFile(log, buf.subarray(cut));
    expect(await cursor.read()).toEqual(counts(2, 2, 1, 1)); // cumulative since mark()
    expect(await cursor.read()).toEqual(counts(2, 2, 1, 1)); // nothing new
  });

  it('two cursors are independent', async () => {
    await writeFile(log, '');
    const reader = new AccessLogReader(log);
    const a = await reader.mark();
    await appendFile(log, lines(['blue', 200]));
    const b = await reader.mark();
    await appendFile(log, lines(['green', 200]));
    expect(await a.read()).toEqual(counts(1, 1));
    expect(await b.read()).toEqual(counts(0, 1));
  });

  it('starts again at 0 when the file is truncated', async () => {
    await writeFile(log, lines(['blue', 200], ['blue', 200], ['blue', 200]));
    const cursor = await new AccessLogReader(log).mark();
    await appendFile(log, lines(['green', 200]));
    expect(await cursor.read()).toEqual(counts(0, 1));
    await truncate(log, 0);
    await appendFile(log, lines(['green', 500]));
    expect(await cursor.read()).toEqual(counts(0, 2, 0, 1));
  });

  it('follows rotation by rename + create, and is unreadable (not throwing) in between', async () => {
    await writeFile(log, lines(['blue', 200]));
    const cursor = await new AccessLogReader(log).mark();
    await appendFile(log, lines(['blue', 200]));
    expect(await cursor.read()).toEqual(counts(1, 0));

    await rename(log, `${log}.1`);
    expect(await cursor.read()).toEqual(counts(1, 0, 0, 0, false));
    // the new file is longer than the old offset: only the inode tells it is a different file
    await writeFile(log, lines(['green', 200], ['green', 200], ['green', 504]));
    expect(await cursor.read()).toEqual(counts(1, 3, 0, 1));
    await appendFile(log, lines(['blue', 200]));
    expect(await cursor.read()).toEqual(counts(2, 3, 0, 1));
  });

  it('a log that does not exist yet at mark() is counted from its start', async () => {
    const cursor = await new AccessLogReader(log).mark();
    expect((await cursor.read()).readable).toBe(false);
    await writeFile(log, lines(['green', 200]));
    expect(await cursor.read()).toEqual(counts(0, 1));
  });

  it('reports readable:false when the log cannot be read', async () => {
    await writeFile(log, '');
    const cursor = await new AccessLogReader(log).mark();
    // root reads through file modes, so make the path something no one can read as a file
    await rm(log);
    await mkdir(log);
    expect((await cursor.read()).readable).toBe(false);
    await rm(log, { recursive: true });
  });

  it('reads a large backlog in pieces', async () => {
    await writeFile(log, '');
    const cursor = await new AccessLogReader(log).mark();
    const many = Array.from({ length: 5000 }, (_, i) => entry(i % 2 ? 'green' : 'blue', i % 10 === 0 ? 500 : 200)).join('');
    await appendFile(log, many);
    expect(await cursor.read()).toEqual(counts(2500, 2500, 500, 0));
  });
});

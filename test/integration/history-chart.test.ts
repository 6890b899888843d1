import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { request } from 'undici';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startTraffic, type TrafficGenerator } from '../../src/demo/traffic.js';
import { stopAllBackends } from '../helpers/backends.js';
import { jsonOf, waitForOutput } from '../helpers/cli.js';
import { makeSandbox, type Sandbox } from '../helpers/sandbox.js';
import { parseXml } from '../helpers/xml.js';

/**
 * `bgctl history --chart FILE.svg` on a real migration: real NGINX, real backends, live traffic.
 * Green turns flaky once it has half the traffic, bgctl rolls back from the access log, and the
 * chart drawn from that log shows both colors' traffic, the 5xx, every step and the rollback.
 */

interface ChartJson {
  migrations: { id: string; status: string }[];
  chart: { file: string; migration: string; requests: number; files: string[]; from: string; to: string; bucketMs: number };
}

let box: Sandbox | null = null;
let load: TrafficGenerator | null = null;
afterEach(async () => {
  await load?.stop();
  await box?.close();
  load = null;
  box = null;
});
afterAll(stopAllBackends);

describe('history --chart', () => {
  it('draws the timeline of a real migration that rolled back from the access log', async () => {
    box = await makeSandbox('history-chart', {
      overrides: {
        migration: { steps: [25, 50, 100], stepSeconds: 2 },
        thresholds: { errorRate: 0.05, errorRateForSeconds: 0, minRequests: 20, windowSeconds: 1 },
      },
    });
    load = startTraffic({ url: `http://127.0.0.1:${box.listen}/load`, connections: 4, keepAlive: true, maxSeconds: 60, pauseMs: 2 });
    const run = box.spawn(['gradual', 'green', '2.1.0']);
    await waitForOutput(run, /step 2\/3 +applied/);
    // the release starts failing half its requests at 50%: health stays fine, only the traffic shows it
    const flip = await request(`${box.green.url}/__demo/deploy?version=2.1.0-flaky`, { method: 'POST' });
    expect(flip.statusCode).toBe(200);
    await flip.body.dump();
    const r = await run;
    expect(r.exitCode, String(r.stdout)).toBe(3);
    await load.stop();

    const out = jsonOf<ChartJson>(await box.cli(['history', '--chart', 'charts/last.svg', '--json']));
    const file = path.join(box.dir, 'charts', 'last.svg');
    expect(out.chart).toMatchObject({
      file,
      migration: out.migrations[0]?.id,
      files: [path.join(box.dir, 'nginx', 'logs', 'access.json.log')],
    });
    expect(out.chart.requests).toBeGreaterThan(100);

    const svg = await readFile(file, 'utf8');
    const { problems, elements } = parseXml(svg);
    expect(problems).toEqual([]);
    expect(elements[0]?.name).toBe('svg');
    const series = new Map(elements.filter((e) => e.name === 'polyline').map((e) => [e.attrs['class'], e.attrs['points'] ?? '']));
    // every series has points, and blue, green and the 5xx each rise above zero somewhere
    for (const key of ['blue', 'green', 'errors']) {
      const ys = (series.get(`series series-${key}`) ?? '').split(' ').map((p) => Number(p.split(',')[1]));
      expect(ys.length, key).toBeGreaterThan(10);
      expect(Math.min(...ys), key).toBeLessThan(Math.max(...ys));
    }
    const labels = elements.filter((e) => e.attrs['class'] === 'marker-label').map((e) => e.text);
    expect(labels).toEqual(expect.arrayContaining(['green 25%', 'green 50%', 'green 5xx seen', 'rollback decided', 'all on blue']));
    expect(labels).not.toContain('green 100%');
    expect(elements.find((e) => e.name === 'title')?.text).toBe('gradual blue → green 2.1.0: rolled back');

    // the same chart by id; an unknown id is bad usage and writes nothing
    const again = await box.cli(['history', '--chart', 'by-id.svg', '--id', out.chart.migration]);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/wrote .*by-id\.svg: migration \w+, \d+ requests from .*access\.json\.log/);
    const unknown = await box.cli(['history', '--chart', 'nope.svg', '--id', 'nope']);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toMatch(/no migration "nope" in the history/);
    await expect(readFile(path.join(box.dir, 'nope.svg'))).rejects.toThrow();
  });
});

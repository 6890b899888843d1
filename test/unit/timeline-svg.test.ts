import { describe, expect, it } from 'vitest';
import type { Migration } from '../../src/core/state.js';
import { escapeXml, renderTimelineSvg } from '../../src/report/timeline-svg.js';
import {
  bucketFor,
  migrationMarkers,
  migrationSpan,
  migrationTimeline,
  TimelineCounter,
  type LoggedRequest,
} from '../../src/report/timeline.js';
import { parseXml } from '../helpers/xml.js';

const T0 = Date.parse('2026-11-27T10:00:00.000Z');
const iso = (ms: number): string => new Date(T0 + ms).toISOString();

function step(index: number, percent: number, appliedMs: number) {
  return {
    index,
    percent,
    weights: { blue: 100 - percent, green: percent },
    revision: index + 2,
    startedAt: iso(appliedMs - 200),
    appliedAt: iso(appliedMs),
    endedAt: iso(appliedMs + 2000),
    verdict: 'passed' as const,
    reason: null,
    probes: { rounds: 2, healthy: 2, unhealthy: 0 },
    observed: null,
  };
}

/** A gradual migration that rolled back at 75%: green failed 5.2 s in, back on blue at 5.6 s. */
const rolledBack: Migration = {
  id: 'a1b2c3d4',
  kind: 'gradual',
  from: 'blue',
  to: 'green',
  version: '2.1.0 <"&">',
  strategy: 'weighted',
  plannedSteps: [25, 50, 75, 100],
  status: 'rolled_back',
  startedAt: iso(0),
  endedAt: iso(6000),
  outcome: 'rolled back',
  reason: 'step 3: error rate 0.31 > 0.05',
  pid: 1,
  host: 'h',
  steps: [step(0, 25, 300), step(1, 50, 2500), step(2, 75, 4700)],
  rolledBackAt: iso(5600),
  timeline: {
    color: 'green',
    firstErrorAt: iso(5200),
    decidedAt: iso(5300),
    restoredAt: iso(5600),
    firstServedAt: iso(350),
    lastServedAt: iso(5580),
    servedSeconds: 5.23,
  },
};

/** Synthetic log lines: 100 req/s, split by the live weights; green 500s half the time after 5.2 s. */
function lines(): LoggedRequest[] {
  const out: LoggedRequest[] = [];
  for (let t = -1000; t < 7000; t += 10) {
    const share = t < 300 ? 0 : t < 2500 ? 25 : t < 4700 ? 50 : t < 5600 ? 75 : 0;
    const green = (t / 10) % 100 < share;
    const failing = green && t >= 5200 && (t / 10) % 2 === 0;
    out.push({
      atMs: T0 + t,
      status: failing ? 500 : 200,
      color: green ? 'green' : 'blue',
      attempts: [{ color: green ? 'green' : 'blue', failed: failing }],
      forced: false,
    });
  }
  // a retried attempt (green refused, blue answered), a forced probe and an internal line: only the first counts
  out.push({
    atMs: T0 + 5400,
    status: 200,
    color: 'blue',
    attempts: [
      { color: 'green', failed: true },
      { color: 'blue', failed: false },
    ],
    forced: false,
  });
  out.push({ atMs: T0 + 5400, status: 200, color: 'green', attempts: [{ color: 'green', failed: false }], forced: true });
  out.push({ atMs: T0 + 5400, status: 200, color: null, attempts: [], forced: false });
  return out;
}

function chart(m: Migration = rolledBack) {
  const span = migrationSpan(m, T0 + 60_000);
  const counter = new TimelineCounter(span.fromMs, span.toMs, span.bucketMs);
  for (const l of lines()) counter.add(l);
  return { counter, data: migrationTimeline(m, counter), svg: renderTimelineSvg(migrationTimeline(m, counter)) };
}

describe('timeline data', () => {
  it('picks round buckets that keep the chart readable', () => {
    expect(bucketFor(8000)).toBe(100);
    expect(bucketFor(60_000)).toBe(500);
    expect(bucketFor(3_600_000)).toBe(30_000);
  });

  it('spans the migration with a margin on both sides, on bucket boundaries', () => {
    const span = migrationSpan(rolledBack, T0 + 60_000);
    expect(span.fromMs).toBeLessThanOrEqual(T0 - 1000);
    expect(span.toMs).toBeGreaterThanOrEqual(T0 + 7000);
    expect((span.toMs - span.fromMs) % span.bucketMs).toBe(0);
  });

  it('counts requests per color, 5xx and retries; forced and internal lines are left out', () => {
    const { counter, data } = chart();
    const sum = (k: 'blue' | 'green' | 'errors' | 'retried') => data.buckets.reduce((a, b) => a + b[k], 0);
    expect(counter.counted).toBe(801); // 800 synthetic requests + the retried one
    expect(sum('blue') + sum('green')).toBe(801);
    expect(sum('errors')).toBeGreaterThan(0);
    expect(sum('retried')).toBe(1);
  });

  it('marks every applied step, the failure bgctl saw, the decision and the moment traffic was back', () => {
    expect(migrationMarkers(rolledBack).map((m) => [m.kind, m.label])).toEqual([
      ['step', 'green 25%'],
      ['step', 'green 50%'],
      ['step', 'green 75%'],
      ['failure', 'green 5xx seen'],
      ['rollback', 'rollback decided'],
      ['restored', 'all on blue'],
    ]);
    const manual: Migration = { ...rolledBack, timeline: null };
    expect(migrationMarkers(manual).at(-1)).toMatchObject({ kind: 'restored', label: 'rolled back: all on blue' });
    const done: Migration = { ...rolledBack, status: 'completed', timeline: null, rolledBackAt: null };
    expect(migrationMarkers(done).at(-1)).toMatchObject({ kind: 'done', label: 'completed' });
  });
});

describe('renderTimelineSvg', () => {
  it('is well-formed XML with one svg root, even with markup characters in the title', () => {
    const { svg } = chart();
    const { problems, elements } = parseXml(svg);
    expect(problems).toEqual([]);
    expect(elements[0]?.name).toBe('svg');
    expect(elements[0]?.attrs['xmlns']).toBe('http://www.w3.org/2000/svg');
    expect(elements.find((e) => e.name === 'title')?.text).toBe('gradual blue → green 2.1.0 <"&">: rolled back');
    expect(escapeXml(`<a href="x">&'`)).toBe('&lt;a href=&quot;x&quot;&gt;&amp;&apos;');
  });

  it('draws a line per color and one for the 5xx, each labelled where it is drawn', () => {
    const { elements } = parseXml(chart().svg);
    const series = elements.filter((e) => e.name === 'polyline').map((e) => e.attrs['class']);
    expect(series).toEqual(['series series-blue', 'series series-green', 'series series-errors', 'series series-retried']);
    for (const p of elements.filter((e) => e.name === 'polyline')) expect(p.attrs['points']?.split(' ').length).toBeGreaterThan(50);
    const labels = elements.filter((e) => e.attrs['class'] === 'series-label').map((e) => e.text);
    expect(labels).toEqual(['blue', 'green', expect.stringMatching(/^5xx to clients, peak \d+\/s$/), 'retried by NGINX, peak 10/s']);
  });

  it('annotates the steps and the rollback with a line and a label each, labels never on top of each other', () => {
    const { elements } = parseXml(chart().svg);
    const labels = elements.filter((e) => e.attrs['class'] === 'marker-label');
    expect(labels.map((e) => e.text)).toEqual(['green 25%', 'green 50%', 'green 75%', 'green 5xx seen', 'rollback decided', 'all on blue']);
    expect(elements.filter((e) => e.name === 'line' && e.attrs['class']?.startsWith('marker ')).map((e) => e.attrs['class'])).toEqual([
      'marker marker-step',
      'marker marker-step',
      'marker marker-step',
      'marker marker-failure',
      'marker marker-rollback',
      'marker marker-restored',
    ]);
    // 5.2 s, 5.3 s and 5.6 s are close together: their labels go on different rows
    const box = (e: (typeof labels)[number]) => ({ x: Number(e.attrs['x']), y: Number(e.attrs['y']), w: e.text.length * 6.2 });
    const boxes = labels.map(box);
    for (const [i, a] of boxes.entries())
      for (const b of boxes.slice(i + 1))
        expect(a.y !== b.y || a.x + a.w <= b.x || b.x + b.w <= a.x, `${JSON.stringify(a)} ${JSON.stringify(b)}`).toBe(true);
  });

  it('says so when the log had nothing for the span', () => {
    const span = migrationSpan(rolledBack, T0);
    const svg = renderTimelineSvg(migrationTimeline(rolledBack, new TimelineCounter(span.fromMs, span.toMs, span.bucketMs)));
    expect(parseXml(svg).problems).toEqual([]);
    expect(svg).toContain('no requests in the access log for this span');
  });
});

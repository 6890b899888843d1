/**
 * The load generator, run as its own process so that its busy event loop (20 connections, no pause)
 * never delays the bench's timers and exit detection, and so the OS can schedule it on the other core.
 *
 *   node bench/lib/load-worker.mjs --url http://127.0.0.1:PORT/load --kinds ka-get:5,ka-post:5,close-get:5,close-post:5 \
 *     --pause-ms 0 --max-seconds 60
 *
 * Client kinds: ka-* keep their connection open between requests, close-* open a new one for every
 * request (`Connection: close`); *-get send GET, *-post send POST with a small JSON body. NGINX may
 * retry an idempotent GET on another server, never a POST it already sent: the kinds fail differently.
 * (`--connections N` alone is the old form: N keep-alive GET clients.)
 *
 * Protocol on stdin/stdout, one line each:
 *   prints "ready" once the workers run; "reset" zeroes the counters (answers "reset");
 *   "stop" (or stdin closing) stops the workers and prints the final stats as one JSON line, then exits.
 * The stats carry `failureTimes`: [ms since reset, new failures] every time the failure count grew (so the
 * bench can tell one reload that reset 20 connections at once from 20 separate incidents), `resetAt`
 * (epoch ms, to line those up with NGINX's log and bgctl's history) and, per color, when clients first
 * and last got an answer from it (`seen`). Times come from a 10 ms poll of the counters.
 * --max-seconds bounds it even if the parent vanishes without closing stdin.
 * --latency adds `latency`: { n, p50, p99, max } in ms over the window, each request timed from the moment
 * undici created it to the end of its response (answered requests of every status; errors and resets have
 * no latency, they are counted as failed). Timed through undici's diagnostics channels, so the project's
 * traffic generator stays as it is; off by default (it costs the load a little CPU).
 */
import diagnostics from 'node:diagnostics_channel';
import { createInterface } from 'node:readline';
import { clearInterval, setInterval } from 'node:timers';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { startTraffic } from '../../dist/demo/traffic.js';

export const KINDS = {
  'ka-get': { keepAlive: true, method: 'GET', label: 'keep-alive GET' },
  'ka-post': { keepAlive: true, method: 'POST', label: 'keep-alive POST' },
  'close-get': { keepAlive: false, method: 'GET', label: 'new connection GET' },
  'close-post': { keepAlive: false, method: 'POST', label: 'new connection POST' },
};

/** "ka-get:5,close-post:5" → [["ka-get", 5], ["close-post", 5]] */
export function parseKinds(spec) {
  return spec.split(',').map((part) => {
    const [kind, n] = part.trim().split(':');
    if (!(kind in KINDS) || !/^\d{1,3}$/.test(n ?? '') || Number(n) < 1)
      throw new Error(`load-worker: bad --kinds entry ${JSON.stringify(part)}`);
    return [kind, Number(n)];
  });
}

const BODY = JSON.stringify({ order: 'bench', items: [1, 2, 3], note: 'a small JSON body, as a form post would send' });
const POLL_MS = 10;
const MAX_EVENTS = 1000;
const MAX_SAMPLES = 2_000_000;

/** The q-quantile (0-1) of sorted values, nearest rank. */
export function quantile(sorted, q) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/**
 * Times every request undici makes in this process: created → response complete. The channels are
 * global by name, so this sees the requests of dist/demo/traffic.js's own undici.
 */
function latencyRecorder() {
  const started = new WeakMap();
  let samples = [];
  const onCreate = ({ request }) => started.set(request, performance.now());
  const onDone = ({ request }) => {
    const t0 = started.get(request);
    if (t0 === undefined) return;
    started.delete(request);
    if (samples.length < MAX_SAMPLES) samples.push(performance.now() - t0);
  };
  const onError = ({ request }) => started.delete(request);
  diagnostics.subscribe('undici:request:create', onCreate);
  diagnostics.subscribe('undici:request:trailers', onDone);
  diagnostics.subscribe('undici:request:error', onError);
  const round = (x) => (x === null ? null : Math.round(x * 100) / 100);
  return {
    reset() {
      samples = [];
    },
    summary() {
      const sorted = Float64Array.from(samples).sort();
      return { n: sorted.length, p50: round(quantile(sorted, 0.5)), p99: round(quantile(sorted, 0.99)), max: round(quantile(sorted, 1)) };
    },
  };
}

function main() {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      kinds: { type: 'string' },
      connections: { type: 'string', default: '20' },
      'pause-ms': { type: 'string', default: '0' },
      'max-seconds': { type: 'string', default: '120' },
      latency: { type: 'boolean', default: false },
    },
  });
  const url = new URL(values.url ?? '');
  // all load stays on this machine: refuse anything but loopback
  if (url.hostname !== '127.0.0.1') throw new Error(`load-worker: refusing non-loopback URL ${url.href}`);
  const kinds = parseKinds(values.kinds ?? `ka-get:${values.connections}`);
  // subscribed before the first request is created
  const latency = values.latency ? latencyRecorder() : null;

  const generators = kinds.map(([kind, connections]) => ({
    kind,
    traffic: startTraffic({
      url: url.href,
      connections,
      keepAlive: KINDS[kind].keepAlive,
      method: KINDS[kind].method,
      ...(KINDS[kind].method === 'POST' ? { body: BODY } : {}),
      pauseMs: Number(values['pause-ms']),
      maxSeconds: Number(values['max-seconds']),
    }),
  }));
  process.stdout.write('ready\n');

  let resetAt = performance.now();
  let resetAtEpoch = Date.now();
  let seen;
  const clearSeen = () => {
    seen = {
      failed: Object.fromEntries(kinds.map(([k]) => [k, 0])),
      failureTimes: [],
      kindFailureTimes: Object.fromEntries(kinds.map(([k]) => [k, []])),
      colors: { blue: 0, green: 0 },
      colorTimes: { blue: { firstAt: null, lastAt: null }, green: { firstAt: null, lastAt: null } },
    };
  };
  clearSeen();

  // Failures come in bursts (one reload can reset every connection it held), so record when they happen.
  const sample = () => {
    const ms = Math.round(performance.now() - resetAt);
    const now = resetAtEpoch + ms;
    let newFailures = 0;
    const colors = { blue: 0, green: 0 };
    for (const g of generators) {
      const s = g.traffic.stats();
      const grew = s.failed - seen.failed[g.kind];
      if (grew > 0) {
        newFailures += grew;
        if (seen.kindFailureTimes[g.kind].length < MAX_EVENTS) seen.kindFailureTimes[g.kind].push([ms, grew]);
      }
      seen.failed[g.kind] = s.failed;
      colors.blue += s.byColor.blue;
      colors.green += s.byColor.green;
    }
    if (newFailures > 0 && seen.failureTimes.length < MAX_EVENTS) seen.failureTimes.push([ms, newFailures]);
    for (const c of ['blue', 'green']) {
      if (colors[c] > seen.colors[c]) {
        seen.colorTimes[c].firstAt ??= now;
        seen.colorTimes[c].lastAt = now;
      }
      seen.colors[c] = colors[c];
    }
  };
  const poll = setInterval(sample, POLL_MS);

  let stopping = false;
  async function stop() {
    if (stopping) return;
    stopping = true;
    clearInterval(poll);
    const finals = await Promise.all(generators.map(async (g) => [g.kind, await g.traffic.stop()]));
    sample();
    const sum = (key) => finals.reduce((acc, [, s]) => acc + s[key], 0);
    const colorSum = (key, c) => finals.reduce((acc, [, s]) => acc + s[key][c], 0);
    const stats = {
      total: sum('total'),
      ok: sum('ok'),
      failed: sum('failed'),
      byColor: { blue: colorSum('byColor', 'blue'), green: colorSum('byColor', 'green'), other: colorSum('byColor', 'other') },
      failedByColor: {
        blue: colorSum('failedByColor', 'blue'),
        green: colorSum('failedByColor', 'green'),
        other: colorSum('failedByColor', 'other'),
      },
      errors: finals.flatMap(([kind, s]) => s.errors.slice(0, 3).map((e) => `${kind}: ${e}`)).slice(0, 10),
      failureTimes: seen.failureTimes,
      resetAt: resetAtEpoch,
      seen: seen.colorTimes,
      ...(latency ? { latency: latency.summary() } : {}),
      kinds: Object.fromEntries(
        finals.map(([kind, s]) => [
          kind,
          { total: s.total, failed: s.failed, byColor: s.byColor, errors: s.errors.slice(0, 3), failureTimes: seen.kindFailureTimes[kind] },
        ]),
      ),
    };
    // a pipe takes 64 KiB at once: exit only once all of it is written
    process.stdout.write(`${JSON.stringify(stats)}\n`, () => process.exit(0));
  }

  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    if (line.trim() === 'reset') {
      for (const g of generators) g.traffic.reset();
      latency?.reset();
      resetAt = performance.now();
      resetAtEpoch = Date.now();
      clearSeen();
      process.stdout.write('reset\n');
    } else if (line.trim() === 'stop') void stop();
  });
  lines.on('close', () => void stop());
  // maxSeconds reached on its own: report what was counted and leave
  void Promise.all(generators.map((g) => g.traffic.done)).then(() => stop());
}

// imported by the bench for KINDS and parseKinds; run as a script it generates the load
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();

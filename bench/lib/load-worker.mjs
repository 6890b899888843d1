/**
 * The load generator, run as its own process so that its busy event loop (20 connections, no pause)
 * never delays the bench's timers and exit detection, and so the OS can schedule it on the other core.
 *
 *   node bench/lib/load-worker.mjs --url http://127.0.0.1:PORT/load --connections 20 --pause-ms 0 --max-seconds 60
 *
 * Protocol on stdin/stdout, one line each:
 *   prints "ready" once the workers run; "reset" zeroes the counters (answers "reset");
 *   "stop" (or stdin closing) stops the workers and prints the final stats as one JSON line, then exits.
 * The stats carry `failureTimes`: [ms since reset, new failures] every time the failure count grew, so the
 * bench can tell one reload that reset 20 connections at once from 20 separate incidents.
 * --max-seconds bounds it even if the parent vanishes without closing stdin.
 */
import { createInterface } from 'node:readline';
import { clearInterval, setInterval } from 'node:timers';
import { parseArgs } from 'node:util';
import { startTraffic } from '../../dist/demo/traffic.js';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    connections: { type: 'string', default: '20' },
    'pause-ms': { type: 'string', default: '0' },
    'max-seconds': { type: 'string', default: '120' },
  },
});
const url = new URL(values.url ?? '');
// all load stays on this machine: refuse anything but loopback
if (url.hostname !== '127.0.0.1') throw new Error(`load-worker: refusing non-loopback URL ${url.href}`);

const traffic = startTraffic({
  url: url.href,
  connections: Number(values.connections),
  keepAlive: true,
  pauseMs: Number(values['pause-ms']),
  maxSeconds: Number(values['max-seconds']),
});
process.stdout.write('ready\n');

// Failures come in bursts (one reload can reset every connection it held), so record when they happen.
// A 10 ms poll of the counters is cheap next to the load itself and needs no change to traffic.js.
const POLL_MS = 10;
const MAX_EVENTS = 1000;
let resetAt = performance.now();
let seenFailed = 0;
let failureTimes = [];
const poll = setInterval(() => {
  const { failed } = traffic.stats();
  if (failed > seenFailed && failureTimes.length < MAX_EVENTS)
    failureTimes.push([Math.round(performance.now() - resetAt), failed - seenFailed]);
  seenFailed = failed;
}, POLL_MS);

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  clearInterval(poll);
  const stats = await traffic.stop();
  if (stats.failed > seenFailed) failureTimes.push([Math.round(performance.now() - resetAt), stats.failed - seenFailed]);
  process.stdout.write(`${JSON.stringify({ ...stats, failureTimes })}\n`);
  process.exit(0);
}

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (line.trim() === 'reset') {
    traffic.reset();
    resetAt = performance.now();
    seenFailed = 0;
    failureTimes = [];
    process.stdout.write('reset\n');
  } else if (line.trim() === 'stop') void stop();
});
lines.on('close', () => void stop());
// maxSeconds reached on its own: report what was counted and leave
void traffic.done.then(() => stop());

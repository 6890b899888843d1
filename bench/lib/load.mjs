/**
 * Drives load-worker.mjs: load against the sandbox's NGINX (keep-alive or not, GET or POST), counted by
 * the project's own traffic generator (dist/demo/traffic.js), in a separate process.
 */
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { defer } from './cleanup.mjs';
import { sleep } from './proc.mjs';

const WORKER = fileURLToPath(new URL('./load-worker.mjs', import.meta.url));
const SPLIT_WORKER = fileURLToPath(new URL('./split-worker.mjs', import.meta.url));

/** A worker process with a line protocol on stdin/stdout; registered for cleanup at once. */
function spawnWorker(script, args, label) {
  const child = execa(process.execPath, [script, ...args], {
    cwd: path.dirname(script),
    reject: false,
    stdin: 'pipe',
    forceKillAfterDelay: 3000,
    maxBuffer: 512 * 1024 * 1024,
  });
  const undo = defer(label, async () => {
    child.kill('SIGTERM');
    await child;
  });
  return { child, undo, next: lineReader(createInterface({ input: child.stdout }), child) };
}

/**
 * Many distinct clients keeping their bgctl_bucket cookie (split-worker.mjs). Returns { stop() }
 * resolving with { clients, records: [[sentAt, doneAt, client, color], ...] }.
 */
export async function startSplitClients({ url, clients = 1000, connections = 8, maxSeconds = 120 }) {
  const args = ['--url', url, '--clients', String(clients), '--connections', String(connections), '--max-seconds', String(maxSeconds)];
  const { child, undo, next } = spawnWorker(SPLIT_WORKER, args, 'split clients');
  await expectLine(next, 'ready', 10_000);
  return {
    async stop() {
      child.stdin.write('stop\n');
      const text = await next(30_000);
      await child;
      await undo();
      return JSON.parse(text);
    },
  };
}

/**
 * Starts the load, lets the connections warm up (so connection setup is not part of the measure),
 * then zeroes the counters. Returns { stop() } resolving with the stats of the measured window.
 */
export async function startLoad({ url, kinds = null, connections = 20, pauseMs = 0, warmupMs = 1000, maxSeconds = 120, latency = false }) {
  // kinds: "ka-get:5,close-post:5" (see load-worker.mjs); without it, `connections` keep-alive GET clients
  const mix = kinds ?? `ka-get:${connections}`;
  const args = ['--url', url, '--kinds', mix, '--pause-ms', String(pauseMs), '--max-seconds', String(maxSeconds)];
  // latency: the stats get { n, p50, p99, max } in ms of the measured window
  if (latency) args.push('--latency');
  const { child, undo, next } = spawnWorker(WORKER, args, 'load worker');

  await expectLine(next, 'ready', 10_000);
  await sleep(warmupMs);
  child.stdin.write('reset\n');
  await expectLine(next, 'reset', 5000);

  return {
    async stop() {
      child.stdin.write('stop\n');
      const text = await next(15_000);
      await child;
      await undo();
      return JSON.parse(text);
    },
  };
}

/** Returns next(timeoutMs): the next stdout line of the worker, or an error if it exits or stalls. */
function lineReader(lines, child) {
  const queue = [];
  const waiting = [];
  let gone = null; // set once the worker exited: later reads fail at once instead of timing out
  lines.on('line', (line) => (waiting.length > 0 ? waiting.shift().resolve(line) : queue.push(line)));
  void child.then((r) => {
    gone = new Error(`load worker exited (${r.exitCode}): ${r.stderr}`);
    lines.close(); // flush: a last line may still be queued after the exit
    for (const w of waiting.splice(0)) w.reject(gone);
  });
  return (timeoutMs) =>
    queue.length > 0
      ? Promise.resolve(queue.shift())
      : gone
        ? Promise.reject(gone)
        : new Promise((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`load worker silent for ${timeoutMs} ms`)), timeoutMs);
            const settle = (fn) => (value) => {
              clearTimeout(timer);
              fn(value);
            };
            waiting.push({ resolve: settle(resolve), reject: settle(reject) });
          });
}

async function expectLine(next, expected, timeoutMs) {
  const line = await next(timeoutMs);
  if (line !== expected) throw new Error(`load worker said ${JSON.stringify(line)}, expected ${expected}`);
}

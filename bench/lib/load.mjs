/**
 * Drives load-worker.mjs: keep-alive load against the sandbox's NGINX, counted by the project's own
 * traffic generator (dist/demo/traffic.js), in a separate process.
 */
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { defer } from './cleanup.mjs';
import { sleep } from './proc.mjs';

const WORKER = fileURLToPath(new URL('./load-worker.mjs', import.meta.url));

/**
 * Starts the load, lets the connections warm up (so connection setup is not part of the measure),
 * then zeroes the counters. Returns { stop() } resolving with the stats of the measured window.
 */
export async function startLoad({ url, connections = 20, pauseMs = 0, warmupMs = 1000, maxSeconds = 120 }) {
  const child = execa(
    process.execPath,
    [WORKER, '--url', url, '--connections', String(connections), '--pause-ms', String(pauseMs), '--max-seconds', String(maxSeconds)],
    {
      cwd: path.dirname(WORKER),
      reject: false,
      stdin: 'pipe',
      forceKillAfterDelay: 3000,
    },
  );
  const undo = defer('load worker', async () => {
    child.kill('SIGTERM');
    await child;
  });
  const lines = createInterface({ input: child.stdout });
  const next = lineReader(lines, child);

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

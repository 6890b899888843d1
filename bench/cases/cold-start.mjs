/**
 * 3. CLI cold start: wall time of `bgctl status` against the running sandbox, next to `node -e 0` (the
 *    floor: starting node at all) and `bgctl --version` (node + loading the CLI's modules, no work).
 *    The three run interleaved, in rotating order, so noise on the shared machine hits them alike.
 */
import { BGCTL_BIN, REPO_ROOT, timed } from '../lib/proc.mjs';
import { ratio, summarize } from '../lib/stats.mjs';

const commands = (box) => [
  { id: 'node', label: 'node -e 0', args: ['-e', '0'], cwd: REPO_ROOT },
  { id: 'version', label: 'bgctl --version', args: [BGCTL_BIN, '--version'], cwd: REPO_ROOT },
  { id: 'status', label: 'bgctl status', args: [BGCTL_BIN, 'status'], cwd: box.dir },
];

async function round(cmds, offset) {
  const out = {};
  for (let k = 0; k < cmds.length; k++) {
    const c = cmds[(k + offset) % cmds.length];
    const r = await timed(process.execPath, c.args, { cwd: c.cwd, timeoutMs: 30_000 });
    out[c.id] = { ms: Math.round(r.ms), exitCode: r.exitCode };
  }
  return out;
}

export async function benchColdStart(box, opts, log) {
  const cmds = commands(box);
  await round(cmds, 0); // warm-up, discarded: first reads of node and dist/ from disk
  const runs = [];
  for (let i = 1; i <= opts.runs; i++) {
    const r = await round(cmds, i);
    runs.push({ run: i, ...r });
    log(`  run ${i}/${opts.runs}: ${cmds.map((c) => `${c.label} ${r[c.id].ms} ms`).join(', ')}`);
  }
  return { commands: cmds.map(({ id, label }) => ({ id, label })), runs, summary: summarizeRuns(runs, cmds) };
}

export function summarizeRuns(runs, cmds) {
  const summary = {};
  for (const c of cmds)
    summary[c.id] = {
      label: c.label,
      ms: summarize(runs.map((r) => r[c.id].ms)),
      failures: runs.filter((r) => r[c.id].exitCode !== 0).length,
    };
  const nodeMedian = summary.node.ms.median;
  for (const c of cmds) summary[c.id].vsNode = ratio(summary[c.id].ms.median, nodeMedian);
  return summary;
}

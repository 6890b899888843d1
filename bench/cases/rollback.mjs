/**
 * 2. Rollback wall time: after a completed migration (a `switch green`), how long `bgctl rollback` takes
 *    from process start to exit (what an operator waits in an emergency), next to the `applyMs` it
 *    reports (nginx -t, swap, reload and confirmation that fresh connections get the old color). The
 *    difference is the CLI's own cost: node start, config, lock, state. No load runs meanwhile.
 */
import { jsonOf, sleep } from '../lib/proc.mjs';
import { ensureOn } from '../lib/sandbox.mjs';
import { summarize } from '../lib/stats.mjs';

async function oneRollback(box) {
  await box.cliOk(['switch', 'green']); // the completed migration to revert
  const r = await box.cli(['rollback', '--json'], 30_000);
  const j = jsonOf(r);
  const ok = r.exitCode === 0 && j?.action === 'reverted' && j?.weights?.blue === 100;
  return {
    wallMs: Math.round(r.ms),
    applyMs: typeof j?.applyMs === 'number' ? j.applyMs : null,
    action: j?.action ?? null,
    exitCode: r.exitCode,
    ok,
  };
}

export async function benchRollback(box, opts, log) {
  await ensureOn(box, 'blue');
  const runs = [];
  for (let i = 1; i <= opts.runs; i++) {
    const run = { run: i, ...(await oneRollback(box)) };
    runs.push(run);
    log(
      `  run ${i}/${opts.runs}: rollback ${run.wallMs} ms end to end, applyMs ${run.applyMs}${run.ok ? '' : ` (exit ${run.exitCode}, action ${run.action})`}`,
    );
    await sleep(opts.settleMs);
  }
  return { runs, summary: summarizeRuns(runs) };
}

export function summarizeRuns(runs) {
  const wall = summarize(runs.map((r) => r.wallMs));
  const apply = summarize(runs.map((r) => r.applyMs));
  return {
    wallMs: wall,
    applyMs: apply,
    // the CLI's share: process start, config, lock, state, output (median wall minus median apply)
    overheadMs: wall.median !== null && apply.median !== null ? wall.median - apply.median : null,
    allReverted: runs.every((r) => r.ok),
  };
}

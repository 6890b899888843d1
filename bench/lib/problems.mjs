/** Problems worth a non-zero exit: a migration that did not complete, a rollback that did not happen... */
export function problemsOf(results) {
  const problems = [];
  for (const r of results.zeroDowntime?.runs ?? []) {
    if (!r.bgctl.ok) problems.push(`zero-downtime run ${r.run}: bgctl gradual exited ${r.bgctl.exitCode}: ${r.bgctl.output ?? ''}`);
    if (!r.baseline.ok) problems.push(`zero-downtime run ${r.run}: only ${r.baseline.reloads} baseline reloads were sent`);
    if (r.bgctl.offsetsFrom !== 'steps')
      problems.push(`zero-downtime run ${r.run}: step times not in the --json output; baseline reloads spread evenly`);
  }
  for (const r of results.split?.runs ?? [])
    for (const m of [r.weighted, r.sticky])
      if (!m.ok) problems.push(`split run ${r.run} (${m.strategy}): gradual exited ${m.exitCode}: ${m.output ?? ''}`);
  if (results.split?.summary.movedBack > 0)
    problems.push(`split: ${results.split.summary.movedBack} sticky clients went back from green to blue`);
  for (const sc of results.timeToRestore?.scenarios ?? [])
    for (const r of sc.runs)
      if (!r.ok)
        problems.push(
          `time-to-restore ${sc.failure}/${sc.thresholds} run ${r.run}: not rolled back (exit ${r.exitCode}): ${r.output ?? r.reason ?? ''}`,
        );
  for (const r of results.applyLatency?.runs ?? []) if (!r.ok) problems.push(`apply-latency run ${r.run}: ${r.output ?? 'failed'}`);
  if (results.applyLatency?.summary.handReload.failures > 0) problems.push('apply-latency: a reload by hand failed');
  for (const r of results.rollback?.runs ?? []) if (!r.ok) problems.push(`rollback run ${r.run}: exit ${r.exitCode}, action ${r.action}`);
  for (const c of Object.values(results.coldStart?.summary ?? {}))
    if (c.failures > 0) problems.push(`cold start: ${c.label} exited non-zero ${c.failures} times`);
  for (const [id, t] of Object.entries(results.dataPlane?.summary ?? {}))
    if (t.errors > 0) problems.push(`data-plane ${id}: ${t.errors} wrk errors (non-2xx or socket errors)`);
  return problems;
}

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
  const dyn = results.dynamic;
  for (const r of dyn?.gradual ?? []) {
    for (const side of ['dynamic', 'reload'])
      if (!r[side].ok) problems.push(`dynamic run ${r.run}: gradual in ${side} mode exited ${r[side].exitCode}: ${r[side].output ?? ''}`);
    if (!r.bare.ok) problems.push(`dynamic run ${r.run}: only ${r.bare.reloads} bare reloads were sent`);
    if (r.haproxy && !r.haproxy.ok)
      problems.push(`dynamic run ${r.run}: only ${r.haproxy.weightChanges} haproxy weight changes were taken`);
    if (r.reload.offsetsFrom !== 'steps') problems.push(`dynamic run ${r.run}: reload-mode step times not in the --json output`);
    if (r.dynamic.nginxReloads > 0)
      problems.push(`dynamic run ${r.run}: NGINX reloaded ${r.dynamic.nginxReloads} times during a dynamic-mode migration (expected 0)`);
    if (r.reload.nginxReloads !== 4)
      problems.push(`dynamic run ${r.run}: ${r.reload.nginxReloads} NGINX reloads seen in reload mode (expected 4)`);
  }
  for (const r of dyn?.rollback ?? [])
    for (const m of ['dynamic', 'reload'])
      if (!r[m].ok) problems.push(`dynamic run ${r.run}: rollback in ${m} mode exit ${r[m].exitCode}, action ${r[m].action}`);
  for (const r of dyn?.rollback ?? [])
    if (r.dynamic.nginxReloads > 0) problems.push(`dynamic run ${r.run}: NGINX reloaded during a dynamic-mode rollback`);
  for (const m of ['dynamic', 'reload']) {
    const t = dyn?.summary?.throughput?.[m];
    if (t?.errors > 0) problems.push(`dynamic ${m}: ${t.errors} wrk errors (non-2xx or socket errors)`);
    if (t && t.greenShare.median !== null && Math.abs(t.greenShare.median - 0.5) > 0.02)
      problems.push(`dynamic ${m}: green got ${(t.greenShare.median * 100).toFixed(1)}% under wrk at 50/50`);
  }
  return problems;
}

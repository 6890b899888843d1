import type { AppContext } from './context.js';
import { validateRows } from './verify-checks.js';
import { deploymentCycle, stressCycles } from './verify-cycle.js';
import { skipped, summarize, type Row, type VerifyOptions, type VerifyProbes, type VerifyReport } from './verify-model.js';

export * from './verify-model.js';

/**
 * `bgctl verify validate|test|stress|full`: the system validation suite as one table. `validate` only
 * reads (checks in verify-checks.ts); `test` and `stress` move live traffic there and back through the
 * same gradual migrations an operator runs (verify-cycle.ts). Table and exit code: verify-model.ts.
 */
/** validate (read-only) first; test and stress run only on a system that passed it. full = all three. */
export async function runVerify(ctx: AppContext, probes: VerifyProbes, o: VerifyOptions): Promise<VerifyReport> {
  const t0 = ctx.clock.now();
  const rows: Row[] = [...(await validateRows(ctx, probes, o))];
  const validFailed = rows.some((r) => r.result === 'FAIL');
  const wantTest = o.suite === 'test' || o.suite === 'full';
  const wantStress = o.suite === 'stress' || o.suite === 'full';
  if (wantTest) {
    if (validFailed) rows.push(skipped('deployment cycle', 'not run: validation failed, nothing was changed'));
    else rows.push(...(await deploymentCycle(ctx, probes, o)));
  }
  if (wantStress) {
    const before = rows.some((r) => r.result === 'FAIL');
    if (before) rows.push(skipped('stress', `not run: ${validFailed ? 'validation' : 'the deployment cycle'} failed`));
    else rows.push(...(await stressCycles(ctx, probes, o)));
  }
  return summarize(o.suite, rows, ctx.clock.now() - t0);
}

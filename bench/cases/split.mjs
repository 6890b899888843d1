/**
 * 2. Split accuracy: the share of traffic the new color really gets at each step of a real migration
 *    (`bgctl gradual green 2.1.0 --steps 25,50,75,100`), against the step's target.
 *    weighted: share of requests (NGINX's zoned weighted round-robin: exact over every cycle);
 *    sticky:   share of clients, with many distinct clients each keeping its bgctl_bucket cookie, plus
 *              the clients that saw both colors within a step or went back from green to blue (both
 *              should be 0: a client only ever moves old → new).
 *    Baseline in the same run: how far a fair coin per request (weighted) or per client (sticky) would
 *    land from the target with as many draws (one standard deviation).
 *    A request counts for a step when it was sent after the step was confirmed live and answered before
 *    the next step started (times from the migration's own record in --json).
 */
import { startSplitClients } from '../lib/load.mjs';
import { jsonOf, sleep, tail } from '../lib/proc.mjs';
import { ensureOn } from '../lib/sandbox.mjs';
import { summarize } from '../lib/stats.mjs';

const STEPS = [25, 50, 75, 100];
const BLUE = 0;
const GREEN = 1;

/** [from, to) epoch ms of each step: confirmed live → the next step started (the last: the migration ended). */
function stepWindows(migration, endedAt) {
  const steps = migration?.steps ?? [];
  return steps.map((s, i) => ({
    percent: s.percent,
    from: Date.parse(s.appliedAt ?? ''),
    to: Date.parse(steps[i + 1]?.startedAt ?? migration.endedAt ?? '') || endedAt,
    figures: s.figures ?? null,
  }));
}

/** Pure: the figures of one step from the clients' records. */
export function stepShare(records, w, strategy) {
  const inside = records.filter(([sent, done]) => sent >= w.from && done < w.to);
  const answered = inside.filter((r) => r[3] === BLUE || r[3] === GREEN);
  const green = answered.filter((r) => r[3] === GREEN).length;
  const target = w.percent / 100;
  const requestShare = answered.length > 0 ? green / answered.length : null;
  const out = {
    percent: w.percent,
    requests: answered.length,
    failed: inside.length - answered.length,
    requestShare,
    coinSd: answered.length > 0 ? Math.sqrt((target * (1 - target)) / answered.length) : null,
    // bgctl's own view of the same step, from the access log (attempts per color)
    logShare: w.figures
      ? w.figures.colors.green.requests / Math.max(1, w.figures.colors.green.requests + w.figures.colors.blue.requests)
      : null,
  };
  if (strategy !== 'sticky') return { ...out, share: requestShare, error: requestShare === null ? null : requestShare - target };
  const byClient = new Map();
  for (const [, , client, color] of answered) byClient.set(client, (byClient.get(client) ?? 0) | (1 << color));
  const onGreen = [...byClient.values()].filter((m) => m === 1 << GREEN).length;
  const onBlue = [...byClient.values()].filter((m) => m === 1 << BLUE).length;
  const clientShare = onGreen + onBlue > 0 ? onGreen / (onGreen + onBlue) : null;
  return {
    ...out,
    clients: byClient.size,
    mixed: byClient.size - onGreen - onBlue,
    share: clientShare,
    error: clientShare === null ? null : clientShare - target,
    coinSd: byClient.size > 0 ? Math.sqrt((target * (1 - target)) / byClient.size) : null,
    colorOf: byClient,
  };
}

/** Clients on green in one step and on blue in the next: a sticky split must never move them back. */
function movedBack(steps) {
  let n = 0;
  for (let i = 1; i < steps.length; i++) {
    for (const [client, mask] of steps[i].colorOf) if (mask === 1 << BLUE && steps[i - 1].colorOf.get(client) === 1 << GREEN) n++;
  }
  return n;
}

async function oneMigration(box, strategy, opts) {
  await ensureOn(box, 'blue');
  const clients = await startSplitClients({ url: box.url, clients: opts.clients, connections: opts.splitConnections, maxSeconds: 300 });
  let r;
  let data;
  try {
    await sleep(opts.warmupMs);
    const args = [
      'gradual',
      'green',
      '2.1.0',
      '--strategy',
      strategy,
      '--steps',
      STEPS.join(','),
      '--step-seconds',
      String(opts.stepSeconds),
    ];
    r = await box.cli([...args, '--json'], 180_000);
  } finally {
    data = await clients.stop();
  }
  const j = jsonOf(r);
  const ok = r.exitCode === 0 && j?.weights?.green === 100;
  const windows = stepWindows(j?.migration, r.startedAt + r.ms);
  const steps = windows.map((w) => stepShare(data.records, w, strategy));
  const moved = strategy === 'sticky' ? movedBack(steps) : null;
  for (const s of steps) delete s.colorOf; // per-client maps: not part of the results
  return {
    strategy,
    ok,
    exitCode: r.exitCode,
    ...(ok ? {} : { output: tail(r.stderr || r.stdout) }),
    clients: data.clients,
    steps,
    movedBack: moved,
  };
}

export async function benchSplit(box, opts, log) {
  const runs = [];
  for (let i = 1; i <= opts.runs; i++) {
    // sticky first: a switch keeps the strategy of the last migration, and the cases after this one expect weighted
    const sticky = await oneMigration(box, 'sticky', opts);
    const run = { run: i, weighted: await oneMigration(box, 'weighted', opts), sticky };
    runs.push(run);
    const fmt = (m) =>
      m.steps.map((s) => `${s.percent}%→${s.share === null ? '-' : (s.share * 100).toFixed(1)}%`).join(' ') +
      (m.ok ? '' : ` (exit ${m.exitCode})`);
    log(`  run ${i}/${opts.runs}: weighted ${fmt(run.weighted)}; sticky ${fmt(run.sticky)}, ${run.sticky.movedBack} moved back`);
  }
  await ensureOn(box, 'blue');
  return { clients: opts.clients, stepSeconds: opts.stepSeconds, steps: STEPS, runs, summary: summarizeRuns(runs) };
}

export function summarizeRuns(runs) {
  const side = (strategy) =>
    STEPS.map((percent, i) => {
      const steps = runs.map((r) => r[strategy].steps[i]).filter((s) => s && s.percent === percent);
      return {
        percent,
        share: summarize(steps.map((s) => s.share)),
        absError: summarize(steps.map((s) => (s.error === null ? null : Math.abs(s.error)))),
        coinSd: summarize(steps.map((s) => s.coinSd)),
        logShare: summarize(steps.map((s) => s.logShare)),
        requests: summarize(steps.map((s) => s.requests)),
        clients: summarize(steps.map((s) => s.clients ?? null)),
        mixed: steps.reduce((acc, s) => acc + (s.mixed ?? 0), 0),
        failed: steps.reduce((acc, s) => acc + s.failed, 0),
      };
    });
  return {
    weighted: side('weighted'),
    sticky: side('sticky'),
    movedBack: runs.reduce((acc, r) => acc + (r.sticky.movedBack ?? 0), 0),
    allCompleted: runs.every((r) => r.weighted.ok && r.sticky.ok),
  };
}

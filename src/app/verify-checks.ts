import path from 'node:path';
import { COLORS } from '../core/color.js';
import { formatWeights } from '../core/weights.js';
import { renderRequestFor, type AppContext } from './context.js';
import type { LiveNginx } from './ports.js';
import { configTestCheck, driftCheck, modeCheck } from './preflight.js';
import { viewOf } from './status.js';
import {
  accessLogOutcome,
  environmentOutcome,
  lockOutcome,
  monitorOutcome,
  performanceOutcome,
  readinessOutcome,
  serveOutcome,
  upstreamOutcome,
} from './verify-outcomes.js';
import type { TrafficRead } from '../core/metrics.js';
import {
  fail,
  pass,
  rowOf,
  skip,
  timed,
  type LoadStats,
  type Outcome,
  type Row,
  type VerifyOptions,
  type VerifyProbes,
} from './verify-model.js';

/** Lines NGINX writes when a request finishes, a moment after the client got its answer. */
const LOG_SETTLE_MS = 200;

const nginxOutcome = (running: boolean, live: LiveNginx | null): Outcome =>
  live
    ? pass(`running, serving revision ${live.revision} (${formatWeights(live.weights)})`)
    : running
      ? fail('running, but its status location does not answer')
      : fail('not running (`bgctl start`)');

/** The read-only checks of `verify validate`, in table order. Changes nothing (the probe load only reads). */
export async function validateRows(ctx: AppContext, probes: VerifyProbes, o: VerifyOptions): Promise<Row[]> {
  const cfg = ctx.loaded.config;
  const timeoutMs = cfg.probe.timeoutMs;
  const rows: Row[] = [];
  const add = async (name: string, check: () => Promise<Outcome>): Promise<void> => {
    rows.push(await timed(ctx, name, check));
  };
  let live: LiveNginx | null = null;

  await add('system: NGINX running', async () => {
    const [running, now] = await Promise.all([ctx.nginx.isRunning(), ctx.nginx.live()]);
    live = now;
    return nginxOutcome(running, now);
  });
  await add('system: front port answers', async () => {
    const a = await probes.get(o.frontUrl + o.path, timeoutMs);
    if (a.error) return fail(`${o.frontUrl}${o.path}: ${a.error}`);
    const ok = a.status !== null && a.status < 500 && (a.color === 'blue' || a.color === 'green');
    const what = `${o.frontUrl}${o.path}: HTTP ${a.status ?? '?'} from ${a.color ?? 'no X-Bgctl-Color'} in ${Math.round(a.ms)} ms`;
    return ok ? pass(what) : fail(what);
  });
  await add('control API: GET /status', async () =>
    serveOutcome(await probes.get(`${o.serve.apiUrl}/status`, timeoutMs), `${o.serve.apiUrl}/status`, o.serve.required),
  );

  await add('load balancing: nginx -t', async () => {
    const r = await configTestCheck(ctx, renderRequestFor(await ctx.store.load()));
    return r.ok ? pass(`rendered config for the current state: ${r.detail}`) : fail(r.detail);
  });
  await add('load balancing: upstreams', async () => {
    const liveSite = await probes.liveSite();
    const site = liveSite ?? ctx.render(renderRequestFor(await ctx.store.load())).site;
    const servers = { blue: cfg.environments.blue.servers, green: cfg.environments.green.servers };
    return upstreamOutcome(site, servers, liveSite ? 'the config NGINX runs' : 'the rendered config (the live one is not readable)');
  });
  await add('load balancing: live revision', async () => {
    if (!live) return fail('NGINX does not answer its status location: nothing to compare');
    const r = driftCheck(await ctx.store.load(), live);
    return r.ok ? pass(`NGINX serves what state.json says: ${r.detail}`) : fail(r.detail);
  });

  for (const color of COLORS) {
    await add(`environment: ${color}`, async () => {
      const [h, state] = await Promise.all([ctx.prober.color(color), ctx.store.load()]);
      const through = live ? await ctx.prober.throughNginx(color) : null;
      return environmentOutcome(h, through, state.versions[color]);
    });
  }

  await add('readiness: migration', async () => {
    const [state, holder] = await Promise.all([ctx.store.load(), ctx.lock.holder()]);
    return readinessOutcome(state, state.migration ? viewOf(state.migration, holder) : null);
  });
  await add('readiness: lock', async () => lockOutcome(await ctx.lock.holder()));

  await add(`config: ${path.basename(ctx.loaded.file)}`, () => {
    const mode = modeCheck(ctx);
    return Promise.resolve(mode.ok ? pass(`${ctx.loaded.file}: valid; apply mode ${mode.detail}`) : fail(mode.detail));
  });
  await add('config: state.json', async () => {
    if (!(await probes.stateFileExists()))
      return skip(`${ctx.store.path} not written yet: a fresh install (blue stable at 100%) until \`bgctl start\``);
    const s = await ctx.store.load(); // throws (→ FAIL) when damaged
    return pass(`${ctx.store.path}: parses, schema v${s.schema}, revision ${s.revision}, stable ${s.stable}`);
  });
  await add('config: state backup', async () => {
    const [b, exists] = await Promise.all([probes.stateBackup(), probes.stateFileExists()]);
    if (b.status === 'valid') return pass(`${b.path}: ${b.detail}`);
    if (b.status === 'invalid') return fail(`${b.path}: ${b.detail}`);
    if (!exists) return skip('no state.json yet, so no backup either');
    const s = await ctx.store.load();
    // the backup is the previous state: there is none until state.json was written a second time
    const once = s.revision <= 1 && s.history.length === 0 && s.migration === null;
    return once
      ? pass(`none yet: state.json was written once, there is no previous version to keep (${b.path} appears with the next write)`)
      : fail(`${b.path} is missing although state.json has been rewritten (revision ${s.revision})`);
  });

  rows.push(...(await probeLoad(ctx, probes, o)));
  await add('monitoring: GET /health', async () =>
    monitorOutcome(await probes.get(`${o.serve.monitorUrl}/health`, timeoutMs), `${o.serve.monitorUrl}/health`, o.serve.required),
  );
  return rows;
}

/**
 * A short bounded load through NGINX: its answers give the error rate, the access log lines it
 * produced give the p95 latency and show that the log is being written. One measurement, two rows.
 */
async function probeLoad(ctx: AppContext, probes: VerifyProbes, o: VerifyOptions): Promise<Row[]> {
  const names = ['performance: probe load', 'monitoring: access log'] as const;
  if (o.probe.seconds === 0) return names.map((name) => rowOf(name, skip('disabled (--probe-seconds 0)'), 0));
  const t0 = ctx.clock.now();
  const url = o.frontUrl + o.path;
  let stats: LoadStats | null = null;
  let read: TrafficRead | null = null;
  let spanMs = 0;
  let problem: string | null = null;
  try {
    const tail = await ctx.traffic.tail();
    const load = probes.load({ url, connections: o.probe.connections, maxSeconds: o.probe.seconds + 10 });
    await ctx.clock.sleep(o.probe.seconds * 1000, ctx.signal);
    stats = await load.stop();
    spanMs = Math.max(1, ctx.clock.now() - t0);
    await ctx.clock.sleep(LOG_SETTLE_MS, ctx.signal);
    read = await tail.read();
    await tail.close?.();
  } catch (e) {
    problem = e instanceof Error ? e.message : String(e);
  }
  const durationMs = ctx.clock.now() - t0;
  if (!stats) return names.map((name) => rowOf(name, fail(`the probe load could not run: ${problem ?? 'unknown error'}`), durationMs));
  const perf = performanceOutcome(stats, read, ctx.loaded.config.thresholds, { spanMs, connections: o.probe.connections, url });
  const log = accessLogOutcome(read, problem, answered(stats), ctx.nginx.accessLog);
  return [rowOf(names[0], perf, durationMs), rowOf(names[1], log, durationMs)];
}

/** Requests that got an HTTP answer (any status): those NGINX logged. Refused or reset ones it could not. */
const answered = (s: LoadStats): number => s.byColor.blue + s.byColor.green + s.byColor.other;

import type { AppContext } from '../app/context.js';
import type { ColorHealth, LiveNginx, LockInfo, TrafficSource, TrafficTail } from '../app/ports.js';
import type { Color } from '../core/color.js';
import type { State } from '../core/state.js';
import type { HostProbe, HostSample } from './adapters/host.js';
import type { Notifier } from './adapters/webhook.js';
import { advance, alertJson, emptyBook, findings, type Alert, type AlertBook, type AlertChange, type AlertRule } from './alerts.js';
import type { ServeMetrics } from './metrics.js';
import { TrafficSeries } from './series.js';
import { criticalFiring } from './serve-verdict.js';

/** What the monitor saw at its latest sample; every endpoint of the monitoring port reads this. */
export interface Snapshot {
  /** epoch ms of the latest completed sample, null before the first */
  readonly sampledAt: number | null;
  readonly state: State | null;
  readonly stateError: string | null;
  readonly live: LiveNginx | null;
  readonly lock: (LockInfo & { alive: boolean }) | null;
  readonly health: Readonly<Record<Color, ColorHealth>> | null;
  readonly healthAt: number | null;
  readonly host: HostSample;
}

export interface MonitorOptions {
  readonly intervalMs: number;
  readonly probeIntervalMs: number;
  readonly rules: readonly AlertRule[];
  readonly minRequests: number;
  /** how much chart history is kept, ms */
  readonly historyMs: number;
  readonly windowMs: number;
}

/**
 * The monitoring loop: one sample per interval reads what NGINX logged since the previous one, the
 * host's CPU and memory, state.json, NGINX's live revision and (every probe interval) the health of
 * every server; then judges the alert rules. Bounded memory: rings for the chart and the window.
 */
export class Monitor {
  readonly series: TrafficSeries;
  private book: AlertBook = emptyBook();
  private snap: Snapshot = {
    sampledAt: null,
    state: null,
    stateError: null,
    live: null,
    lock: null,
    health: null,
    healthAt: null,
    host: { cpuPercent: null, memoryPercent: null },
  };
  private tail: TrafficTail | null = null;
  private lastReadAt: number | null = null;
  private nextProbeAt = 0;
  private published: string | null = null;

  constructor(
    private readonly ctx: AppContext,
    private readonly deps: {
      traffic: TrafficSource;
      host: HostProbe;
      metrics: ServeMetrics;
      notifier: Notifier | null;
      /** called when a rule with `rollback` starts firing */
      onRollbackAlert?: (alert: Alert) => void;
      /** tells other bgctl processes (`status`) which critical alerts fire, when that set changes */
      publish?: (critical: readonly { id: string; summary: string }[]) => Promise<void>;
    },
    readonly o: MonitorOptions,
  ) {
    this.series = new TrafficSeries({
      points: Math.ceil(o.historyMs / o.intervalMs) + 1,
      windowMs: o.windowMs,
      windowReads: Math.ceil(o.windowMs / o.intervalMs) + 2,
    });
  }

  get snapshot(): Snapshot {
    return this.snap;
  }

  get alerts(): AlertBook {
    return this.book;
  }

  /** Runs until the signal aborts; a failing sample is logged and the loop goes on. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const started = this.ctx.clock.now();
      try {
        await this.sample();
      } catch (e) {
        this.ctx.logger.error('monitor sample failed', { error: e instanceof Error ? e.message : String(e) });
      }
      await this.ctx.clock.sleep(Math.max(0, this.o.intervalMs - (this.ctx.clock.now() - started)), signal);
    }
  }

  async sample(): Promise<void> {
    const { ctx, deps } = this;
    this.tail ??= await deps.traffic.tail();
    const read = await this.tail.read();
    const now = ctx.clock.now();
    this.series.add(now, this.lastReadAt === null ? this.o.intervalMs : now - this.lastReadAt, read);
    this.lastReadAt = now;
    deps.metrics.traffic(read);
    const host = deps.host.sample();
    deps.metrics.host(host.cpuPercent, host.memoryPercent);
    const probe = now >= this.nextProbeAt;
    const [loaded, live, lock, health] = await Promise.all([
      ctx.store.load().then(
        (s) => ({ state: s, error: null }),
        (e: unknown) => ({ state: null, error: e instanceof Error ? e.message : String(e) }),
      ),
      ctx.nginx.live(),
      ctx.lock.holder(),
      probe ? Promise.all([ctx.prober.color('blue'), ctx.prober.color('green')]) : null,
    ]);
    if (probe) this.nextProbeAt = now + this.o.probeIntervalMs;
    if (loaded.state) deps.metrics.state(loaded.state, live, lock);
    const healthNow = health ? { blue: health[0], green: health[1] } : this.snap.health;
    if (healthNow) deps.metrics.health(healthNow);
    this.snap = {
      sampledAt: now,
      state: loaded.state ?? this.snap.state,
      stateError: loaded.error,
      live,
      lock,
      health: healthNow,
      healthAt: health ? now : this.snap.healthAt,
      host,
    };
    this.judge(now, read.readable, host);
    deps.metrics.sampled(now);
  }

  private judge(now: number, readable: boolean, host: HostSample): void {
    const seen = findings(this.o.rules, {
      traffic: readable ? this.series.window(now) : null,
      minRequests: this.o.minRequests,
      cpuPercent: host.cpuPercent,
      memoryPercent: host.memoryPercent,
    });
    const { book, changes } = advance(this.book, seen, now, this.o.rules);
    this.book = book;
    this.deps.metrics.alerts(book);
    for (const change of changes) this.announce(change);
    this.publish();
  }

  private publish(): void {
    const critical = criticalFiring(this.book);
    const key = critical.map((a) => a.id).join(',');
    if (!this.deps.publish || key === this.published) return;
    this.published = key;
    this.deps.publish(critical).catch((e: unknown) => {
      this.published = null; // try again at the next sample
      this.ctx.logger.warn('cannot publish the firing alerts for `bgctl status`', { error: e instanceof Error ? e.message : String(e) });
    });
  }

  private announce({ kind, alert }: AlertChange): void {
    const fields = { rule: alert.rule, subject: alert.subject, severity: alert.severity };
    if (kind === 'firing') this.ctx.logger.warn(`alert firing: ${alert.summary}`, fields);
    else this.ctx.logger.info(`alert resolved: ${alert.summary}`, fields);
    if (kind === 'firing' && this.o.rules.some((r) => r.id === alert.rule && r.rollback)) this.deps.onRollbackAlert?.(alert);
    const label = kind === 'firing' ? `[FIRING ${alert.severity}]` : '[RESOLVED]';
    this.deps.notifier?.notify({
      text: `${label} bgctl on ${this.ctx.host}: ${alert.summary}`,
      status: kind,
      host: this.ctx.host,
      alert: alertJson(alert),
    });
  }
}

import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ApplyReport, ColorHealth, LiveNginx, LockInfo } from '../app/ports.js';
import { driftCheck } from '../app/preflight.js';
import { viewOf } from '../app/status.js';
import { COLORS, type Color } from '../core/color.js';
import { bucketBounds } from '../core/histogram.js';
import type { Histogram as LatencyHistogram, TrafficRead } from '../core/metrics.js';
import type { State } from '../core/state.js';
import type { AlertBook } from './alerts.js';
import { rollbackReason } from './rollback-reasons.js';

const MIGRATION_STATUSES = ['none', 'running', 'holding', 'interrupted', 'completed', 'rolled_back', 'failed'] as const;
const SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const APPLY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** A set that forgets its oldest keys beyond `max`: which steps and rollbacks were already counted. */
class Seen {
  private readonly keys = new Set<string>();
  constructor(private readonly max: number) {}
  /** true the first time a key is seen */
  first(key: string): boolean {
    if (this.keys.has(key)) return false;
    this.keys.add(key);
    if (this.keys.size > this.max) this.keys.delete(this.keys.values().next().value as string);
    return true;
  }
}

/**
 * Prometheus metrics of `bgctl serve`, in a registry of its own (no global state). Traffic comes from
 * NGINX's access log, migrations from state.json (whoever drives them), health from the prober.
 */
export class ServeMetrics {
  readonly registry = new Registry();
  private readonly weight = this.gauge(
    'bgctl_traffic_weight_percent',
    'Share of traffic NGINX sends to each color (live, else state.json).',
    ['color'],
  );
  private readonly stable = this.gauge('bgctl_stable_color', '1 for the color that is safe to return to.', ['color']);
  private readonly nginxUp = this.gauge('bgctl_nginx_up', '1 when NGINX answers its status location.');
  private readonly revision = this.gauge('bgctl_nginx_revision', 'Config revision NGINX serves (state.json when NGINX does not answer).');
  private readonly drift = this.gauge('bgctl_state_drift', '1 when NGINX serves something else than state.json says.');
  private readonly requests = this.counter('bgctl_requests_total', 'Upstream attempts per color, from the NGINX access log.', ['color']);
  private readonly errors = this.counter(
    'bgctl_request_errors_total',
    'Upstream attempts per color answered 5xx (by the backend or NGINX).',
    ['color'],
  );
  private readonly latency = new Histogram({
    name: 'bgctl_request_duration_seconds',
    help: 'Upstream response time per color, from the NGINX access log.',
    labelNames: ['color'],
    buckets: SECONDS_BUCKETS,
    registers: [this.registry],
  });
  private readonly clientRequests = this.counter(
    'bgctl_client_requests_total',
    'Requests as clients made them (one per access log line with a color).',
  );
  private readonly clientFailures = this.counter('bgctl_client_failures_total', 'Client requests whose final status was 5xx.');
  private readonly logReadable = this.gauge('bgctl_access_log_readable', '1 when the last read of the access log succeeded.');
  private readonly migrationStatus = this.gauge('bgctl_migration_status', '1 for the status of the latest migration.', ['status']);
  private readonly migrationStep = this.gauge('bgctl_migration_step', 'Step of the latest migration (1-based; 0: none yet).');
  private readonly migrationSteps = this.gauge('bgctl_migration_steps', 'Steps of the latest migration, taken and planned.');
  private readonly migrationPercent = this.gauge('bgctl_migration_target_percent', 'Share the current step gives the growing color.');
  private readonly rollbacks = this.counter('bgctl_rollbacks_total', 'Migrations rolled back, by reason.', ['reason']);
  private readonly applyDuration = new Histogram({
    name: 'bgctl_apply_duration_seconds',
    help: 'Time from a step being recorded to NGINX confirming it serves it (state.json, any bgctl process).',
    buckets: APPLY_BUCKETS,
    registers: [this.registry],
  });
  private readonly stageDuration = new Histogram({
    name: 'bgctl_nginx_stage_duration_seconds',
    help: 'Stages of the NGINX applies run by this process (test, swap, reload, confirm, total).',
    labelNames: ['stage'],
    buckets: APPLY_BUCKETS,
    registers: [this.registry],
  });
  private readonly serverUp = this.gauge('bgctl_server_up', '1 when the server answered its health probe with 2xx.', ['color', 'server']);
  private readonly probeSeconds = this.gauge('bgctl_server_probe_duration_seconds', 'Duration of the last health probe.', [
    'color',
    'server',
  ]);
  private readonly colorUp = this.gauge('bgctl_color_up', '1 when every server of the color is healthy.', ['color']);
  private readonly alertsFiring = this.gauge('bgctl_alerts_firing', 'Alerts firing now, by severity.', ['severity']);
  private readonly hostCpu = this.gauge('bgctl_host_cpu_ratio', 'CPU busy share of the host (0-1) since the previous sample.');
  private readonly hostMemory = this.gauge('bgctl_host_memory_ratio', 'Memory in use on the host (0-1).');
  private readonly webhooks = this.counter('bgctl_alert_webhook_deliveries_total', 'Alert webhook deliveries, by result.', ['result']);
  private readonly refusals = this.counter('bgctl_api_refusals_total', 'Calls refused before any work (401, 403, 421, 429), by status.', [
    'status',
  ]);
  private readonly lastSample = this.gauge('bgctl_monitor_last_sample_timestamp_seconds', 'When the monitor loop last completed a sample.');
  private readonly seenSteps = new Seen(2000);
  private readonly seenRollbacks = new Seen(2000);
  private readonly bounds = bucketBounds();

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    // gauges named *_total break the exposition conventions (promtool flags them); the per-type
    // nodejs_active_handles/requests/resources{type} gauges carry the same figures
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
      this.registry.removeSingleMetric(name);
    }
    for (const c of COLORS) {
      this.requests.inc({ color: c }, 0);
      this.errors.inc({ color: c }, 0);
      this.latency.zero({ color: c });
    }
    for (const severity of ['warning', 'critical']) this.alertsFiring.set({ severity }, 0);
  }

  /** A call refused by the control API or the monitoring port (bad token, wrong Host, rate limit). */
  refused(status: number): void {
    this.refusals.inc({ status: String(status) });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  traffic(read: TrafficRead): void {
    this.logReadable.set(read.readable ? 1 : 0);
    for (const c of COLORS) {
      const t = read.delta.colors[c];
      if (t.requests > 0) this.requests.inc({ color: c }, t.requests);
      if (t.errors > 0) this.errors.inc({ color: c }, t.errors);
      this.observeLatency(c, t.latency);
    }
    if (read.delta.client.requests > 0) this.clientRequests.inc(read.delta.client.requests);
    if (read.delta.client.failures > 0) this.clientFailures.inc(read.delta.client.failures);
  }

  /** Each bucket's count is observed at its upper bound (within 0.5 ms below 100 ms, 2% above). */
  private observeLatency(color: Color, h: LatencyHistogram): void {
    h.counts.forEach((n, i) => {
      const bound = this.bounds[i] ?? h.max;
      const seconds = (Number.isFinite(bound) ? Math.min(bound, h.max) : h.max) / 1000;
      for (let k = 0; k < n; k++) this.latency.observe({ color }, seconds);
    });
  }

  state(state: State, live: LiveNginx | null, lock: (LockInfo & { alive: boolean }) | null): void {
    const weights = live?.weights ?? state.weights;
    for (const c of COLORS) {
      this.weight.set({ color: c }, weights[c]);
      this.stable.set({ color: c }, state.stable === c ? 1 : 0);
    }
    this.nginxUp.set(live ? 1 : 0);
    this.revision.set(live?.revision ?? state.revision);
    this.drift.set(live && !driftCheck(state, live).ok ? 1 : 0);
    const m = state.migration;
    const view = m ? viewOf(m, lock) : null;
    for (const s of MIGRATION_STATUSES) this.migrationStatus.set({ status: s }, (view?.status ?? 'none') === s ? 1 : 0);
    this.migrationStep.set(view?.step ?? 0);
    this.migrationSteps.set(view?.totalSteps ?? 0);
    this.migrationPercent.set(view?.percent ?? 0);
    for (const mig of m && !state.history.some((h) => h.id === m.id) ? [...state.history, m] : state.history) {
      for (const step of mig.steps) {
        if (!step.appliedAt || !this.seenSteps.first(`${mig.id}:${step.index}`)) continue;
        const ms = Date.parse(step.appliedAt) - Date.parse(step.startedAt);
        if (Number.isFinite(ms) && ms >= 0) this.applyDuration.observe(ms / 1000);
      }
      if (mig.status === 'rolled_back' && this.seenRollbacks.first(mig.id)) this.rollbacks.inc({ reason: rollbackReason(mig) });
    }
  }

  health(health: Readonly<Record<Color, ColorHealth>>): void {
    for (const c of COLORS) {
      const h = health[c];
      this.colorUp.set({ color: c }, h.healthy ? 1 : 0);
      for (const s of h.servers) {
        this.serverUp.set({ color: c, server: s.server }, s.healthy ? 1 : 0);
        this.probeSeconds.set({ color: c, server: s.server }, s.latencyMs / 1000);
      }
    }
  }

  host(cpuPercent: number | null, memoryPercent: number | null): void {
    if (cpuPercent !== null) this.hostCpu.set(cpuPercent / 100);
    if (memoryPercent !== null) this.hostMemory.set(memoryPercent / 100);
  }

  alerts(book: AlertBook): void {
    for (const severity of ['warning', 'critical'] as const) {
      this.alertsFiring.set({ severity }, book.active.filter((a) => a.state === 'firing' && a.severity === severity).length);
    }
  }

  nginxApply(report: ApplyReport): void {
    for (const [stage, ms] of Object.entries(report.stages)) this.stageDuration.observe({ stage }, ms / 1000);
    this.stageDuration.observe({ stage: 'total' }, report.ms / 1000);
  }

  webhook(result: 'delivered' | 'retried' | 'failed' | 'dropped'): void {
    this.webhooks.inc({ result });
  }

  sampled(nowMs: number): void {
    this.lastSample.set(nowMs / 1000);
  }

  private gauge<L extends string>(name: string, help: string, labelNames: readonly L[] = []): Gauge<L> {
    return new Gauge({ name, help, labelNames, registers: [this.registry] });
  }

  private counter<L extends string>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }
}

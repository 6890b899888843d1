import type { ApplyReport, LiveNginx, NginxDriver, RenderedConfig } from '../../src/app/ports.js';
import { ApplyError } from '../../src/core/errors.js';
import type { Color } from '../../src/core/color.js';
import type { Weights } from '../../src/core/weights.js';
import { io } from './io.js';

export type NginxOp = 'apply' | 'test' | 'start' | 'stop';

export interface NginxCall {
  readonly op: NginxOp;
  readonly revision: number | null;
  readonly weights: Weights | null;
}

/**
 * An NGINX that keeps what it serves in memory. Records every apply/test/start/stop; can be told to
 * fail a coming apply, test or start with an ApplyError (a failed apply leaves the live config as it was,
 * like the real driver's restore).
 */
export class FakeNginx implements NginxDriver {
  readonly kind = 'local' as const;
  readonly accessLog = '/fake/nginx/logs/access.json';
  readonly calls: NginxCall[] = [];
  running: boolean;
  /** false: the master runs but its status location does not answer */
  answering = true;
  current: LiveNginx | null;
  private failures: { op: NginxOp; nth: number; message: string }[] = [];

  constructor(live: { revision: number; weights: Weights; stable?: Color } | null = { revision: 1, weights: { blue: 100, green: 0 } }) {
    this.running = live !== null;
    this.current = live ? { strategy: 'weighted', stable: 'blue', ...live } : null;
  }

  /** The configs applied so far, in order. */
  get applied(): NginxCall[] {
    return this.calls.filter((c) => c.op === 'apply');
  }

  /** Fails the next call of `op` (or the nth one counted from the first call ever, with `nth`). */
  failNext(op: NginxOp, message = `fake ${op} failure`, nth?: number): void {
    this.failures.push({ op, nth: nth ?? this.count(op) + 1, message });
  }

  async test(config: RenderedConfig): Promise<string> {
    await io();
    this.record('test', config);
    this.maybeFail('test');
    return 'syntax is ok';
  }

  async apply(config: RenderedConfig): Promise<ApplyReport> {
    await io();
    this.record('apply', config);
    if (!this.running) throw new ApplyError('nginx is not running', 'reload');
    this.maybeFail('apply');
    this.serve(config);
    return { revision: config.revision, ms: 5, stages: { test: 1, reload: 3, confirm: 1 } };
  }

  async start(config: RenderedConfig): Promise<void> {
    await io();
    this.record('start', config);
    this.maybeFail('start');
    this.running = true;
    this.answering = true;
    this.serve(config);
  }

  async stop(): Promise<void> {
    await io();
    this.record('stop', null);
    this.running = false;
    this.current = null;
  }

  async isRunning(): Promise<boolean> {
    await io();
    return this.running;
  }

  async live(): Promise<LiveNginx | null> {
    await io();
    return this.running && this.answering ? this.current : null;
  }

  private serve(config: RenderedConfig): void {
    const meta = JSON.parse(config.site) as { stable?: Color; strategy?: string; backup?: Color | null };
    this.current = {
      revision: config.revision,
      weights: config.weights,
      stable: meta.stable ?? 'blue',
      strategy: meta.strategy ?? 'weighted',
      ...(meta.backup ? { backup: meta.backup } : {}),
    };
  }

  private count(op: NginxOp): number {
    return this.calls.filter((c) => c.op === op).length;
  }

  private record(op: NginxOp, config: RenderedConfig | null): void {
    this.calls.push({ op, revision: config?.revision ?? null, weights: config?.weights ?? null });
  }

  private maybeFail(op: NginxOp): void {
    const n = this.count(op);
    const i = this.failures.findIndex((f) => f.op === op && f.nth === n);
    if (i < 0) return;
    const [f] = this.failures.splice(i, 1);
    throw new ApplyError(f?.message ?? `fake ${op} failure`, op === 'test' ? 'test' : 'reload');
  }
}

import { DeltaBuilder, emptyDelta } from '../../src/core/traffic.js';
import type { TrafficRead } from '../../src/core/metrics.js';
import type { DeployRunner, Logger, ProgressEvent, Reporter, TrafficSource, TrafficTail } from '../../src/app/ports.js';
import type { Color } from '../../src/core/color.js';
import type { FakeProber } from './prober.js';
import { io } from './io.js';

export class RecordingReporter implements Reporter {
  readonly events: ProgressEvent[] = [];
  event(e: ProgressEvent): void {
    this.events.push(e);
  }
  of<T extends ProgressEvent['type']>(type: T): Extract<ProgressEvent, { type: T }>[] {
    return this.events.filter((e): e is Extract<ProgressEvent, { type: T }> => e.type === type);
  }
}

export interface LogEntry {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly msg: string;
  readonly fields: Record<string, unknown> | undefined;
}

export class RecordingLogger implements Logger {
  readonly entries: LogEntry[] = [];
  debug(msg: string, fields?: Record<string, unknown>): void {
    this.entries.push({ level: 'debug', msg, fields });
  }
  info(msg: string, fields?: Record<string, unknown>): void {
    this.entries.push({ level: 'info', msg, fields });
  }
  warn(msg: string, fields?: Record<string, unknown>): void {
    this.entries.push({ level: 'warn', msg, fields });
  }
  error(msg: string, fields?: Record<string, unknown>): void {
    this.entries.push({ level: 'error', msg, fields });
  }
  at(level: LogEntry['level']): string[] {
    return this.entries.filter((e) => e.level === level).map((e) => e.msg);
  }
}

/** What one fake read of the access log says: requests and 5xx per color, all at `latencyMs`. */
export interface FakeTrafficSpec {
  readonly blue?: readonly [requests: number, errors: number];
  readonly green?: readonly [requests: number, errors: number];
  readonly latencyMs?: number;
  readonly unreadable?: string;
  /** when these requests were logged (epoch ms); default: unknown */
  readonly atMs?: number;
}

export function fakeRead(spec: FakeTrafficSpec, atMs: number | null = null): TrafficRead {
  const b = new DeltaBuilder();
  for (const color of ['blue', 'green'] as const) {
    const [requests, errors] = spec[color] ?? [0, 0];
    for (let i = 0; i < requests; i++) {
      b.attempt(color, i < errors, spec.latencyMs ?? 5, spec.atMs ?? atMs);
      b.request(i < errors);
    }
  }
  return spec.unreadable
    ? { delta: emptyDelta(), readable: false, problem: spec.unreadable }
    : { delta: b.take(), readable: true, problem: null };
}

/**
 * The access log as a script: every read of every tail answers `perRead(tail, read)` (0-based: which
 * tail, which read of it). Default: some healthy traffic on both colors at every read (each check).
 */
export class FakeTraffic implements TrafficSource {
  tails = 0;
  reads = 0;
  constructor(public perRead: (tail: number, read: number) => FakeTrafficSpec = () => ({ blue: [30, 0], green: [10, 0] })) {}
  async tail(): Promise<TrafficTail> {
    await io();
    const tail = this.tails++;
    let n = 0;
    return {
      read: async () => {
        await io();
        this.reads++;
        return fakeRead(this.perRead(tail, n++));
      },
    };
  }
}

/** A deploy hook that "puts" the version onto the color: the prober reports it from then on. */
export class FakeDeployRunner implements DeployRunner {
  readonly runs: { color: Color; version: string; signal: AbortSignal | undefined }[] = [];
  constructor(
    private readonly prober: FakeProber,
    private readonly onRun: (color: Color, version: string) => void = (color, version) => {
      this.prober.versions[color] = version;
    },
  ) {}
  async run(color: Color, version: string, signal?: AbortSignal): Promise<void> {
    await io();
    this.runs.push({ color, version, signal });
    this.onRun(color, version);
  }
}

import type { DeployRunner, Logger, ProgressEvent, Reporter, TrafficCursor, TrafficReader, TrafficSample } from '../../src/app/ports.js';
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

/**
 * The access log as counts: every cursor answers `sample(markIndex)` (0-based: which step marked it).
 * Default: some healthy traffic on both colors.
 */
export class FakeTraffic implements TrafficReader {
  marks = 0;
  reads = 0;
  constructor(
    public sample: (mark: number) => TrafficSample = () => ({
      requests: { blue: 30, green: 10 },
      errors: { blue: 0, green: 0 },
      readable: true,
    }),
  ) {}
  async mark(): Promise<TrafficCursor> {
    await io();
    const mark = this.marks++;
    return {
      read: async () => {
        await io();
        this.reads++;
        return this.sample(mark);
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

import type { Color } from './color.js';

/**
 * Real-traffic figures read from NGINX's JSON access log. Pure data shared by the log reader
 * (adapters/traffic-log.ts), the threshold analysis (core/analysis.ts) and the reports.
 *
 * One client request can be several upstream *attempts* (NGINX retried another server, or the
 * other color). Each attempt is counted for the color of the server it went to, so a dying color
 * is seen failing even when NGINX rescued the client on the other color; what the client finally
 * got is counted separately in `client`.
 */

/** Latency histogram with bounded memory (see core/histogram.ts). Plain data: safe to copy/merge. */
export interface Histogram {
  /** bucket index → count; buckets are defined in core/histogram.ts */
  readonly counts: readonly number[];
  readonly total: number;
  /** largest value seen, ms */
  readonly max: number;
}

export interface ColorTraffic {
  /** attempts that went to a server of this color */
  readonly requests: number;
  /** of which answered 5xx: by the backend, or by NGINX itself (502/504: no answer from that server) */
  readonly errors: number;
  /** upstream response time of those attempts, ms */
  readonly latency: Histogram;
  /** epoch ms (`msec`) of the first and last request of this color; null: none */
  readonly firstAt: number | null;
  readonly lastAt: number | null;
}

export interface ClientTraffic {
  /** requests as clients made them (one per log line that carries a color) */
  readonly requests: number;
  /** requests whose final status was 5xx: what a client actually saw fail */
  readonly failures: number;
}

/** What the log said over some span (one read, or the sum of several). */
export interface TrafficDelta {
  readonly colors: Readonly<Record<Color, ColorTraffic>>;
  readonly client: ClientTraffic;
  /** lines that were not JSON objects, or attempts bgctl could not attribute to a color */
  readonly unattributed: number;
  /** of the requests, those bgctl's warmup sent (migration.warmup); absent: none */
  readonly warmup?: number;
}

/** One read of the log: what was appended since the previous read. */
export interface TrafficRead {
  readonly delta: TrafficDelta;
  /** false: the log could not be read (missing, no permission...); `problem` says why */
  readonly readable: boolean;
  readonly problem: string | null;
}

/** Per-color figures of a window, as printed and stored. Rates are 0-1; latencies ms; null: no data. */
export interface ColorFigures {
  readonly requests: number;
  readonly errors: number;
  readonly errorRate: number | null;
  readonly availability: number | null;
  readonly p50: number | null;
  readonly p95: number | null;
  readonly p99: number | null;
}

export interface WindowFigures {
  readonly colors: Readonly<Record<Color, ColorFigures>>;
  readonly client: ClientTraffic;
  /** window length in ms */
  readonly spanMs: number;
}

import { setTimeout as delay } from 'node:timers/promises';
import { Agent, request } from 'undici';

/**
 * Live traffic for `bgctl demo`, `bgctl verify`'s load and the integration tests: a few workers, each sending one request
 * after another to a single URL, counting answers by the X-Bgctl-Color header NGINX adds.
 * Bounded by design: it stops by itself after maxSeconds, so a crashed test cannot leave it running.
 */

export interface TrafficOptions {
  readonly url: string;
  /** concurrent workers, one connection each */
  readonly connections?: number;
  /** false: a new connection per request (exercises NGINX accepting connections during a reload) */
  readonly keepAlive?: boolean;
  readonly maxSeconds?: number;
  readonly method?: 'GET' | 'HEAD' | 'POST';
  /** request body (JSON), e.g. for POST */
  readonly body?: string;
  /** pause of each worker between requests, to keep a small machine responsive */
  readonly pauseMs?: number;
  /** per-request timeout */
  readonly timeoutMs?: number;
  /** https: the CA to trust (PEM) and the name the certificate must carry (SNI), e.g. a test's own certificate */
  readonly tls?: { readonly ca: string; readonly servername: string } | NginxOwnTls;
  /** the Host header (a server block chosen by name) */
  readonly host?: string;
}

/** https to NGINX's own loopback port, whose certificate names the public host: not checked; servername: the SNI (and Host) to send. */
export interface NginxOwnTls {
  readonly insecure: true;
  readonly servername: string | null;
}

export interface ColorCounts {
  blue: number;
  green: number;
  other: number;
}

export interface TrafficStats {
  readonly total: number;
  readonly ok: number;
  readonly failed: number;
  /** answers (any status) by the color that served them; "other" = no or unknown X-Bgctl-Color */
  readonly byColor: Readonly<ColorCounts>;
  /** failed answers by color; thrown errors (no answer at all) count as "other" */
  readonly failedByColor: Readonly<ColorCounts>;
  /** the first 10 failures, e.g. "500 from green" or "ECONNREFUSED: connect ECONNREFUSED ..." */
  readonly errors: readonly string[];
}

export interface TrafficGenerator {
  stats(): TrafficStats;
  /** zeroes the counters, e.g. between migration steps */
  reset(): void;
  /** stops the workers (in-flight requests are abandoned, not counted) and returns the final stats */
  stop(): Promise<TrafficStats>;
  /** resolves when the generator stopped, by stop() or by maxSeconds */
  readonly done: Promise<TrafficStats>;
}

const MAX_ERRORS = 10;
const zero = (): ColorCounts => ({ blue: 0, green: 0, other: 0 });

function colorOf(header: string | string[] | undefined): keyof ColorCounts {
  const value = Array.isArray(header) ? header[0] : header;
  return value === 'blue' || value === 'green' ? value : 'other';
}

export function startTraffic(options: TrafficOptions): TrafficGenerator {
  const url = new URL(options.url);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`traffic: not an http(s) URL: ${options.url}`);
  const connections = Math.max(1, Math.floor(options.connections ?? 4));
  const keepAlive = options.keepAlive ?? true;
  const method = options.method ?? 'GET';
  const pauseMs = Math.max(0, options.pauseMs ?? 10);
  const timeoutMs = options.timeoutMs ?? 5000;
  const agent = new Agent({
    connections,
    pipelining: 1,
    connect: { timeout: timeoutMs, ...connectTls(options.tls) },
  });
  const abort = new AbortController();

  let ok = 0;
  let failed = 0;
  let byColor = zero();
  let failedByColor = zero();
  let errors: string[] = [];

  const note = (message: string): void => {
    if (errors.length < MAX_ERRORS) errors.push(message);
  };
  // timers/promises removes its abort listener when the timer fires: no listener pile-up on the signal
  const sleep = (ms: number): Promise<void> => delay(ms, undefined, { signal: abort.signal }).catch(() => undefined);

  async function once(): Promise<void> {
    try {
      const res = await request(url, {
        method,
        headers: {
          ...(options.host ? { host: options.host } : {}),
          ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(options.body === undefined ? {} : { body: options.body }),
        dispatcher: agent,
        signal: abort.signal,
        reset: !keepAlive, // close the connection after the answer
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      await res.body.dump();
      if (abort.signal.aborted) return;
      const color = colorOf(res.headers['x-bgctl-color']);
      byColor[color]++;
      if (res.statusCode >= 200 && res.statusCode < 300) ok++;
      else {
        failed++;
        failedByColor[color]++;
        note(`${res.statusCode} from ${color}`);
      }
    } catch (error) {
      if (abort.signal.aborted) return; // stopping, not a failure of the system under test
      failed++;
      failedByColor.other++;
      const e = error as { code?: string; message?: string };
      note(`${e.code ?? 'error'}: ${e.message ?? String(error)}`);
      await sleep(50); // a refused connection fails instantly: do not spin
    }
  }

  async function worker(): Promise<void> {
    while (!abort.signal.aborted) {
      await once();
      if (pauseMs > 0 && !abort.signal.aborted) await sleep(pauseMs);
    }
  }

  function stats(): TrafficStats {
    return { total: ok + failed, ok, failed, byColor: { ...byColor }, failedByColor: { ...failedByColor }, errors: [...errors] };
  }

  const workers = Promise.all(Array.from({ length: connections }, worker));
  const limit = setTimeout(() => abort.abort(), Math.max(0, (options.maxSeconds ?? 120) * 1000));
  limit.unref();
  const done = workers.then(async () => {
    clearTimeout(limit);
    const final = stats();
    await agent.destroy().catch(() => undefined);
    return final;
  });

  return {
    stats,
    reset() {
      ok = 0;
      failed = 0;
      byColor = zero();
      failedByColor = zero();
      errors = [];
    },
    stop() {
      abort.abort();
      return done;
    },
    done,
  };
}

function connectTls(tls: TrafficOptions['tls']): Record<string, unknown> {
  if (tls === undefined) return {};
  if ('insecure' in tls) return { rejectUnauthorized: false, ...(tls.servername ? { servername: tls.servername } : {}) };
  return { ca: tls.ca, servername: tls.servername };
}

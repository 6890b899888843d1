import { createRequire } from 'node:module';
import type * as Undici from 'undici';
import type { Warmup, WarmupRun } from '../app/ports.js';
import type { Color } from '../core/color.js';

/** The header that marks a warmup request in the access log (the `warmup` field). */
export const WARMUP_HEADER = 'x-bgctl-warmup';

export interface WarmupOptions {
  /** NGINX's front, e.g. http://127.0.0.1:8080 */
  readonly origin: string;
  readonly path: string;
  readonly rps: number;
  /** the forced-route header and the value for a color (`green`, or `green:SECRET`) */
  readonly forceHeader: string;
  readonly forceValue: (color: Color) => string;
  /** https origin: NGINX's own loopback port, whose certificate names the public host (not checked); serverName: Host and SNI */
  readonly serverName?: string | null;
}

/**
 * undici is loaded when a warmup starts, not when a command wires its adapters: reading and compiling it
 * costs every command (rollback, status) tens of milliseconds, and most never warm anything up. Through
 * `require`: code that V8 restores from its cache (bin/bgctl.cjs) has no dynamic-import hook.
 */
const requireUndici = (): typeof Undici => createRequire(import.meta.url)('undici') as typeof Undici;

/**
 * Sends GET requests at `rps` through NGINX, forced to one color and marked as warmup, until stopped.
 * One at a time on one keep-alive connection: a slow backend slows the warmup, never piles it up.
 */
export function httpWarmup(o: WarmupOptions): Warmup {
  return {
    start(color: Color): WarmupRun {
      const { Agent, request } = requireUndici();
      const stop = new AbortController();
      const tls = o.origin.startsWith('https:');
      const connect = tls ? { rejectUnauthorized: false, ...(o.serverName ? { servername: o.serverName } : {}) } : {};
      const agent = new Agent({ connections: 1, connectTimeout: 2000, connect });
      const host = o.serverName ? { host: o.serverName } : {};
      const counts = { sent: 0, failed: 0 };
      const gapMs = 1000 / o.rps;
      const loop = (async () => {
        while (!stop.signal.aborted) {
          const started = Date.now();
          try {
            const res = await request(`${o.origin}${o.path}`, {
              dispatcher: agent,
              headers: { ...host, [o.forceHeader]: o.forceValue(color), [WARMUP_HEADER]: '1', 'user-agent': 'bgctl-warmup' },
              signal: stop.signal,
              headersTimeout: 5000,
              bodyTimeout: 5000,
            });
            await res.body.dump();
            counts.sent++;
            if (res.statusCode >= 500) counts.failed++;
          } catch {
            if (!stop.signal.aborted) counts.failed++;
          }
          const wait = gapMs - (Date.now() - started);
          if (wait > 0 && !stop.signal.aborted) await new Promise((r) => setTimeout(r, wait));
        }
      })();
      return {
        async stop() {
          stop.abort();
          await loop;
          await agent.close().catch(() => undefined);
          return { ...counts };
        },
      };
    },
  };
}

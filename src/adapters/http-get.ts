import { request, type IncomingHttpHeaders } from 'node:http';
import type * as Https from 'node:https';
import { createRequire } from 'node:module';

/**
 * node:https is loaded on the first HTTPS request only (it pulls in tls). Through `require`, not a
 * dynamic import(): code that V8 restores from its cache (bin/bgctl.cjs) has no dynamic-import hook.
 */
const requireBuiltin = createRequire(import.meta.url);

/**
 * One GET on a brand-new TCP connection (no agent, `Connection: close`), with one deadline for
 * connect, headers and body. node:http, not undici: it is part of Node's startup snapshot, while
 * loading undici costs a CLI about 100 ms before it has done anything (status, rollback, probes).
 */

export interface GetOptions {
  readonly headers?: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  /** bodies bigger than this are cut off: `body` is null, the status still counts */
  readonly maxBytes: number;
  /**
   * https: do not check the certificate (bgctl's own NGINX on loopback, whose certificate names the
   * public host, not 127.0.0.1). Never for anything else.
   */
  readonly insecure?: boolean;
  /** the Host header and (https) the TLS server name: a server block chosen by name on a shared port */
  readonly serverName?: string;
}

export interface GetResult {
  readonly statusCode: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string | null;
}

/** The error a deadline ends with (`name` TimeoutError, like AbortSignal.timeout's). */
export class GetTimeoutError extends Error {
  override readonly name = 'TimeoutError';
}

/** GET `url` (http, or https: node:https is loaded only then); rejects with the socket's error (its `code`: ECONNREFUSED...) or a GetTimeoutError. */
export function httpGet(url: string, opts: GetOptions): Promise<GetResult> {
  const tls = url.startsWith('https:');
  const send = tls ? (requireBuiltin('node:https') as typeof Https).request : request;
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
    };
    const req = send(url, {
      method: 'GET',
      agent: false,
      headers: { ...opts.headers, connection: 'close', ...(opts.serverName ? { host: opts.serverName } : {}) },
      ...(tls && opts.insecure ? { rejectUnauthorized: false } : {}),
      ...(tls && opts.serverName ? { servername: opts.serverName } : {}),
    });
    const timer = setTimeout(() => {
      finish(() => reject(new GetTimeoutError(`timeout after ${opts.timeoutMs} ms`)));
      req.destroy();
    }, opts.timeoutMs);
    req.on('error', (e) => finish(() => reject(e)));
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let capped = false;
      res.on('data', (chunk: Buffer) => {
        if (capped) return;
        size += chunk.length;
        if (size > opts.maxBytes) {
          capped = true;
          chunks.length = 0;
          res.destroy();
          finish(() => resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, body: null }));
          return;
        }
        chunks.push(chunk);
      });
      res.on('error', (e) => finish(() => reject(e)));
      res.on('close', () => finish(() => reject(Object.assign(new Error('connection closed'), { code: 'ECONNRESET' }))));
      res.on('end', () =>
        finish(() => resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') })),
      );
    });
    req.end();
  });
}

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from '../app/ports.js';
import type { AuditSink } from './adapters/audit-file.js';
import { errorReply, HttpError } from './http-errors.js';
import type { RateLimiter } from './rate-limit.js';
import { REFUSED } from './refusals.js';
import { matchRoute, type Route } from './routes.js';
import { authorize, hostAllowed } from './security.js';

/** What a handler gets: path parameters, query, the caller's address and a lazy, capped JSON body. */
export interface Call {
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  readonly source: string;
  body(): Promise<unknown>;
}

export interface Reply {
  readonly status: number;
  /** serialized as JSON (pretty unless `compact`) */
  readonly json?: unknown;
  readonly compact?: boolean;
  /** or a text body with its content type */
  readonly text?: string;
  readonly contentType?: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** for the audit log: what happened in a few words, and the validated parameters */
  readonly audit?: { readonly result: string; readonly params?: Readonly<Record<string, unknown>> };
}

export type Handler = (call: Call) => Promise<Reply>;

export interface EndpointOptions {
  readonly routes: readonly Route<Handler>[];
  readonly allowedHosts: ReadonlySet<string>;
  readonly limiter: RateLimiter;
  readonly token: string | null;
  /** every call that is not GET/HEAD is written here, allowed or denied */
  readonly audit: AuditSink;
  readonly maxBodyBytes: number;
  readonly bodyTimeoutMs: number;
  readonly now: () => number;
  readonly logger: Logger;
  /** refusals (401, 403, 421, 429) are counted here instead of one audit line each */
  readonly refusals?: { note(status: number, source: string): void };
  /** concurrent connections one client address may hold; beyond that a new one is closed at once. Default 32 */
  readonly maxConnectionsPerClient?: number;
  /** a request's headers must arrive within this; default 10 000 */
  readonly headersTimeoutMs?: number;
}

const SECURITY_HEADERS = {
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
} as const;

/** The request pipeline shared by both ports: Host check, rate limit, route, auth, handler, audit. */
export function createEndpoint(o: EndpointOptions): Server {
  const headersTimeout = o.headersTimeoutMs ?? 10_000;
  const server = createServer(
    {
      headersTimeout,
      requestTimeout: Math.max(headersTimeout, 15_000),
      // the timeouts above are checked this often (Node's default, 30 s, lets slow clients hold sockets far longer)
      connectionsCheckingInterval: 1000,
    },
    (req, res) => void handle(o, req, res),
  );
  server.keepAliveTimeout = 5_000;
  server.maxHeadersCount = 64;
  server.maxConnections = 512;
  capPerClient(server, o.maxConnectionsPerClient ?? 32);
  return server;
}

/** One client (address) holds at most `cap` connections at once: one more is destroyed on arrival. */
function capPerClient(server: Server, cap: number): void {
  const open = new Map<string, number>();
  server.on('connection', (socket) => {
    const who = socket.remoteAddress ?? 'unknown';
    const n = open.get(who) ?? 0;
    if (n >= cap) {
      socket.destroy();
      return;
    }
    open.set(who, n + 1);
    socket.once('close', () => {
      const left = (open.get(who) ?? 1) - 1;
      if (left <= 0) open.delete(who);
      else open.set(who, left);
    });
  });
}

async function handle(o: EndpointOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const method = req.method ?? 'GET';
  const source = req.socket.remoteAddress ?? 'unknown';
  const target = req.url ?? '/';
  const pathname = target.startsWith('/') ? (target.split('?')[0] ?? '/') : '/';
  const query = new URLSearchParams(target.includes('?') ? target.slice(target.indexOf('?') + 1) : '');
  const audited = method !== 'GET' && method !== 'HEAD';
  let authorized = false;
  let bodyComplete = false;
  let reply: Reply;
  try {
    if (!hostAllowed(req.headers.host, o.allowedHosts)) {
      throw new HttpError(
        421,
        `Host ${JSON.stringify(req.headers.host ?? '')} is not allowed here (DNS rebinding protection); see --allow-host`,
        'host_not_allowed',
      );
    }
    const rate = o.limiter.take(source, o.now());
    if (!rate.ok) {
      throw new HttpError(429, `too many requests from ${source}; retry in ${rate.retryAfterSeconds} s`, 'rate_limited', {
        headers: { 'Retry-After': String(rate.retryAfterSeconds) },
      });
    }
    const match = matchRoute(o.routes, method, pathname);
    if (match.kind === 'not_found') throw new HttpError(404, `no such endpoint: ${method} ${clip(pathname)}`, 'not_found');
    if (match.kind === 'wrong_method') {
      throw new HttpError(405, `${method} is not allowed on ${clip(pathname)} (allowed: ${match.allow.join(', ')})`, 'method_not_allowed', {
        headers: { Allow: match.allow.join(', ') },
      });
    }
    if (match.route.mutating) {
      const auth = authorize(o.token, req.headers.authorization);
      if (!auth.ok) {
        throw new HttpError(auth.status, auth.message, auth.status === 401 ? 'unauthorized' : 'forbidden', {
          headers: auth.status === 401 ? { 'WWW-Authenticate': 'Bearer realm="bgctl"' } : {},
        });
      }
      authorized = true;
    }
    reply = await match.route.handler({
      params: match.params,
      query,
      source,
      body: async () => {
        const value = await readJsonBody(req, o.maxBodyBytes, o.bodyTimeoutMs);
        bodyComplete = true;
        return value;
      },
    });
  } catch (e) {
    const r = errorReply(e);
    if (r.status >= 500 && !(e instanceof HttpError))
      o.logger.error('request failed', { method, path: clip(pathname), error: r.body.error.message });
    reply = { status: r.status, json: r.body, headers: r.headers, audit: { result: `${r.body.error.kind}: ${r.body.error.message}` } };
  }
  if (REFUSED.has(reply.status) && o.refusals) {
    o.refusals.note(reply.status, source);
  } else if (audited) {
    const entry = {
      time: new Date(o.now()).toISOString(),
      source,
      action: `${clip(method, 16)} ${clip(pathname)}`,
      status: reply.status,
      result: reply.audit?.result ?? 'ok',
      authorized,
      ...(reply.audit?.params ? { params: reply.audit.params } : {}),
    };
    await o.audit.append(entry).catch((e: unknown) => o.logger.error('cannot write the audit log', { error: String(e) }));
  }
  // an unread (or oversized) request body is not drained for a refused call: the connection is closed instead
  const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
  send(res, reply, hasBody && !bodyComplete && reply.status >= 400);
}

const clip = (s: string, n = 200): string => (s.length > n ? `${s.slice(0, n)}...` : s);

function send(res: ServerResponse, reply: Reply, close: boolean): void {
  const body = reply.text ?? `${JSON.stringify(reply.json ?? null, null, reply.compact ? undefined : 2)}\n`;
  const headers: Record<string, string | number> = {
    ...SECURITY_HEADERS,
    'Content-Type': reply.contentType ?? 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    ...(reply.contentType?.startsWith('text/html') ? {} : { 'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'" }),
    ...reply.headers,
  };
  if (close) headers['Connection'] = 'close';
  res.writeHead(reply.status, headers);
  res.end(body);
}

/** Reads a JSON body of at most maxBytes within timeoutMs. Empty body → undefined. */
export function readJsonBody(req: IncomingMessage, maxBytes: number, timeoutMs: number): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > maxBytes) return Promise.reject(tooLarge(maxBytes));
  const type = req.headers['content-type'];
  return new Promise<unknown>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (error: Error | null, value?: unknown): void => {
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      if (error) {
        req.pause();
        reject(error);
      } else resolve(value);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > maxBytes) finish(tooLarge(maxBytes));
      else chunks.push(chunk);
    };
    const onEnd = (): void => {
      if (size === 0) return finish(null, undefined);
      if (!type || !/^application\/json\s*(;|$)/i.test(type)) {
        return finish(new HttpError(415, 'the body must be JSON (Content-Type: application/json)', 'unsupported_media_type'));
      }
      try {
        finish(null, JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        finish(new HttpError(400, 'the body is not valid JSON', 'bad_request'));
      }
    };
    const onError = (e: Error): void => finish(new HttpError(400, `the body could not be read: ${e.message}`, 'bad_request'));
    const timer = setTimeout(
      () => finish(new HttpError(408, `the body was not received within ${timeoutMs / 1000} s`, 'request_timeout')),
      timeoutMs,
    );
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

const tooLarge = (maxBytes: number): HttpError =>
  new HttpError(413, `the body is larger than ${Math.round(maxBytes / 1024)} KiB`, 'payload_too_large');

/** Listens and resolves with the bound port; EADDRINUSE and friends become a clear error. */
export function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException): void => reject(e);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}

import { createHash, timingSafeEqual } from 'node:crypto';
import { IPV4_LOOPBACK_RE } from '../config/patterns.js';

/**
 * Pure security checks of the control API: bearer tokens compared in constant time, and the Host
 * header allowlist that stops DNS rebinding (a page on evil.example resolving to 127.0.0.1 still sends
 * `Host: evil.example`).
 */

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/**
 * Constant-time comparison: both sides are hashed first, so the comparison is always of 32 bytes
 * whatever was presented (a wrong length neither throws nor returns early).
 */
export function tokenMatches(expected: string, presented: string): boolean {
  return timingSafeEqual(digest(expected), digest(presented));
}

/** The token of an `Authorization: Bearer <token>` header, or null when absent or another scheme. */
export function bearerToken(header: string | undefined): string | null {
  if (header === undefined) return null;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return m ? (m[1] ?? null) : null;
}

export type AuthDecision = { readonly ok: true } | { readonly ok: false; readonly status: 401 | 403; readonly message: string };

/** Decides a mutating call: no token configured refuses everything; else the bearer token must match. */
export function authorize(configured: string | null, authorization: string | undefined): AuthDecision {
  if (configured === null) {
    return {
      ok: false,
      status: 403,
      message: 'mutating calls are disabled: no API token is configured; set BGCTL_API_TOKEN and restart `bgctl serve`',
    };
  }
  const presented = bearerToken(authorization);
  if (presented === null) return { ok: false, status: 401, message: 'this call needs `Authorization: Bearer <token>` (BGCTL_API_TOKEN)' };
  if (!tokenMatches(configured, presented)) return { ok: false, status: 401, message: 'wrong API token' };
  return { ok: true };
}

/** 127.0.0.0/8, ::1 (bracketed or not) and localhost. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  return h === 'localhost' || IPV4_LOOPBACK_RE.test(h) || h === '::1' || h === '[::1]';
}

/** How a bind address appears in a Host header: IPv6 in brackets. */
export const hostForm = (address: string): string => {
  const a = address.toLowerCase();
  return a.includes(':') && !a.startsWith('[') ? `[${a}]` : a;
};

/** The names a Host header may carry: loopback names, the bind address, and any the operator added. */
export function allowedHosts(bind: string, extra: readonly string[] = []): ReadonlySet<string> {
  return new Set(['localhost', '127.0.0.1', '[::1]', hostForm(bind), ...extra.map(hostForm)]);
}

/** The host part of a Host header (`example.com:9000` → `example.com`, `[::1]:9000` → `[::1]`), lowercased. */
export function hostOfHeader(header: string): string | null {
  const h = header.trim().toLowerCase();
  const m = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::\d{1,5})?$/.exec(h);
  if (!m) return null;
  const host = m[1] ?? '';
  return host.endsWith('.') ? host.slice(0, -1) : host;
}

export function hostAllowed(header: string | undefined, allowed: ReadonlySet<string>): boolean {
  if (header === undefined) return false;
  const host = hostOfHeader(header);
  return host !== null && allowed.has(host);
}

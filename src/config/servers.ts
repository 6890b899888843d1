import { ipv6Bytes } from '../render/address.js';

/**
 * Pure: the addresses a `host:port` server reaches, normalised, so that two spellings of one server
 * compare equal: `localhost` (and `*.localhost`) is both 127.0.0.1 and ::1, `0.0.0.0` and `[::]` reach
 * this host's loopback, `[::ffff:127.0.0.1]` is 127.0.0.1, and IPv6 is compared by its bytes. A DNS name
 * is compared as written (lower case): bgctl does not resolve names while checking a config.
 */
export function serverKeys(server: string): string[] {
  const m = /^(.+):(\d{1,5})$/.exec(server);
  if (!m) return [server];
  const host = (m[1] ?? '').toLowerCase();
  const port = m[2] ?? '';
  const v6 = (bytes: readonly number[]): string => `[${bytes.map((b) => b.toString(16)).join(':')}]:${port}`;
  const loop6 = v6(ipv6Bytes('::1') ?? []);
  if (host === 'localhost' || host.endsWith('.localhost')) return [`127.0.0.1:${port}`, loop6];
  if (host === '0.0.0.0') return [`127.0.0.1:${port}`];
  if (!host.startsWith('[')) return [`${host}:${port}`];
  const bytes = ipv6Bytes(host.slice(1, -1));
  if (!bytes) return [`${host}:${port}`];
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) return [`${bytes.slice(12).join('.')}:${port}`];
  return bytes.every((b) => b === 0) ? [loop6] : [v6(bytes)];
}

/** Pure: whether two servers are one, whatever their spelling (see serverKeys). */
export function sameServer(a: string, b: string): boolean {
  const keys = new Set(serverKeys(a));
  return serverKeys(b).some((k) => keys.has(k));
}

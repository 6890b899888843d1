import { IPV4_RE } from '../config/patterns.js';

/**
 * Pure: the text NGINX prints for an upstream server in `$upstream_addr`, so a `map` can tell which
 * color a server belongs to. NGINX prints the socket address, not what the config said: IPv6 goes
 * through its own `ngx_inet6_ntop` (`[0:0::1]` → `[::1]`, `[::FFFF:7f00:1]` → `[::ffff:127.0.0.1]`),
 * which this file reproduces. A host name has no such text before NGINX resolves it: null.
 */

function ipv4Bytes(text: string): number[] | null {
  return IPV4_RE.test(text) ? text.split('.').map(Number) : null;
}

/** `::1`, `fe80::1:2`, `::ffff:1.2.3.4` → 16 bytes; anything else → null. */
export function ipv6Bytes(text: string): number[] | null {
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const groups = (part: string): number[] | null => {
    if (part === '') return [];
    const out: number[] = [];
    const words = part.split(':');
    for (const [i, word] of words.entries()) {
      if (i === words.length - 1 && word.includes('.')) {
        const v4 = ipv4Bytes(word);
        if (!v4) return null;
        out.push(...v4);
      } else if (/^[0-9A-Fa-f]{1,4}$/.test(word)) {
        const n = parseInt(word, 16);
        out.push(n >> 8, n & 0xff);
      } else return null;
    }
    return out;
  };
  const head = groups(halves[0] ?? '');
  const tail = halves.length === 2 ? groups(halves[1] ?? '') : [];
  if (!head || !tail) return null;
  // an embedded IPv4 address may only close the address
  if (halves.length === 2 && head.length > 0 && (halves[0] ?? '').includes('.')) return null;
  const missing = 16 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 2) return null;
  return [...head, ...new Array<number>(missing).fill(0), ...tail];
}

/** NGINX's ngx_inet6_ntop (src/core/ngx_inet.c), line by line. */
export function nginxIpv6Text(p: readonly number[]): string {
  const at = (i: number): number => p[i] ?? 0;
  let zero = -1;
  let last = -1;
  let max = 1;
  let n = 0;
  for (let i = 0; i < 16; i += 2) {
    if (at(i) || at(i + 1)) {
      if (max < n) {
        zero = last;
        max = n;
      }
      n = 0;
      continue;
    }
    if (n++ === 0) last = i;
  }
  if (max < n) {
    zero = last;
    max = n;
  }
  let text = '';
  let end = 16;
  if (zero === 0) {
    if ((max === 5 && at(10) === 0xff && at(11) === 0xff) || max === 6 || (max === 7 && at(14) !== 0 && at(15) !== 1)) end = 12;
    text += ':';
  }
  for (let i = 0; i < end; i += 2) {
    if (i === zero) {
      text += ':';
      i += (max - 1) * 2;
      continue;
    }
    text += (at(i) * 256 + at(i + 1)).toString(16);
    if (i < 14) text += ':';
  }
  if (end === 12) text += `${at(12)}.${at(13)}.${at(14)}.${at(15)}`;
  return text;
}

/** `127.0.0.1:8081` → itself, `[0::1]:8082` → `[::1]:8082`, `app-blue:80` (a host name) → null. */
export function upstreamAddrText(server: string): string | null {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(server);
  if (!m) return null;
  const [, v6, v4, port] = m;
  if (v4 !== undefined) return ipv4Bytes(v4) ? `${v4}:${Number(port)}` : null;
  const bytes = ipv6Bytes(v6 ?? '');
  return bytes ? `[${nginxIpv6Text(bytes)}]:${Number(port)}` : null;
}

/**
 * A PCRE pattern matching `text` literally. Only for validated text (addresses, names, secrets): a
 * backslash is refused, as NGINX would read `\\` inside a quoted string as an escape of its own.
 */
export function regexLiteral(text: string): string {
  if (text.includes('\\')) throw new Error(`render: impossible regex literal: ${JSON.stringify(text)}`);
  return text.replace(/[.[\]^$*+?(){}|]/g, '\\$&');
}

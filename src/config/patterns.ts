/**
 * The allowlist patterns for addresses and URL paths, defined once: the config schema checks values
 * with them, render checks them again before they reach a template, `bgctl serve` checks its flags.
 */

/** One decimal byte of a dotted IPv4 address: 0-255, without leading zeros. */
const OCTET = '(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';

/** A dotted IPv4 address: 127.0.0.1 (not 127.1, 0x7f.0.0.1 or 010.0.0.1). */
export const IPV4_RE = new RegExp(`^${OCTET}(\\.${OCTET}){3}$`);

/** 127.0.0.0/8. */
export const IPV4_LOOPBACK_RE = new RegExp(`^127(\\.${OCTET}){3}$`);

/** The characters an IPv6 address is written with (only the characters: the caller checks for a `:`). */
const IPV6_CHARS = '[0-9A-Fa-f:.]{2,45}';

/** An IPv6 address without brackets: ::1. */
export const IPV6_RE = new RegExp(`^${IPV6_CHARS}$`);

/** The same in brackets, the way it is written before a `:port`: [::1]. */
export const IPV6_BRACKETED_RE = new RegExp(`^\\[${IPV6_CHARS}\\]$`);

/** An RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens, 253 characters at most. */
export const HOSTNAME_RE =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** A plain URL path (health checks, warmup requests): starts with /; letters, digits and . _ ~ / - only. */
export const URL_PATH_RE = /^\/[A-Za-z0-9._~/-]{0,200}$/;

/** routing.forceSecret (and the one bgctl makes): 16-128 characters that need no escaping in a header, a cookie or an NGINX map. */
export const SECRET_RE = /^[A-Za-z0-9._~-]{16,128}$/;

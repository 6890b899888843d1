/** Pure: NGINX's "Address already in use" lines turned into the port and the config key that sets it. */

export interface BindFailure {
  readonly address: string;
  readonly port: number;
}

const BIND = /bind\(\) to (\S+):(\d+) failed \(98: Address (?:already )?in use\)/g;

/** Each address:port NGINX could not bind, once (NGINX retries and logs the same line five times). */
export function bindFailures(stderr: string): BindFailure[] {
  const seen = new Map<string, BindFailure>();
  for (const m of stderr.matchAll(BIND)) {
    const address = m[1] ?? '';
    const port = Number(m[2]);
    seen.set(`${address}:${port}`, { address, port });
  }
  return [...seen.values()];
}

/** Which config key sets `port`. */
export function portKey(
  port: number,
  c: { readonly listen: number; readonly tls?: { readonly redirectFrom?: number | null | undefined } | null | undefined },
): string {
  if (port === c.listen) return 'listen';
  if (c.tls?.redirectFrom === port) return 'tls.redirectFrom';
  return 'listen';
}

export interface PortOwner {
  readonly pid: number;
  readonly command: string;
}

/** One sentence: which port, which key to change, and who holds it when known. */
export function portInUseMessage(f: BindFailure, key: string, owner: PortOwner | null, configFile: string): string {
  const who = owner ? `by pid ${owner.pid} (${owner.command})` : 'by another process';
  return `port ${f.port} (${f.address}:${f.port}) is already in use ${who}: change \`${key}\` in ${configFile} or stop that process; nothing was started`;
}

import { readdir, readFile, readlink } from 'node:fs/promises';
import type { PortOwner } from '../core/port-in-use.js';

/**
 * Who listens on a TCP port on this host, from /proc (Linux): the socket's inode in /proc/net/tcp and
 * tcp6, then the process with that socket among its open files. Only processes this user may inspect
 * are found; anything else (or another OS) answers null.
 */

/** Pure: inodes of the sockets listening (state 0A) on `port` in a /proc/net/tcp table. */
export function listeningInodes(table: string, port: number): string[] {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  const out: string[] = [];
  for (const line of table.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    const local = f[1] ?? '';
    if (f[3] === '0A' && local.endsWith(`:${hex}`) && f[9]) out.push(f[9]);
  }
  return out;
}

export async function findPortOwner(port: number): Promise<PortOwner | null> {
  const tables = await Promise.all(['/proc/net/tcp', '/proc/net/tcp6'].map((f) => readFile(f, 'utf8').catch(() => '')));
  const inodes = new Set(tables.flatMap((t) => listeningInodes(t, port)));
  if (inodes.size === 0) return null;
  const pids = (await readdir('/proc').catch(() => [] as string[])).filter((d) => /^\d+$/.test(d));
  for (const pid of pids) {
    const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
    for (const fd of fds) {
      const link = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
      const m = /^socket:\[(\d+)\]$/.exec(link);
      if (m?.[1] && inodes.has(m[1])) {
        const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
        const command = cmd.split('\0').filter(Boolean).join(' ').slice(0, 120) || `pid ${pid}`;
        return { pid: Number(pid), command };
      }
    }
  }
  return null;
}

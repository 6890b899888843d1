import { posix } from 'node:path';
import { OWN_LAYOUT } from '../../render/layout.js';
import type { NginxTarget } from './commands.js';
import type { NginxProcesses } from './steps.js';
import type { WorkerInfo } from './workers.js';

/**
 * Pure argv builders for the `docker` client (arrays of words, never shell strings), unit-tested by equality, plus the parser of
 * `docker top`. Inside the container NGINX runs exactly like the local driver's master, on the bind
 * mount: `nginx -p DIR -c DIR/nginx.conf -e DIR/logs/error.log` with DIR = nginx.containerDir, so the
 * nginx words are the ones commands.ts builds, with container paths.
 */

/** The live and candidate configs as the container sees them. */
export function containerTargets(containerDir: string): { live: NginxTarget; candidate: NginxTarget } {
  const dir = containerDir.replace(/\/+$/, '') || '/';
  return {
    live: { prefix: dir, conf: posix.join(dir, OWN_LAYOUT.main), errorLog: posix.join(dir, OWN_LAYOUT.errorLog) },
    // -e stderr: a rejected candidate must not put [emerg] lines into the live error log
    candidate: { prefix: dir, conf: posix.join(dir, OWN_LAYOUT.candidate, OWN_LAYOUT.main), errorLog: 'stderr' },
  };
}

/** `docker exec [-i] CONTAINER ARGV...`; -i only when the command reads stdin. */
export function execCommand(container: string, argv: readonly string[], interactive = false): readonly string[] {
  return ['exec', ...(interactive ? ['-i'] : []), container, ...argv];
}

/** `docker top CONTAINER`: the container's processes as the engine sees them; needs no tool inside. */
export const topCommand = (container: string): readonly string[] => ['top', container];

/** Starts what is not running; never recreates a container (a deployed app keeps its version). */
export const composeUpCommand = (file: string): readonly string[] => ['compose', '-f', file, 'up', '-d', '--no-recreate'];

export const composeDownCommand = (file: string): readonly string[] => ['compose', '-f', file, 'down'];

export const composeStopCommand = (file: string, service: string): readonly string[] => ['compose', '-f', file, 'stop', service];

/**
 * nginx in a one-off container of the NGINX service (same image, same mounts; no ports, no
 * dependencies started): how a config is tested before the service's first start.
 */
export function composeRunNginxCommand(file: string, service: string, nginxArgv: readonly string[]): readonly string[] {
  return ['compose', '-f', file, 'run', '--rm', '--no-deps', '-T', '--entrypoint', 'nginx', service, ...nginxArgv];
}

/** Any program of the NGINX service's image in a one-off container (e.g. `test -f MODULE` before the first start). */
export function composeRunCommand(file: string, service: string, argv: readonly [string, ...string[]]): readonly string[] {
  const [program, ...args] = argv;
  return ['compose', '-f', file, 'run', '--rm', '--no-deps', '-T', '--entrypoint', program, service, ...args];
}

/**
 * curl inside the container, so NGINX sees the request come from its own loopback (the status and
 * health locations and forced routes answer loopback only; through a published port the client
 * would be the docker bridge's gateway). Extra request headers come on stdin (`-H @-`): a forced
 * route's secret never appears in a process list.
 */
export function curlCommand(
  container: string,
  url: string,
  o: { timeoutSeconds: number; headersOnStdin?: boolean; insecure?: boolean },
): readonly string[] {
  const argv = ['curl', '-sS', '--max-time', String(o.timeoutSeconds)];
  // tls: NGINX's own loopback port, whose certificate names the public host, not 127.0.0.1
  if (o.insecure) argv.push('--insecure');
  if (o.headersOnStdin) argv.push('-i', '-H', '@-');
  return execCommand(container, [...argv, url], o.headersOnStdin === true);
}

/**
 * Pure: `docker top` output → the nginx master and its workers, or null when no master is listed.
 * Columns are aligned by docker (UID PID PPID C STIME TTY TIME CMD); CMD is the rest of the line and
 * holds the title nginx gives each process ("nginx: worker process is shutting down").
 */
export function parseTop(text: string): NginxProcesses | null {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const header = lines[0] ?? '';
  const col = (name: string): number => header.search(new RegExp(`(?:^|\\s)${name}(?:\\s|$)`)) + (header.startsWith(name) ? 0 : 1);
  const [pidAt, ppidAt, cmdAt] = [col('PID'), col('PPID'), col('CMD')];
  if (pidAt < 1 || ppidAt < 1 || cmdAt < 1) return null;
  const rows = lines.slice(1).map((l) => ({
    pid: Number(l.slice(pidAt).trim().split(/\s+/)[0]),
    ppid: Number(l.slice(ppidAt).trim().split(/\s+/)[0]),
    cmd: l.slice(cmdAt).trim(),
  }));
  const master = rows.find((r) => r.cmd.startsWith('nginx: master process'));
  if (!master || !Number.isInteger(master.pid)) return null;
  const workers: WorkerInfo[] = rows
    .filter((r) => r.ppid === master.pid && r.cmd.includes('worker process'))
    .map((r) => ({ pid: r.pid, title: r.cmd, shuttingDown: r.cmd.includes('is shutting down') }));
  return { master: master.pid, workers };
}

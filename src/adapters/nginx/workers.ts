import { readFileSync } from 'node:fs';
import { readdir, readFile, readlink } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Linux /proc helpers. They exist because a reload's exit code proves nothing (a reload is confirmed, never trusted): the only
 * evidence that old workers stopped accepting on the listen socket is that they exited or retitled
 * themselves "worker process is shutting down" (nginx does that right before closing listen sockets).
 */

export interface WorkerInfo {
  readonly pid: number;
  /** the process title nginx set, e.g. "nginx: worker process" */
  readonly title: string;
  readonly shuttingDown: boolean;
}

/** The master pid from the pid file, or null if the file is missing or not a number. */
export async function readMasterPid(pidFile: string): Promise<number | null> {
  let text: string;
  try {
    text = await readFile(pidFile, 'utf8');
  } catch {
    return null;
  }
  const pid = Number(text.trim());
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

/** Alive = exists and is not a zombie (kill(pid, 0) succeeds on zombies, which would stall stop()). */
export function isPidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  return procState(pid) !== 'Z';
}

/** True when `pid` is alive and titled as an nginx master (guards against a stale pid file whose pid was reused). */
async function isNginxMaster(pid: number): Promise<boolean> {
  return isPidAlive(pid) && (await title(pid)).startsWith('nginx: master process');
}

/**
 * The master's worker processes. Children come from /proc/<pid>/task/<pid>/children (the master has
 * one thread) where the kernel has it, else from scanning every /proc/<pid>/stat for the parent pid:
 * on a busy machine the scan reads hundreds of files, and a confirmation asks several times.
 * Cache manager/loader are skipped.
 */
export async function listWorkers(masterPid: number): Promise<WorkerInfo[]> {
  const listed = await readFile(`/proc/${masterPid}/task/${masterPid}/children`, 'utf8').catch(() => null);
  const entries = listed === null ? await readdir('/proc') : listed.split(' ').filter((w) => w !== '');
  const workers: WorkerInfo[] = [];
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (parentOf(await readStat(pid)) !== masterPid) continue;
    const t = await title(pid);
    if (!t.includes('worker process')) continue;
    workers.push({ pid, title: t, shuttingDown: t.includes('is shutting down') });
  }
  return workers;
}

/**
 * NGINX workers left without their master (it was killed with SIGKILL): titled "nginx: worker process",
 * their parent no nginx master (init, a subreaper, or gone), and holding a file under `dir` (their logs,
 * so they belong to this prefix, not to another NGINX on the host). They keep serving the last config
 * and the listen socket: a new master cannot start on top of them.
 */
export async function orphanedWorkers(dir: string): Promise<number[]> {
  const inside = `${dir.replace(/\/+$/, '')}/`;
  const found: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (!(await title(pid)).startsWith('nginx: worker process')) continue;
    const parent = parentOf(await readStat(pid));
    if (parent !== null && parent > 1 && (await isNginxMaster(parent))) continue;
    if (await holdsFileUnder(pid, inside)) found.push(pid);
  }
  return found.sort((a, b) => a - b);
}

async function holdsFileUnder(pid: number, inside: string): Promise<boolean> {
  let fds: string[];
  try {
    fds = await readdir(`/proc/${pid}/fd`);
  } catch {
    return false; // gone, or not ours to look at
  }
  for (const fd of fds) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    if (target.startsWith(inside)) return true;
  }
  return false;
}

/** The master pid if the pid file names a live nginx master (a stale file whose pid was reused is ignored). */
export async function runningMaster(pidFile: string): Promise<number | null> {
  const pid = await readMasterPid(pidFile);
  return pid !== null && (await isNginxMaster(pid)) ? pid : null;
}

/** Polls until `pid` is gone; false if it is still alive after `ms`. */
async function waitForExit(pid: number, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (isPidAlive(pid)) {
    if (performance.now() > deadline) return false;
    await sleep(20);
  }
  return true;
}

/**
 * After a graceful quit was requested: wait `graceMs`, then SIGTERM (nginx's fast shutdown), then SIGKILL.
 * Workers outlive a SIGKILLed master and keep the listen socket, so any left are killed too.
 * Returns how the master ended.
 */
export async function escalateStop(master: number, workers: readonly number[], graceMs: number): Promise<'quit' | 'term' | 'kill'> {
  let how: 'quit' | 'term' | 'kill' = 'quit';
  if (!(await waitForExit(master, graceMs))) {
    how = 'term';
    sendSignal(master, 'SIGTERM');
    if (!(await waitForExit(master, 3000))) {
      how = 'kill';
      sendSignal(master, 'SIGKILL');
      await waitForExit(master, 2000);
    }
  }
  for (const pid of workers) if (isPidAlive(pid)) sendSignal(pid, 'SIGKILL');
  return how;
}

export function sendSignal(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** Process title: nginx overwrites argv, so cmdline holds the title padded with NULs. */
async function title(pid: number): Promise<string> {
  try {
    const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    return raw.replace(/\0+/g, ' ').trim();
  } catch {
    return '';
  }
}

async function readStat(pid: number): Promise<string> {
  try {
    return await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return ''; // the process exited while we looked
  }
}

/** /proc/<pid>/stat is "pid (comm) state ppid ..."; comm may contain spaces or parens, so cut at the last ')'. */
function statFields(stat: string): string[] {
  const end = stat.lastIndexOf(')');
  return end < 0 ? [] : stat.slice(end + 2).split(' ');
}

function parentOf(stat: string): number | null {
  const ppid = statFields(stat)[1];
  return ppid === undefined ? null : Number(ppid);
}

/** Synchronous so isPidAlive stays usable in tight loops and exit handlers. */
function procState(pid: number): string | null {
  try {
    return statFields(readFileSync(`/proc/${pid}/stat`, 'utf8'))[0] ?? null;
  } catch {
    return null;
  }
}

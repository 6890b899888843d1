import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeExclusive } from './safe-fs.js';

/**
 * `stateDir/serve-alerts.json`: the critical alerts a running `bgctl serve` has firing, so that
 * `bgctl status` (another process) counts them in its verdict. Written by serve when the set changes,
 * removed when serve stops; a file left by a serve that died is ignored (its pid is gone).
 */
export interface ServeAlertsFile {
  readonly pid: number;
  readonly host: string;
  readonly writtenAt: string;
  readonly critical: readonly { readonly id: string; readonly summary: string }[];
}

export const serveAlertsPath = (stateDir: string): string => join(stateDir, 'serve-alerts.json');

export async function writeServeAlerts(stateDir: string, body: ServeAlertsFile): Promise<void> {
  await writeExclusive(serveAlertsPath(stateDir), `${JSON.stringify(body)}\n`);
}

export async function removeServeAlerts(stateDir: string): Promise<void> {
  await rm(serveAlertsPath(stateDir), { force: true });
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Summaries of the critical alerts a live `serve` on this host has firing; [] when none or no serve runs. */
export async function readServeAlerts(stateDir: string, host: string): Promise<string[]> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(serveAlertsPath(stateDir), 'utf8'));
  } catch {
    return [];
  }
  const f = parsed as Partial<ServeAlertsFile>;
  if (typeof f.pid !== 'number' || !Array.isArray(f.critical)) return [];
  if (f.host === host && !alive(f.pid)) return [];
  const items: unknown[] = f.critical;
  return items.map((a) => {
    const summary = (a as { summary?: unknown } | null)?.summary;
    return typeof summary === 'string' ? summary : 'an alert (no summary)';
  });
}

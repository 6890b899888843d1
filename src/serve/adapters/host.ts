import { statfsSync } from 'node:fs';
import { cpus, freemem, totalmem } from 'node:os';

/** CPU time counters summed over all cores (ms). */
export interface CpuTimes {
  readonly idle: number;
  readonly total: number;
}

/** Pure: busy share (percent) between two readings; null when no time passed. */
export function cpuPercent(prev: CpuTimes, next: CpuTimes): number | null {
  const total = next.total - prev.total;
  const idle = next.idle - prev.idle;
  if (total <= 0) return null;
  return Math.min(100, Math.max(0, (100 * (total - idle)) / total));
}

/** Pure: memory in use, percent. */
export const memoryPercent = (total: number, free: number): number | null => (total > 0 ? (100 * (total - free)) / total : null);

export interface HostSample {
  readonly cpuPercent: number | null;
  readonly memoryPercent: number | null;
  /** used share of the filesystem holding stateDir (state, history, audit), percent; absent: not measured */
  readonly diskPercent?: number | null;
}

/** Pure: used share of a filesystem as \`df\` counts it (blocks used / (used + available to users)). */
export function diskPercent(blocks: number, free: number, avail: number): number | null {
  const used = blocks - free;
  return used + avail > 0 ? (100 * used) / (used + avail) : null;
}

function readDisk(path: string): number | null {
  try {
    const st = statfsSync(path);
    return diskPercent(st.blocks, st.bfree, st.bavail);
  } catch {
    return null;
  }
}

/** The host bgctl (and, with the local driver, NGINX) runs on. */
export interface HostProbe {
  sample(): HostSample;
}

function readCpu(): CpuTimes {
  let idle = 0;
  let total = 0;
  for (const c of cpus()) {
    idle += c.times.idle;
    total += c.times.user + c.times.nice + c.times.sys + c.times.idle + c.times.irq;
  }
  return { idle, total };
}

/** CPU busy share since the previous sample (os.cpus() deltas), memory from os.totalmem/freemem (MemAvailable), disk of `diskPath` (statfs). */
export function systemHost(diskPath?: string): HostProbe {
  let prev = readCpu();
  return {
    sample() {
      const next = readCpu();
      const cpu = cpuPercent(prev, next);
      prev = next;
      const disk = diskPath === undefined ? {} : { diskPercent: readDisk(diskPath) };
      return { cpuPercent: cpu, memoryPercent: memoryPercent(totalmem(), freemem()), ...disk };
    },
  };
}

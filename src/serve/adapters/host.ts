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

/** CPU busy share since the previous sample (os.cpus() deltas), memory from os.totalmem/freemem (MemAvailable). */
export function systemHost(): HostProbe {
  let prev = readCpu();
  return {
    sample() {
      const next = readCpu();
      const cpu = cpuPercent(prev, next);
      prev = next;
      return { cpuPercent: cpu, memoryPercent: memoryPercent(totalmem(), freemem()) };
    },
  };
}

import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Color } from '../core/color.js';
import { addressColors, parseLogLine, type ParsedLine } from './log-line.js';

/** What a span's lines are counted into (the chart's TimelineCounter, or a window's traffic). */
export interface SpanCounter {
  readonly fromMs: number;
  readonly toMs: number;
  add(line: ParsedLine): void;
}

/**
 * Reads the lines of NGINX's JSON access log that fall in a time span into a TimelineCounter, for
 * `bgctl history --chart`. The log is written in time order, so the start of the span is found by
 * bisecting the file and reading stops past its end: a large log costs a few reads, not a full scan.
 * The rotated copy (`.1`, as logrotate leaves it) is read too when it exists.
 */

/** Lines up to this much older than the span's start are read anyway: workers write slightly out of order. */
const SLACK_MS = 5000;
const PROBE_BYTES = 4096;

const MSEC = /"msec":(\d+(?:\.\d+)?)/;
const msecOf = (line: string): number | null => {
  const m = MSEC.exec(line);
  return m ? Math.round(Number(m[1]) * 1000) : null;
};

/** The `msec` of the first complete line at or after `offset`; null at the end of the file. */
async function timeAt(file: string, offset: number): Promise<number | null> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(PROBE_BYTES);
    for (let pos = offset; ; pos += PROBE_BYTES) {
      const { bytesRead } = await fh.read(buf, 0, PROBE_BYTES, pos);
      if (bytesRead === 0) return null;
      const text = buf.subarray(0, bytesRead).toString('utf8');
      const lines = (offset === 0 && pos === 0 ? text : text.slice(text.indexOf('\n') + 1)).split('\n');
      for (const line of lines.slice(0, -1)) {
        const t = msecOf(line);
        if (t !== null) return t;
      }
      if (pos - offset > 64 * PROBE_BYTES) return null; // no timestamp near here: give up bisecting
    }
  } finally {
    await fh.close();
  }
}

/** A byte offset at which every line before it is older than `fromMs` (0 when unsure). */
async function startOffset(file: string, size: number, fromMs: number): Promise<number> {
  let lo = 0;
  let hi = size;
  while (hi - lo > 64 * 1024) {
    const mid = Math.floor((lo + hi) / 2);
    const t = await timeAt(file, mid);
    if (t !== null && t < fromMs) lo = mid;
    else hi = mid;
  }
  return lo;
}

async function readFileSpan(file: string, addrColors: ReturnType<typeof addressColors>, counter: SpanCounter): Promise<number> {
  const size = (await stat(file)).size;
  const start = await startOffset(file, size, counter.fromMs - SLACK_MS);
  const input = createReadStream(file, { start, end: Math.max(start, size - 1), encoding: 'utf8' });
  const lines = createInterface({ input, crlfDelay: Infinity });
  let read = 0;
  let first = start > 0; // reading from the middle of a line: skip its tail
  try {
    for await (const line of lines) {
      if (first) {
        first = false;
        continue;
      }
      const t = msecOf(line);
      if (t === null || t < counter.fromMs) continue;
      if (t >= counter.toMs + SLACK_MS) break;
      const parsed = parseLogLine(line, addrColors);
      if (parsed) {
        counter.add(parsed);
        read++;
      }
    }
  } finally {
    lines.close();
    input.destroy();
  }
  return read;
}

/** Counts the span's lines of `log` (and of `log.1` before it); returns the files read and how many lines counted. */
export async function countAccessLogSpan(
  log: string,
  servers: Readonly<Record<Color, readonly string[]>>,
  counter: SpanCounter,
): Promise<{ files: string[]; lines: number }> {
  const addrColors = addressColors(servers);
  const files: string[] = [];
  let lines = 0;
  for (const file of [`${log}.1`, log]) {
    const st = await stat(file).catch(() => null);
    if (!st?.isFile()) continue;
    files.push(file);
    lines += await readFileSpan(file, addrColors, counter);
  }
  return { files, lines };
}

import { open } from 'node:fs/promises';
import type { TrafficCursor, TrafficReader, TrafficSample } from '../app/ports.js';
import type { Color } from '../core/color.js';

/** Per-color counts; `malformed` counts lines that were not a JSON object (kept for diagnostics). */
export interface TrafficCounts {
  requests: Record<Color, number>;
  errors: Record<Color, number>;
  malformed: number;
}

export const emptyCounts = (): TrafficCounts => ({ requests: { blue: 0, green: 0 }, errors: { blue: 0, green: 0 }, malformed: 0 });

/**
 * Pure: counts one access-log line (format in docs/DESIGN-NOTES.md) into `into`. A 5xx status is an
 * error of the logged color, whether the backend answered it or NGINX generated it (502/504 when the
 * upstream was unreachable). Lines without a color (`""`) are not traffic of either color.
 */
export function countLine(line: string, into: TrafficCounts): void {
  const text = line.trim();
  if (text === '') return;
  let rec: unknown;
  try {
    rec = JSON.parse(text);
  } catch {
    into.malformed++;
    return;
  }
  if (rec === null || typeof rec !== 'object') {
    into.malformed++;
    return;
  }
  const { color, status } = rec as { color?: unknown; status?: unknown };
  if (color !== 'blue' && color !== 'green') return;
  into.requests[color]++;
  const code = typeof status === 'number' ? status : Number(status);
  if (code >= 500 && code <= 599) into.errors[color]++;
}

/** Pure: counts every complete line of a chunk of text. */
export function countLines(text: string, into: TrafficCounts = emptyCounts()): TrafficCounts {
  for (const line of text.split('\n')) countLine(line, into);
  return into;
}

/** A partial line longer than this is dropped instead of buffered without bound. */
const MAX_PARTIAL = 1024 * 1024;
/** Bytes read per syscall; a large backlog is streamed through the counter in pieces. */
const CHUNK = 256 * 1024;

interface Position {
  ino: number | null;
  offset: number;
}

/**
 * Counts requests per color from NGINX's JSON access log, reading only what was appended since the
 * previous read. Copes with truncation (size shrank → start at 0) and rotation (inode changed →
 * start at 0 of the new file; lines left unread in the rotated file are not counted).
 */
export class AccessLogReader implements TrafficReader {
  constructor(readonly path: string) {}

  async mark(): Promise<TrafficCursor> {
    const pos = await this.position();
    return new AccessLogCursor(this.path, pos ?? { ino: null, offset: 0 });
  }

  private async position(): Promise<Position | null> {
    try {
      const fh = await open(this.path, 'r');
      try {
        const st = await fh.stat();
        return { ino: st.ino, offset: st.size };
      } finally {
        await fh.close();
      }
    } catch {
      return null; // no log yet: everything that appears later is new
    }
  }
}

/** `read()` returns the counts since mark(), cumulative; subtract two samples for a window. */
export class AccessLogCursor implements TrafficCursor {
  private readonly totals = emptyCounts();
  private partial: Buffer = Buffer.alloc(0);

  constructor(
    readonly path: string,
    private pos: Position,
  ) {}

  async read(): Promise<TrafficSample> {
    let readable = true;
    try {
      await this.consume();
    } catch {
      readable = false; // missing (mid-rotation), no permission...: report it, the caller decides
    }
    const { requests, errors } = this.totals;
    return { requests: { ...requests }, errors: { ...errors }, readable };
  }

  private async consume(): Promise<void> {
    const fh = await open(this.path, 'r');
    try {
      // fstat of the open file, not stat of the path: size and inode belong to what we actually read
      const st = await fh.stat();
      if ((this.pos.ino !== null && st.ino !== this.pos.ino) || st.size < this.pos.offset) {
        this.pos = { ino: st.ino, offset: 0 };
        this.partial = Buffer.alloc(0);
      }
      this.pos.ino = st.ino;
      const buf = Buffer.allocUnsafe(CHUNK);
      while (this.pos.offset < st.size) {
        const { bytesRead } = await fh.read(buf, 0, Math.min(CHUNK, st.size - this.pos.offset), this.pos.offset);
        if (bytesRead === 0) break;
        this.pos.offset += bytesRead;
        this.feed(buf.subarray(0, bytesRead));
      }
    } finally {
      await fh.close();
    }
  }

  /** Splits on newline bytes (never inside a UTF-8 sequence) and keeps the unfinished last line. */
  private feed(bytes: Buffer): void {
    const data = this.partial.length > 0 ? Buffer.concat([this.partial, bytes]) : bytes;
    const lastNl = data.lastIndexOf(0x0a);
    if (lastNl >= 0) countLines(data.subarray(0, lastNl).toString('utf8'), this.totals);
    const rest = data.subarray(lastNl + 1);
    this.partial = rest.length > MAX_PARTIAL ? Buffer.alloc(0) : Buffer.from(rest); // copy: buf is reused
  }
}

/** Pure: what happened between two cumulative samples of one cursor. */
export function subtractSample(later: TrafficSample, earlier: TrafficSample): TrafficSample {
  const d = (a: Readonly<Record<Color, number>>, b: Readonly<Record<Color, number>>) => ({
    blue: a.blue - b.blue,
    green: a.green - b.green,
  });
  return {
    requests: d(later.requests, earlier.requests),
    errors: d(later.errors, earlier.errors),
    readable: later.readable && earlier.readable,
  };
}

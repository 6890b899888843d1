import { constants } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import type { TrafficSource, TrafficTail } from '../app/ports.js';
import type { Color } from '../core/color.js';
import type { TrafficRead } from '../core/metrics.js';
import { DeltaBuilder } from '../core/traffic.js';
import { addressColors, countLine, type AddressColors } from './log-line.js';

export { addLine, addressColors, countLine, parseLogLine } from './log-line.js';
export type { AddressColors, Attempt, ParsedLine } from './log-line.js';

/**
 * Reads NGINX's JSON access log (`log_format bgctl_json` in nginx/templates/site.conf.hbs) into per-color
 * attempt figures and the client's view. The pure parsing half is in log-line.ts (re-exported here).
 */

/** A partial line longer than this is dropped (and counted once) instead of buffered without bound. */
const MAX_PARTIAL = 1024 * 1024;

/** Pure: cuts bytes into complete lines on newline bytes (never inside a UTF-8 sequence); keeps the rest. */
export class LineSplitter {
  private partial: Buffer = Buffer.alloc(0);
  private discarding = false;

  /** `dropped`: over-long lines thrown away, each counted once. */
  push(bytes: Uint8Array): { lines: string[]; dropped: number } {
    let data = this.partial.length > 0 ? Buffer.concat([this.partial, bytes]) : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
    if (this.discarding) {
      const nl = data.indexOf(0x0a);
      data = nl < 0 ? Buffer.alloc(0) : data.subarray(nl + 1);
      this.discarding = nl < 0;
    }
    const lastNl = data.lastIndexOf(0x0a);
    const lines = lastNl >= 0 ? data.subarray(0, lastNl).toString('utf8').split('\n') : [];
    const rest = data.subarray(lastNl + 1);
    const tooLong = rest.length > MAX_PARTIAL;
    this.partial = tooLong ? Buffer.alloc(0) : Buffer.from(rest); // a copy: callers reuse their read buffer
    this.discarding ||= tooLong;
    return { lines, dropped: tooLong ? 1 : 0 };
  }

  reset(): void {
    this.partial = Buffer.alloc(0);
    this.discarding = false;
  }
}

/** Bytes read per syscall; a large backlog is streamed through the counter in pieces. */
const CHUNK = 256 * 1024;
/** Bytes just before the read position, compared on every read: a log truncated and grown past it is caught. */
const FINGERPRINT = 64;

/** The file's identity and how far it was read. */
interface Position {
  id: string | null;
  offset: number;
  fingerprint: Buffer;
}

const idOf = (st: { dev: number; ino: number }): string => `${st.dev}:${st.ino}`;
const codeOf = (error: unknown): string =>
  (error as NodeJS.ErrnoException).code ?? (error instanceof Error ? error.message : String(error));

async function readAt(fh: FileHandle, length: number, position: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  const { bytesRead } = await fh.read(buf, 0, length, position);
  return buf.subarray(0, bytesRead);
}

/** Opens without blocking (a FIFO in the log's place must not hang a read) and checks it is a file. */
async function openLog(path: string): Promise<{ fh: FileHandle; size: number; id: string }> {
  const fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = await fh.stat(); // fstat of the open handle: size and inode of what is actually read
    if (!st.isFile()) throw Object.assign(new Error('not a regular file'), { code: st.isDirectory() ? 'EISDIR' : 'not a regular file' });
    return { fh, size: st.size, id: idOf(st) };
  } catch (error) {
    await fh.close();
    throw error;
  }
}

/** NGINX's JSON access log as a TrafficSource; `servers` are each color's configured host:port. */
export class TrafficLog implements TrafficSource {
  private readonly addrColors: AddressColors;

  constructor(
    readonly path: string,
    private readonly servers: Readonly<Record<Color, readonly string[]>>,
  ) {
    this.addrColors = addressColors(servers);
  }

  async recent(windowMs: number, now: number): Promise<TrafficRead> {
    const { readLogWindow } = await import('./recent-traffic.js');
    return readLogWindow(this.path, this.servers, now - windowMs, now);
  }

  /** Starts at the current end of the log; a log missing now is read from its start once it appears. */
  async tail(): Promise<TrafficTail> {
    try {
      const { fh, size, id } = await openLog(this.path);
      try {
        const fingerprint = await readAt(fh, Math.min(FINGERPRINT, size), size - Math.min(FINGERPRINT, size));
        return new TrafficLogTail(this.path, this.addrColors, { id, offset: size, fingerprint });
      } finally {
        await fh.close();
      }
    } catch {
      // unreadable now (no permission...) but present: what is logged from here on is new
      const st = await stat(this.path).catch(() => null);
      const pos = st?.isFile() ? { id: idOf(st), offset: st.size, fingerprint: Buffer.alloc(0) } : null;
      return new TrafficLogTail(this.path, this.addrColors, pos ?? { id: null, offset: 0, fingerprint: Buffer.alloc(0) });
    }
  }
}

/**
 * Each read() returns what was appended since the previous one. Truncation (smaller than the read
 * position, or the bytes before it changed) restarts at 0; rotation (another inode) reads the new file
 * from 0. Lines appended to a rotated file after the last read are not seen.
 */
class TrafficLogTail implements TrafficTail {
  private readonly builder = new DeltaBuilder();
  private readonly lines = new LineSplitter();

  constructor(
    readonly path: string,
    private readonly addrColors: AddressColors,
    private pos: Position,
  ) {}

  async read(): Promise<TrafficRead> {
    let problem: string | null = null;
    try {
      await this.consume();
    } catch (error) {
      problem = `cannot read the access log ${this.path}: ${codeOf(error)}`;
    }
    return { delta: this.builder.take(), readable: problem === null, problem };
  }

  private async consume(): Promise<void> {
    const { fh, size, id } = await openLog(this.path);
    try {
      if ((this.pos.id !== null && id !== this.pos.id) || size < this.pos.offset || !(await this.samePrefix(fh))) {
        this.pos = { id, offset: 0, fingerprint: Buffer.alloc(0) };
        this.lines.reset();
      }
      this.pos.id = id;
      const buf = Buffer.allocUnsafe(CHUNK);
      while (this.pos.offset < size) {
        const { bytesRead } = await fh.read(buf, 0, Math.min(CHUNK, size - this.pos.offset), this.pos.offset);
        if (bytesRead === 0) break;
        const bytes = buf.subarray(0, bytesRead);
        this.pos.offset += bytesRead;
        const last = bytes.length >= FINGERPRINT ? bytes : Buffer.concat([this.pos.fingerprint, bytes]);
        this.pos.fingerprint = Buffer.from(last.subarray(-FINGERPRINT));
        const { lines, dropped } = this.lines.push(bytes);
        for (const line of lines) countLine(line, this.addrColors, this.builder);
        for (let i = 0; i < dropped; i++) this.builder.unknown();
      }
    } finally {
      await fh.close();
    }
  }

  private async samePrefix(fh: FileHandle): Promise<boolean> {
    const { fingerprint, offset } = this.pos;
    if (fingerprint.length === 0) return true;
    return (await readAt(fh, fingerprint.length, offset - fingerprint.length)).equals(fingerprint);
  }
}

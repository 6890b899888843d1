import type { TrafficSource, TrafficTail } from '../../app/ports.js';
import type { Color } from '../../core/color.js';
import type { TrafficRead } from '../../core/metrics.js';
import { DeltaBuilder } from '../../core/traffic.js';
import { addLine, addressColors, countLine, parseLogLine, type AddressColors } from '../log-line.js';
import { LineSplitter } from '../traffic-log.js';
import type { ContainerShell } from './container-shell.js';
import { clientWords, type DockerClient, type DockerProcess } from './docker-client.js';

/**
 * NGINX's JSON access log inside a container behind an engine (nginx.dockerHost), streamed: one
 * long-lived `docker exec -i C sh -c FOLLOW sh LOG` per tail, which prints the log's size and then
 * follows it from there (`tail -c +N -F`: truncation and rotation included), feeding the very parsing
 * the local TrafficLog uses as the bytes arrive; a read takes what was counted since the last one.
 * The follower inside ends when its stdin closes: when the tail is closed or bgctl exits, however it
 * exits (`docker exec` alone would leave `tail -F` running in the container).
 */

/**
 * The follower. GNU tail polls files on overlayfs (no inotify there) once a second by default: every
 * 0.2 s when this tail takes a fraction (busybox's may not).
 */
export const FOLLOW_SCRIPT = `f=$1
s=0; [ -f "$f" ] && s=$(wc -c < "$f" | tr -d ' ')
echo "$s"
i=; tail -s 0.2 -c 0 /dev/null >/dev/null 2>&1 && i='-s 0.2'
tail $i -c +$((s+1)) -F "$f" 2>/dev/null &
t=$!
cat >/dev/null
kill $t 2>/dev/null
`;

/** How long a new follower may take to say where the log ends (an ssh connection is made first). */
const START_TIMEOUT_MS = 20_000;
/** What `recent` reads of the log's end: the last window of a busy service fits, a huge log is not read whole. */
const RECENT_BYTES = 4 * 1024 * 1024;

export class ContainerTrafficLog implements TrafficSource {
  private readonly addrColors: AddressColors;

  constructor(
    private readonly shell: ContainerShell,
    readonly path: string,
    servers: Readonly<Record<Color, readonly string[]>>,
  ) {
    this.addrColors = addressColors(servers);
  }

  /** Starts at the log's end now (its start once it appears, when it does not exist yet). */
  async tail(): Promise<TrafficTail> {
    const tail = new FollowedLog(this.shell.client, this.shell.container, this.path, this.addrColors);
    await tail.start().catch(() => undefined); // the first read says why
    return tail;
  }

  /** The last RECENT_BYTES of the log, counted where a line's `msec` falls in the window. */
  async recent(windowMs: number, now: number): Promise<TrafficRead> {
    const builder = new DeltaBuilder();
    try {
      const [r] = await this.shell.run([{ op: 'last', path: this.path, bytes: RECENT_BYTES }]);
      if (r?.words[0] !== '1') return { delta: builder.take(), readable: false, problem: `no access log at ${this.where} yet` };
      const lines = r.data.toString('utf8').split('\n');
      // a log longer than what was read starts in the middle of a line
      for (const line of r.data.length >= RECENT_BYTES ? lines.slice(1) : lines) {
        const parsed = parseLogLine(line, this.addrColors);
        if (parsed?.atMs != null && parsed.atMs >= now - windowMs && parsed.atMs <= now) addLine(parsed, builder);
      }
      return { delta: builder.take(), readable: true, problem: null };
    } catch (e) {
      return { delta: builder.take(), readable: false, problem: `cannot read the access log ${this.where}: ${message(e)}` };
    }
  }

  private get where(): string {
    return `${this.path} in container ${this.shell.container}`;
  }
}

/** One follower and what it counted since the last read; a follower that ended is started again on the next read. */
class FollowedLog implements TrafficTail {
  private readonly builder = new DeltaBuilder();
  private readonly lines = new LineSplitter();
  private proc: DockerProcess | null = null;
  private starting: Promise<void> | null = null;
  private problem: string | null = null;
  private closed = false;

  constructor(
    private readonly client: DockerClient,
    private readonly container: string,
    private readonly path: string,
    private readonly addrColors: AddressColors,
  ) {}

  /** Resolves once the follower said where the log ends (what is appended from then on is counted). */
  async start(): Promise<void> {
    const proc = await this.client.spawn(['exec', '-i', this.container, 'sh', '-c', FOLLOW_SCRIPT, 'bgctl', this.path]);
    this.proc = proc;
    this.lines.reset();
    let started = false;
    let head = '';
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
      proc.stdout.on('data', (chunk: Buffer) => {
        if (started) return this.count(chunk);
        head += chunk.toString('latin1');
        const nl = head.indexOf('\n');
        if (nl < 0) return;
        started = true;
        clearTimeout(timer);
        resolve();
        const rest = Buffer.from(head.slice(nl + 1), 'latin1');
        if (rest.length > 0) this.count(rest);
      });
      void proc.exited.then(({ stderr }) => {
        clearTimeout(timer);
        if (this.proc === proc) this.proc = null;
        this.problem ??= `the access log stream from container ${this.container} ended${stderr ? `: ${clientWords(stderr).slice(0, 300)}` : ''}`;
        reject(new Error(this.problem));
      });
    });
    try {
      await ready;
      this.problem = null;
      proc.unref(); // following the log never keeps bgctl running by itself
    } catch (e) {
      this.problem = `cannot follow the access log ${this.path} in container ${this.container}: ${message(e)}`;
      proc.kill();
      throw e;
    }
  }

  read(): Promise<TrafficRead> {
    const delta = this.builder.take();
    if (this.proc?.alive() && this.problem === null) return Promise.resolve({ delta, readable: true, problem: null });
    const problem = this.problem ?? `the access log stream from container ${this.container} is not running`;
    // what was logged while no follower ran is not seen: said, and counted again from the log's end
    if (!this.closed && this.starting === null) {
      this.starting = this.start()
        .catch(() => undefined)
        .finally(() => {
          this.starting = null;
        });
    }
    return Promise.resolve({ delta, readable: false, problem });
  }

  close(): Promise<void> {
    this.closed = true;
    this.proc?.stdin.end();
    this.proc = null;
    return Promise.resolve();
  }

  private count(bytes: Buffer): void {
    const { lines, dropped } = this.lines.push(bytes);
    for (const line of lines) countLine(line, this.addrColors, this.builder);
    for (let i = 0; i < dropped; i++) this.builder.unknown();
  }
}

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { UnsafePathError } from '../../core/errors.js';
import { SHELL_LOOP, RecordReader, batchEnd, encodeBatch, type BatchEnd, type ShellOp, type ShellRecord } from './container-ops.js';
import { clientWords, type DockerClient, type DockerProcess } from './docker-client.js';

/**
 * One long-lived `docker exec -i CONTAINER sh -c SHELL_LOOP` per target behind an engine: batches of
 * requests (container-ops.ts) go in on its stdin, their answers come back on its stdout, one batch at a
 * time. Started on first use and again after it ended (a restarted container); the loop ends by itself
 * when its stdin closes, which is when bgctl exits, however it exits. An idle session does not keep
 * bgctl running.
 */

/** The session could not be reached or did not answer: docker's own words. */
export class ShellUnavailable extends Error {}

interface Session {
  readonly proc: DockerProcess;
  readonly lines: AsyncIterator<string>;
}

const DEFAULT_TIMEOUT_MS = 30_000;

export class ContainerShell {
  private session: Session | null = null;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly client: DockerClient,
    readonly container: string,
  ) {}

  /**
   * Runs one batch, all of it or up to its first failure: a refusal throws UnsafePathError (exit 6,
   * naming the path), any other failure an Error with the container's words; the records of the
   * requests that answer, in order. `timeoutMs` bounds the whole batch (the session is dropped then).
   */
  run(ops: readonly ShellOp[], timeoutMs = DEFAULT_TIMEOUT_MS): Promise<ShellRecord[]> {
    const next = this.queue.then(() => this.exchange(ops, timeoutMs));
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Ends the session (its loop exits on end of input). */
  close(): void {
    const s = this.session;
    this.session = null;
    s?.proc.stdin.end();
  }

  private async exchange(ops: readonly ShellOp[], timeoutMs: number): Promise<ShellRecord[]> {
    const session = await this.open();
    const id = randomBytes(8).toString('hex');
    const reader = new RecordReader();
    session.proc.ref();
    let timer: NodeJS.Timeout | undefined;
    try {
      session.proc.stdin.write(encodeBatch(ops, id));
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new ShellUnavailable(`container ${this.container}: no answer within ${timeoutMs} ms`)), timeoutMs);
      });
      const end = await Promise.race([this.answer(session, reader, id), timeout]);
      if (end.ok) return reader.records();
      if (end.unsafe) throw new UnsafePathError(end.unsafe.path, end.unsafe.what);
      throw new Error(`in container ${this.container}: ${end.message}`);
    } catch (error) {
      if (error instanceof ShellUnavailable) this.drop(session);
      throw error;
    } finally {
      clearTimeout(timer);
      session.proc.unref();
    }
  }

  /** Reads answer lines until the batch's end line; the session ending first is ShellUnavailable. */
  private async answer(session: Session, reader: RecordReader, id: string): Promise<BatchEnd> {
    for (;;) {
      const next = await session.lines.next();
      if (next.done) {
        this.drop(session);
        const { stderr } = await session.proc.exited;
        throw new ShellUnavailable(clientWords(stderr).slice(0, 400) || `docker exec ${this.container} ended (${this.client.engine})`);
      }
      const end = batchEnd(next.value, id);
      if (end) return end;
      reader.push(next.value);
    }
  }

  private async open(): Promise<Session> {
    if (this.session?.proc.alive()) return this.session;
    const proc = await this.client.spawn(['exec', '-i', this.container, 'sh', '-c', SHELL_LOOP, 'bgctl']);
    proc.unref();
    const lines = createInterface({ input: proc.stdout, crlfDelay: Infinity })[Symbol.asyncIterator]();
    this.session = { proc, lines };
    return this.session;
  }

  private drop(session: Session): void {
    if (this.session === session) this.session = null;
    session.proc.kill();
  }
}

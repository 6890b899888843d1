import { request } from 'undici';
import type { Clock, Logger } from '../../app/ports.js';

/** Where alert notifications go: a chat channel's incoming webhook, or any HTTP receiver. */
export interface Notifier {
  notify(payload: Record<string, unknown>): void;
  /** waits for queued deliveries, giving up after `ms` */
  drain(ms: number): Promise<void>;
}

export interface WebhookOptions {
  readonly url: string;
  readonly clock: Clock;
  readonly logger: Logger;
  /** per attempt */
  readonly timeoutMs?: number;
  /** pauses before each retry; its length is the number of retries */
  readonly backoffMs?: readonly number[];
  readonly maxQueue?: number;
  readonly onResult?: (result: 'delivered' | 'retried' | 'failed' | 'dropped') => void;
  readonly signal?: AbortSignal;
}

/**
 * POSTs JSON to the webhook, one delivery at a time in order, each attempt with a timeout, retried
 * with backoff on a network error or a non-2xx answer. The queue is bounded: the oldest is dropped.
 * The URL is never logged (chat webhooks carry their secret in it).
 */
export class WebhookNotifier implements Notifier {
  private readonly queue: Record<string, unknown>[] = [];
  private running: Promise<void> | null = null;
  private readonly timeoutMs: number;
  private readonly backoffMs: readonly number[];
  private readonly maxQueue: number;

  constructor(private readonly o: WebhookOptions) {
    this.timeoutMs = o.timeoutMs ?? 5000;
    this.backoffMs = o.backoffMs ?? [1000, 5000, 15000];
    this.maxQueue = o.maxQueue ?? 100;
  }

  notify(payload: Record<string, unknown>): void {
    this.queue.push(payload);
    if (this.queue.length > this.maxQueue) {
      this.queue.shift();
      this.o.onResult?.('dropped');
      this.o.logger.warn('alert webhook queue full; oldest notification dropped', { max: this.maxQueue });
    }
    this.running ??= this.pump().finally(() => (this.running = null));
  }

  async drain(ms: number): Promise<void> {
    if (!this.running) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.running, new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
    clearTimeout(timer);
  }

  private async pump(): Promise<void> {
    for (let next = this.queue.shift(); next; next = this.queue.shift()) await this.deliver(next);
  }

  private async deliver(payload: Record<string, unknown>): Promise<void> {
    const body = JSON.stringify(payload);
    for (let attempt = 0; ; attempt++) {
      const problem = await this.attempt(body);
      if (problem === null) {
        this.o.onResult?.('delivered');
        return;
      }
      const pause = this.backoffMs[attempt];
      if (pause === undefined || this.o.signal?.aborted) {
        this.o.onResult?.('failed');
        this.o.logger.warn('alert webhook delivery failed', { attempts: attempt + 1, problem });
        return;
      }
      this.o.onResult?.('retried');
      this.o.logger.info('alert webhook delivery failed; retrying', { attempt: attempt + 1, problem, retryInMs: pause });
      await this.o.clock.sleep(pause, this.o.signal);
    }
  }

  /** One POST; null when the receiver answered 2xx, else what went wrong. */
  private async attempt(body: string): Promise<string | null> {
    try {
      const res = await request(this.o.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'bgctl-alerts' },
        body,
        signal: AbortSignal.timeout(this.timeoutMs),
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
      await res.body.dump();
      return res.statusCode >= 200 && res.statusCode < 300 ? null : `HTTP ${res.statusCode}`;
    } catch (e) {
      return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    }
  }
}

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/adapters/clock.js';
import { WebhookNotifier } from '../../src/serve/adapters/webhook.js';
import { RecordingLogger } from '../fakes/recorders.js';

/** A real HTTP receiver on loopback; `answer` decides per attempt (1-based) what it does. */
async function receiver(answer: (attempt: number, req: IncomingMessage, res: ServerResponse) => void) {
  const bodies: unknown[] = [];
  let attempts = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      attempts++;
      bodies.push({ contentType: req.headers['content-type'], body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown });
      answer(attempts, req, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/services/T000/B000/secret-part`,
    bodies,
    attempts: () => attempts,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe('alert webhook delivery to a real HTTP receiver', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    await Promise.all(cleanup.splice(0).map((f) => f()));
  });

  it('retries after a failure and delivers, in order; the URL (a secret) is never logged', async () => {
    const rx = await receiver((n, _req, res) => res.writeHead(n === 1 ? 503 : 204).end());
    cleanup.push(rx.close);
    const results: string[] = [];
    const logger = new RecordingLogger();
    const n = new WebhookNotifier({ url: rx.url, clock: systemClock, logger, backoffMs: [50, 50], onResult: (r) => results.push(r) });
    n.notify({ text: 'first', status: 'firing' });
    n.notify({ text: 'second', status: 'resolved' });
    await n.drain(5000);
    expect(results).toEqual(['retried', 'delivered', 'delivered']);
    expect(rx.bodies).toEqual([
      { contentType: 'application/json', body: { text: 'first', status: 'firing' } },
      { contentType: 'application/json', body: { text: 'first', status: 'firing' } },
      { contentType: 'application/json', body: { text: 'second', status: 'resolved' } },
    ]);
    expect(JSON.stringify(logger.entries)).not.toContain('secret-part');
    expect(logger.at('info')).toContain('alert webhook delivery failed; retrying');
  });

  it('times out a receiver that never answers, retries, then gives up within a bounded time', async () => {
    const rx = await receiver(() => undefined); // holds every request open
    cleanup.push(rx.close);
    const results: string[] = [];
    const logger = new RecordingLogger();
    const n = new WebhookNotifier({
      url: rx.url,
      clock: systemClock,
      logger,
      timeoutMs: 300,
      backoffMs: [50],
      onResult: (r) => results.push(r),
    });
    const t0 = Date.now();
    n.notify({ text: 'stuck' });
    await n.drain(5000);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(rx.attempts()).toBe(2);
    expect(results).toEqual(['retried', 'failed']);
    expect(logger.at('warn')).toContain('alert webhook delivery failed');
  });
});

import type { Clock } from '../app/ports.js';

/**
 * The real clock. `sleep` RESOLVES EARLY (never rejects) when the signal aborts: a sleeping step timer
 * is not an error, so callers simply check `signal.aborted` after the await and decide what to do
 * (e.g. return traffic to the stable color). This keeps abort handling in one place — the app — instead
 * of try/catch around every sleep.
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      if (signal?.aborted === true) {
        resolve();
        return;
      }
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      signal?.addEventListener('abort', done, { once: true });
    });
  },
};

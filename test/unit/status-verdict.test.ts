import { describe, expect, it } from 'vitest';
import { status } from '../../src/app/status.js';
import type { TrafficRead } from '../../src/core/metrics.js';
import { makeContext } from '../fakes/context.js';
import { FakeNginx } from '../fakes/nginx.js';
import { fakeRead, FakeTraffic, type FakeTrafficSpec } from '../fakes/recorders.js';
import { green, interruptedState } from '../fakes/states.js';

/** A traffic source whose last window is `spec`, remembering which window was asked for. */
class WindowTraffic extends FakeTraffic {
  asked: { windowMs: number; now: number }[] = [];
  constructor(private readonly spec: FakeTrafficSpec) {
    super();
  }
  recent(windowMs: number, now: number): Promise<TrafficRead> {
    this.asked.push({ windowMs, now });
    return Promise.resolve(fakeRead(this.spec));
  }
}

describe('status verdict from what status sees', () => {
  it('OK when NGINX serves, no drift, the color with traffic is healthy and under the thresholds', async () => {
    const traffic = new WindowTraffic({ blue: [200, 0] });
    const w = makeContext({ traffic });
    const r = await status(w.ctx);
    expect(r.verdict.line).toBe('OK');
    expect(traffic.asked).toEqual([{ windowMs: w.ctx.loaded.config.thresholds.windowSeconds * 1000, now: w.clock.now() }]);
    expect(r.window.figures?.colors.blue.requests).toBe(200);
  });

  it('CRITICAL when green carries all traffic and answers 500 though its health probe passes', async () => {
    const w = makeContext({
      traffic: new WindowTraffic({ green: [400, 400] }),
      nginx: new FakeNginx({ revision: 1, weights: green(100) }),
    });
    const r = await status(w.ctx);
    expect(r.health.green.healthy).toBe(true);
    expect(r.verdict.level).toBe('CRITICAL');
    expect(r.verdict.reasons.map((x) => x.code)).toContain('error_rate');
  });

  it('CRITICAL with NGINX down; serve alerts are counted', async () => {
    const w = makeContext({ nginx: new FakeNginx(null) });
    const r = await status(w.ctx, { criticalAlerts: () => Promise.resolve(['availability of the site 80% < 99%']) });
    expect(r.verdict.line).toBe('CRITICAL: NGINX is not running (`bgctl start`); alert firing: availability of the site 80% < 99%');
  });

  it('DEGRADED for a migration whose process is gone', async () => {
    const w = makeContext({
      state: interruptedState({ passed: [25], pid: 999 }),
      nginx: new FakeNginx({ revision: 2, weights: green(25) }),
    });
    const r = await status(w.ctx);
    expect(r.verdict.level).toBe('DEGRADED');
    expect(r.verdict.line).toMatch(/^DEGRADED: migration interrupted: gradual blue → green 2\.1\.0 at step 1\/4 \(25%\)/);
  });
});

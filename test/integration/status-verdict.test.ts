import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTraffic, type TrafficGenerator } from '../../src/demo/traffic.js';
import { jsonOf } from '../helpers/cli.js';
import { makeSandbox, type Sandbox } from '../helpers/sandbox.js';
import { http, startServeProcess, type ServeProcess } from '../helpers/serve-http.js';
import { makeTmpDir } from '../helpers/tmp.js';

interface Verdict {
  level: string;
  line: string;
  reasons: { level: string; code: string; text: string }[];
}

/** Polls `fn` until it returns a truthy value (or fails after `ms`). */
async function until<T>(what: string, fn: () => Promise<T | false | null | undefined>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('status verdict, /health and the dashboard badge on a real NGINX', () => {
  let box: Sandbox;
  let srv: ServeProcess;
  let traffic: TrafficGenerator;
  let browser: BrowserContext;
  let page: Page;
  let shots: string;

  beforeAll(async () => {
    // green's release answers 500 to every other request; its health probe still passes
    box = await makeSandbox('status-verdict', {
      greenVersion: '2.1.0-flaky',
      overrides: { thresholds: { errorRateForSeconds: 0, windowSeconds: 10, minRequests: 5 } },
    });
    srv = await startServeProcess(box.dir);
    traffic = startTraffic({ url: `http://127.0.0.1:${box.listen}/load`, connections: 2, keepAlive: true, maxSeconds: 150, pauseMs: 20 });
    shots = await makeTmpDir('status-verdict-shots');
    browser = await chromium.launchPersistentContext(await makeTmpDir('chromium-profile'), {
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-sync'],
      viewport: { width: 1400, height: 1000 },
    });
    page = await browser.newPage();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await traffic?.stop();
    await srv?.stop();
    await box?.close();
  });

  it('healthy: status ends with OK and exits 0, /health answers 200', async () => {
    const r = await until('status OK', async () => {
      const s = await box.cli(['status']);
      return s.exitCode === 0 && s;
    });
    expect(r.stdout.trimEnd().split('\n').at(-1)).toBe('OK');
    const h = await http(`${srv.monitor}/health`);
    expect(h.status).toBe(200);
    expect(h.json()).toMatchObject({ status: 'ok', verdict: { level: 'OK' } });
  });

  it('a color with traffic answering 5xx makes status CRITICAL (exit 4), /health 503 and the badge red with the alerts on top', async () => {
    expect((await box.cli(['canary', 'green', '50'])).exitCode).toBe(0);
    const r = await until(
      'status CRITICAL',
      async () => {
        const s = await box.cli(['status', '--json']);
        const v = jsonOf<{ verdict: Verdict }>(s).verdict;
        return s.exitCode === 4 && v.reasons.some((x) => x.code === 'alert') && v.reasons.some((x) => x.code === 'error_rate') && v;
      },
      40_000,
    );
    expect(r.level).toBe('CRITICAL');
    expect(r.reasons.find((x) => x.code === 'error_rate')?.text).toMatch(
      /^green answers \d+\.\d% 5xx \(threshold 5\.0%, \d+ requests in the last 10 s\)$/,
    );
    const human = await box.cli(['status']);
    expect(human.exitCode).toBe(4);
    expect(human.stdout.trimEnd().split('\n').at(-1)).toMatch(/^CRITICAL: .*green answers/);
    expect(human.stderr).toBe('');

    const h = await http(`${srv.monitor}/health`);
    expect(h.status).toBe(503);
    expect(h.json()).toMatchObject({ status: 'degraded', verdict: { level: 'CRITICAL' } });

    await page.goto(`${srv.monitor}/dashboard`);
    const badge = page.getByTestId('verdict');
    await badge.filter({ hasText: /^CRITICAL$/ }).waitFor({ timeout: 10_000 });
    const alerts = page.getByTestId('open-alerts');
    await alerts.filter({ hasText: /CRITICAL firing/ }).waitFor({ timeout: 10_000 });
    for (const [name, box_] of [
      ['verdict', await badge.boundingBox()],
      ['open alerts', await alerts.boundingBox()],
    ] as const) {
      expect(box_, name).not.toBeNull();
      if (!box_) continue;
      expect(box_.y, name).toBeGreaterThanOrEqual(0);
      expect(box_.x + box_.width, name).toBeLessThanOrEqual(1400);
      expect(box_.y + box_.height, `${name} bottom`).toBeLessThanOrEqual(1000);
    }
    expect(await page.getByTestId('verdict-why').textContent()).toMatch(/green answers/);
    expect(await alerts.textContent()).toMatch(/error rate of green/);
    await page.screenshot({ path: path.join(shots, 'dashboard-critical.png') });
    console.log(`dashboard screenshot: ${path.join(shots, 'dashboard-critical.png')}`);
  });

  it('status --watch prints a timestamped verdict on every refresh', async () => {
    const child = box.spawn(['status', '--watch', '--interval', '0.5']);
    let out = '';
    child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
    await until('two verdict lines', () => Promise.resolve((out.match(/^\d\d:\d\d:\d\dZ {2}(OK|DEGRADED|CRITICAL)/gm)?.length ?? 0) >= 2));
    child.kill('SIGINT');
    const r = await child;
    expect(r.exitCode).toBe(4); // the last verdict's code
  });

  it('NGINX down is CRITICAL', async () => {
    expect((await box.cli(['rollback'])).exitCode).toBe(0);
    expect((await box.cli(['stop'])).exitCode).toBe(0);
    const s = await box.cli(['status']);
    expect(s.exitCode).toBe(4);
    expect(s.stdout.trimEnd().split('\n').at(-1)).toMatch(/^CRITICAL: NGINX is not running/);
  });
});

import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTraffic, type TrafficGenerator } from '../../src/demo/traffic.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { makeSandbox, type Sandbox } from '../helpers/sandbox.js';
import { startServeProcess, type ServeProcess } from '../helpers/serve-http.js';
import { makeTmpDir } from '../helpers/tmp.js';

const ARTIFACTS = path.join(REPO_ROOT, 'test-results');
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

describe('the dashboard in headless Chromium', () => {
  let box: Sandbox;
  let srv: ServeProcess;
  let traffic: TrafficGenerator;
  let browser: BrowserContext;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    box = await makeSandbox('serve-dashboard');
    srv = await startServeProcess(box.dir);
    traffic = startTraffic({ url: `http://127.0.0.1:${box.listen}/load`, connections: 2, keepAlive: true, maxSeconds: 90, pauseMs: 20 });
    browser = await chromium.launchPersistentContext(await makeTmpDir('chromium-profile'), {
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1280, height: 900 },
    });
    page = await browser.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`));
  });
  afterAll(async () => {
    await browser?.close();
    await traffic?.stop();
    await srv?.stop();
    await box?.close();
  });

  it('loads without console errors and shows the active color, the split and the health of every server', async () => {
    const res = await page.goto(`${srv.monitor}/dashboard`);
    expect(res?.status()).toBe(200);
    await expect.poll(() => page.getByTestId('active-color').textContent(), { timeout: 5000 }).toBe('blue');
    expect(await page.getByTestId('weight-blue').textContent()).toBe('blue 100%');
    expect(await page.getByTestId('weight-green').textContent()).toBe('green 0%');
    const health = (await page.getByTestId('health').textContent()) ?? '';
    expect(health).toContain(`127.0.0.1:${box.blue.port}`);
    expect(health).toContain(`127.0.0.1:${box.green.port}`);
    expect(health).toMatch(/blue — up \(1\.0\.0\)/);
    // the chart draws both colors, and the live rates show blue's traffic once a few samples are in
    await expect.poll(() => page.locator('#chart-req polyline[data-color="blue"]').count(), { timeout: 5000 }).toBe(1);
    expect(await page.locator('#chart-req polyline[data-color="green"]').count()).toBe(1);
    await expect.poll(() => page.locator('#rates').textContent(), { timeout: 5000 }).toMatch(/blue [1-9]\d*\.\d req\/s/);
    expect(problems).toEqual([]);
  });

  it('reflects a weight change made from the CLI within 2 s', async () => {
    const r = await box.cli(['canary', 'green', '25']);
    expect(r.exitCode, r.stderr).toBe(0);
    const changedAt = Date.now();
    // no page.waitForFunction: the page's CSP (rightly) forbids the eval it needs
    await page
      .getByTestId('weight-green')
      .filter({ hasText: /^green 25%$/ })
      .waitFor({ timeout: 2000 });
    const seenAfterMs = Date.now() - changedAt;
    expect(seenAfterMs).toBeLessThanOrEqual(2000);
    expect(await page.getByTestId('weight-blue').textContent()).toBe('blue 75%');
    await expect.poll(() => page.getByTestId('migration').textContent(), { timeout: 3000 }).toMatch(/canary blue → green: holding/);
    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'serve-dashboard.png'), fullPage: true });
    console.log(`dashboard showed the CLI's canary after ${seenAfterMs} ms`);
    expect(problems).toEqual([]);
  });
});

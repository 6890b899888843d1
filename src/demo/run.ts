import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { stringify } from 'yaml';
import { start, stop } from '../app/admin.js';
import type { AppContext } from '../app/context.js';
import { gradual } from '../app/traffic-commands.js';
import { RolledBackError, UsageError } from '../core/errors.js';
import type { Migration } from '../core/state.js';
import { DEMO_PORTS_ENV, formatDemoPorts, startDemoBackend, type DemoBackend } from './backend.js';
import { startTraffic, type TrafficGenerator, type TrafficStats } from '../adapters/load.js';

export interface DemoSummary {
  readonly migrations: readonly Migration[];
  readonly traffic: TrafficStats | null;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

async function requireNginx(binary: string): Promise<void> {
  const r = await execa(binary, ['-v'], { reject: false });
  if (r.failed) {
    throw new UsageError('demo: nginx was not found on PATH', {
      hint: 'install it (Debian/Ubuntu: `sudo apt-get install -y nginx`; macOS: `brew install nginx`), then run `npx bgctl demo` again',
    });
  }
}

/**
 * `bgctl demo`: a sandbox with its own NGINX, two demo backends and live traffic, all on free loopback
 * ports in a temp folder. Migrates to green 2.1.0, then tries a broken blue release and shows the
 * automatic rollback. Everything it started is stopped and removed, whatever happens.
 */
export interface DemoOptions {
  readonly stepSeconds: number;
  /** a line of human text for the operator */
  readonly say: (text: string) => void;
  /** the app context wired with real adapters around the sandbox's config file */
  readonly context: (file: string) => Promise<AppContext>;
}

export async function runDemo(o: DemoOptions): Promise<DemoSummary> {
  const { say } = o;
  await requireNginx('nginx');
  const dir = await mkdtemp(path.join(tmpdir(), 'bgctl-demo-'));
  // NGINX's workers (nobody, when run as root) read the weights file in here: dynamic mode when njs is installed
  await chmod(dir, 0o755);
  const backends: DemoBackend[] = [];
  let traffic: TrafficGenerator | null = null;
  let ctx: AppContext | null = null;
  let started = false;
  try {
    const [listen, bluePort, greenPort] = [await freePort(), await freePort(), await freePort()];
    backends.push(await startDemoBackend({ color: 'blue', version: '1.0.0', port: bluePort }));
    backends.push(await startDemoBackend({ color: 'green', version: '2.1.0', port: greenPort }));
    // from dist/demo/run.js and from the bundle (dist/bundle/): the compiled hook is in dist/demo
    const hook = fileURLToPath(new URL('../demo/deploy-hook.js', import.meta.url));
    const file = path.join(dir, 'bgctl.yaml');
    await writeFile(
      file,
      stringify({
        listen,
        environments: {
          blue: { servers: [`127.0.0.1:${bluePort}`], health: '/health' },
          green: { servers: [`127.0.0.1:${greenPort}`], health: '/health' },
        },
        nginx: { driver: 'local', dir: 'nginx' },
        migration: { steps: [25, 50, 75, 100], stepSeconds: o.stepSeconds, strategy: 'weighted' },
        probe: { intervalMs: 250, timeoutMs: 1000 },
        // judged on the live traffic below: act on the first 2 s window where a color fails more than 5%
        thresholds: { errorRate: 0.05, errorRateForSeconds: 0, minRequests: 10, windowSeconds: 2 },
        deploy: {
          command: [process.execPath, hook, '{{color}}', '{{version}}'],
          env: { [DEMO_PORTS_ENV]: formatDemoPorts({ blue: bluePort, green: greenPort }) },
        },
        stateDir: 'state',
      }),
    );
    ctx = await o.context(file);
    say(`bgctl demo: sandbox in ${dir}`);
    say(`  NGINX on 127.0.0.1:${listen}, blue 1.0.0 on :${bluePort}, green 2.1.0 on :${greenPort}\n`);
    const s = await start(ctx);
    started = true;
    say(`NGINX started: blue 100% (revision ${s.revision})`);
    traffic = startTraffic({ url: `http://127.0.0.1:${listen}/demo`, connections: 4, keepAlive: true, maxSeconds: 300, pauseMs: 5 });
    say('live traffic: 4 keep-alive clients\n');

    say('1) gradual green 2.1.0: 25% → 50% → 75% → 100%, health-checked at every step');
    await gradual(ctx, { color: 'green', version: '2.1.0' });
    say(`   green carries all traffic. Clients so far: ${describe(traffic.stats())}\n`);

    say('2) gradual blue 1.1.0-flaky: a release whose health checks pass but that fails every other real request');
    traffic.reset();
    try {
      await gradual(ctx, { color: 'blue', version: '1.1.0-flaky' });
      throw new Error('demo: the broken release was not rolled back');
    } catch (e) {
      if (!(e instanceof RolledBackError)) throw e;
      say(`   rolled back automatically: ${e.message}`);
    }
    say(`   Clients during the failed release: ${describe(traffic.stats())}\n`);
    const stats = await traffic.stop();
    traffic = null;
    const migrations = (await ctx.store.load()).history.slice(-2);
    say('done: green 2.1.0 keeps 100% of traffic; the flaky blue release was caught from the access log in its first step.');
    return { migrations, traffic: stats };
  } finally {
    if (traffic) await traffic.stop();
    if (ctx && started) await stop(ctx).catch(() => undefined);
    await Promise.all(backends.map((b) => b.close()));
    await rm(dir, { recursive: true, force: true });
  }
}

function describe(s: TrafficStats): string {
  return `${s.total} requests (blue ${s.byColor.blue}, green ${s.byColor.green}), ${s.failed} failed`;
}

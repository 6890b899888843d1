import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'yaml';

/**
 * A bgctl.yaml for integration tests: real backends on loopback, NGINX prefix and state inside the
 * test's temp folder (as relative paths, so resolution against the config folder is exercised too),
 * and timings short enough for a test: 1 s steps, 200 ms probes, breaches acted on at once.
 */
export interface FixtureOptions {
  /** a port on 127.0.0.1, or a list of host:port */
  readonly blue: number | readonly string[];
  readonly green: number | readonly string[];
  /** the NGINX front port */
  readonly listen: number;
  /** deep-merged over the generated config; arrays and scalars replace, null deletes a key */
  readonly overrides?: Record<string, unknown>;
  /** file name inside dir (default bgctl.yaml; .json writes JSON) */
  readonly file?: string;
}

const servers = (v: number | readonly string[]): string[] => (typeof v === 'number' ? [`127.0.0.1:${v}`] : [...v]);

const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

export function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    if (value === null) delete out[key];
    else if (isPlainObject(value) && isPlainObject(out[key])) out[key] = deepMerge(out[key], value);
    else out[key] = value;
  }
  return out;
}

/** The config object writeConfig writes (before YAML), for tests that want to inspect it. */
export function fixtureConfig(opts: FixtureOptions): Record<string, unknown> {
  const base: Record<string, unknown> = {
    listen: opts.listen,
    environments: {
      blue: { servers: servers(opts.blue), health: '/health' },
      green: { servers: servers(opts.green), health: '/health' },
    },
    nginx: {
      driver: 'local',
      dir: 'nginx',
      // BGCTL_TEST_NGINX picks another nginx build; the default is the one on PATH
      binary: process.env['BGCTL_TEST_NGINX'] ?? 'nginx',
      confirmTimeoutMs: 5000,
      // the same path on every machine (auto would pick dynamic where the njs module is installed):
      // dynamic mode has tests of its own (test/integration/dynamic-*.test.ts)
      mode: 'reload',
    },
    probe: { intervalMs: 200, timeoutMs: 1000, waitHealthySeconds: 10 },
    // most tests send no traffic through NGINX: steps are judged on health alone unless a test sets minRequests
    thresholds: { errorRate: 0.05, errorRateForSeconds: 0, p95LatencyMs: 1000, latencyForSeconds: 0, minRequests: 0 },
    migration: { steps: [50, 100], stepSeconds: 1, strategy: 'weighted', maxExtendSeconds: 5 },
    stateDir: 'state',
  };
  return deepMerge(base, opts.overrides ?? {});
}

/** Writes the fixture config into dir and returns its absolute path. */
export async function writeConfig(dir: string, opts: FixtureOptions): Promise<string> {
  const file = path.join(dir, opts.file ?? 'bgctl.yaml');
  const config = fixtureConfig(opts);
  const text = file.endsWith('.json') ? `${JSON.stringify(config, null, 2)}\n` : stringify(config);
  await writeFile(file, text);
  return file;
}

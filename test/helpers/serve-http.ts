import { request } from 'node:http';
import { spawnCli, waitForOutput, type CliProcess } from './cli.js';
import { freePorts } from './ports.js';

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  /** the body parsed as JSON (throws with the text when it is not JSON); tests check its shape */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json<T = Record<string, any>>(): T;
}

/**
 * One HTTP/1.1 request with node:http, on a fresh connection: any header may be set, Host included
 * (fetch forbids that, and the DNS-rebinding tests need it).
 */
export function http(
  url: string,
  o: { method?: string; headers?: Record<string, string>; body?: string | Buffer; timeoutMs?: number } = {},
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: o.method ?? 'GET', headers: o.headers ?? {}, agent: false, timeout: o.timeoutMs ?? 30_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text,
            json<T>() {
              try {
                return JSON.parse(text) as T;
              } catch {
                throw new Error(`not JSON (HTTP ${res.statusCode}): ${text.slice(0, 500)}`);
              }
            },
          });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${o.method ?? 'GET'} ${url}: no answer within ${o.timeoutMs ?? 30_000} ms`)));
    req.on('error', reject);
    req.end(o.body);
  });
}

/** A running `bgctl serve` child process of a test (see startServeProcess). */
export interface ServeProcess {
  readonly api: string;
  readonly monitor: string;
  readonly proc: CliProcess;
  /** SIGTERM and wait: the exit code (130 after a graceful shutdown) */
  stop(): Promise<number>;
}

/** Starts `bgctl serve` on free loopback ports in `dir` (the sandbox's config) and waits until it listens. */
export async function startServeProcess(
  dir: string,
  args: readonly string[] = [],
  env: Record<string, string> = {},
): Promise<ServeProcess> {
  const [apiPort, monitorPort] = await freePorts(2);
  const proc = spawnCli(['serve', '--api-port', String(apiPort), '--monitor-port', String(monitorPort), ...args], {
    cwd: dir,
    env,
    timeoutMs: 600_000,
  });
  await waitForOutput(proc, /monitoring\s+http:\/\/\S+/, 20_000);
  let stopped: Promise<number> | null = null;
  return {
    api: `http://127.0.0.1:${apiPort}`,
    monitor: `http://127.0.0.1:${monitorPort}`,
    proc,
    stop() {
      stopped ??= (async () => {
        if (proc.exitCode === null) proc.kill('SIGTERM');
        const r = await proc;
        return r.exitCode ?? -1;
      })();
      return stopped;
    },
  };
}

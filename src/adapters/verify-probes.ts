import { access, readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { request } from 'undici';
import type { BackupInfo, HttpAnswer, LoadRun, VerifyProbes } from '../app/verify-model.js';
import { startTraffic } from './load.js';
import { nginxLayout } from './nginx/files.js';
import { describeError } from './probe.js';
import { FileStateStore, parseStateText } from './state-store.js';

/** The real outside world of `bgctl verify`: HTTP on fresh connections, a bounded load, bgctl's files. */

const BODY_CAP = 256 * 1024;

/** The NGINX front as bgctl reaches it: on loopback, whatever address it binds (see wire.ts). */
export function frontUrl(listenAddress: string, port: number): string {
  const host = listenAddress.startsWith('127.')
    ? listenAddress
    : listenAddress === '[::1]' || listenAddress === '[::]'
      ? '[::1]'
      : '127.0.0.1';
  return `http://${host}:${port}`;
}

async function get(url: string, timeoutMs: number): Promise<HttpAnswer> {
  const started = performance.now();
  const ms = (): number => performance.now() - started;
  try {
    const res = await request(url, {
      method: 'GET',
      reset: true, // a fresh connection each time: what a new client gets now, not a pooled socket
      headers: { accept: 'application/json', 'user-agent': 'bgctl-verify' },
      signal: AbortSignal.timeout(timeoutMs),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    let body = '';
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      if (body.length < BODY_CAP) body += chunk.toString('utf8');
    }
    const c = res.headers['x-bgctl-color'];
    const color = (Array.isArray(c) ? c[0] : c) ?? null;
    return { status: res.statusCode, color, body, ms: ms(), error: null, refused: false };
  } catch (e) {
    const error = describeError(e, timeoutMs);
    return { status: null, color: null, body: '', ms: ms(), error, refused: error === 'connection refused' };
  }
}

function load(o: { url: string; connections: number; maxSeconds: number }): LoadRun {
  const gen = startTraffic({
    url: o.url,
    connections: o.connections,
    keepAlive: true,
    maxSeconds: o.maxSeconds,
    pauseMs: 5,
    timeoutMs: 5000,
  });
  return { stats: () => gen.stats(), stop: () => gen.stop() };
}

export function createVerifyProbes(o: { nginxDir: string; stateDir: string }): VerifyProbes {
  const store = new FileStateStore(o.stateDir);
  return {
    get,
    load,
    async liveSite() {
      try {
        return await readFile(nginxLayout(o.nginxDir).site, 'utf8');
      } catch {
        return null;
      }
    },
    async stateFileExists() {
      return access(store.path).then(
        () => true,
        () => false,
      );
    },
    async stateBackup(): Promise<BackupInfo> {
      const path = store.backupPath;
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        return code === 'ENOENT'
          ? { path, status: 'missing', detail: 'missing' }
          : { path, status: 'invalid', detail: `cannot be read: ${(e as Error).message}` };
      }
      const parsed = parseStateText(text);
      return parsed.ok
        ? { path, status: 'valid', detail: `parses (the previous state: revision ${parsed.state.revision}, stable ${parsed.state.stable})` }
        : { path, status: 'invalid', detail: parsed.why };
    },
  };
}

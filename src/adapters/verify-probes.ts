import { access, readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { Agent, request } from 'undici';
import type { BackupInfo, HttpAnswer, LoadRun, VerifyProbes } from '../app/verify-model.js';
import { startTraffic } from './load.js';
import type { Config } from '../config/schema.js';
import { OWN_LAYOUT, SYSTEM_LAYOUT } from '../render/layout.js';
import { nginxLayout } from './nginx/files.js';
import { describeError } from './probe.js';
import { FileStateStore, parseStateText } from './state-store.js';

/** The real outside world of `bgctl verify`: HTTP on fresh connections, a bounded load, bgctl's files. */

const BODY_CAP = 256 * 1024;

/** The NGINX front as bgctl reaches it: on loopback, whatever address it binds (see wire.ts); https when it speaks TLS. */
export function frontUrl(config: Config): string {
  const system = config.nginx.driver === 'system';
  const a = config.listenAddress;
  const host = system ? '127.0.0.1' : a.startsWith('127.') ? a : a === '[::1]' || a === '[::]' ? '[::1]' : '127.0.0.1';
  const https = system ? config.nginx.listenTls : config.tls !== null;
  return `${https ? 'https' : 'http'}://${host}:${config.listen}`;
}

/** The Host (and SNI) the front is asked with: a system NGINX's server block is chosen by name. */
const serverNameOf = (config: Config): string | null => (config.nginx.driver === 'system' ? config.nginx.serverName : null);

async function get(url: string, timeoutMs: number, serverName: string | null, dispatcher: Agent | undefined): Promise<HttpAnswer> {
  const started = performance.now();
  const ms = (): number => performance.now() - started;
  try {
    const res = await request(url, {
      method: 'GET',
      reset: true, // a fresh connection each time: what a new client gets now, not a pooled socket
      headers: { accept: 'application/json', 'user-agent': 'bgctl-verify', ...(serverName ? { host: serverName } : {}) },
      ...(dispatcher ? { dispatcher } : {}),
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

function load(o: { url: string; connections: number; maxSeconds: number }, serverName: string | null): LoadRun {
  const gen = startTraffic({
    url: o.url,
    ...(serverName ? { host: serverName } : {}),
    ...(o.url.startsWith('https:') ? { tls: { insecure: true, servername: serverName } } : {}),
    connections: o.connections,
    keepAlive: true,
    maxSeconds: o.maxSeconds,
    pauseMs: 5,
    timeoutMs: 5000,
  });
  return { stats: () => gen.stats(), stop: () => gen.stop() };
}

export function createVerifyProbes(config: Config): VerifyProbes {
  const store = new FileStateStore(config.stateDir);
  const serverName = serverNameOf(config);
  // NGINX's own loopback port: its certificate names the public host, so it is not checked
  const insecure = frontUrl(config).startsWith('https:')
    ? new Agent({ connect: { rejectUnauthorized: false, ...(serverName ? { servername: serverName } : {}) } })
    : undefined;
  const files = config.nginx.driver === 'system' ? SYSTEM_LAYOUT : OWN_LAYOUT;
  return {
    get: (url, timeoutMs) => get(url, timeoutMs, serverName, insecure),
    load: (o) => load(o, serverName),
    /** the live routing config: bgctl's site; a system NGINX's two includes (the upstreams are in http.conf) */
    async liveSite() {
      const l = nginxLayout(config.nginx.dir, null, files);
      try {
        const site = await readFile(l.site, 'utf8');
        return files === SYSTEM_LAYOUT ? `${await readFile(l.main, 'utf8')}\n${site}` : site;
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

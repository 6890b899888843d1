/**
 * The demo's deploy command: `node dist/demo/deploy-hook.js <color> <version>`.
 * Tells the demo backend of that color (port from env BGCTL_DEMO_PORTS="blue=8081,green=8082")
 * to serve a new version, the way a real deploy would replace the app. Exit 0 when it did, else 1.
 */
import { Client } from 'undici';
import { parseColor, parseVersion } from '../core/color.js';
import { DEMO_PORTS_ENV, parseDemoPorts } from './backend.js';

async function run(argv: readonly string[]): Promise<void> {
  const [colorArg, versionArg, ...rest] = argv;
  if (colorArg === undefined || versionArg === undefined || rest.length > 0) throw new Error('usage: deploy-hook <color> <version>');
  const color = parseColor(colorArg, 'color');
  const version = parseVersion(versionArg, 'version');
  const port = parseDemoPorts(process.env[DEMO_PORTS_ENV])[color];
  if (port === undefined) throw new Error(`${DEMO_PORTS_ENV} has no port for ${color}`);

  // A dedicated client closed at the end: a pooled keep-alive socket would keep this process alive.
  const client = new Client(`http://127.0.0.1:${port}`, { headersTimeout: 5000, bodyTimeout: 5000, connectTimeout: 5000 });
  try {
    const res = await client.request({ method: 'POST', path: `/__demo/deploy?version=${encodeURIComponent(version)}` });
    const body = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`backend ${color} at 127.0.0.1:${port} answered ${res.statusCode}: ${body.trim()}`);
    process.stdout.write(`deployed ${version} to ${color} (127.0.0.1:${port})\n`);
  } finally {
    await client.close();
  }
}

run(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`deploy-hook: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});

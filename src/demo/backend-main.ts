/**
 * One demo backend as its own process, so tests and `bgctl demo` can kill -9 it like a real app:
 *   node dist/demo/backend-main.js --color blue --version 1.0.0 --port 8081 [--host 127.0.0.1] [--latency-ms 2]
 * Prints exactly one line to stdout once it accepts connections:
 *   listening http://127.0.0.1:8081 color=blue version=1.0.0
 */
import { parseArgs } from 'node:util';
import { startDemoBackend } from './backend.js';

function parsePort(value: string | undefined, flag: string): number {
  if (value === undefined) return 0;
  const n = Number(value);
  if (!/^\d{1,5}$/.test(value) || n > 65535) throw new Error(`${flag}: ${JSON.stringify(value)} is not a port (0-65535)`);
  return n;
}

async function run(): Promise<void> {
  const { values } = parseArgs({
    options: {
      color: { type: 'string' },
      version: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      'latency-ms': { type: 'string', default: '2' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.color === undefined || values.version === undefined) throw new Error('--color and --version are required');
  const latencyMs = parsePort(values['latency-ms'], '--latency-ms');
  const backend = await startDemoBackend({
    color: values.color,
    version: values.version,
    host: values.host,
    port: parsePort(values.port, '--port'),
    latencyMs,
  });
  process.stdout.write(`listening ${backend.url} color=${backend.color} version=${backend.version}\n`);

  const shutdown = (): void => {
    // A second signal while closing must not restart the close; the process ends when the loop is empty.
    process.off('SIGTERM', shutdown);
    process.off('SIGINT', shutdown);
    void backend.close();
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

run().catch((error: unknown) => {
  process.stderr.write(`backend: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 2;
});

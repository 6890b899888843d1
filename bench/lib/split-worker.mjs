/**
 * Many distinct clients, each keeping its own bgctl_bucket cookie, multiplexed over a few keep-alive
 * connections: the load of the split-accuracy case. Run as its own process (like load-worker.mjs).
 *
 *   node bench/lib/split-worker.mjs --url http://127.0.0.1:PORT/load --clients 1000 --connections 8 --max-seconds 60
 *
 * Client i sends `User-Agent: bench-client-i` (NGINX's sticky hash is over address + user agent, and
 * every client here has 127.0.0.1) and, once it got one, its `bgctl_bucket` cookie, like a browser.
 * Clients take turns: each connection sends the next client's request as soon as its previous answer
 * is in. Protocol: prints "ready"; "stop" (or stdin closing) stops and prints one JSON line
 * { clients, records: [[sentAt, doneAt, client, color], ...] } (epoch ms; color 0 blue, 1 green,
 * 2 other, 3 failed), then exits.
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    clients: { type: 'string', default: '1000' },
    connections: { type: 'string', default: '8' },
    'max-seconds': { type: 'string', default: '120' },
  },
});
const url = new URL(values.url ?? '');
if (url.hostname !== '127.0.0.1') throw new Error(`split-worker: refusing non-loopback URL ${url.href}`);
const clients = Number(values.clients);
const connections = Number(values.connections);
const MAX_RECORDS = 2_000_000;

const agent = new Agent({ connections, pipelining: 1 });
const abort = new globalThis.AbortController();
const jar = new Array(clients).fill(null); // each client's bgctl_bucket value, once NGINX set it
const records = [];
const epoch = () => Math.round((performance.timeOrigin + performance.now()) * 10) / 10;
let next = 0;

const COLOR = { blue: 0, green: 1 };
async function once(client) {
  const sentAt = epoch();
  const headers = { 'user-agent': `bench-client-${client}` };
  if (jar[client] !== null) headers.cookie = `bgctl_bucket=${jar[client]}`;
  try {
    const res = await request(url, { dispatcher: agent, headers, signal: abort.signal, headersTimeout: 5000, bodyTimeout: 5000 });
    await res.body.dump();
    const cookie = [res.headers['set-cookie']].flat().find((c) => typeof c === 'string' && /^bgctl_bucket=\d+/.test(c));
    if (cookie) jar[client] = /^bgctl_bucket=(\d+)/.exec(cookie)[1];
    const color = res.statusCode >= 200 && res.statusCode < 300 ? (COLOR[res.headers['x-bgctl-color']] ?? 2) : 3;
    if (records.length < MAX_RECORDS) records.push([sentAt, epoch(), client, color]);
  } catch {
    if (!abort.signal.aborted && records.length < MAX_RECORDS) records.push([sentAt, epoch(), client, 3]);
  }
}

async function loop() {
  while (!abort.signal.aborted) await once(next++ % clients);
}

const workers = Promise.all(Array.from({ length: connections }, loop));
const limit = setTimeout(() => abort.abort(), Number(values['max-seconds']) * 1000);
process.stdout.write('ready\n');

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  abort.abort();
  clearTimeout(limit);
  await workers;
  await agent.destroy().catch(() => undefined);
  // a pipe takes 64 KiB at once: exit only once all of it is written
  process.stdout.write(`${JSON.stringify({ clients, records })}\n`, () => process.exit(0));
}
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (line.trim() === 'stop') void stop();
});
lines.on('close', () => void stop());
void workers.then(() => stop());

import { describe, expect, it } from 'vitest';
import { addLine, addressColors, countLine, LineSplitter, parseLogLine, type AddressColors } from '../../src/adapters/traffic-log.js';
import type { TrafficDelta } from '../../src/core/metrics.js';
import { DeltaBuilder } from '../../src/core/traffic.js';

// blue: two IPv4 servers and one IPv6; green: one IPv4, one IPv6 written long-hand, one hostname
const servers = {
  blue: ['127.0.0.1:8081', '127.0.0.1:8083', '[::1]:9001'],
  green: ['127.0.0.1:8082', '[0:0:0:0:0:0:0:1]:9002', 'app-green:80'],
};
const addrs: AddressColors = addressColors(servers);

/** A line as NGINX writes it with log_format bgctl_json (nginx/templates/site.conf.hbs). */
const line = (fields: Record<string, unknown>): string =>
  JSON.stringify({
    time: '2025-06-01T12:00:00+00:00',
    msec: 1748779200.123,
    status: 200,
    upstream_status: '200',
    request_time: 0.004,
    upstream_response_time: '0.004',
    upstream_addr: '127.0.0.1:8081',
    color: 'blue',
    method: 'GET',
    uri: '/',
    request_id: 'r1',
    ...fields,
  });

function deltaOf(...lines: string[]): TrafficDelta {
  const b = new DeltaBuilder();
  for (const l of lines) countLine(l, addrs, b);
  return b.take();
}

/** [requests, errors] per color, the client's [requests, failures], and unattributed: what a user reads first. */
const summary = (d: TrafficDelta) => ({
  blue: [d.colors.blue.requests, d.colors.blue.errors],
  green: [d.colors.green.requests, d.colors.green.errors],
  client: [d.client.requests, d.client.failures],
  unattributed: d.unattributed,
});

describe('parseLogLine', () => {
  it('reads one attempt: its color from the address, latency in ms, time in epoch ms', () => {
    expect(parseLogLine(line({ upstream_response_time: '0.137' }), addrs)).toEqual({
      atMs: 1748779200123,
      status: 200,
      color: 'blue',
      attempts: [{ color: 'blue', failed: false, latencyMs: 137 }],
      forced: false,
    });
  });

  it('pairs retries (", ") by position: a dead green server, then blue answered', () => {
    const p = parseLogLine(
      line({
        upstream_addr: '127.0.0.1:8082, 127.0.0.1:8083',
        upstream_status: '502, 200',
        upstream_response_time: '0.001, 0.020',
        color: 'blue',
      }),
      addrs,
    );
    expect(p?.attempts).toEqual([
      { color: 'green', failed: true, latencyMs: 1 },
      { color: 'blue', failed: false, latencyMs: 20 },
    ]);
  });

  it('pairs internal redirects (" : ") and mixed separators by position', () => {
    const p = parseLogLine(
      line({
        upstream_addr: '127.0.0.1:8082, [::1]:9002 : 127.0.0.1:8081',
        upstream_status: '504, 503 : 200',
        upstream_response_time: '5.000, 0.002 : 0.003',
      }),
      addrs,
    );
    expect(p?.attempts).toEqual([
      { color: 'green', failed: true, latencyMs: 5000 },
      { color: 'green', failed: true, latencyMs: 2 },
      { color: 'blue', failed: false, latencyMs: 3 },
    ]);
  });

  it('knows IPv6 servers as NGINX logs them, also when configured long-hand', () => {
    const attempts = (addr: string) => parseLogLine(line({ upstream_addr: addr, color: '' }), addrs)?.attempts.map((a) => a.color);
    expect(attempts('[::1]:9001')).toEqual(['blue']);
    expect(attempts('[::1]:9002')).toEqual(['green']);
    expect(attempts('[::1]:9003')).toEqual([null]);
  });

  it("attributes an upstream's name (no live server in it) to that upstream's color", () => {
    const p = parseLogLine(
      line({ upstream_addr: 'bgctl_green : 127.0.0.1:8081', upstream_status: '502 : 200', upstream_response_time: '0.000 : 0.004' }),
      addrs,
    );
    expect(p?.attempts.map((a) => [a.color, a.failed])).toEqual([
      ['green', true],
      ['blue', false],
    ]);
  });

  it("falls back to the line's color for a lone unknown address only", () => {
    // a hostname-configured server is logged by IP; bgctl_split is the shared weighted upstream
    const one = (addr: string, color: string) => parseLogLine(line({ upstream_addr: addr, color }), addrs)?.attempts[0]?.color;
    expect(one('10.0.0.7:80', 'green')).toBe('green');
    expect(one('bgctl_split', 'blue')).toBe('blue');
    expect(one('10.0.0.7:80', '')).toBeNull();
    const two = parseLogLine(
      line({
        upstream_addr: 'bgctl_split, 10.0.0.7:80',
        upstream_status: '502, 200',
        upstream_response_time: '0.000, 0.001',
        color: 'green',
      }),
      addrs,
    );
    expect(two?.attempts.map((a) => a.color)).toEqual([null, null]);
  });

  it('takes "-" and missing times as unknown latency', () => {
    const p = parseLogLine(
      line({ upstream_addr: '127.0.0.1:8082, 127.0.0.1:8081', upstream_status: '504, 200', upstream_response_time: '-' }),
      addrs,
    );
    expect(p?.attempts).toEqual([
      { color: 'green', failed: true, latencyMs: null },
      { color: 'blue', failed: false, latencyMs: null },
    ]);
  });

  it('accepts numbers written as strings', () => {
    const p = parseLogLine(line({ status: '503', msec: '1748779200.5', upstream_status: 503 }), addrs);
    expect(p).toMatchObject({ status: 503, atMs: 1748779200500, attempts: [{ failed: true }] });
  });

  it('returns null for blank and malformed lines', () => {
    for (const bad of ['', '   ', '{"status":200', 'null', '42', '"text"', '[1,2]', line({ status: 'oops' }), line({ status: null })]) {
      expect(parseLogLine(bad, addrs)).toBeNull();
    }
  });
});

describe('countLine into a DeltaBuilder', () => {
  it('a final 200 after a 502 attempt is a green error but no client failure', () => {
    const d = deltaOf(
      line({
        upstream_addr: '127.0.0.1:8082 : 127.0.0.1:8081',
        upstream_status: '502 : 200',
        upstream_response_time: '0.001 : 0.004',
        color: 'blue',
      }),
    );
    expect(summary(d)).toEqual({ blue: [1, 0], green: [1, 1], client: [1, 0], unattributed: 0 });
  });

  it('leaves out forced requests (testers, bgctl probes): they did not follow the weights', () => {
    const forced = line({ upstream_addr: '127.0.0.1:8082', upstream_status: '500', status: 500, color: 'green', forced: 'green' });
    expect(parseLogLine(forced, addrs)?.forced).toBe(true);
    expect(summary(deltaOf(forced))).toEqual({ blue: [0, 0], green: [0, 0], client: [0, 0], unattributed: 0 });
    const routed = line({ upstream_addr: '127.0.0.1:8082', upstream_status: '500', status: 500, color: 'green', forced: '' });
    expect(summary(deltaOf(routed))).toEqual({ blue: [0, 0], green: [1, 1], client: [1, 1], unattributed: 0 });
  });

  it('a 5xx the client got is a failure, and an error of every color that answered it', () => {
    const d = deltaOf(
      line({
        status: 502,
        upstream_addr: '127.0.0.1:8082, bgctl_green',
        upstream_status: '502, 502',
        upstream_response_time: '0.001, 0.000',
        color: 'green',
      }),
      line({ status: 500, upstream_status: '500' }),
      line({ status: 404, upstream_status: '404' }),
    );
    expect(summary(d)).toEqual({ blue: [2, 1], green: [2, 2], client: [3, 2], unattributed: 0 });
  });

  it('counts a colored line without an attempt (NGINX answered itself) for the client only', () => {
    const d = deltaOf(line({ status: 502, upstream_addr: '-', upstream_status: '-', upstream_response_time: '-', color: 'green' }));
    expect(summary(d)).toEqual({ blue: [0, 0], green: [0, 0], client: [1, 1], unattributed: 0 });
  });

  it('ignores lines with neither a color nor an attempt (internal locations)', () => {
    const d = deltaOf(line({ status: 500, upstream_addr: '-', upstream_status: '-', upstream_response_time: '-', color: '' }));
    expect(summary(d)).toEqual({ blue: [0, 0], green: [0, 0], client: [0, 0], unattributed: 0 });
  });

  it('counts malformed lines and unattributable attempts as unattributed, skips blank lines', () => {
    const d = deltaOf(
      '',
      'not json',
      '{"status":',
      'null',
      line({ upstream_addr: '10.9.9.9:80, 127.0.0.1:8081', upstream_status: '502, 200' }),
    );
    expect(summary(d)).toEqual({ blue: [1, 0], green: [0, 0], client: [1, 0], unattributed: 4 });
  });

  it('records latency and first/last time per color', () => {
    const b = new DeltaBuilder();
    const lines = [
      line({ msec: 1000.25, upstream_response_time: '0.010' }),
      line({ msec: 1002.5, upstream_response_time: '0.030' }),
      line({ msec: 1001, upstream_response_time: '-' }),
    ];
    for (const l of lines) {
      const p = parseLogLine(l, addrs);
      if (p) addLine(p, b);
    }
    const blue = b.take().colors.blue;
    expect(blue).toMatchObject({ requests: 3, firstAt: 1000250, lastAt: 1002500 });
    expect([blue.latency.total, blue.latency.max]).toEqual([2, 30]);
  });
});

describe('addressColors', () => {
  it('maps every configured form, and adds the IPv4-in-IPv6 form NGINX prints', () => {
    const m = addressColors({ blue: ['[::FFFF:127.0.0.1]:8081'], green: ['[fd00:0:0:0::a]:80', 'app:80'] });
    expect(m.get('[::ffff:127.0.0.1]:8081')).toBe('blue');
    expect(m.get('[fd00::a]:80')).toBe('green');
    expect(m.get('app:80')).toBe('green');
  });

  it('leaves an address configured for both colors unattributed', () => {
    const m = addressColors({ blue: ['127.0.0.1:80'], green: ['127.0.0.1:80', '127.0.0.1:81'] });
    expect(m.has('127.0.0.1:80')).toBe(false);
    expect(m.get('127.0.0.1:81')).toBe('green');
  });
});

describe('LineSplitter', () => {
  it('keeps a line split inside a UTF-8 character until its end arrives', () => {
    const text = `${line({ uri: '/caf\u00e9/\u{1F600}' })}\n`;
    const bytes = Buffer.from(text);
    const cut = bytes.indexOf(Buffer.from('\u{1F600}')) + 2; // in the middle of the 4-byte emoji
    const s = new LineSplitter();
    expect(s.push(bytes.subarray(0, cut))).toEqual({ lines: [], dropped: 0 });
    const { lines } = s.push(bytes.subarray(cut));
    expect(lines).toEqual([text.slice(0, -1)]);
    expect(parseLogLine(lines[0] ?? '', addrs)?.status).toBe(200);
  });

  it('splits many lines per chunk and CRLF endings', () => {
    const s = new LineSplitter();
    expect(s.push(Buffer.from('a\r\nb\nc')).lines).toEqual(['a\r', 'b']);
    expect(s.push(Buffer.from('\n')).lines).toEqual(['c']);
  });

  it('does not copy a reused read buffer by reference', () => {
    const s = new LineSplitter();
    const buf = Buffer.from('abc');
    s.push(buf);
    buf.write('xyz');
    expect(s.push(Buffer.from('\n')).lines).toEqual(['abc']);
  });

  it('drops a line over 1 MiB once, then reads the next line normally', () => {
    const s = new LineSplitter();
    const big = Buffer.alloc(600 * 1024, 0x61);
    expect(s.push(big).dropped).toBe(0);
    expect(s.push(big).dropped).toBe(1); // 1.2 MiB without a newline
    expect(s.push(big)).toEqual({ lines: [], dropped: 0 }); // still the same line
    expect(s.push(Buffer.from('aaa\nnext\n'))).toEqual({ lines: ['next'], dropped: 0 });
  });
});

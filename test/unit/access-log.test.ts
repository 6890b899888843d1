import { describe, expect, it } from 'vitest';
import { countLine, countLines, emptyCounts, subtractSample } from '../../src/adapters/access-log.js';

const line = (fields: Record<string, unknown>): string =>
  JSON.stringify({
    time: '2025-01-01T00:00:00+00:00',
    msec: 1,
    upstream_status: '200',
    request_time: 0.001,
    upstream_response_time: '0.001',
    upstream_addr: '127.0.0.1:8081',
    method: 'GET',
    uri: '/',
    request_id: 'x',
    ...fields,
  });

describe('countLine', () => {
  it('counts requests and 5xx per color', () => {
    const c = countLines(
      [
        line({ color: 'blue', status: 200 }),
        line({ color: 'green', status: 500 }),
        line({ color: 'green', status: 404 }),
        line({ color: 'green', status: 599 }),
        line({ color: 'blue', status: 302 }),
      ].join('\n'),
    );
    expect(c.requests).toEqual({ blue: 2, green: 3 });
    expect(c.errors).toEqual({ blue: 0, green: 2 });
  });

  it("counts NGINX's own 502/504 as errors of the logged color", () => {
    const c = emptyCounts();
    countLine(line({ color: 'green', status: 502, upstream_status: '502' }), c);
    countLine(line({ color: 'green', status: 504, upstream_status: '-', upstream_response_time: '-' }), c);
    expect(c.errors.green).toBe(2);
    expect(c.requests.green).toBe(2);
  });

  it('accepts a numeric status written as a string', () => {
    const c = emptyCounts();
    countLine(line({ color: 'blue', status: '503' }), c);
    expect(c.errors.blue).toBe(1);
  });

  it('ignores lines without a color, blank lines, and counts garbage as malformed', () => {
    const c = countLines(
      ['', '   ', line({ color: '', status: 500 }), line({ color: 'red', status: 200 }), '{"color":"blue"', 'null', '42'].join('\n'),
    );
    expect(c.requests).toEqual({ blue: 0, green: 0 });
    expect(c.errors).toEqual({ blue: 0, green: 0 });
    expect(c.malformed).toBe(3);
  });

  it('handles CRLF line endings', () => {
    const c = countLines(`${line({ color: 'blue', status: 200 })}\r\n${line({ color: 'blue', status: 500 })}\r\n`);
    expect(c.requests.blue).toBe(2);
    expect(c.errors.blue).toBe(1);
  });
});

describe('subtractSample', () => {
  it('gives the window between two cumulative samples', () => {
    const a = { requests: { blue: 5, green: 1 }, errors: { blue: 0, green: 1 }, readable: true };
    const b = { requests: { blue: 9, green: 4 }, errors: { blue: 1, green: 1 }, readable: true };
    expect(subtractSample(b, a)).toEqual({ requests: { blue: 4, green: 3 }, errors: { blue: 1, green: 0 }, readable: true });
  });
});

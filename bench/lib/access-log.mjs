/**
 * The sandbox NGINX's JSON access log, read with bgctl's own parser (dist/adapters/traffic-log.js),
 * and a migration's timeline drawn with bgctl's own chart code (dist/report/*): what the bench knows
 * about the moment a failure began, and the pictures it writes.
 */
import { createReadStream } from 'node:fs';
import { stat, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { countAccessLogSpan } from '../../dist/adapters/access-log-span.js';
import { addressColors, parseLogLine } from '../../dist/adapters/traffic-log.js';
import { renderTimelineSvg } from '../../dist/report/timeline-svg.js';
import { migrationSpan, migrationTimeline, TimelineCounter } from '../../dist/report/timeline.js';

const serversOf = (box) => ({ blue: [`127.0.0.1:${box.blue.port}`], green: [`127.0.0.1:${box.green.port}`] });

/** The log's size now: read from here later to see only what came after. */
export async function logOffset(box) {
  return (await stat(box.accessLog).catch(() => ({ size: 0 }))).size;
}

/** Calls fn(parsedLine) for every line appended since `offset`, in order; stops early when fn returns true. */
export async function scanLog(box, offset, fn) {
  const colors = addressColors(serversOf(box));
  const input = createReadStream(box.accessLog, { start: offset, encoding: 'utf8' });
  const lines = createInterface({ input, crlfDelay: Infinity });
  try {
    for await (const line of lines) {
      const parsed = parseLogLine(line, colors);
      if (parsed && fn(parsed)) break;
    }
  } finally {
    lines.close();
    input.destroy();
  }
}

/** Draws a migration (a record from `bgctl history --json`) from the sandbox's log, with extra markers; writes FILE. */
export async function writeTimeline(box, migration, file, extraMarkers = []) {
  const span = migrationSpan(migration, Date.now());
  const counter = new TimelineCounter(span.fromMs, span.toMs, span.bucketMs);
  await countAccessLogSpan(box.accessLog, serversOf(box), counter);
  await writeFile(file, renderTimelineSvg(migrationTimeline(migration, counter, extraMarkers)));
  return { file, requests: counter.counted };
}

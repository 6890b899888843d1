import type { Color } from '../core/color.js';
import type { TrafficRead } from '../core/metrics.js';
import { DeltaBuilder } from '../core/traffic.js';
import { countAccessLogSpan } from './access-log-span.js';
import { addLine } from './log-line.js';

/**
 * What the access log (and its rotated copy) recorded from `fromMs` to `toMs`, counted like the
 * analysis counts a step: forced lines left out, attempts per color. For `status`: the last window.
 */
export async function readLogWindow(
  log: string,
  servers: Readonly<Record<Color, readonly string[]>>,
  fromMs: number,
  toMs: number,
): Promise<TrafficRead> {
  const builder = new DeltaBuilder();
  try {
    const { files } = await countAccessLogSpan(log, servers, { fromMs, toMs, add: (line) => addLine(line, builder) });
    if (files.length === 0) return { delta: builder.take(), readable: false, problem: `no access log at ${log} yet` };
    return { delta: builder.take(), readable: true, problem: null };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error instanceof Error ? error.message : String(error));
    return { delta: builder.take(), readable: false, problem: `cannot read the access log ${log}: ${code}` };
  }
}

import type { ProgressEvent, Reporter } from '../app/ports.js';
import type { Color } from '../core/color.js';
import type { WindowFigures } from '../core/metrics.js';
import { formatWeights } from '../core/weights.js';

/**
 * A migration's progress as text, for a terminal or a CI log: what the CLI prints while a command
 * runs and what wire.ts gives the app as its Reporter. Writes only to the streams it is given.
 */

export interface Streams {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

const pad = (s: string, n: number): string => (s.length >= n ? s : s + ' '.repeat(n - s.length));

/** Human progress: one line per event; in a terminal the observation line is redrawn in place. */
export function createReporter(streams: Streams, json: boolean, events: ProgressEvent[] = []): Reporter {
  const out = json ? streams.stderr : streams.stdout;
  const live = !json && Boolean(streams.stdout.isTTY);
  let redraw = false;
  // without a terminal to redraw in, observation lines are kept to one a second (CI logs stay readable)
  let lastObserveLine = 0;
  const write = (text: string, inPlace = false): void => {
    // a redrawn line is replaced by the next redraw, and kept (finished) before any other line
    if (live && redraw) out.write(inPlace ? '\r\x1b[K' : '\n');
    out.write(inPlace && live ? text : `${text}\n`);
    redraw = inPlace && live;
  };
  return {
    event(e) {
      events.push(e);
      if (json) return; // --json: the final document carries everything; logs stay on stderr
      if (e.type === 'observe' && !live && e.verdict !== 'breach') {
        const now = Date.now();
        if (now - lastObserveLine < 1000) return;
        lastObserveLine = now;
      }
      const text = formatEvent(e);
      if (text) write(text, e.type === 'observe');
    },
  };
}

export function formatEvent(e: ProgressEvent): string | null {
  switch (e.type) {
    case 'plan':
      return `${pad('plan', 12)}${e.migration}: ${e.from} → ${e.to} in steps ${e.steps.map((s) => `${s}%`).join(' → ')}`;
    case 'preflight':
      return `${pad('pre-flight', 12)}${e.ok ? 'ok  ' : 'FAIL'}  ${e.check}${e.detail ? `: ${e.detail}` : ''}`;
    case 'deploy':
      return `${pad('deploy', 12)}${e.phase === 'start' ? 'running the deploy hook for' : 'healthy:'} ${e.color} ${e.version}`;
    case 'step':
      return `${pad(`step ${e.index + 1}/${e.total}`, 12)}${pad(e.phase, 10)}${formatWeights(e.weights)}${e.reason ? ` — ${e.reason}` : ''}`;
    case 'observe': {
      const s = (ms: number): string => (ms / 1000).toFixed(1);
      const health = e.health === null ? 'health …' : `health ${e.health ? 'ok' : 'FAILING'}`;
      const traffic = e.figures ? formatFigures(e.figures) : '';
      const note = e.note ? `  [${observeNote(e.verdict, e.note, e.elapsedMs > e.totalMs)}]` : '';
      const extra = e.elapsedMs > e.totalMs ? ` +${s(e.elapsedMs - e.totalMs)} s extended` : '';
      return `${pad(`step ${e.index + 1}`, 12)}${pad('observe', 10)}${s(Math.min(e.elapsedMs, e.totalMs))}/${s(e.totalMs)} s${extra}  ${health}  ${traffic}${note}`;
    }
    case 'notice':
      return `${pad('note', 12)}${e.message}`;
    case 'rollback':
      return `${pad('ROLLBACK', 12)}→ ${formatWeights(e.weights)}: ${e.reason}`;
    case 'done':
      return `${pad('done', 12)}${e.outcome}`;
  }
}

/**
 * What an observation note means: a window with too few requests judges nothing (the step is judged
 * on all its requests when its time is up), so it says it waits for traffic and what helps.
 */
function observeNote(verdict: string | null, note: string, extended: boolean): string {
  if (verdict === 'watching') return `watching: ${note}`;
  if (verdict !== 'insufficient') return note;
  if (/^access log unreadable/.test(note)) return `cannot judge traffic: ${note}`;
  const help = 'send traffic through NGINX, enable migration.warmup, or lower thresholds.minRequests';
  return `waiting for traffic: ${note}${extended ? `; the step cannot pass without it: ${help}` : ` (the step is judged on all its requests at the end; if it stays quiet: ${help})`}`;
}

const pct = (rate: number | null): string => (rate === null ? '–' : `${(rate * 100).toFixed(rate > 0 && rate < 0.001 ? 2 : 1)}%`);
const ms = (v: number | null): string => (v === null ? '–' : `${v < 10 ? v.toFixed(1) : Math.round(v)} ms`);

/** `green 214 req 5xx 31.0% p95 12 ms · blue 640 req 5xx 0.0% p95 9 ms (last 10.0 s)` */
export function formatFigures(f: WindowFigures): string {
  const one = (c: Color): string => {
    const x = f.colors[c];
    return `${c} ${x.requests} req 5xx ${pct(x.errorRate)} p95 ${ms(x.p95)}`;
  };
  return `${one('blue')} · ${one('green')} (last ${(f.spanMs / 1000).toFixed(1)} s)`;
}

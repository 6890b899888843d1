import type { MarkerKind, TimelineBucket, TimelineData, TimelineMarker } from './timeline.js';

/**
 * A migration's timeline as a standalone SVG, pure (data in, string out): requests per second per
 * color, the 5xx clients saw and the attempts NGINX retried, with step boundaries and the rollback
 * marked. Every line is labelled where it is drawn, every marker where it stands: no legend.
 */

const W = 960;
const H = 440;
const LEFT = 70;
const RIGHT = W - 24;
const ROW = 14;
/** a white outline under a label, so it stays readable where it crosses a line */
const HALO = 'stroke="#ffffff" stroke-width="3" stroke-linejoin="round" paint-order="stroke"';
const FONT = 'system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif';

type SeriesKey = 'blue' | 'green' | 'errors' | 'retried';
const SERIES: readonly { key: SeriesKey; name: string; stroke: string; width: number; dash?: string }[] = [
  { key: 'blue', name: 'blue', stroke: '#1f6feb', width: 2 },
  { key: 'green', name: 'green', stroke: '#1a7f37', width: 2 },
  { key: 'errors', name: '5xx to clients', stroke: '#cf222e', width: 2 },
  { key: 'retried', name: 'retried by NGINX', stroke: '#9a6700', width: 1.5, dash: '5 3' },
];

const MARKER_STYLE: Record<MarkerKind, { stroke: string; dash: string; weight: string }> = {
  step: { stroke: '#57606a', dash: '4 3', weight: 'normal' },
  failure: { stroke: '#bc4c00', dash: '2 2', weight: 'normal' },
  rollback: { stroke: '#cf222e', dash: '', weight: 'bold' },
  restored: { stroke: '#24292f', dash: '', weight: 'bold' },
  done: { stroke: '#57606a', dash: '', weight: 'normal' },
};

/** XML text and attribute values: the five characters XML gives meaning to. */
export const escapeXml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] ?? c);

const r1 = (x: number): string => String(Math.round(x * 10) / 10);
const thousands = (x: number): string => String(Math.round(x)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
/** Rough width of a label in px at font-size 11 (no font metrics in a pure function). */
const textWidth = (s: string): number => s.length * 6.2;

/** A round tick step (1, 2, 2.5 or 5 × 10^k) and the axis top for values up to `peak`, in about 5 ticks. */
function yAxis(peak: number): { step: number; max: number } {
  const raw = Math.max(peak * 1.1, 1) / 5;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].find((m) => m * p >= raw) ?? 10) * p;
  return { step, max: Math.ceil((peak * 1.1) / step) * step || step * 5 };
}

function timeTicks(spanS: number): number {
  return [0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600].find((s) => spanS / s <= 10) ?? 7200;
}

const fmtSeconds = (s: number, step: number): string =>
  step >= 60 && s % 60 === 0 ? `${s / 60} min` : `${Number(s.toFixed(step < 1 ? 1 : 0))} s`;

/** Puts each label on the first row where it does not overlap the previous one; returns the rows used. */
function placeLabels(
  markers: readonly TimelineMarker[],
  x: (ms: number) => number,
): { m: TimelineMarker; row: number; anchorEnd: boolean }[] {
  const ends: number[] = [];
  return markers.map((m) => {
    const w = textWidth(m.label) + 6;
    const anchorEnd = x(m.atMs) + w > W - 4;
    const [from, to] = anchorEnd ? [x(m.atMs) - w, x(m.atMs)] : [x(m.atMs), x(m.atMs) + w];
    let row = ends.findIndex((end) => from > end);
    if (row < 0) row = Math.min(ends.length, 5);
    ends[row] = Math.max(ends[row] ?? -Infinity, to);
    return { m, row, anchorEnd };
  });
}

const perSecond = (b: TimelineBucket, key: SeriesKey, bucketMs: number): number => (b[key] * 1000) / bucketMs;

export function renderTimelineSvg(d: TimelineData): string {
  const spanMs = Math.max(1, d.toMs - d.fromMs);
  const x = (ms: number): number => LEFT + ((ms - d.fromMs) / spanMs) * (RIGHT - LEFT);
  const inSpan = d.markers.filter((m) => m.atMs >= d.fromMs && m.atMs <= d.toMs);
  const labels = placeLabels(inSpan, x);
  const rows = Math.max(1, ...labels.map((l) => l.row + 1));
  const top = 58 + rows * ROW + 8;
  const bottom = H - 46;
  const shown = SERIES.filter((s) => s.key !== 'retried' || d.buckets.some((b) => b.retried > 0));
  const peak = Math.max(0, ...d.buckets.flatMap((b) => shown.map((s) => perSecond(b, s.key, d.bucketMs))));
  const { step: yStep, max: yMax } = yAxis(peak);
  const y = (v: number): number => bottom - (v / yMax) * (bottom - top);
  const out: string[] = [];
  const text = (tx: number, ty: number, s: string, attrs = ''): void => {
    out.push(`<text x="${r1(tx)}" y="${r1(ty)}"${attrs ? ` ${attrs}` : ''}>${escapeXml(s)}</text>`);
  };

  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${escapeXml(d.title)}" font-family="${FONT}" font-size="11">`,
    `<title>${escapeXml(d.title)}</title>`,
    `<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`,
  );
  text(16, 24, d.title, 'font-size="16" font-weight="bold" fill="#24292f"');
  text(16, 42, d.subtitle.length > 150 ? `${d.subtitle.slice(0, 149)}…` : d.subtitle, 'font-size="11" fill="#57606a"');

  // the time the new color was failing, shaded: from the first sign of trouble to traffic back
  const trouble = inSpan.find((m) => m.kind === 'failure' || m.kind === 'rollback');
  const restored = inSpan.find((m) => m.kind === 'restored' && (!trouble || m.atMs >= trouble.atMs));
  if (trouble && restored) {
    out.push(
      `<rect x="${r1(x(trouble.atMs))}" y="${top}" width="${r1(Math.max(1, x(restored.atMs) - x(trouble.atMs)))}" height="${bottom - top}" fill="#cf222e" fill-opacity="0.08"/>`,
    );
  }

  // y grid and axis
  for (let v = 0; v <= yMax + yStep / 2; v += yStep) {
    out.push(`<line x1="${LEFT}" y1="${r1(y(v))}" x2="${RIGHT}" y2="${r1(y(v))}" stroke="#d0d7de" stroke-width="${v === 0 ? 1 : 0.5}"/>`);
    text(LEFT - 6, y(v) + 4, thousands(v), 'text-anchor="end" fill="#57606a"');
  }
  text(
    16,
    (top + bottom) / 2,
    'requests per second',
    `transform="rotate(-90 16 ${r1((top + bottom) / 2)})" text-anchor="middle" fill="#57606a"`,
  );

  // x ticks: seconds since the migration started
  const step = timeTicks(spanMs / 1000);
  const firstTick = Math.ceil((d.fromMs - d.zeroMs) / 1000 / step) * step;
  for (let s = firstTick; d.zeroMs + s * 1000 <= d.toMs; s += step) {
    const tx = x(d.zeroMs + s * 1000);
    out.push(`<line x1="${r1(tx)}" y1="${bottom}" x2="${r1(tx)}" y2="${bottom + 4}" stroke="#57606a"/>`);
    text(tx, bottom + 16, fmtSeconds(s, step), 'text-anchor="middle" fill="#57606a"');
  }
  text((LEFT + RIGHT) / 2, H - 12, 'time since the migration started', 'text-anchor="middle" fill="#57606a"');

  // markers: a vertical line each, labelled at the top in rows so labels never overlap
  for (const { m, row, anchorEnd } of labels) {
    const st = MARKER_STYLE[m.kind];
    const mx = x(m.atMs);
    const ly = 58 + row * ROW + 8;
    out.push(
      `<line class="marker marker-${m.kind}" x1="${r1(mx)}" y1="${r1(ly + 3)}" x2="${r1(mx)}" y2="${bottom}" stroke="${st.stroke}" stroke-width="1"${st.dash ? ` stroke-dasharray="${st.dash}"` : ''}/>`,
    );
    text(
      mx + (anchorEnd ? -3 : 3),
      ly,
      m.label,
      `class="marker-label" fill="${st.stroke}" font-weight="${st.weight}" ${HALO}${anchorEnd ? ' text-anchor="end"' : ''}`,
    );
  }

  // the series, each labelled next to its own peak
  const taken: { x0: number; x1: number; y: number }[] = [];
  for (const s of shown) {
    const pts = d.buckets.map((b) => `${r1(x(b.atMs + d.bucketMs / 2))},${r1(y(perSecond(b, s.key, d.bucketMs)))}`);
    if (pts.length === 0) continue;
    out.push(
      `<polyline class="series series-${s.key}" fill="none" stroke="${s.stroke}" stroke-width="${s.width}" stroke-linejoin="round"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''} points="${pts.join(' ')}"/>`,
    );
    const values = d.buckets.map((b) => perSecond(b, s.key, d.bucketMs));
    const top1 = Math.max(...values);
    const at = d.buckets[values.indexOf(top1)];
    if (!at || (top1 === 0 && s.key !== 'blue' && s.key !== 'green')) continue;
    const label = s.key === 'blue' || s.key === 'green' ? s.name : `${s.name}, peak ${thousands(top1)}/s`;
    const w = textWidth(label);
    let lx = Math.min(Math.max(x(at.atMs + d.bucketMs / 2) - w / 2, LEFT + 2), RIGHT - w - 2);
    let ly = Math.max(y(top1) - 6, top + 10);
    // below an earlier label if they would overlap (bounded: a crowded chart may still overlap a little)
    for (let k = 0; k < 8 && taken.some((t) => lx < t.x1 && lx + w > t.x0 && Math.abs(ly - t.y) < ROW); k++) {
      ly = ly + ROW > bottom - 4 ? top + 10 + k * ROW : ly + ROW;
    }
    lx = Math.round(lx);
    taken.push({ x0: lx, x1: lx + w, y: ly });
    text(lx, ly, label, `class="series-label" fill="${s.stroke}" font-weight="bold" ${HALO}`);
  }
  if (d.buckets.every((b) => b.blue + b.green + b.errors === 0)) {
    text((LEFT + RIGHT) / 2, (top + bottom) / 2, 'no requests in the access log for this span', 'text-anchor="middle" fill="#57606a"');
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

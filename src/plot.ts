/**
 * plotHistory: the curves of a fit as a standalone SVG file — loss and
 * accuracy per epoch, training and validation — with no browser and no
 * native dependency.
 */

import type { History } from './callbacks.js';
import { FerroTypeError } from './errors.js';
import { writeAtomically } from './saving/atomic-write.js';
import { checkOptions, describe, optionNames } from './validate.js';

/** The options each call takes: any other key is refused (validate.ts, checkOptions). */
const PLOT_OPTIONS = optionNames<PlotOptions>()(['title']);

/** Options of plotHistory and historyToSvg. */
export interface PlotOptions {
  /** Heading above both charts. Default 'Training history'. */
  title?: string;
}

const PANEL = { width: 440, height: 300 };
const MARGIN = { left: 58, right: 16, top: 34, bottom: 46 };
const COLORS = { train: '#1f77b4', val: '#ff7f0e' };

/** 1, 2 or 5 times a power of ten, about `range / count`. */
function niceStep(range: number, count: number): number {
  const raw = range / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const residual = raw / magnitude;
  return (residual > 5 ? 10 : residual > 2 ? 5 : residual > 1 ? 2 : 1) * magnitude;
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

interface Series {
  label: string;
  color: string;
  dashed: boolean;
  values: number[];
}

/** One chart at (x0, y0): axes, ticks, gridlines, a line and dots per series. */
function panel(x0: number, y0: number, title: string, series: Series[], epochs: number): string {
  const finite = series.flatMap((s) => s.values.filter(Number.isFinite));
  let [lo, hi] = finite.length ? [Math.min(...finite), Math.max(...finite)] : [0, 1];
  if (hi - lo < 1e-9) [lo, hi] = [lo - 0.5, hi + 0.5];
  const step = niceStep(hi - lo, 5);
  lo = Math.floor(lo / step) * step;
  hi = Math.ceil(hi / step) * step;
  const plotW = PANEL.width - MARGIN.left - MARGIN.right;
  const plotH = PANEL.height - MARGIN.top - MARGIN.bottom;
  const left = x0 + MARGIN.left;
  const top = y0 + MARGIN.top;
  const sx = (epoch: number): number => left + (epochs <= 1 ? plotW / 2 : ((epoch - 1) / (epochs - 1)) * plotW);
  const sy = (v: number): number => top + plotH - ((v - lo) / (hi - lo)) * plotH;
  const digits = Math.max(0, -Math.floor(Math.log10(step)));
  const out: string[] = [];
  out.push(`<text x="${left + plotW / 2}" y="${y0 + 22}" class="title">${escapeXml(title)}</text>`);
  for (let v = lo; v <= hi + step / 2; v += step) {
    const y = sy(v).toFixed(1);
    out.push(`<line x1="${left}" y1="${y}" x2="${left + plotW}" y2="${y}" class="grid"/>`);
    out.push(`<text x="${left - 6}" y="${y}" class="ytick">${v.toFixed(digits)}</text>`);
  }
  const xStep = Math.max(1, Math.ceil(epochs / 10));
  for (let e = 1; e <= epochs; e += xStep) {
    out.push(`<text x="${sx(e).toFixed(1)}" y="${top + plotH + 18}" class="xtick">${e}</text>`);
  }
  out.push(`<rect x="${left}" y="${top}" width="${plotW}" height="${plotH}" class="frame"/>`);
  out.push(`<text x="${left + plotW / 2}" y="${top + plotH + 38}" class="label">Epoch</text>`);
  const curves = series.map((s) => s.values.map((v, e) => [sx(e + 1), v] as const).filter(([, v]) => Number.isFinite(v)));
  // The legend goes in the corner its box covers the fewest points of.
  const box = { w: 118, h: 12 + 18 * series.length };
  const corners = [
    [left + plotW - box.w, top],
    [left + plotW - box.w, top + plotH - box.h],
    [left + 8, top],
    [left + 8, top + plotH - box.h],
  ] as const;
  const covered = ([bx, by]: readonly [number, number]): number =>
    curves.flat().filter(([x, v]) => x >= bx - 8 && x <= bx + box.w && sy(v) >= by - 4 && sy(v) <= by + box.h + 4).length;
  const [lx, ly0] = corners.reduce((best, c) => (covered(c) < covered(best) ? c : best));
  series.forEach((s, i) => {
    const points = curves[i]!;
    const path = points.map(([x, v]) => `${x.toFixed(1)},${sy(v).toFixed(1)}`).join(' ');
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    out.push(`<polyline points="${path}" fill="none" stroke="${s.color}" stroke-width="2"${dash}/>`);
    for (const [x, v] of points) {
      out.push(`<circle cx="${x.toFixed(1)}" cy="${sy(v).toFixed(1)}" r="3" fill="${s.color}"/>`);
    }
    const ly = ly0 + 12 + i * 18;
    out.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 22}" y2="${ly}" stroke="${s.color}" stroke-width="2"${dash}/>`);
    out.push(`<text x="${lx + 28}" y="${ly + 4}" class="legend">${escapeXml(s.label)}</text>`);
  });
  return out.join('\n');
}

/** The SVG document for `history`. */
export function historyToSvg(history: History, options: PlotOptions = {}): string {
  const h = history?.history;
  if (!h || !Array.isArray(h.loss) || !Array.isArray(h.accuracy)) {
    throw new FerroTypeError(`Expected a History from fit(), with history.loss and history.accuracy. Received: ${describe(history)}`);
  }
  const o = checkOptions(options, 'plotHistory', PLOT_OPTIONS);
  const title = typeof o.title === 'string' ? o.title : 'Training history';
  const epochs = h.loss.length;
  const series = (name: 'loss' | 'accuracy'): Series[] => {
    const out: Series[] = [{ label: 'training', color: COLORS.train, dashed: false, values: h[name] }];
    const val = h[`val_${name}`];
    if (val) out.push({ label: 'validation', color: COLORS.val, dashed: true, values: val });
    return out;
  };
  const width = 2 * PANEL.width + 20;
  const height = PANEL.height + 50;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    '<style>',
    '  text { font-family: Helvetica, Arial, sans-serif; fill: #222; }',
    '  .heading { font-size: 18px; font-weight: bold; text-anchor: middle; }',
    '  .title { font-size: 15px; font-weight: bold; text-anchor: middle; }',
    '  .label { font-size: 13px; text-anchor: middle; }',
    '  .xtick { font-size: 12px; text-anchor: middle; }',
    '  .ytick { font-size: 12px; text-anchor: end; dominant-baseline: middle; }',
    '  .legend { font-size: 12px; }',
    '  .grid { stroke: #e3e3e3; stroke-width: 1; }',
    '  .frame { fill: none; stroke: #888; stroke-width: 1; }',
    '</style>',
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="26" class="heading">${escapeXml(title)}</text>`,
    `<g>${panel(0, 40, 'Loss', series('loss'), epochs)}</g>`,
    `<g>${panel(PANEL.width + 20, 40, 'Accuracy', series('accuracy'), epochs)}</g>`,
    '</svg>',
    '',
  ].join('\n');
}

/** Writes the loss and accuracy curves of `history` to `file` as SVG. */
export async function plotHistory(history: History, file: string, options: PlotOptions = {}): Promise<void> {
  if (typeof file !== 'string' || file.length === 0) {
    throw new FerroTypeError(`Expected a file path for plotHistory. Received: ${describe(file)}`);
  }
  // Atomically, as every file ferro-nn writes (ERR_FERRO_IO when it cannot).
  await writeAtomically(file, new TextEncoder().encode(historyToSvg(history, options)));
}

/**
 * model.summary(): Keras 3's table, character for character as Keras prints
 * it without colour (88 columns; layer, output shape and parameter columns
 * at 45%, 80% and 100% of the width). Worked out from the layers' shapes in
 * JavaScript: it neither builds the model nor asks the native side, so it
 * works at any time, a fit running included.
 */

import type { Layer } from './layer.js';
import type { Optimizer } from './optimizers.js';
import { optimizerShapes } from './saving/optimizer-vars.js';
import { countParams, layerShapes, sizeOf } from './shapes.js';

/** What summary() reads of a model. */
export interface Summarised {
  readonly name: string;
  readonly layers: readonly Layer[];
  /** Its input's features, built or declared by the first layer; undefined when unknown yet. */
  readonly inputFeatures: number | undefined;
  /** The optimizer, once it has variables (Keras counts them once the optimizer is built). */
  readonly builtOptimizer: Optimizer | undefined;
}

/** Keras's summary of `model`. */
export function summarise(model: Summarised): string {
  const known = layerShapes(model.layers, model.inputFeatures);
  const rows = model.layers.map((l, i) => {
    const k = known[i];
    const layer = `${l.name} (${l.className})`;
    return k ? { layer, shape: `(None, ${k.out})`, params: sizeOf(k.shapes).toLocaleString('en-US') } : { layer, shape: '?', params: '0 (unbuilt)' };
  });
  const trainable = known.flatMap((k) => k.shapes.slice(0, k.trainable));
  const o = model.builtOptimizer;
  const optimizer = o && sizeOf(optimizerShapes(o.className, o.slotNames(), trainable, typeof o.learningRate === 'number'));
  return renderSummary(model.name, rows, countParams(model.layers, model.inputFeatures), sizeOf(trainable), optimizer);
}

/** One row of the table. */
interface SummaryRow {
  /** "dense (Dense)" */
  layer: string;
  /** "(None, 512)", or "?" before the input's width is known. */
  shape: string;
  /** "401,920", or "0 (unbuilt)". */
  params: string;
}

/** Inner widths of the three cells, borders excluded. */
const CELLS = [38, 29, 17];

const grouped = (n: number): string => n.toLocaleString('en-US');

/** Keras's readable_memory_size. */
function readableSize(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];
  let size = bytes;
  for (const unit of units) {
    if (size / 1024 < 1) return `${size.toFixed(2)} ${unit}`;
    size /= 1024;
  }
  return `${size.toFixed(2)} PB`;
}

/** A cell's text in lines of at most `width` characters, broken at spaces as Keras's table does (a longer word is cut). */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let current = '';
  for (const word of text.split(' ')) {
    const joined = current === '' ? word : `${current} ${word}`;
    if (joined.length <= width) {
      current = joined;
      continue;
    }
    if (current !== '') lines.push(current);
    current = word;
    while (current.length > width) {
      lines.push(current.slice(0, width));
      current = current.slice(width);
    }
  }
  lines.push(current);
  return lines;
}

/**
 * Keras's summary table for `rows`, with its parameter totals (bytes at 4
 * per parameter). `optimizerParams`, once the optimizer has variables, are
 * counted in the total and on a line of their own, as Keras does.
 */
function renderSummary(
  name: string,
  rows: SummaryRow[],
  totalParams: number,
  trainableParams = totalParams,
  optimizerParams?: number,
): string {
  const widths = CELLS;
  const rule = (left: string, fill: string, mid: string, right: string): string =>
    left + widths.map((w) => fill.repeat(w)).join(mid) + right;
  const line = (cells: string[], edge: string, sep: string): string =>
    edge +
    cells.map((c, i) => ` ${i === 2 ? c.padStart(widths[i]! - 2) : c.padEnd(widths[i]! - 2)} `).join(sep) +
    edge;
  const out = [`Model: "${name}"`, rule('┏', '━', '┳', '┓'), line(['Layer (type)', 'Output Shape', 'Param #'], '┃', '┃')];
  out.push(rule('┡', '━', '╇', '┩'));
  rows.forEach((r, i) => {
    if (i > 0) out.push(rule('├', '─', '┼', '┤'));
    const cells = [r.layer, r.shape, r.params].map((c, j) => wrap(c, widths[j]! - 2));
    const height = Math.max(...cells.map((c) => c.length));
    for (let k = 0; k < height; k++) out.push(line(cells.map((c) => c[k] ?? ''), '│', '│'));
  });
  out.push(rule('└', '─', '┴', '┘'));
  const count = (n: number): string => `${grouped(n)} (${readableSize(n * 4)})`;
  out.push(` Total params: ${count(totalParams + (optimizerParams ?? 0))}`);
  out.push(` Trainable params: ${count(trainableParams)}`);
  out.push(` Non-trainable params: ${count(totalParams - trainableParams)}`);
  if (optimizerParams !== undefined) out.push(` Optimizer params: ${count(optimizerParams)}`);
  return `${out.join('\n')}\n`;
}


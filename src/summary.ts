/**
 * model.summary(): Keras 3's table, character for character as Keras prints
 * it without colour (88 columns; layer, output shape and parameter columns
 * at 45%, 80% and 100% of the width).
 */

export interface SummaryRow {
  /** "dense (Dense)" */
  layer: string;
  /** "(None, 512)", or "?" before the model is built. */
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

export function renderSummary(name: string, rows: SummaryRow[], totalParams: number, trainableParams = totalParams): string {
  // A cell wider than Keras's column widens that column rather than wrapping.
  const widths = CELLS.map((w, i) =>
    Math.max(w, ...rows.map((r) => [r.layer, r.shape, r.params][i]!.length + 2), i === 0 ? 'Layer (type)'.length + 2 : 0),
  );
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
    out.push(line([r.layer, r.shape, r.params], '│', '│'));
  });
  out.push(rule('└', '─', '┴', '┘'));
  const count = (n: number): string => `${grouped(n)} (${readableSize(n * 4)})`;
  out.push(` Total params: ${count(totalParams)}`);
  out.push(` Trainable params: ${count(trainableParams)}`);
  out.push(` Non-trainable params: ${count(totalParams - trainableParams)}`);
  return `${out.join('\n')}\n`;
}


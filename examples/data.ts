/** Reads the examples' CSV tables (examples/data): a header row, then numbers; `target` last. */
import { readFileSync } from 'node:fs';

export interface Table {
  /** Features, row-major. */
  x: Float32Array;
  /** The last column. */
  target: Float32Array;
  rows: number;
  features: number;
}

export function readTable(name: string): Table {
  const text = readFileSync(new URL(`./data/${name}.csv`, import.meta.url), 'utf8').trim();
  const lines = text.split('\n').slice(1);
  const cells = lines.map((line) => line.split(',').map(Number));
  const features = cells[0]!.length - 1;
  return {
    x: Float32Array.from(cells.flatMap((r) => r.slice(0, features))),
    target: Float32Array.from(cells, (r) => r[features]!),
    rows: cells.length,
    features,
  };
}

/** The same deterministic shuffle of 0..n-1 on every run (a 32-bit LCG). */
export function permutation(n: number, seed = 12345): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  let state = seed >>> 0;
  for (let i = n - 1; i > 0; i--) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    const j = state % (i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

/** Rows `idx` of a row-major array of `width` columns. */
export function take(data: Float32Array, width: number, idx: readonly number[]): Float32Array {
  const out = new Float32Array(idx.length * width);
  idx.forEach((r, i) => out.set(data.subarray(r * width, (r + 1) * width), i * width));
  return out;
}

/** Standardises columns in place with the mean and deviation of `train` (as the book does). */
export function standardize(train: Float32Array, others: Float32Array[], width: number): void {
  const rows = train.length / width;
  for (let c = 0; c < width; c++) {
    let mean = 0;
    for (let r = 0; r < rows; r++) mean += train[r * width + c]!;
    mean /= rows;
    let variance = 0;
    for (let r = 0; r < rows; r++) variance += (train[r * width + c]! - mean) ** 2;
    const std = Math.sqrt(variance / rows) || 1;
    for (const a of [train, ...others]) {
      for (let r = 0; r < a.length / width; r++) a[r * width + c] = (a[r * width + c]! - mean) / std;
    }
  }
}

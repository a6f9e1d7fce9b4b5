/** Independent float64 references and small datasets for the tests. */

import { Tensor } from '../src/index.js';

/** A small, learnable 3-class problem: the class is the index of the largest of the first three features. */
export function blobs(n: number, features = 6): { x: Tensor<'float32'>; y: Tensor<'int32'> } {
  const x = new Float32Array(n * features);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < features; j++) x[i * features + j] = Math.sin(i * 12.9898 + j * 78.233) * 0.5;
    y[i] = [0, 1, 2].reduce((best, c) => (x[i * features + c]! > x[i * features + best]! ? c : best), 0);
  }
  return { x: new Tensor(x, [n, features]), y: new Tensor(y, [n]) };
}

export type Matrix = number[][];

export function matmul(a: Matrix, b: Matrix): Matrix {
  return a.map((row) => b[0]!.map((_, j) => row.reduce((s, v, k) => s + v * b[k]![j]!, 0)));
}

export function activate(z: Matrix, activation: string): Matrix {
  switch (activation) {
    case 'relu':
      return z.map((r) => r.map((v) => Math.max(0, v)));
    case 'sigmoid':
      return z.map((r) => r.map((v) => 1 / (1 + Math.exp(-v))));
    case 'tanh':
      return z.map((r) => r.map(Math.tanh));
    case 'softmax':
      return z.map((r) => {
        const m = Math.max(...r);
        const e = r.map((v) => Math.exp(v - m));
        const s = e.reduce((a, b) => a + b, 0);
        return e.map((v) => v / s);
      });
    default:
      return z;
  }
}

/** Forward pass of a Dense stack in float64: layers as [kernel, bias, activation]. */
export function forward(x: Matrix, layers: [Matrix, number[], string][]): Matrix {
  return layers.reduce(
    (h, [kernel, bias, act]) => activate(matmul(h, kernel).map((r) => r.map((v, j) => v + bias[j]!)), act),
    x,
  );
}

/** Keras's sparse categorical crossentropy (clip at 1e-7, renormalise), batch mean. */
export function crossentropy(p: Matrix, labels: number[]): number {
  const clip = (v: number): number => Math.min(1 - 1e-7, Math.max(1e-7, v));
  return p.reduce((s, row, i) => s - Math.log(clip(row[labels[i]!]!) / row.map(clip).reduce((a, b) => a + b, 0)), 0) / p.length;
}

export function accuracy(p: Matrix, labels: number[]): number {
  return p.filter((row, i) => row.indexOf(Math.max(...row)) === labels[i]).length / p.length;
}

/** Rows of a flat row-major array. */
export function rows(data: ArrayLike<number>, cols: number): Matrix {
  const out: Matrix = [];
  for (let i = 0; i < data.length; i += cols) out.push(Array.from({ length: cols }, (_, j) => data[i + j]!));
  return out;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** How a child of `runCapped` ended. */
export interface CappedRun {
  status: number | null;
  stdout: string;
  stderr: string;
  /** Why the child was killed, if it was. */
  killed?: 'timeout' | 'memory';
  /** The largest resident size seen, MiB (Linux; 0 elsewhere). */
  peakMiB: number;
}

/**
 * Runs `node --import tsx <args>`, killing it when it runs past `timeoutMs`
 * or its resident memory passes `maxMiB` (read from /proc every 50 ms), so a
 * regression that hangs or fills memory fails a test instead of the machine.
 */
export async function runCapped(args: string[], timeoutMs: number, maxMiB: number): Promise<CappedRun> {
  const { spawn } = await import('node:child_process');
  const { readFileSync } = await import('node:fs');
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b));
  child.stderr.on('data', (b: Buffer) => (stderr += b));
  let killed: CappedRun['killed'];
  let peakMiB = 0;
  const started = Date.now();
  const watch = setInterval(() => {
    let rss = 0;
    try {
      rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
    } catch {
      // Not Linux, or the child has just exited.
    }
    peakMiB = Math.max(peakMiB, rss);
    if (rss > maxMiB) killed = 'memory';
    else if (Date.now() - started > timeoutMs) killed = 'timeout';
    if (killed) child.kill('SIGKILL');
  }, 50);
  const status = await new Promise<number | null>((resolve) => child.once('close', resolve));
  clearInterval(watch);
  return { status, stdout, stderr, ...(killed ? { killed } : {}), peakMiB: Math.round(peakMiB) };
}

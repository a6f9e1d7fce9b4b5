/**
 * Turns user inputs into the flat arrays the native side copies (once per
 * call, before the call returns), without copying on this side when it can.
 */

import { FerroShapeError, FerroValueError } from './errors.js';
import type { InputRows, TargetRows } from './native.js';
import { pendingBytes, toTensor } from './tensor.js';

export interface Features {
  /** float32 values, or the bytes and value table of a lazily converted uint8 tensor. */
  input: InputRows;
  rows: number;
  features: number;
}

/** Rows `start` to `end` of `f`, as views. */
export function sliceRows(f: Features, start: number, end: number): Features {
  const d = f.features;
  const cut = <A extends Float32Array | Uint8Array>(a: A | null | undefined): A | undefined =>
    a ? (a.subarray(start * d, end * d) as A) : undefined;
  const input = f.input.bytes
    ? { bytes: cut(f.input.bytes), table: f.input.table }
    : { values: cut(f.input.values) };
  return { input, rows: end - start, features: d };
}

/**
 * x as rows × features: a float32 Tensor's data as it is, a uint8 tensor
 * converted lazily (asType('float32').div(255)) as its bytes and table.
 */
export function toFeatures(x: unknown, name = 'x'): Features {
  const t = toTensor(x, name);
  if (t.rank !== 2) {
    throw new FerroShapeError(
      `Expected ${name} of shape [samples, features] (rank 2). Received: shape [${t.shape.join(', ')}]; reshape it first, e.g. x.reshape([n, -1])`,
    );
  }
  const [rows, features] = t.shape as [number, number];
  const pending = pendingBytes(t);
  if (pending) return { input: pending, rows, features };
  const values = t.dtype === 'float32' ? (t.data as Float32Array) : Float32Array.from(t.data);
  return { input: { values }, rows, features };
}

/**
 * y as int32 class indices, shape [samples] or [samples, 1]. Float labels
 * must be whole numbers; every label must lie in [0, classes). `xName`
 * names the inputs of `rows` samples in messages.
 */
export function toLabels(y: unknown, rows: number, classes: number, name = 'y', xName = 'x'): Int32Array {
  const t = toTensor(y, name);
  const ok = t.rank === 1 || (t.rank === 2 && t.shape[1] === 1);
  if (!ok) {
    throw new FerroShapeError(
      `Expected ${name} of shape [samples] or [samples, 1] holding class indices. Received: shape [${t.shape.join(', ')}]`,
    );
  }
  if (t.shape[0] !== rows) {
    throw new FerroShapeError(
      `Expected ${xName} and ${name} to hold the same number of samples. Received: ${xName} has ${rows}, ${name} has ${t.shape[0]}`,
    );
  }
  const labels = t.dtype === 'int32' ? (t.data as Int32Array) : new Int32Array(t.size);
  for (let i = 0; i < t.size; i++) {
    const v = t.data[i] as number;
    if (!Number.isInteger(v) || v < 0 || v >= classes) {
      throw new FerroValueError(
        `Expected ${name} to hold integer class indices in [0, ${classes}) for ${classes} output units. Received: ${name}[${i}]=${v}`,
      );
    }
    if (labels !== t.data) labels[i] = v;
  }
  return labels;
}

/** Targets for a loss: class ids for the sparse crossentropy, else floats, one per output unit. */
export interface Targets {
  /** What the native side copies. */
  rows: TargetRows;
  /** Class index per sample (argmax or rounding for float targets), for classWeight. */
  classes(): Int32Array;
  /** Samples start..end. */
  slice(start: number, end: number): Targets;
}

/**
 * y as the loss needs it: for 'sparse' losses class indices (see
 * toLabels); otherwise float32 [samples, units] (or [samples] for one unit).
 */
export function toTargets(y: unknown, rows: number, units: number, sparse: boolean, name = 'y', xName = 'x'): Targets {
  if (sparse) return classTargets(toLabels(y, rows, units, name, xName));
  const t = toTensor(y, name);
  const shapeOk = (t.rank === 2 && t.shape[1] === units) || (units === 1 && t.rank === 1);
  if (!shapeOk) {
    throw new FerroShapeError(
      `Expected ${name} of shape [samples, ${units}], one value per output unit${units === 1 ? ' (or [samples])' : ''}. Received: shape [${t.shape.join(', ')}]`,
    );
  }
  if (t.shape[0] !== rows) {
    throw new FerroShapeError(
      `Expected ${xName} and ${name} to hold the same number of samples. Received: ${xName} has ${rows}, ${name} has ${t.shape[0]}`,
    );
  }
  const values = t.dtype === 'float32' ? (t.data as Float32Array) : Float32Array.from(t.data as ArrayLike<number>);
  const bad = values.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new FerroValueError(`Expected finite targets. Received: ${name}[${bad}]=${values[bad]}`);
  return valueTargets(values, units);
}

function classTargets(labels: Int32Array): Targets {
  return { rows: { classes: labels }, classes: () => labels, slice: (a, b) => classTargets(labels.subarray(a, b)) };
}

function valueTargets(values: Float32Array, width: number): Targets {
  return {
    rows: { values, width },
    // Keras's class_weight: argmax of each row, or the value of a single
    // column rounded as np.round does, half to even (0.5 is class 0).
    classes: () =>
      Int32Array.from({ length: values.length / width }, (_, i) => {
        if (width === 1) return roundHalfEven(values[i]!);
        let best = 0;
        for (let j = 1; j < width; j++) if (values[i * width + j]! > values[i * width + best]!) best = j;
        return best;
      }),
    slice: (a, b) => valueTargets(values.subarray(a * width, b * width), width),
  };
}

function roundHalfEven(v: number): number {
  const floor = Math.floor(v);
  const rest = v - floor;
  return rest > 0.5 || (rest === 0.5 && floor % 2 !== 0) ? floor + 1 : floor;
}

/**
 * fit's `sampleWeight` and `classWeight` (Keras's sample_weight and
 * class_weight), as one float32 weight per training sample: class weights
 * become the weight of each sample's class (1 for a class not listed), as
 * Keras's class_weight_to_sample_weights does.
 */

import { types } from 'node:util';
import type { Targets } from './data.js';
import { FerroShapeError, FerroTypeError, FerroValueError } from './errors.js';
import { toTensor } from './tensor.js';
import { checkNumber, describe, reachesProxy } from './validate.js';

/** `value` as one finite, non-negative float32 weight for each of `rows` samples ([rows] or [rows, 1]). */
export function weightsOf(value: unknown, rows: number, name: string): Float32Array {
  const t = toTensor(value, name);
  if (!(t.rank === 1 || (t.rank === 2 && t.shape[1] === 1)) || t.shape[0] !== rows) {
    throw new FerroShapeError(
      `Expected ${name} of shape [${rows}], one weight per sample. Received: shape [${t.shape.join(', ')}]`,
    );
  }
  const w = Float32Array.from(t.data as ArrayLike<number>);
  const bad = w.findIndex((v) => !(Number.isFinite(v) && v >= 0));
  if (bad >= 0) throw new FerroValueError(`Expected finite, non-negative sample weights. Received: ${name}[${bad}]=${w[bad]}`);
  return w;
}

/** The weights of the `rows` samples of `targets`, or undefined when fit got neither option. */
export function sampleWeights(
  o: Record<string, unknown>,
  targets: Targets,
  rows: number,
): Float32Array | undefined {
  if (o.sampleWeight !== undefined && o.classWeight !== undefined) {
    throw new FerroValueError('Expected classWeight or sampleWeight, not both (as in Keras). Received: both');
  }
  if (o.sampleWeight !== undefined) return weightsOf(o.sampleWeight, rows, 'sampleWeight');
  if (o.classWeight === undefined) return undefined;
  const cw = o.classWeight;
  // A Map is JavaScript's dict: its entries count. Any other object that
  // is not a plain one (a Set, a typed array, an array) has no entries
  // Object.entries would see, and would have been ignored without a word.
  const isMap = typeof cw === 'object' && cw !== null && !reachesProxy(cw) && types.isMap(cw);
  if (
    !isMap &&
    (typeof cw !== 'object' || cw === null || reachesProxy(cw) || Object.prototype.toString.call(cw) !== '[object Object]')
  ) {
    throw new FerroTypeError(`Expected an object or a Map of class index → weight for classWeight. Received: ${describe(cw)}`);
  }
  // As Keras (data_adapter_utils.class_weight_to_sample_weights): a class
  // without a key weighs 1, and a key no label has weighs nothing.
  const byClass = new Map<number, number>();
  // Map.prototype's own iterator: a Symbol.iterator the caller replaced never runs.
  const entries = isMap
    ? [...Map.prototype.entries.call(cw as Map<unknown, unknown>)].map(([k, v]) => [String(k), v] as const)
    : Object.entries(cw);
  for (const [key, value] of entries) {
    const k = Number(key);
    if (!Number.isInteger(k) || k < 0) {
      throw new FerroValueError(`Expected classWeight keys that are class indices (integers ≥ 0). Received: ${describe(key)}`);
    }
    byClass.set(k, checkNumber(value, `classWeight[${key}]`, 0));
  }
  return Float32Array.from(targets.classes(), (label) => byClass.get(label) ?? 1);
}

/**
 * fit's `sampleWeight` and `classWeight` (Keras's sample_weight and
 * class_weight), as one float32 weight per training sample: class weights
 * become the weight of each sample's class (1 for a class not listed), as
 * Keras's class_weight_to_sample_weights does.
 */

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
  if (typeof cw !== 'object' || cw === null || reachesProxy(cw) || Array.isArray(cw)) {
    throw new FerroTypeError(`Expected an object of class index → weight for classWeight. Received: ${describe(cw)}`);
  }
  // As Keras (data_adapter_utils.class_weight_to_sample_weights): a class
  // without a key weighs 1, and a key no label has weighs nothing.
  const byClass = new Map<number, number>();
  for (const [key, value] of Object.entries(cw)) {
    const k = Number(key);
    if (!Number.isInteger(k) || k < 0) {
      throw new FerroValueError(`Expected classWeight keys that are class indices (integers ≥ 0). Received: ${describe(key)}`);
    }
    byClass.set(k, checkNumber(value, `classWeight[${key}]`, 0));
  }
  return Float32Array.from(targets.classes(), (label) => byClass.get(label) ?? 1);
}

/**
 * Keras's weights layout, whatever file holds it (model.weights.h5, or the
 * npz Keras writes on request): a group per saveable object
 * (`layers/<layer name>`, `optimizer`, the model's own ``), each with its
 * variables `0`, `1`, … in order. The checks live here once.
 */

import { FerroValueError } from '../errors.js';

/** Reads variables from a weights file in Keras's layout. */
export interface VarReader {
  /**
   * The variables of the group at `groupPath`, checked against `shapes`
   * before any is read; float32 (or float64), and integers only where
   * `integers` allows them (an optimizer's step count).
   */
  vars(groupPath: string, shapes: number[][], what: string, integers?: boolean): Float32Array[];
  /** How many variables the group holds (0 when it is absent). */
  count(groupPath: string): number;
}

/** One stored variable, described before its data is read. */
export interface StoredVar {
  shape: readonly number[];
  /** The file's own name for its dtype, for messages. */
  dtype: string;
  /** 'float' for float32/float64, 'int' for int32/int64, else undefined. */
  kind: 'float' | 'int' | undefined;
  read(): Float32Array;
}

/**
 * The `shapes.length` variables of group `groupPath` (holding `count`, or
 * absent when undefined), each checked for shape and dtype before it is read.
 */
export function checkedVars(
  file: string,
  label: string,
  groupPath: string,
  count: number | undefined,
  shapes: number[][],
  integers: boolean,
  get: (i: number) => StoredVar | undefined,
): Float32Array[] {
  if (count === undefined) throw new FerroValueError(`${file} has no weights for ${label} (${groupPath}/vars).`);
  if (count !== shapes.length) {
    throw new FerroValueError(`${file}: ${label} holds ${count} variables; the model expects ${shapes.length}.`);
  }
  return shapes.map((shape, i) => {
    const v = get(i);
    if (!v) throw new FerroValueError(`${file}: ${groupPath}/vars/${i} is missing.`);
    // The shape is checked before the data is read: a hostile file
    // declaring a huge variable is refused without allocating it.
    if (v.shape.length !== shape.length || v.shape.some((s, k) => s !== shape[k])) {
      throw new FerroValueError(`${file}: ${label} variable ${i} has shape [${v.shape.join(', ')}]; the model expects [${shape.join(', ')}].`);
    }
    // Floats, or (for an optimizer's step count) integers.
    if (v.kind !== 'float' && !(integers && v.kind === 'int')) {
      throw new FerroValueError(`${file}: ${label} variable ${i} has dtype ${v.dtype}; expected float32.`);
    }
    return v.read();
  });
}

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
  vars(groupPath: string, shapes: number[][], what: string): Float32Array[];
  /** As above; integers (int32 or int64) are read exactly, as float64. */
  vars(groupPath: string, shapes: number[][], what: string, integers: boolean): Numbers[];
  /** Checks the variables as `vars` does, reading no data. */
  check(groupPath: string, shapes: number[][], what: string): void;
  /** How many variables the group holds (0 when it is absent). */
  count(groupPath: string): number;
}

/** A variable's values: float32, or float64 for integers (exact up to 2^53). */
export type Numbers = Float32Array | Float64Array;

/** One stored variable, described before its data is read. */
export interface StoredVar {
  shape: readonly number[];
  /** The file's own name for its dtype, for messages. */
  dtype: string;
  /** 'float' for float32/float64, 'int' for int32/int64, else undefined. */
  kind: 'float' | 'int' | undefined;
  /** float32 for floats; float64 for integers, so that a step count stays exact. */
  read(): Numbers;
}

/**
 * The VarReader of a weights format, from how it counts a group's
 * variables and how it describes them, checked and unread (`checkedVars`).
 */
export function varReader(
  count: (groupPath: string) => number,
  described: (groupPath: string, shapes: number[][], label: string, integers: boolean) => StoredVar[],
): VarReader {
  return {
    count,
    vars: ((groupPath: string, shapes: number[][], label: string, integers: boolean = false) =>
      described(groupPath, shapes, label, integers).map((v) => v.read())) as VarReader['vars'],
    check: (groupPath, shapes, label) => void described(groupPath, shapes, label, false),
  };
}

/**
 * The `shapes.length` variables of group `groupPath` (holding `count`, or
 * absent when undefined), each checked for shape and dtype; none is read.
 */
export function checkedVars(
  file: string,
  label: string,
  groupPath: string,
  count: number | undefined,
  shapes: number[][],
  integers: boolean,
  get: (i: number) => StoredVar | undefined,
): StoredVar[] {
  if (count === undefined) throw new FerroValueError(`${file} has no weights for ${label} (${groupPath}/vars).`);
  if (count !== shapes.length) {
    throw new FerroValueError(`${file}: ${label} holds ${count} variables; the model expects ${shapes.length}.`);
  }
  return shapes.map((shape, i) => {
    const v = get(i);
    if (!v) throw new FerroValueError(`${file}: ${groupPath}/vars/${i} is missing.`);
    // The shape is checked before any data is read: a hostile file
    // declaring a huge variable is refused without allocating it.
    if (v.shape.length !== shape.length || v.shape.some((s, k) => s !== shape[k])) {
      throw new FerroValueError(`${file}: ${label} variable ${i} has shape [${v.shape.join(', ')}]; the model expects [${shape.join(', ')}].`);
    }
    // Floats, or (for an optimizer's step count) integers.
    if (v.kind !== 'float' && !(integers && v.kind === 'int')) {
      throw new FerroValueError(`${file}: ${label} variable ${i} has dtype ${v.dtype}; expected float32.`);
    }
    return v;
  });
}

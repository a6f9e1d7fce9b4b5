/**
 * Reads what callers pass as tensor data without ever crashing on it: brand
 * checks that proxies and fake prototypes cannot pass, typed arrays read
 * through the intrinsic accessors, nesting bounded before it is walked, and
 * whatever user code runs on the way (getters) kept to coded errors.
 */

import { types } from 'node:util';
import { FerroError, FerroShapeError, FerroTypeError, FerroValueError } from './errors.js';
import type { DType, TypedArray } from './tensor.js';
import { describe, reachesProxy } from './validate.js';

/**
 * The most dimensions a tensor may have. Deeper nesting is refused before
 * it is walked, so it cannot overflow the stack.
 */
export const MAX_RANK = 32;

/**
 * The most values nested arrays may hold: 2^28, 1 GiB as float32. Arrays
 * that share rows can describe far more than they store; larger data
 * belongs in a typed array.
 */
export const MAX_NESTED_VALUES = 2 ** 28;

const typedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype) as object;
// The intrinsics, read once: a typed array's own `length` property cannot fool them.
const lengthGetter = Object.getOwnPropertyDescriptor(typedArrayPrototype, 'length')!.get!;
const keys = (typedArrayPrototype as { keys: () => unknown }).keys;

const constructors = { float32: Float32Array, int32: Int32Array, uint8: Uint8Array } as const;

/** What tensor data may be, for error messages. */
export const ACCEPTED_DATA = 'a Float32Array, Int32Array, Uint8Array or nested arrays of numbers';

/** The dtype of a real Float32Array, Int32Array or Uint8Array; undefined for anything else, proxies included. */
export function dtypeOf(data: unknown): DType | undefined {
  if (types.isFloat32Array(data)) return 'float32';
  if (types.isInt32Array(data)) return 'int32';
  if (types.isUint8Array(data)) return 'uint8';
  return undefined;
}

/** The length of a real typed array, whatever its own properties say. */
export function lengthOf(view: TypedArray): number {
  return lengthGetter.call(view) as number;
}

/**
 * False when the view's memory is gone: its ArrayBuffer was detached
 * (transferred), or a resizable one shrank below a fixed-length view.
 */
export function isAttached(view: TypedArray): boolean {
  try {
    keys.call(view);
    return true;
  } catch {
    return false;
  }
}

/** What a refused value is, with how to fix it if there is an easy way. */
export function received(value: unknown): string {
  if (types.isProxy(value)) return 'a Proxy; pass the object it wraps';
  const hint = ArrayBuffer.isView(value) && !types.isDataView(value) ? '; convert it first, e.g. Float32Array.from(data, Number)' : '';
  return `${describe(value)}${hint}`;
}

/**
 * The entries of a shape array, read once: a real array (not a Proxy) of
 * at most MAX_RANK entries. The entries still need checking.
 */
export function readShape(shape: unknown, what: string): unknown[] {
  if (types.isProxy(shape) || !Array.isArray(shape)) {
    throw new FerroTypeError(`Expected an array of dimensions for ${what}. Received: ${describe(shape)}`);
  }
  if (shape.length > MAX_RANK) {
    throw new FerroShapeError(`Expected at most ${MAX_RANK} dimensions for ${what}. Received: ${shape.length}`);
  }
  const entries: unknown[] = [];
  for (let i = 0; i < shape.length; i++) entries.push(read(shape, i, () => `${what}[${i}]`));
  return entries;
}

/** Shape and values, as `dtype`, of rectangular nested arrays of numbers. */
export function flatten(value: readonly unknown[], dtype: DType): { shape: number[]; values: TypedArray } {
  const shape = shapeOf(value);
  const size = shape.reduce((a, b) => a * b, 1);
  if (size > MAX_NESTED_VALUES) {
    throw new FerroValueError(
      `Expected at most ${MAX_NESTED_VALUES} values in nested arrays; pass larger data as a typed array. Received: shape [${shape.join(', ')}]`,
    );
  }
  let values: TypedArray;
  try {
    values = new constructors[dtype](size);
  } catch {
    throw new FerroValueError(`Expected nested arrays that fit in memory as ${dtype}. Received: shape [${shape.join(', ')}]`);
  }
  let next = 0;
  // Index of the child being read at each depth, for the path in messages.
  const at: number[] = [];
  const ancestors: unknown[] = [];
  const pathTo = (depth: number, i: number): string => `values${at.slice(0, depth).map((j) => `[${j}]`).join('')}[${i}]`;
  // Depth is bounded by shape.length ≤ MAX_RANK, whatever the arrays hold.
  const walk = (node: readonly unknown[], depth: number): void => {
    const length = shape[depth]!;
    const leaves = depth + 1 === shape.length;
    ancestors.push(node);
    let i = 0;
    try {
      for (; i < length; i++) {
        const child = node[i];
        if (leaves) {
          if (typeof child !== 'number') {
            throw new FerroTypeError(`Expected a number at ${pathTo(depth, i)}. Received: ${describe(child)}`);
          }
          values[next++] = child;
        } else {
          at[depth] = i;
          walk(checkArray(child, shape[depth + 1]!, ancestors, () => pathTo(depth, i)), depth + 1);
        }
      }
    } catch (error) {
      throw coded(error, pathTo(depth, i));
    }
    ancestors.pop();
  };
  walk(value, 0);
  return { shape, values };
}

/** The shape, read down the first elements: at most MAX_RANK levels, no cycles. */
function shapeOf(value: readonly unknown[]): number[] {
  const shape: number[] = [];
  const chain: unknown[] = [];
  let level: unknown = value;
  const path = (): string => `values${'[0]'.repeat(shape.length)}`;
  while (isArrayNode(level, path)) {
    if (chain.includes(level)) {
      throw new FerroValueError(`Expected nested arrays without cycles. Received: ${path()} contains itself`);
    }
    if (shape.length === MAX_RANK) {
      throw new FerroShapeError(`Expected at most ${MAX_RANK} dimensions. Received: nested arrays more than ${MAX_RANK} levels deep`);
    }
    chain.push(level);
    shape.push(level.length);
    level = level.length > 0 ? read(level, 0, () => `${path()}[0]`) : undefined;
  }
  return shape;
}

/** True for a real array; throws for a Proxy, which could trap every read. */
function isArrayNode(node: unknown, path: () => string): node is readonly unknown[] {
  if (types.isProxy(node)) {
    throw new FerroTypeError(`Expected plain arrays of numbers, not a Proxy, at ${path()}. Received: a Proxy; pass the array it wraps`);
  }
  return Array.isArray(node);
}

/** `node` as an array of `length`, not a Proxy and not one of its own ancestors. */
function checkArray(node: unknown, length: number, ancestors: readonly unknown[], path: () => string): readonly unknown[] {
  if (!isArrayNode(node, path) || node.length !== length) {
    throw new FerroShapeError(
      `Expected a rectangular nested array: ${path()} should be an array of length ${length}. Received: ${describe(node)}`,
    );
  }
  if (ancestors.includes(node)) {
    throw new FerroValueError(`Expected nested arrays without cycles. Received: ${path()} contains itself`);
  }
  return node;
}

/** `array[i]`, with a throwing getter reported as a coded error. */
function read(array: readonly unknown[], i: number, path: () => string): unknown {
  try {
    return array[i];
  } catch (error) {
    throw coded(error, path());
  }
}

/** Our own errors as they are; anything a getter threw as a coded error about `path`. */
function coded(error: unknown, path: string): FerroError {
  // `instanceof` could run the traps of a thrown Proxy.
  if (!reachesProxy(error) && error instanceof FerroError) return error;
  let detail = describe(error);
  try {
    if (!reachesProxy(error) && error instanceof Error && typeof error.message === 'string') detail += `: ${error.message}`;
  } catch {
    // A message getter that throws too: the kind of error is all there is to say.
  }
  return new FerroTypeError(`Expected plain nested arrays of numbers. Received: reading ${path} threw ${detail}`);
}

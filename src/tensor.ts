/**
 * Tensor: an n-dimensional array of float32, int32 or uint8 values, stored
 * row-major in the matching typed array. Tensors are cheap views: reshape
 * and slice share data, the other methods make new arrays.
 */

import { FerroShapeError, FerroTypeError, FerroValueError } from './errors.js';
import { ACCEPTED_DATA, dtypeOf, flatten, isAttached, lengthOf, readShape, received } from './input.js';
import { checkInt, checkScalar, constructorName, describe, reachesProxy } from './validate.js';

/** The element types a Tensor can hold. */
export type DType = 'float32' | 'int32' | 'uint8';

/** The typed array that holds each dtype. */
export interface DataTypeMap {
  /** 32-bit floats: inputs, weights, predictions. */
  float32: Float32Array;
  /** 32-bit integers: class labels. */
  int32: Int32Array;
  /** Bytes: raw images and labels as datasets ship them. */
  uint8: Uint8Array;
}

/** Any of the typed arrays a Tensor stores its values in. */
export type TypedArray = DataTypeMap[DType];

/** Numbers, or arrays of them nested to any depth (rectangular). */
export type NestedArray = number | readonly NestedArray[];

/** Anything the API accepts where a Tensor belongs. */
export type TensorLike = Tensor | TypedArray | readonly NestedArray[];

/** Nested arrays of numbers mirroring a tensor's shape. */
export type NestedNumbers = number | NestedNumbers[];

const DTYPES: readonly DType[] = ['float32', 'int32', 'uint8'];

function allocate<D extends DType>(dtype: D, length: number): DataTypeMap[D] {
  const Ctor = { float32: Float32Array, int32: Int32Array, uint8: Uint8Array }[dtype];
  return new Ctor(length) as DataTypeMap[D];
}

function checkShape(shape: unknown, name = 'shape'): number[] {
  return readShape(shape, name).map((d, i) => checkInt(d, `${name}[${i}]`, 0));
}

function product(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * A float32 view of uint8 data not converted yet: `asType('float32')` of
 * bytes returns one, and `div` / `mul` of one only change its `table` (the
 * float32 value of each of the 256 bytes), so `images.asType('float32').div(255)`
 * allocates no float array at all until `.data` is read (188 MB for MNIST),
 * only a copy of the bytes (47 MB). The model reads the bytes and the table
 * directly. Each table entry is computed exactly as the eager conversion
 * computes that value, so nothing observable changes. The bytes are a copy
 * ferro-nn owns, never the caller's buffer: nothing can write, detach or
 * shrink them, so views of one tensor (reshape, slice, div) share them.
 */
class PendingFloat32 {
  constructor(
    readonly bytes: Uint8Array,
    readonly table: Float32Array,
  ) {}
}

const IDENTITY_TABLE = Float32Array.from({ length: 256 }, (_, i) => i);

/**
 * @internal The bytes and value table of a float32 tensor not converted yet
 * from uint8, for the native side to convert rows as it reads them.
 */
export function pendingBytes(t: Tensor): { bytes: Uint8Array; table: Float32Array } | undefined {
  const pending = (t as unknown as { pending?: PendingFloat32 }).pending;
  return pending && { bytes: pending.bytes, table: pending.table };
}

// Set by Tensor's static block, the one place that can read its brand.
let isTensor: (value: unknown) => value is Tensor;

/** An n-dimensional array of numbers, row-major, in one typed array. */
export class Tensor<D extends DType = DType> {
  /** The element type: 'float32', 'int32' or 'uint8'. */
  readonly dtype: D;
  /** The size of each dimension, outermost first. */
  readonly shape: readonly number[];
  /** The number of elements: the product of the shape. */
  readonly size: number;
  private values: DataTypeMap[D] | undefined;
  private pending: PendingFloat32 | undefined;

  /** The values, row-major, in the typed array of the dtype. */
  get data(): DataTypeMap[D] {
    if (this.values === undefined) {
      checkIntact(this, 'the tensor');
      const { bytes, table } = this.pending!;
      const values = new Float32Array(bytes.length);
      for (let i = 0; i < bytes.length; i++) values[i] = table[bytes[i]!]!;
      this.values = values as DataTypeMap[D];
      this.pending = undefined;
    }
    return this.values;
  }

  /**
   * @param data a Float32Array, Int32Array or Uint8Array (dtype follows it),
   *   or nested arrays of numbers (float32 unless `dtype` says otherwise).
   * @param shape dimensions; defaults to the data's own (1-D for typed arrays).
   * @param dtype the dtype for nested-array data.
   */
  constructor(data: DataTypeMap[D] | readonly NestedArray[], shape?: readonly number[], dtype?: D) {
    // First: a Proxy could run code on any read, even on `instanceof`.
    if (reachesProxy(data)) throw new FerroTypeError(`Expected ${ACCEPTED_DATA} for tensor data. Received: ${received(data)}`);
    const typed = dtypeOf(data);
    let values: DataTypeMap[D] | undefined;
    let length: number;
    let inferred: number[];
    if ((data as unknown) instanceof PendingFloat32) {
      this.pending = data as unknown as PendingFloat32;
      length = this.pending.bytes.length;
      inferred = [length];
      this.dtype = 'float32' as D;
    } else if (typed) {
      if (dtype !== undefined && dtype !== typed) {
        throw new FerroTypeError(`Expected data of dtype ${describe(dtype)}. Received: ${describe(data)}`);
      }
      if (!isAttached(data as TypedArray)) {
        throw new FerroValueError(
          `Expected typed-array data over live memory. Received: ${describe(data)} whose ArrayBuffer was detached (transferred) or shrunk below it`,
        );
      }
      values = data as DataTypeMap[D];
      length = lengthOf(values);
      inferred = [length];
      this.dtype = typed as D;
    } else if (Array.isArray(data)) {
      const target = (dtype ?? 'float32') as D;
      if (!DTYPES.includes(target)) {
        throw new FerroValueError(`Unknown dtype: ${describe(target)}. Expected one of: ${DTYPES.join(', ')}`);
      }
      const flat = flatten(data, target);
      values = flat.values as DataTypeMap[D];
      length = lengthOf(values);
      inferred = flat.shape;
      this.dtype = target;
    } else {
      throw new FerroTypeError(`Expected ${ACCEPTED_DATA} for tensor data. Received: ${received(data)}`);
    }
    const dims = shape === undefined ? inferred : checkShape(shape);
    if (product(dims) !== length) {
      throw new FerroShapeError(
        `Expected data of ${product(dims)} values for shape [${dims.join(', ')}]. Received: ${length} values`,
      );
    }
    this.values = values;
    this.shape = Object.freeze(dims);
    this.size = length;
  }

  /** Same values, other shape or rows: a view, still unconverted when pending. */
  private view(data: DataTypeMap[D] | Uint8Array, shape: readonly number[]): Tensor<D> {
    const source = this.pending ? new PendingFloat32(data as Uint8Array, this.pending.table) : data;
    return new Tensor<D>(source as DataTypeMap[D], shape);
  }

  /** Reads value i without converting a pending view as a whole. */
  private reader(): (i: number) => number {
    if (this.pending) {
      const { bytes, table } = this.pending;
      return (i) => table[bytes[i]!]!;
    }
    const values = this.values!;
    return (i) => values[i]!;
  }

  /** The stored array: the values, or the bytes of a pending float32 view. */
  private get stored(): TypedArray {
    return this.values ?? this.pending!.bytes;
  }

  /** The number of dimensions. */
  get rank(): number {
    return this.shape.length;
  }

  /** Same data, new shape; one dimension may be -1 and is inferred. */
  reshape(shape: readonly number[]): Tensor<D> {
    checkIntact(this, 'the tensor');
    const dims = readShape(shape, 'reshape').map((d, i) => checkInt(d, `shape[${i}]`, -1));
    const unknown = dims.filter((d) => d === -1).length;
    if (unknown > 1) {
      throw new FerroValueError(`Expected at most one -1 in a reshape. Received: [${dims.join(', ')}]`);
    }
    const known = product(dims.filter((d) => d !== -1));
    if (unknown === 1) {
      if (known === 0 || this.size % known !== 0) {
        throw new FerroShapeError(`Cannot reshape a tensor of ${this.size} values into [${dims.join(', ')}]`);
      }
      dims[dims.indexOf(-1)] = this.size / known;
    } else if (known !== this.size) {
      throw new FerroShapeError(
        `Cannot reshape a tensor of ${this.size} values (shape [${this.shape.join(', ')}]) into [${dims.join(', ')}]`,
      );
    }
    return this.view(this.stored as DataTypeMap[D], dims);
  }

  /**
   * A copy converted to `dtype`: toward zero for integer types, wrapping
   * out-of-range values (modulo 2^32 or 256) and making NaN and ±Infinity 0,
   * as typed arrays store numbers (TF.js's cast to int32 gives the same).
   */
  asType<T extends DType>(dtype: T): Tensor<T> {
    checkIntact(this, 'the tensor');
    if (!DTYPES.includes(dtype)) {
      throw new FerroValueError(`Unknown dtype: ${describe(dtype)}. Expected one of: ${DTYPES.join(', ')}`);
    }
    if (dtype === 'float32' && this.pending) return this.view(this.pending.bytes, this.shape) as unknown as Tensor<T>;
    if (dtype === 'float32' && this.values instanceof Uint8Array) {
      // A copy of the bytes, a quarter the size of the floats: the result
      // must not see later writes to this tensor's buffer, nor lose its
      // values when that buffer is detached or shrunk. new Uint8Array, as a
      // Buffer's slice() would be a view.
      return new Tensor<T>(new PendingFloat32(new Uint8Array(this.values), IDENTITY_TABLE) as unknown as DataTypeMap[T], this.shape);
    }
    const out = allocate(dtype, this.size);
    out.set(this.data);
    return new Tensor<T>(out, this.shape);
  }

  /**
   * Elementwise division by a number; the result is float32. Dividing by 0,
   * NaN or ±Infinity gives IEEE 754's values (±Infinity, NaN, ±0), as in
   * TF.js and numpy, for every dtype: the quotient is a float either way.
   */
  div(divisor: number): Tensor<'float32'> {
    const d = Math.fround(checkScalar(divisor, 'divisor'));
    return this.map((v) => v / d);
  }

  /** Elementwise multiplication by a number (NaN and ±Infinity included, IEEE 754); the result is float32. */
  mul(factor: number): Tensor<'float32'> {
    const f = Math.fround(checkScalar(factor, 'factor'));
    return this.map((v) => v * f);
  }

  /**
   * `f` of each value, rounded to float32. Callers round their scalar to
   * float32 first, as TF.js, numpy and Keras do: one operation on two
   * float32 values, done in double and rounded once, is float32's correctly
   * rounded result (with the scalar kept in double, div(0.1) differed from
   * TF.js in the last bit of one value in seven). int32 values are used
   * exactly, as TF.js's CPU backend uses them.
   */
  private map(f: (v: number) => number): Tensor<'float32'> {
    checkIntact(this, 'the tensor');
    // A pending view maps its 256-entry table, not its bytes.
    if (this.pending) {
      const table = this.pending.table.map(f);
      return new Tensor(new PendingFloat32(this.pending.bytes, table) as unknown as Float32Array, this.shape);
    }
    const src = this.stored;
    const out = new Float32Array(this.size);
    for (let i = 0; i < out.length; i++) out[i] = f(src[i] as number);
    return new Tensor(out, this.shape);
  }

  /** Rows `start` to `end` (exclusive) along the first axis; shares data. Negative indices count from the end. */
  slice(start: number, end?: number): Tensor<D> {
    if (this.rank === 0) throw new FerroShapeError('Cannot slice a scalar tensor (rank 0)');
    checkIntact(this, 'the tensor');
    const rows = this.shape[0] as number;
    const clamp = (i: number, name: string): number => {
      checkInt(i, name, -Number.MAX_SAFE_INTEGER);
      return Math.min(rows, Math.max(0, i < 0 ? rows + i : i));
    };
    const from = clamp(start, 'start');
    const to = Math.max(from, end === undefined ? rows : clamp(end, 'end'));
    const rowSize = rows === 0 ? 0 : this.size / rows;
    const data = this.stored.subarray(from * rowSize, to * rowSize) as DataTypeMap[D];
    return this.view(data, [to - from, ...this.shape.slice(1)]);
  }

  /** Index of the largest value along `axis` (first on ties; NaN never beats a number, an all-NaN row gives 0); int32. */
  argMax(axis = -1): Tensor<'int32'> {
    if (this.rank === 0) throw new FerroShapeError('Cannot take argMax of a scalar tensor (rank 0)');
    const ax = checkInt(axis, 'axis', -this.rank, this.rank - 1);
    const a = ax < 0 ? ax + this.rank : ax;
    const len = this.shape[a] as number;
    if (len === 0) throw new FerroShapeError(`Cannot take argMax along axis ${a} of length 0`);
    checkIntact(this, 'the tensor');
    const inner = product(this.shape.slice(a + 1));
    const outer = product(this.shape.slice(0, a));
    const at = this.reader();
    const out = new Int32Array(outer * inner);
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        const base = o * len * inner + i;
        let best = 0;
        let bestValue = at(base);
        for (let k = 1; k < len; k++) {
          const v = at(base + k * inner);
          if (v > bestValue || (Number.isNaN(bestValue) && !Number.isNaN(v))) {
            best = k;
            bestValue = v;
          }
        }
        out[o * inner + i] = best;
      }
    }
    return new Tensor(out, [...this.shape.slice(0, a), ...this.shape.slice(a + 1)]);
  }

  /** The values as nested arrays (a plain number for rank 0). */
  toArray(): NestedNumbers {
    checkIntact(this, 'the tensor');
    // A tensor with no values can still have a huge leading dimension: its
    // nested arrays, not its values, would fill the heap.
    let arrays = 0;
    for (let d = 0, outer = 1; d < this.rank && outer > 0; outer *= this.shape[d]!, d++) arrays += outer;
    if (arrays > this.size + MAX_EMPTY_ARRAYS) {
      throw new FerroValueError(
        `Expected a tensor whose nested arrays toArray() can build (at most ${MAX_EMPTY_ARRAYS} beyond its values). Received: shape [${this.shape.join(', ')}], ${arrays} arrays for ${this.size} values`,
      );
    }
    const at = this.reader();
    const build = (depth: number, offset: number): NestedNumbers => {
      if (depth === this.rank) return at(offset);
      const stride = product(this.shape.slice(depth + 1));
      return Array.from({ length: this.shape[depth] as number }, (_, i) => build(depth + 1, offset + i * stride));
    };
    return build(0, 0);
  }

  /** 'Tensor(dtype=float32, shape=[2, 3])': the dtype and shape, not the values. */
  toString(): string {
    return `Tensor(dtype=${this.dtype}, shape=[${this.shape.join(', ')}])`;
  }

  // Only the constructor gives an object this brand: unlike `instanceof`, it
  // cannot be faked with Object.create(Tensor.prototype) or passed by a Proxy.
  readonly #brand = true;
  static {
    isTensor = (value: unknown): value is Tensor => typeof value === 'object' && value !== null && #brand in value;
  }
}

/** Nested arrays toArray() builds for a tensor with fewer values than that. */
const MAX_EMPTY_ARRAYS = 2 ** 24;

/** `value` as a Tensor: Tensors pass through, typed arrays become 1-D, nested arrays are flattened. */
export function toTensor(value: unknown, name: string): Tensor {
  if (isTensor(value)) return checkIntact(value, name);
  const proxy = reachesProxy(value);
  if (!proxy && (dtypeOf(value) || Array.isArray(value))) return new Tensor(value as TypedArray);
  const what =
    !proxy && constructorName(value) === 'Tensor'
      ? 'a Tensor from another copy of ferro-nn, or not made by its constructor'
      : received(value);
  throw new FerroTypeError(`Expected a Tensor, ${ACCEPTED_DATA} for ${name}. Received: ${what}`);
}

/** `t`, if all its values are still there: its ArrayBuffer may have been detached or resized since. */
function checkIntact(t: Tensor, name: string): Tensor {
  // The stored array: a pending view's bytes, not a conversion of them.
  const data: TypedArray | undefined = pendingBytes(t)?.bytes ?? t.data;
  if (data === undefined || !isAttached(data) || lengthOf(data) !== t.size) {
    throw new FerroValueError(
      `Expected ${name} to hold its ${t.size} values. Received: a Tensor whose ArrayBuffer was detached (transferred) or resized after the Tensor was made`,
    );
  }
  return t;
}

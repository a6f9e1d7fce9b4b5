import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { FerroShapeError, FerroTypeError, FerroValueError, Tensor } from '../src/index.js';

describe('Tensor', () => {
  it('infers dtype and shape from typed arrays and nested arrays', () => {
    const f = new Tensor(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]);
    expect(f.dtype).toBe('float32');
    expect(f.shape).toEqual([2, 3]);
    expect(f.size).toBe(6);
    expect(new Tensor(new Int32Array(4)).shape).toEqual([4]);
    expect(new Tensor(new Uint8Array(2)).dtype).toBe('uint8');
    const n = new Tensor([[1, 2], [3, 4], [5, 6]]);
    expect(n.dtype).toBe('float32');
    expect(n.shape).toEqual([3, 2]);
    expect(Array.from(n.data)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(new Tensor([1, 2, 3], [3], 'int32').data).toBeInstanceOf(Int32Array);
    expect(new Tensor([1, 2, 3, 4], [2, 2]).toArray()).toEqual([[1, 2], [3, 4]]);
  });

  it('refuses data that does not match its shape, ragged arrays and foreign types', () => {
    expect(() => new Tensor(new Float32Array(5), [2, 3])).toThrow(FerroShapeError);
    expect(() => new Tensor([[1, 2], [3]])).toThrow(FerroShapeError);
    expect(() => new Tensor([[1, 'a']] as never)).toThrow(FerroTypeError);
    expect(() => new Tensor(new Float64Array(3) as never)).toThrow(FerroTypeError);
    expect(() => new Tensor('abc' as never)).toThrow(/Float32Array, Int32Array, Uint8Array/);
    expect(() => new Tensor(new Float32Array(4), [2, -2])).toThrow(FerroValueError);
    expect(() => new Tensor(new Float32Array(4), [2, 2.5])).toThrow(FerroValueError);
  });

  it('reshapes without copying, with one inferred dimension', () => {
    const t = new Tensor(new Uint8Array(24), [2, 3, 4]);
    const r = t.reshape([-1, 12]);
    expect(r.shape).toEqual([2, 12]);
    expect(r.data).toBe(t.data);
    expect(t.reshape([4, 6]).shape).toEqual([4, 6]);
    expect(() => t.reshape([5, -1])).toThrow(FerroShapeError);
    expect(() => t.reshape([-1, -1])).toThrow(/at most one -1/);
    expect(() => t.reshape([7, 7])).toThrow(FerroShapeError);
  });

  it('converts dtypes, truncating toward zero for integers', () => {
    const t = new Tensor(new Float32Array([1.7, -2.5, 3, 255.9]), [4]);
    expect(Array.from(t.asType('int32').data)).toEqual([1, -2, 3, 255]);
    const u = new Tensor(new Uint8Array([0, 128, 255]), [3]).asType('float32');
    expect(u.dtype).toBe('float32');
    expect(Array.from(u.data)).toEqual([0, 128, 255]);
    expect(() => t.asType('float64' as never)).toThrow(FerroValueError);
  });

  it('converts out-of-range values, NaN and ±Infinity to int32 as TensorFlow.js casts them, and wraps uint8 (README)', () => {
    const edges = [1.7, -1.7, -2.5, 256, 300.7, -1, Number.NaN, Infinity, -Infinity, 3e9, -3e9];
    expect(Array.from(new Tensor(edges).asType('int32').data)).toEqual(Array.from(tf.tensor(edges).cast('int32').dataSync()));
    expect(Array.from(new Tensor(edges).asType('uint8').data)).toEqual([1, 255, 254, 0, 44, 255, 0, 0, 0, 0, 0]);
  });

  it('converts bytes to float32 lazily, with the same values as an eager conversion', () => {
    const bytes = new Uint8Array(24).map((_, i) => (i * 37) & 255);
    const u = new Tensor(bytes, [4, 6]);
    const lazy = u.reshape([2, 12]).asType('float32');
    expect(lazy.dtype).toBe('float32');
    expect(lazy.shape).toEqual([2, 12]);
    const scaled = lazy.slice(1).div(255);
    expect(Array.from(scaled.data)).toEqual(Array.from(bytes.subarray(12)).map((v) => Math.fround(v / 255)));
    expect(lazy.argMax().toArray()).toEqual([6, 8]);
    expect(lazy.data).toBeInstanceOf(Float32Array);
    expect(Array.from(lazy.data)).toEqual(Array.from(bytes));
    expect(lazy.toArray()).toEqual(new Tensor(Float32Array.from(bytes), [2, 12]).toArray());
  });

  it('asType returns a copy: later writes to the source, or detaching its buffer, leave it as it was', () => {
    for (const dtype of ['float32', 'int32', 'uint8'] as const) {
      const u = new Tensor(new Uint8Array([1, 2, 3, 4]), [2, 2]);
      const copies = [u.asType(dtype), u.slice(1).asType(dtype), u.asType(dtype).div(2)];
      const before = [[[1, 2], [3, 4]], [[3, 4]], [[0.5, 1], [1.5, 2]]];
      u.data[0] = 100;
      u.data[3] = 200;
      expect(copies.map((c) => c.toArray()), dtype).toEqual(before);
      structuredClone(u.data.buffer, { transfer: [u.data.buffer as ArrayBuffer] });
      expect(copies.map((c) => c.toArray()), dtype).toEqual(before);
      expect(Array.from(copies[0]!.data), dtype).toEqual([1, 2, 3, 4]);
    }
  });

  it('divides and multiplies into float32 with correctly rounded results', () => {
    const u = new Tensor(new Uint8Array([0, 1, 127, 255]), [2, 2]);
    const d = u.div(255);
    expect(d.dtype).toBe('float32');
    expect(d.shape).toEqual([2, 2]);
    // Math.fround(v / 255) is what numpy's float32 division gives.
    expect(Array.from(d.data)).toEqual([0, 1, 127, 255].map((v) => Math.fround(v / 255)));
    expect(Array.from(u.mul(0.5).data)).toEqual([0, 0.5, 63.5, 127.5]);
    // A scalar float32 cannot hold is rounded to float32 first, as TF.js and numpy do.
    const values = Float32Array.from({ length: 1000 }, (_, i) => Math.fround((i - 500) * 0.0137 + Math.sin(i)));
    const ints = Int32Array.from({ length: 1000 }, (_, i) => (i * 104729) ^ (i << 20));
    for (const s of [0.1, 1 / 3, 3.3, 1e-3, 1e30]) {
      for (const data of [values, ints]) {
        expect(Array.from(new Tensor(data).div(s).data)).toEqual(Array.from(tf.tensor(data).div(s).dataSync()));
        expect(Array.from(new Tensor(data).mul(s).data)).toEqual(Array.from(tf.tensor(data).mul(s).dataSync()));
      }
    }
    expect(new Tensor([3]).div(0.1).data[0]).toBe(Math.fround(3 / Math.fround(0.1)));
    expect(() => u.div('2' as never)).toThrow(FerroTypeError);
    expect(() => u.mul(null as never)).toThrow(FerroTypeError);
  });

  it('divides and multiplies by 0, NaN and ±Infinity as IEEE 754 and TensorFlow.js do', () => {
    expect(Array.from(new Tensor([1, -1, 0]).div(0).data)).toEqual([Infinity, -Infinity, NaN]);
    expect(Object.is(new Tensor([-1]).div(Infinity).data[0], -0)).toBe(true);
    // Bytes converted lazily map their value table the same way.
    expect(Array.from(new Tensor(new Uint8Array([0, 2])).asType('float32').div(0).data)).toEqual([NaN, Infinity]);
    for (const dtype of ['float32', 'int32'] as const) {
      for (const s of [0, -0, Number.NaN, Infinity, -Infinity]) {
        const ours = new Tensor([3, -1, 0, 7], [2, 2], dtype);
        const theirs = tf.tensor([3, -1, 0, 7], [2, 2], dtype);
        // toEqual tells -0 from 0 and matches NaN with NaN.
        expect([ours.div(s).dtype, Array.from(ours.div(s).data)]).toEqual([theirs.div(s).dtype, Array.from(theirs.div(s).dataSync())]);
        expect([ours.mul(s).dtype, Array.from(ours.mul(s).data)]).toEqual([theirs.mul(s).dtype, Array.from(theirs.mul(s).dataSync())]);
      }
    }
  });

  it('slices rows as views and takes argMax along any axis', () => {
    const t = new Tensor(new Float32Array([5, 1, 9, 2, 8, 3, 0, 7, 7, 1, 2, 3]), [4, 3]);
    const s = t.slice(1, 3);
    expect(s.shape).toEqual([2, 3]);
    expect(s.toArray()).toEqual([[2, 8, 3], [0, 7, 7]]);
    s.data[0] = 42;
    expect(t.data[3]).toBe(42); // shares data
    expect(t.slice(-1).toArray()).toEqual([[1, 2, 3]]);
    expect(t.slice(3, 1).shape).toEqual([0, 3]);
    const am = new Tensor(new Float32Array([5, 1, 9, 2, 8, 3, 0, 7, 7, 1, 2, 3]), [4, 3]);
    expect(am.argMax().dtype).toBe('int32');
    expect(Array.from(am.argMax().data)).toEqual([2, 1, 1, 2]); // first maximum wins ties
    expect(Array.from(am.argMax(0).data)).toEqual([0, 1, 0]);
    const cube = new Tensor(new Float32Array([1, 9, 3, 4, 5, 0, 2, 2]), [2, 2, 2]);
    expect(cube.argMax(1).toArray()).toEqual([[1, 0], [0, 1]]);
    expect(() => am.argMax(2)).toThrow(FerroValueError);
    // NaN never beats a number, wherever it stands (README; TF.js picks a leading NaN).
    expect(new Tensor([[Number.NaN, 1, 2], [1, Number.NaN, 2], [Number.NaN, Number.NaN, Number.NaN]]).argMax().toArray()).toEqual([2, 2, 0]);
  });
});

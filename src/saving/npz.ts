/**
 * Keras's npz weights (saving_lib's weights_format="npz"): a zip of one
 * `.npy` per saveable object (`layers/dense.npy`, `optimizer.npy`,
 * `__root__.npy`), each a numpy object array wrapping a pickled dict
 * {'0': variable, '1': …}. A variable is a numpy array, or, as Keras
 * pickles it, a Keras `Variable` whose `_value` is a numpy array (numpy
 * backend) or a jax array (jax backend). The pickles are read by the
 * restricted reader in pickle.ts, which accepts exactly those classes and
 * never calls anything.
 */

import { FerroValueError } from '../errors.js';
import { unzipMembers } from './files.js';
import { type PyCall, type PyValue, unpickle } from './pickle.js';
import { checkedVars, type Numbers, type StoredVar, type VarReader, varReader } from './vars.js';

const RECONSTRUCT = new Set(['numpy._core.multiarray._reconstruct', 'numpy.core.multiarray._reconstruct']);
const JAX_ARRAY = 'jax._src.array._reconstruct_array';
const VARIABLE = /^keras\.src\.backend(\.[a-z_]+)*\.Variable$/;
/** A Variable also pickles its regularizer (and may its initializer): kept as inert records, never read. */
const VARIABLE_PARTS = /^keras\.src\.(regularizers|initializers)(\.[a-z_]+)*\.[A-Za-z0-9]+$/;
export const ALLOWED = (name: string) =>
  RECONSTRUCT.has(name) ||
  name === 'numpy.ndarray' ||
  name === 'numpy.dtype' ||
  name === JAX_ARRAY ||
  VARIABLE.test(name) ||
  VARIABLE_PARTS.test(name);

/** numpy's dtype names ferro-nn reads, with their kind and item size. */
const DTYPES: Record<string, [kind: 'float' | 'int', size: number]> = { f4: ['float', 4], f8: ['float', 8], i4: ['int', 4], i8: ['int', 8] };

/** A reader of Keras npz weights `bytes` (at most `limit` bytes inflated), decoded once. */
export function npzReader(bytes: Uint8Array, what: string, limit: number): VarReader {
  const members = unzipMembers(bytes, (name) => (name.endsWith('.npy') ? limit : undefined), what, limit);
  const groups = new Map<string, Map<PyValue, PyValue>>();
  for (const [name, npy] of Object.entries(members)) {
    const path = name === '__root__.npy' ? '' : name.slice(0, -'.npy'.length);
    groups.set(path, storeDict(npy, `${what}: ${name}`));
  }
  const described = (groupPath: string, shapes: number[][], label: string, integers: boolean) => {
    const g = groups.get(groupPath);
    return checkedVars(what, label, groupPath, g?.size, shapes, integers, (i) => {
      const v = g!.get(String(i));
      return v === undefined ? undefined : variable(v, `${what}: ${label} variable ${i}`);
    });
  };
  return varReader((groupPath) => groups.get(groupPath)?.size ?? 0, described);
}

/** The dict inside one `.npy` member: a 0-d object array around a pickle. */
function storeDict(npy: Uint8Array, what: string): Map<PyValue, PyValue> {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
  if (npy.length < 10 || magic.some((b, i) => npy[i] !== b)) throw new FerroValueError(`${what} is not a .npy array.`);
  const view = new DataView(npy.buffer, npy.byteOffset, npy.byteLength);
  const major = npy[6]!;
  const [headerAt, headerLength] = major === 1 ? [10, view.getUint16(8, true)] : npy.length >= 12 ? [12, view.getUint32(8, true)] : [0, -1];
  if (major > 3 || headerLength < 0 || headerAt + headerLength > npy.length) throw new FerroValueError(`${what} has a damaged .npy header.`);
  const header = new TextDecoder('latin1').decode(npy.subarray(headerAt, headerAt + headerLength));
  // Keras stores each object's variables as a dict in a 0-d object array.
  if (!/'descr':\s*'\|O'/.test(header) || !/'shape':\s*\(\)/.test(header)) {
    throw new FerroValueError(`${what}: expected Keras's pickled dict (a 0-d object array). Received: header ${header.trim().slice(0, 120)}`);
  }
  const top = unpickle(npy.subarray(headerAt + headerLength), ALLOWED, what);
  const [, , , , items] = arrayState(top, what);
  const dict = Array.isArray(items) && items.length === 1 ? items[0] : undefined;
  if (!(dict instanceof Map)) throw new FerroValueError(`${what}: the object array does not hold a dict.`);
  return dict;
}

/** A variable as stored: a numpy array, a jax array, or a Keras Variable around either; described, read on demand. */
export function variable(v: PyValue, what: string, depth = 0): StoredVar {
  if (depth > 3 || !isCall(v)) throw new FerroValueError(`${what}: expected an array or a Keras Variable. Received: ${describe(v)}`);
  if (VARIABLE.test(v.call)) {
    const value = v.state instanceof Map ? v.state.get('_value') : undefined;
    if (value === undefined) throw new FerroValueError(`${what}: a Keras Variable without its _value.`);
    return variable(value, what, depth + 1);
  }
  if (v.call === JAX_ARRAY) {
    // jax's _reconstruct_array(fun, args, arr_state, aval_state) = fun(*args).__setstate__(arr_state)
    const [fun, args, state] = v.args;
    if (!isGlobal(fun) || !Array.isArray(args)) throw new FerroValueError(`${what}: a jax array in an unknown form.`);
    return variable({ call: fun.global, args, state }, what, depth + 1);
  }
  const [, shape, dtype, fortran, data] = arrayState(v, what);
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
    throw new FerroValueError(`${what}: an array shape that is not a tuple of sizes.`);
  }
  const [descr, kind, size] = dtypeOf(dtype, what);
  if (fortran !== false) throw new FerroValueError(`${what}: a Fortran-ordered array; Keras writes C order.`);
  const count = (shape as number[]).reduce((a, b) => a * b, 1);
  if (!(data instanceof Uint8Array) || data.length !== count * size) {
    throw new FerroValueError(`${what}: shape [${shape.join(', ')}] of ${descr} needs ${count * size} bytes; the file holds ${describe(data)}.`);
  }
  return { shape: shape as number[], dtype: descr, kind, read: () => toNumbers(data, descr) };
}

/** The BUILD state of a numpy array, (version, shape, dtype, is_fortran, data). */
function arrayState(v: PyValue, what: string): PyValue[] {
  const ndarray = isCall(v) && RECONSTRUCT.has(v.call) && isGlobal(v.args[0]) && v.args[0].global === 'numpy.ndarray';
  if (!ndarray || !Array.isArray(v.state) || v.state.length !== 5) {
    throw new FerroValueError(`${what}: expected a numpy array. Received: ${describe(v)}`);
  }
  return v.state;
}

/** A numpy dtype's name (e.g. 'f4'), kind and item size, little-endian only. */
function dtypeOf(dtype: PyValue | undefined, what: string): [string, 'float' | 'int', number] {
  const name = isCall(dtype) && dtype.call === 'numpy.dtype' ? dtype.args[0] : undefined;
  // Own keys only: 'constructor' or 'toString' would find Object.prototype's.
  const known = typeof name === 'string' && Object.hasOwn(DTYPES, name) ? DTYPES[name] : undefined;
  const order = Array.isArray(dtype && isCall(dtype) ? dtype.state : undefined) ? ((dtype as PyCall).state as PyValue[])[1] : undefined;
  if (!known || !['<', '|', '='].includes(order as string)) {
    throw new FerroValueError(`${what}: expected a little-endian float32, float64, int32 or int64 array. Received: dtype ${describe(name)} (${describe(order)})`);
  }
  return [name as string, ...known];
}

function toNumbers(data: Uint8Array, descr: string): Numbers {
  const buffer = data.slice().buffer; // aligned copy
  if (descr === 'f4') return new Float32Array(buffer);
  if (descr === 'f8') return Float32Array.from(new Float64Array(buffer));
  // Integers (a step count) as float64, exact where float32 would round.
  if (descr === 'i4') return Float64Array.from(new Int32Array(buffer));
  return Float64Array.from(new BigInt64Array(buffer), Number);
}

function isCall(v: PyValue | undefined): v is PyCall {
  return v !== null && typeof v === 'object' && 'call' in v;
}

function isGlobal(v: PyValue | undefined): v is { global: string } {
  return v !== null && typeof v === 'object' && 'global' in v;
}

function describe(v: PyValue | undefined): string {
  if (isCall(v)) return `a call of ${v.call}`;
  if (v instanceof Uint8Array) return `${v.length} bytes`;
  if (v instanceof Map) return 'a dict';
  if (Array.isArray(v)) return `a tuple of ${v.length}`;
  return typeof v === 'string' ? `'${v.slice(0, 40)}'` : String(v);
}

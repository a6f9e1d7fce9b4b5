/** Argument checks shared by the public API. Each throws a coded error. */

import { types } from 'node:util';
import { FerroTypeError, FerroValueError } from './errors.js';

// Brand checks, which proxies and objects with a typed array's prototype fail.
const views: readonly [string, (value: unknown) => boolean][] = [
  ['Float32Array', types.isFloat32Array],
  ['Float64Array', types.isFloat64Array],
  ['Int8Array', types.isInt8Array],
  ['Int16Array', types.isInt16Array],
  ['Int32Array', types.isInt32Array],
  ['Uint8Array', types.isUint8Array],
  ['Uint8ClampedArray', types.isUint8ClampedArray],
  ['Uint16Array', types.isUint16Array],
  ['Uint32Array', types.isUint32Array],
  ['BigInt64Array', types.isBigInt64Array],
  ['BigUint64Array', types.isBigUint64Array],
  ['DataView', types.isDataView],
];

/** How a value reads in an error message; never throws, never runs a Proxy's traps. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return value.length > 60 ? `'${value.slice(0, 57)}...'` : `'${value}'`;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'symbol') return String(value);
  if (typeof value === 'function') return 'a function';
  if (reachesProxy(value)) return types.isProxy(value) ? 'a Proxy' : 'an object that inherits from a Proxy';
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (ArrayBuffer.isView(value)) return article(views.find(([, is]) => is(value))?.[0] ?? 'typed array');
  const name = constructorName(value);
  if (name && views.some(([view]) => view === name)) return `an object with ${name}'s prototype, not a real ${name}`;
  return name && name !== 'Object' ? article(name) : 'an object';
}

// By sound: "an Int16Array", "an Error", but "a Uint8Array".
function article(noun: string): string {
  return /^[aeio]/i.test(noun) ? `an ${noun}` : `a ${noun}`;
}

/**
 * True for a Proxy, or an object that inherits from one: `instanceof` and
 * property reads would run its traps.
 */
export function reachesProxy(value: unknown): boolean {
  for (let o = value; (typeof o === 'object' && o !== null) || typeof o === 'function'; o = Object.getPrototypeOf(o)) {
    if (types.isProxy(o)) return true;
  }
  return false;
}

/** A real array: false for a Proxy of one (even a revoked one), whose traps would run. */
export function isArray(value: unknown): value is unknown[] {
  return !reachesProxy(value) && Array.isArray(value);
}

/**
 * `f` of each entry of a caller's array, in order, holes read as undefined:
 * Array's map, forEach and every skip holes, so a check of each entry would
 * let `[a, , b]` through to code that trusts it.
 */
export function mapEntries<T, U>(array: readonly T[], f: (value: T | undefined, index: number) => U): U[] {
  const out: U[] = [];
  for (let i = 0; i < array.length; i++) out.push(f(array[i], i));
  return out;
}

/** The name of an object's constructor, if reading it is harmless and gives a string. */
export function constructorName(value: unknown): string | undefined {
  try {
    const name: unknown = (value as { constructor?: { name?: unknown } }).constructor?.name;
    return typeof name === 'string' ? name : undefined;
  } catch {
    return undefined;
  }
}

/** An integer ≥ `min` (default 1), no larger than `max`. */
export function checkInt(value: unknown, name: string, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number') {
    throw new FerroTypeError(`Expected an integer for ${name}. Received: ${name}=${describe(value)}`);
  }
  if (!Number.isInteger(value) || value < min || value > max) {
    const range = min === 1 ? 'a positive integer' : min === 0 ? 'a non-negative integer' : `an integer >= ${min}`;
    // Said at the default bound too: past 2^53 - 1, numbers skip integers (2^53 + 1 reads as 2^53).
    const upper = ` no larger than ${max === Number.MAX_SAFE_INTEGER ? '2^53 - 1 (Number.MAX_SAFE_INTEGER)' : max}`;
    throw new FerroValueError(`Expected ${range}${upper} for ${name}. Received: ${name}=${value}`);
  }
  return value;
}

/**
 * Any number, NaN and ±Infinity included: an operand of arithmetic, whose
 * result IEEE 754 defines for every value (a divisor of 0 is not bad input).
 */
export function checkScalar(value: unknown, name: string): number {
  if (typeof value !== 'number') {
    throw new FerroTypeError(`Expected a number for ${name}. Received: ${name}=${describe(value)}`);
  }
  return value;
}

/** A finite number in [min, max]. */
export function checkNumber(value: unknown, name: string, min = -Infinity, max = Infinity): number {
  if (typeof value !== 'number') {
    throw new FerroTypeError(`Expected a number for ${name}. Received: ${name}=${describe(value)}`);
  }
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new FerroValueError(`Expected a finite number in [${min}, ${max}] for ${name}. Received: ${name}=${value}`);
  }
  return value;
}

/**
 * A layer's or model's name as Keras 3 takes it: '/' separates the parts of
 * a variable's path ('dense/kernel'), so Keras refuses it in names, and a
 * file holding one would not load there.
 */
export function checkKerasName(value: unknown, what: 'layer' | 'model'): string {
  const s = checkString(value, 'name');
  if (s.includes('/')) {
    throw new FerroValueError(`Expected a ${what} name without '/', as Keras 3 refuses it in names. Received: name=${JSON.stringify(s)}`);
  }
  return s;
}

/** A share that leaves something over: a number in [0, 1) (Dropout's rate, validationSplit). */
export function checkFraction(value: unknown, name: string, what = name): number {
  if (typeof value !== 'number') {
    throw new FerroTypeError(`Expected a number for ${name}. Received: ${name}=${describe(value)}`);
  }
  if (!(value >= 0 && value < 1)) {
    throw new FerroValueError(`Expected ${what} in [0, 1). Received: ${name}=${value}`);
  }
  return value;
}

export function checkBoolean(value: unknown, name: string): boolean {
  if (typeof value !== 'boolean') {
    throw new FerroTypeError(`Expected a boolean for ${name}. Received: ${name}=${describe(value)}`);
  }
  return value;
}

/** A string. */
export function checkString(value: unknown, name: string): string {
  if (typeof value !== 'string') {
    throw new FerroTypeError(`Expected a string for ${name}. Received: ${name}=${describe(value)}`);
  }
  return value;
}

/** One of `allowed`, with the list in the message otherwise. */
export function checkName<T extends string>(value: unknown, name: string, allowed: readonly T[]): T {
  if (typeof value !== 'string') {
    throw new FerroTypeError(`Expected a string for ${name}. Received: ${name}=${describe(value)}`);
  }
  if (!(allowed as readonly string[]).includes(value)) {
    throw new FerroValueError(`Unknown ${name}: '${value}'. Expected one of: ${allowed.join(', ')}`);
  }
  return value as T;
}

/**
 * A plain options object (or undefined, read as {}) whose keys are all
 * among `allowed`: as Keras refuses an argument it does not know, a
 * misspelt option (batch_size for batchSize) is an error, not a default.
 */
export function checkOptions(value: unknown, name: string, allowed: readonly string[]): Record<string, unknown> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || reachesProxy(value) || Array.isArray(value)) {
    throw new FerroTypeError(`Expected a plain options object for ${name}. Received: ${describe(value)}`);
  }
  // A key set to undefined is one left out, as TypeScript's optional options read.
  const options = value as Record<string, unknown>;
  const unknown = Object.keys(options).find((key) => !allowed.includes(key) && options[key] !== undefined);
  if (unknown !== undefined) {
    const camel = unknown.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
    const hint = camel !== unknown && allowed.includes(camel) ? ` (ferro-nn spells it '${camel}')` : '';
    throw new FerroValueError(`Expected options of ${name} among: ${allowed.join(', ')}. Received: ${describe(unknown)}${hint}`);
  }
  return options;
}

/**
 * Every option name of `T`, for checkOptions: the compiler refuses a list
 * that misses one (`{ missing: ... }` names it) or names one `T` lacks.
 */
export function optionNames<T>() {
  return <const L extends readonly (keyof T & string)[]>(
    names: L & (Exclude<keyof T & string, L[number]> extends never ? unknown : { missing: Exclude<keyof T & string, L[number]> }),
  ): readonly string[] => names;
}

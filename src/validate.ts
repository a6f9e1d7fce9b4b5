/** Argument checks shared by the public API. Each throws a coded error. */

import { FerroTypeError, FerroValueError } from './errors.js';

/** How a value reads in an error message. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return `'${value}'`;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name}`;
  const name = (value as object).constructor?.name;
  return name && name !== 'Object' ? `a ${name}` : 'an object';
}

/** An integer ≥ `min` (default 1), no larger than `max`. */
export function checkInt(value: unknown, name: string, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number') {
    throw new FerroTypeError(`Expected an integer for ${name}. Received: ${name}=${describe(value)}`);
  }
  if (!Number.isInteger(value) || value < min || value > max) {
    const range = min === 1 ? 'a positive integer' : min === 0 ? 'a non-negative integer' : `an integer >= ${min}`;
    const upper = max < Number.MAX_SAFE_INTEGER ? ` no larger than ${max}` : '';
    throw new FerroValueError(`Expected ${range}${upper} for ${name}. Received: ${name}=${value}`);
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

/** A plain options object (or undefined, read as {}). */
export function checkOptions(value: unknown, name: string): Record<string, unknown> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new FerroTypeError(`Expected an options object for ${name}. Received: ${describe(value)}`);
  }
  return value as Record<string, unknown>;
}

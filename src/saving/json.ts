/**
 * JSON from files, parsed with a bound on nesting: the readers of the
 * parsed tree (and JSON.stringify in their messages) recurse, so a few KB
 * of '[[[[…' would otherwise end in an uncoded RangeError. Keras's configs
 * nest a dozen levels at most.
 */

import { FerroValueError } from '../errors.js';

/** Deepest nesting of arrays and objects accepted. */
export const MAX_JSON_DEPTH = 64;

/** The JSON value of UTF-8 `bytes`; ERR_FERRO_VALUE when it is not JSON or nests too deep. */
export function parseJson(bytes: Uint8Array, what: string, most = MAX_JSON_DEPTH): unknown {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (error) {
    throw new FerroValueError(`${what} is not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  checkDepth(value, what, most);
  return value;
}

/** Refuses a parsed JSON value nested deeper than `most`; walks it without recursion. */
export function checkDepth(value: unknown, what: string, most = MAX_JSON_DEPTH): void {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (depth >= most) {
      throw new FerroValueError(`Expected ${what} nested at most ${most} levels deep. Received: more than ${most} levels`);
    }
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth + 1]);
  }
}

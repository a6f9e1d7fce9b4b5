/**
 * Weight penalties for Dense's `kernelRegularizer` and `biasRegularizer`,
 * as Keras's L1L2: l1·Σ|w| + l2·Σw² is added to the loss that fit() and
 * evaluate() report, and its gradient to the weights' gradient.
 */

import { FerroTypeError } from './errors.js';
import { Tensor } from './tensor.js';
import { checkNumber, checkOptions, describe, optionNames } from './validate.js';

/** The options each call takes: any other key is refused (validate.ts, checkOptions). */
const L1L2_OPTIONS = optionNames<L1L2Options>()(['l1', 'l2']);

/** The factors of a penalty; both default to 0. */
export interface L1L2Options {
  /** Factor of Σ|w|, finite and ≥ 0. */
  l1?: number;
  /** Factor of Σw², finite and ≥ 0. */
  l2?: number;
}

/** Keras's default factor for the 'l1' and 'l2' shorthands (TensorFlow.js's too). */
const DEFAULT_FACTOR = 0.01;

/** A weight penalty l1·Σ|w| + l2·Σw². */
export class Regularizer {
  /** Factor of Σ|w|. */
  readonly l1: number;
  /** Factor of Σw². */
  readonly l2: number;

  /** @param options finite, non-negative factors; absent ones are 0. */
  constructor(options: L1L2Options = {}) {
    const o = checkOptions(options, 'Regularizer', L1L2_OPTIONS);
    this.l1 = o.l1 === undefined ? 0 : checkNumber(o.l1, 'l1', 0);
    this.l2 = o.l2 === undefined ? 0 : checkNumber(o.l2, 'l2', 0);
  }

  /** The penalty of `weights`, in float64: what fit() adds to the loss (TensorFlow.js's name). */
  apply(weights: Tensor | ArrayLike<number>): number {
    if (weights instanceof Tensor) weights = weights.data;
    let sum = 0;
    for (let i = 0; i < weights.length; i++) {
      const w = weights[i]!;
      sum += this.l1 * Math.abs(w) + this.l2 * w * w;
    }
    return sum;
  }
}

/** A factor given as a number (Keras: `l2(0.01)`) or in options (TensorFlow.js: `l2({ l2: 0.01 })`). */
function factor(value: number | L1L2Options | undefined, key: 'l1' | 'l2'): number {
  if (value === undefined) return DEFAULT_FACTOR;
  if (typeof value === 'number') return checkNumber(value, key, 0);
  const o = checkOptions(value, key, [key]);
  return o[key] === undefined ? DEFAULT_FACTOR : checkNumber(o[key], key, 0);
}

/** What Dense accepts as a regularizer: an object, or Keras's names 'l1' and 'l2' (factor 0.01). */
export type RegularizerIdentifier = Regularizer | 'l1' | 'l2';

/** Resolves a Dense regularizer option; undefined stays undefined. */
export function toRegularizer(value: unknown, name: string): Regularizer | undefined {
  if (value === undefined || value === null) return undefined;
  if (value instanceof Regularizer) return value;
  if (value === 'l1') return regularizers.l1();
  if (value === 'l2') return regularizers.l2();
  throw new FerroTypeError(
    `Expected a Regularizer (regularizers.l1, l2 or l1l2) or 'l1' / 'l2' for ${name}. Received: ${name}=${describe(value)}`,
  );
}

/** TensorFlow.js-style namespace: `regularizers.l2(0.01)`, `regularizers.l1l2({ l1: 0.01, l2: 0.01 })`. */
export const regularizers = {
  /** l1·Σ|w|; default l1 = 0.01. */
  l1: (l1?: number | L1L2Options): Regularizer => new Regularizer({ l1: factor(l1, 'l1') }),
  /** l2·Σw²; default l2 = 0.01. */
  l2: (l2?: number | L1L2Options): Regularizer => new Regularizer({ l2: factor(l2, 'l2') }),
  /** Both penalties; absent factors are 0 (Keras's L1L2). */
  l1l2: (options?: L1L2Options): Regularizer => new Regularizer(options),
} as const;

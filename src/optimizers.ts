/** Optimizers. RMSprop follows Keras 3 exactly (see crate/core/src/optimizers/rmsprop.rs). */

import { checkBoolean, checkNumber, checkOptions } from './validate.js';

/** The optimizers compile accepts by name (with Keras's default settings). */
export type OptimizerName = 'rmsprop';
export const OPTIMIZER_NAMES: readonly OptimizerName[] = ['rmsprop'];

/** Options of `new RMSprop(options)`: Keras's arguments in camelCase. */
export interface RMSpropOptions {
  /** Step size. Default 1e-3. */
  learningRate?: number;
  /** Discount of the running mean of squared gradients. Default 0.9. */
  rho?: number;
  /** Added inside the square root for stability. Default 1e-7. */
  epsilon?: number;
  /** Plain (not Nesterov) momentum in [0, 1]. Default 0. */
  momentum?: number;
  /** Normalise by the gradient's estimated variance. Default false. */
  centered?: boolean;
}

/** RMSprop as Keras 3 computes it, step for step; the settings are fixed once made. */
export class RMSprop {
  /** Step size. */
  readonly learningRate: number;
  /** Discount of the running mean of squared gradients. */
  readonly rho: number;
  /** Added inside the square root for stability. */
  readonly epsilon: number;
  /** Plain momentum; 0 for none. */
  readonly momentum: number;
  /** Whether the update is normalised by the gradient's estimated variance. */
  readonly centered: boolean;

  /** @param options the settings; each defaults to Keras's. */
  constructor(options: RMSpropOptions = {}) {
    const o = checkOptions(options, 'RMSprop');
    this.learningRate = o.learningRate === undefined ? 1e-3 : checkNumber(o.learningRate, 'learningRate', 0);
    this.rho = o.rho === undefined ? 0.9 : checkNumber(o.rho, 'rho', 0, 1);
    this.epsilon = o.epsilon === undefined ? 1e-7 : checkNumber(o.epsilon, 'epsilon', Number.MIN_VALUE);
    this.momentum = o.momentum === undefined ? 0 : checkNumber(o.momentum, 'momentum', 0, 1);
    this.centered = o.centered === undefined ? false : checkBoolean(o.centered, 'centered');
  }
}

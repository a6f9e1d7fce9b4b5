/** Dropout: Keras's inverted dropout, active only while training. */

import { FerroValueError } from './errors.js';
import { Layer, type LayerOptions } from './layer.js';
import type { LayerConfig } from './native.js';
import { checkFraction, checkInt, checkOptions, optionNames } from './validate.js';

/** The options each call takes: any other key is refused (validate.ts, checkOptions). */
const DROPOUT_OPTIONS = optionNames<DropoutOptions>()(['inputDim', 'inputShape', 'name', 'seed']);

/** Options of `new Dropout(rate, options)`. */
export interface DropoutOptions extends LayerOptions {
  /** Seed of the masks; by default one is drawn from the model's seed (see setRandomSeed). */
  seed?: number;
}

/**
 * During training, zeroes each input with probability `rate` and divides the
 * rest by 1 − rate; predict and evaluate pass inputs through unchanged.
 * Masks depend only on the seed and the training step, not on the thread count.
 */
export class Dropout extends Layer {
  /** Keras's class name. */
  readonly className = 'Dropout';
  /** The fraction of inputs dropped, in [0, 1). */
  readonly rate: number;
  /** The masks' seed, when given. */
  readonly seed: number | undefined;

  /**
   * @param rate fraction of the inputs to drop, in [0, 1).
   * @param options seed, inputShape and name.
   */
  constructor(rate: number, options: DropoutOptions = {}) {
    const checkedRate = checkFraction(rate, 'rate', 'a Dropout rate');
    const o = checkOptions(options, 'Dropout', DROPOUT_OPTIONS);
    super(o, 'dropout');
    this.rate = checkedRate;
    this.seed = o.seed === undefined ? undefined : checkInt(o.seed, 'seed', 0);
  }

  /** @internal */
  config(): LayerConfig {
    return { kind: 'Dropout', rate: this.rate, seed: this.seed };
  }
}

/**
 * Loss objects, as Keras's `keras.losses.*` classes: a loss by name with
 * the options Keras gives it. `compile({ loss: 'binary_crossentropy' })` and
 * `compile({ loss: new losses.BinaryCrossentropy() })` are the same.
 */

import type { LossSpec } from './native.js';
import { checkBoolean, checkNumber, checkOptions, optionNames } from './validate.js';

/** The options each call takes: any other key is refused (validate.ts, checkOptions). */
const CROSSENTROPY_OPTIONS = optionNames<CrossentropyOptions>()(['fromLogits', 'labelSmoothing']);
const SPARSE_OPTIONS = optionNames<Pick<CrossentropyOptions, 'fromLogits'>>()(['fromLogits']);

/** Options of the crossentropies. */
export interface CrossentropyOptions {
  /** The model's outputs are logits (no softmax/sigmoid applied); computed stably. Default false. */
  fromLogits?: boolean;
  /** Pull targets toward uniform by this much, in [0, 1] (categorical and binary only). Default 0. */
  labelSmoothing?: number;
}

/** A loss with its options; made by the classes below. */
export abstract class Loss {
  /** Keras's name of the loss (what compile takes as a string). */
  abstract readonly name: string;
  /** Whether outputs are logits. */
  readonly fromLogits: boolean;
  /** How much targets are pulled toward uniform. */
  readonly labelSmoothing: number;

  /**
   * @param options the checked options.
   * @param what the class name, for messages.
   * @param smoothing whether this loss takes labelSmoothing.
   */
  protected constructor(options: CrossentropyOptions, what: string, smoothing: boolean) {
    // Keras's SparseCategoricalCrossentropy has no label_smoothing, and refuses it.
    const o = checkOptions(options, what, smoothing ? CROSSENTROPY_OPTIONS : SPARSE_OPTIONS);
    this.fromLogits = o.fromLogits === undefined ? false : checkBoolean(o.fromLogits, 'fromLogits');
    this.labelSmoothing = o.labelSmoothing === undefined ? 0 : checkNumber(o.labelSmoothing, 'labelSmoothing', 0, 1);
  }

  /** @internal What the native side builds the loss from. */
  spec(): LossSpec {
    return { name: this.name, fromLogits: this.fromLogits, labelSmoothing: this.labelSmoothing };
  }
}

/** y: class indices. */
export class SparseCategoricalCrossentropy extends Loss {
  /** 'sparse_categorical_crossentropy'. */
  readonly name = 'sparse_categorical_crossentropy';
  /** @param options fromLogits. */
  constructor(options: Pick<CrossentropyOptions, 'fromLogits'> = {}) {
    super(options, 'SparseCategoricalCrossentropy', false);
  }
}

/** y: one row of class probabilities (one-hot) per sample. */
export class CategoricalCrossentropy extends Loss {
  /** 'categorical_crossentropy'. */
  readonly name = 'categorical_crossentropy';
  /** @param options fromLogits, labelSmoothing. */
  constructor(options: CrossentropyOptions = {}) {
    super(options, 'CategoricalCrossentropy', true);
  }
}

/** y: 0/1 per output unit. */
export class BinaryCrossentropy extends Loss {
  /** 'binary_crossentropy'. */
  readonly name = 'binary_crossentropy';
  /** @param options fromLogits, labelSmoothing. */
  constructor(options: CrossentropyOptions = {}) {
    super(options, 'BinaryCrossentropy', true);
  }
}

/** Mean squared error. */
export class MeanSquaredError extends Loss {
  /** 'mean_squared_error'. */
  readonly name = 'mean_squared_error';
  /** It takes no options. */
  constructor() {
    super({}, 'MeanSquaredError', false);
  }
}

/** Mean absolute error. */
export class MeanAbsoluteError extends Loss {
  /** 'mean_absolute_error'. */
  readonly name = 'mean_absolute_error';
  /** It takes no options. */
  constructor() {
    super({}, 'MeanAbsoluteError', false);
  }
}

/** Huber loss with Keras's delta of 1. */
export class Huber extends Loss {
  /** 'huber'. */
  readonly name = 'huber';
  /** It takes no options. */
  constructor() {
    super({}, 'Huber', false);
  }
}

/** Keras's `keras.losses` namespace. */
export const losses = {
  SparseCategoricalCrossentropy,
  CategoricalCrossentropy,
  BinaryCrossentropy,
  MeanSquaredError,
  MeanAbsoluteError,
  Huber,
} as const;

/** BatchNormalization over the feature axis, Keras's defaults. */

import { Layer, type LayerOptions } from './layer.js';
import type { LayerConfig } from './native.js';
import { checkBoolean, checkNumber, checkOptions, optionNames } from './validate.js';

/** The options each call takes: any other key is refused (validate.ts, checkOptions). */
const BATCH_NORMALIZATION_OPTIONS = optionNames<BatchNormalizationOptions>()([
  'inputDim',
  'inputShape',
  'name',
  'momentum',
  'epsilon',
  'center',
  'scale',
]);

/** Options of `new BatchNormalization(options)`; Keras's arguments in camelCase. */
export interface BatchNormalizationOptions extends LayerOptions {
  /** How much of the moving statistics each training batch keeps. Default 0.99. */
  momentum?: number;
  /** Added to the variance before its square root. Default 1e-3. */
  epsilon?: number;
  /** Whether to add the trainable offset beta. Default true. */
  center?: boolean;
  /** Whether to multiply by the trainable scale gamma. Default true. */
  scale?: boolean;
}

/**
 * Normalises each feature: with the batch's mean and variance while training
 * (moving the moving statistics toward them), with the moving statistics in
 * predict and evaluate. Weights: gamma, beta (trainable), movingMean,
 * movingVariance (not trainable), Keras's order.
 */
export class BatchNormalization extends Layer {
  /** Keras's class name. */
  readonly className = 'BatchNormalization';
  /** Momentum of the moving statistics. */
  readonly momentum: number;
  /** Added to the variance. */
  readonly epsilon: number;
  /** Whether beta is added. */
  readonly center: boolean;
  /** Whether gamma multiplies. */
  readonly scale: boolean;

  /** @param options momentum, epsilon, center, scale, inputShape and name. */
  constructor(options: BatchNormalizationOptions = {}) {
    const o = checkOptions(options, 'BatchNormalization', BATCH_NORMALIZATION_OPTIONS);
    super(o, 'batch_normalization');
    this.momentum = o.momentum === undefined ? 0.99 : checkNumber(o.momentum, 'momentum', 0, 1);
    this.epsilon = o.epsilon === undefined ? 1e-3 : checkNumber(o.epsilon, 'epsilon', Number.MIN_VALUE);
    this.center = o.center === undefined ? true : checkBoolean(o.center, 'center');
    this.scale = o.scale === undefined ? true : checkBoolean(o.scale, 'scale');
  }

  /** @internal gamma, beta, movingMean, movingVariance, each [features]. */
  override weightShapes(features: number): number[][] {
    return [this.scale, this.center, true, true].filter((on) => on).map(() => [features]);
  }

  /** @internal gamma and beta. */
  override trainableCount(): number {
    return Number(this.scale) + Number(this.center);
  }

  /** @internal */
  config(): LayerConfig {
    return { kind: 'BatchNormalization', momentum: this.momentum, epsilon: this.epsilon, center: this.center, scale: this.scale };
  }
}

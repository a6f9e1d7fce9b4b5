/** Activation: a layer that applies one activation to its input. */

import { Layer, type LayerOptions } from './layer.js';
import type { ActivationName } from './layers.js';
import type { LayerConfig } from './native.js';
import { checkName, checkOptions, optionNames } from './validate.js';

/** The options each call takes: any other key is refused (validate.ts, checkOptions). */
const LAYER_OPTIONS = optionNames<LayerOptions>()(['inputDim', 'inputShape', 'name']);

/** Keras's activations by name; the list behind `ActivationName` (layers.ts re-exports it). */
export const ACTIVATIONS: readonly ActivationName[] = [
  'relu',
  'softmax',
  'sigmoid',
  'tanh',
  'linear',
  'elu',
  'selu',
  'leaky_relu',
  'softplus',
  'softsign',
  'relu6',
  'hard_sigmoid',
  'gelu',
  'silu',
  'swish',
];

/** y = activation(x), Keras's `Activation` layer: `new Activation('relu')`. */
export class Activation extends Layer {
  /** Keras's class name. */
  readonly className = 'Activation';
  /** The function applied. */
  readonly activation: ActivationName;

  /**
   * @param activation the activation's name, e.g. 'relu'.
   * @param options inputShape and name.
   */
  constructor(activation: ActivationName, options: LayerOptions = {}) {
    const name = checkName(activation, 'activation', ACTIVATIONS);
    super(checkOptions(options, 'Activation', LAYER_OPTIONS), 'activation');
    this.activation = name;
  }

  /** @internal */
  config(): LayerConfig {
    return { kind: 'Activation', activation: this.activation };
  }
}

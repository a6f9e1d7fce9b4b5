/** Dense, the activation and initializer names, and the `layers` namespace of every layer. */

import { ACTIVATIONS, Activation } from './activation-layer.js';
import { BatchNormalization } from './batch-normalization.js';
import { Dropout } from './dropout.js';
import { FerroValueError } from './errors.js';
import { Layer, type LayerOptions, MAX_UNITS } from './layer.js';
import type { LayerConfig } from './native.js';
import { type Regularizer, type RegularizerIdentifier, toRegularizer } from './regularizers.js';
import { checkBoolean, checkInt, checkName, checkOptions, optionNames } from './validate.js';

/** The options each call takes: any other key is refused (validate.ts, checkOptions). */
const DENSE_OPTIONS = optionNames<DenseOptions>()([
  'inputDim',
  'inputShape',
  'name',
  'activation',
  'useBias',
  'kernelInitializer',
  'biasInitializer',
  'kernelRegularizer',
  'biasRegularizer',
]);

export { Activation, BatchNormalization, Dropout, Layer, type LayerOptions, MAX_UNITS };

/** The activations of Dense and Activation layers, with Keras 3's definitions and defaults (leaky_relu: slope 0.2; gelu exact; 'swish' is silu). */
export type ActivationName =
  | 'relu'
  | 'softmax'
  | 'sigmoid'
  | 'tanh'
  | 'linear'
  | 'elu'
  | 'selu'
  | 'leaky_relu'
  | 'softplus'
  | 'softsign'
  | 'relu6'
  | 'hard_sigmoid'
  | 'gelu'
  | 'silu'
  | 'swish';
export const ACTIVATION_NAMES: readonly ActivationName[] = ACTIVATIONS;

/** Keras's weight initializers, by their Keras names, with Keras's defaults (random_*: 0.05; constant: 0; orthogonal: gain 1, kernels only). */
export type InitializerName =
  | 'glorot_uniform'
  | 'glorot_normal'
  | 'he_uniform'
  | 'he_normal'
  | 'lecun_uniform'
  | 'lecun_normal'
  | 'zeros'
  | 'ones'
  | 'constant'
  | 'random_normal'
  | 'random_uniform'
  | 'truncated_normal'
  | 'orthogonal';
export const INITIALIZER_NAMES: readonly InitializerName[] = [
  'glorot_uniform',
  'glorot_normal',
  'he_uniform',
  'he_normal',
  'lecun_uniform',
  'lecun_normal',
  'zeros',
  'ones',
  'constant',
  'random_normal',
  'random_uniform',
  'truncated_normal',
  'orthogonal',
];

/** Options of `new Dense(units, options)`; Keras's arguments in camelCase. */
export interface DenseOptions extends LayerOptions {
  /** Applied to x·W + b. Default 'linear'. */
  activation?: ActivationName;
  /** Whether the layer adds a bias vector. Default true. */
  useBias?: boolean;
  /** Initial kernel values. Default 'glorot_uniform'. */
  kernelInitializer?: InitializerName;
  /** Initial bias values. Default 'zeros'. */
  biasInitializer?: InitializerName;
  /** Penalty on the kernel, added to the loss. Default none. */
  kernelRegularizer?: RegularizerIdentifier;
  /** Penalty on the bias, added to the loss. Default none. */
  biasRegularizer?: RegularizerIdentifier;
}

/** A densely connected layer: output = activation(x·kernel + bias), kernel [inputDim, units]. */
export class Dense extends Layer {
  /** Keras's class name. */
  readonly className = 'Dense';
  /** Output features. */
  readonly units: number;
  /** Applied to x·W + b. */
  readonly activation: ActivationName;
  /** Whether the layer adds a bias vector. */
  readonly useBias: boolean;
  /** How the kernel starts. */
  readonly kernelInitializer: InitializerName;
  /** How the bias starts. */
  readonly biasInitializer: InitializerName;
  /** Penalty on the kernel; undefined when none. */
  readonly kernelRegularizer: Regularizer | undefined;
  /** Penalty on the bias; undefined when none. */
  readonly biasRegularizer: Regularizer | undefined;

  /**
   * @param units output features, a positive integer.
   * @param options activation, bias, initializers, regularizers, inputDim (or inputShape) and name.
   */
  constructor(units: number, options: DenseOptions = {}) {
    const checkedUnits = checkInt(units, 'units', 1, MAX_UNITS);
    const o = checkOptions(options, 'Dense', DENSE_OPTIONS);
    super(o, 'dense');
    this.units = checkedUnits;
    this.activation = o.activation === undefined ? 'linear' : checkName(o.activation, 'activation', ACTIVATION_NAMES);
    this.useBias = o.useBias === undefined ? true : checkBoolean(o.useBias, 'useBias');
    this.kernelInitializer =
      o.kernelInitializer === undefined
        ? 'glorot_uniform'
        : checkName(o.kernelInitializer, 'kernelInitializer', INITIALIZER_NAMES);
    this.biasInitializer =
      o.biasInitializer === undefined ? 'zeros' : checkName(o.biasInitializer, 'biasInitializer', INITIALIZER_NAMES);
    if (this.biasInitializer === 'orthogonal') {
      throw new FerroValueError("Expected a bias initializer for vectors. Received: 'orthogonal', which needs a matrix");
    }
    this.kernelRegularizer = toRegularizer(o.kernelRegularizer, 'kernelRegularizer');
    this.biasRegularizer = toRegularizer(o.biasRegularizer, 'biasRegularizer');
  }

  /** @internal */
  override outputDim(): number {
    return this.units;
  }

  /** @internal [kernel [features, units], bias [units]] (bias only with useBias). */
  override weightShapes(features: number): number[][] {
    const kernel = [features, this.units];
    return this.useBias ? [kernel, [this.units]] : [kernel];
  }

  /** @internal */
  config(): LayerConfig {
    const penalty = (r: Regularizer | undefined) => r && { l1: r.l1, l2: r.l2 };
    return {
      kind: 'Dense',
      units: this.units,
      activation: this.activation,
      useBias: this.useBias,
      kernelInitializer: this.kernelInitializer,
      biasInitializer: this.biasInitializer,
      kernelRegularizer: penalty(this.kernelRegularizer),
      biasRegularizer: penalty(this.biasRegularizer),
    };
  }
}

/** TensorFlow.js-style namespace: `new layers.Dense(10)`, `new layers.Dropout(0.5)`. */
export const layers = { Dense, Dropout, Activation, BatchNormalization } as const;

/** Layers. Dense is the one ferro-nn has today. */

import { FerroStateError, FerroTypeError, FerroValueError } from './errors.js';
import { type Regularizer, type RegularizerIdentifier, toRegularizer } from './regularizers.js';
import type { Tensor, TensorLike } from './tensor.js';
import { checkBoolean, checkInt, checkName, checkOptions, checkString, describe, isArray } from './validate.js';

/** The activations a Dense layer applies to x·W + b, with Keras 3's definitions and defaults (leaky_relu: slope 0.2). */
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
  | 'hard_sigmoid';
export const ACTIVATION_NAMES: readonly ActivationName[] = [
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
];

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
export interface DenseOptions {
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
  /** Input features, for the first layer: build() and fit() then refuse data of another width. */
  inputDim?: number;
  /** TensorFlow.js's and Keras's spelling of inputDim, without the batch axis: `[784]`. Dense takes one axis of features. */
  inputShape?: readonly number[];
  /** Layer name shown by summary(). Default 'dense', 'dense_1', … */
  name?: string;
}

/** What a built model offers its layers: their weights. */
export interface LayerOwner {
  layerWeights(layer: Dense): Tensor<'float32'>[];
  setLayerWeights(layer: Dense, weights: readonly TensorLike[]): void;
}

/** Largest layer width accepted; buffers are sized with checked arithmetic beyond that too. */
export const MAX_UNITS = 2 ** 31 - 1;

let denseCount = 0;

/** A densely connected layer: output = activation(x·kernel + bias), kernel [inputDim, units]. */
export class Dense {
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
  /** Input features as given in the options; undefined for layers after the first. */
  readonly inputDim: number | undefined;
  /** The name summary() shows. */
  readonly name: string;
  /** @internal set when a model builds the layer. */
  owner: LayerOwner | undefined;
  /** @internal input features, known once built. */
  builtInputDim: number | undefined;

  /**
   * @param units output features, a positive integer.
   * @param options activation, bias, initializers, regularizers, inputDim (or inputShape) and name.
   */
  constructor(units: number, options: DenseOptions = {}) {
    this.units = checkInt(units, 'units', 1, MAX_UNITS);
    const o = checkOptions(options, 'Dense');
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
    this.inputDim = inputDim(o.inputDim, o.inputShape);
    this.name = o.name === undefined ? (denseCount === 0 ? 'dense' : `dense_${denseCount}`) : checkString(o.name, 'name');
    denseCount += 1;
  }

  /** Whether the layer's weights exist (its model has been built). */
  get built(): boolean {
    return this.owner !== undefined;
  }

  /** [kernel [inputDim, units], bias [units]] (bias only with useBias); [] before the model is built. */
  getWeights(): Tensor<'float32'>[] {
    return this.owner ? this.owner.layerWeights(this) : [];
  }

  /** Replaces kernel (and bias); shapes must match getWeights(). */
  setWeights(weights: readonly TensorLike[]): void {
    if (!this.owner) {
      throw new FerroStateError(
        `Layer '${this.name}' is not built yet: build or fit its model before setWeights().`,
      );
    }
    this.owner.setLayerWeights(this, weights);
  }

  /** Parameters: inputDim·units (+ units for the bias). */
  countParams(): number {
    if (this.builtInputDim === undefined) return 0;
    return this.builtInputDim * this.units + (this.useBias ? this.units : 0);
  }
}

/** The features of the first layer's input, from inputDim or inputShape (which must agree when both are given). */
function inputDim(dim: unknown, shape: unknown): number | undefined {
  const fromDim = dim === undefined ? undefined : checkInt(dim, 'inputDim', 1, MAX_UNITS);
  if (shape === undefined) return fromDim;
  if (!isArray(shape)) {
    throw new FerroTypeError(`Expected an array like [features] for inputShape. Received: inputShape=${describe(shape)}`);
  }
  if (shape.length !== 1) {
    throw new FerroValueError(
      `Expected inputShape with one axis, [features], as Dense takes rows of features. Received: inputShape=[${shape.map((v) => describe(v)).join(', ')}]`,
    );
  }
  const fromShape = checkInt(shape[0], 'inputShape[0]', 1, MAX_UNITS);
  if (fromDim !== undefined && fromDim !== fromShape) {
    throw new FerroValueError(`Expected inputDim and inputShape to agree. Received: inputDim=${fromDim}, inputShape=[${fromShape}]`);
  }
  return fromShape;
}

/** TensorFlow.js-style namespace: `new layers.Dense(10)`. */
export const layers = { Dense } as const;

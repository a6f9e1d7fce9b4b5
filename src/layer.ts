/**
 * What every layer shares: its name, the input shape a first layer may
 * declare, its weights once its model is built, and the description the
 * native core builds it from.
 */

import { FerroStateError, FerroTypeError, FerroValueError } from './errors.js';
import type { LayerConfig } from './native.js';
import { sizeOf } from './shapes.js';
import type { Tensor, TensorLike } from './tensor.js';
import { checkInt, checkKerasName, describe, isArray, mapEntries } from './validate.js';

/** Options every layer takes. */
export interface LayerOptions {
  /** Input features, for the first layer: build() and fit() then refuse data of another width. */
  inputDim?: number;
  /** TensorFlow.js's and Keras's spelling of inputDim, without the batch axis: `[784]`. Layers take one axis of features. */
  inputShape?: readonly number[];
  /** Layer name shown by summary(). Default Keras's: 'dense', 'dense_1', 'dropout', … */
  name?: string;
}

/**
 * The model a layer was added to, built or not: it answers for the layer's
 * weights (building itself first when its first layer declares inputDim,
 * as Keras builds such a model when it is created, and refusing when
 * disposed or training, as its own calls do).
 */
export interface LayerModel {
  /** The layer's weights, in Keras's order; [] while the model is unbuilt. */
  layerWeights(layer: Layer): Tensor<'float32'>[];
  /** Replaces the layer's weights. */
  setLayerWeights(layer: Layer, weights: readonly TensorLike[]): void;
  /** The layer's input features, known once built or from the first layer's inputDim. */
  inputDimOf(layer: Layer): number | undefined;
}

/** Largest layer width accepted; buffers are sized with checked arithmetic beyond that too. */
export const MAX_UNITS = 2 ** 31 - 1;

/** Names given so far per kind, for Keras's 'dense', 'dense_1', … */
const counts = new Map<string, number>();

/** A layer of a Sequential model. */
export abstract class Layer {
  /** Keras's class name: 'Dense', 'Dropout', 'Activation' or 'BatchNormalization'. */
  abstract readonly className: string;
  /** Input features as given in the options; undefined for layers after the first. */
  readonly inputDim: number | undefined;
  /** The name summary() shows. */
  readonly name: string;
  /** @internal set when the layer is added to a model: a layer belongs to one model. */
  container: LayerModel | undefined;
  /** @internal input features, known once built. */
  builtInputDim: number | undefined;

  /**
   * @param o the layer's validated options object.
   * @param baseName Keras's name stem for the kind ('dense', 'batch_normalization').
   */
  protected constructor(o: Record<string, unknown>, baseName: string) {
    this.inputDim = inputDim(o.inputDim, o.inputShape);
    const n = counts.get(baseName) ?? 0;
    counts.set(baseName, n + 1);
    this.name = o.name === undefined ? (n === 0 ? baseName : `${baseName}_${n}`) : checkKerasName(o.name, 'layer');
  }

  /** Whether the layer's weights exist (its model has been built). */
  get built(): boolean {
    return this.builtInputDim !== undefined;
  }

  /** @internal output features for `features` input features. */
  outputDim(features: number): number {
    return features;
  }

  /** @internal the shapes of every weight, Keras's order, for `features` input features. */
  weightShapes(_features: number): number[][] {
    return [];
  }

  /** @internal how many of `weightShapes` the optimizer trains (they come first). */
  trainableCount(_features: number): number {
    return this.weightShapes(_features).length;
  }

  /** @internal what the native core builds the layer from. */
  abstract config(): LayerConfig;

  /**
   * The layer's weights in Keras's order; [] before its model is built (and
   * for layers without weights). As the model's getWeights(), it builds a
   * model whose first layer declares inputDim.
   */
  getWeights(): Tensor<'float32'>[] {
    return this.container ? this.container.layerWeights(this) : [];
  }

  /** Replaces the layer's weights; shapes must match getWeights(). */
  setWeights(weights: readonly TensorLike[]): void {
    if (!this.container) {
      throw new FerroStateError(`Layer '${this.name}' is not built yet: build or fit its model before setWeights().`);
    }
    this.container.setLayerWeights(this, weights);
  }

  /** Parameters, trainable or not (0 until the model is built or its first layer declares inputDim). */
  countParams(): number {
    const features = this.builtInputDim ?? this.container?.inputDimOf(this);
    return features === undefined ? 0 : sizeOf(this.weightShapes(features));
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
      `Expected inputShape with one axis, [features], as ferro-nn's layers take rows of features. Received: inputShape=[${mapEntries(shape, describe).join(', ')}]`,
    );
  }
  const fromShape = checkInt(shape[0], 'inputShape[0]', 1, MAX_UNITS);
  if (fromDim !== undefined && fromDim !== fromShape) {
    throw new FerroValueError(`Expected inputDim and inputShape to agree. Received: inputDim=${fromDim}, inputShape=[${fromShape}]`);
  }
  return fromShape;
}

/**
 * The names and options of Sequential's calls: the losses and metrics
 * compile accepts, and the options objects of the constructor, compile,
 * evaluate and predict, with the option names each call takes.
 */

import type { Verbosity } from './fit.js';
import type { Loss } from './losses.js';
import type { DTypePolicyName } from './mixed-precision.js';
import type { Optimizer, OptimizerName } from './optimizers.js';
import type { TensorLike } from './tensor.js';
import { optionNames } from './validate.js';

/** The options each call takes: any other key is refused (validate.ts, checkOptions). */
export const SEQUENTIAL_OPTIONS = optionNames<SequentialOptions>()(['name', 'dtypePolicy']);
export const COMPILE_ARGS = optionNames<CompileArgs>()(['optimizer', 'loss', 'metrics']);
export const EVALUATE_OPTIONS = optionNames<EvaluateOptions>()(['batchSize', 'verbose', 'sampleWeight']);
export const PREDICT_OPTIONS = optionNames<PredictOptions>()(['batchSize', 'verbose']);

/**
 * The losses compile accepts, by Keras's names, its short aliases and
 * TensorFlow.js's camelCase ones. The sparse crossentropy takes class
 * indices as y; the others a float per output unit ([samples, units]).
 */
export type LossName =
  | 'sparse_categorical_crossentropy'
  | 'sparseCategoricalCrossentropy'
  | 'categorical_crossentropy'
  | 'categoricalCrossentropy'
  | 'binary_crossentropy'
  | 'binaryCrossentropy'
  | 'mean_squared_error'
  | 'mse'
  | 'meanSquaredError'
  | 'mean_absolute_error'
  | 'mae'
  | 'meanAbsoluteError'
  | 'huber'
  | 'huber_loss';
export const LOSS_NAMES: readonly LossName[] = [
  'sparse_categorical_crossentropy',
  'sparseCategoricalCrossentropy',
  'categorical_crossentropy',
  'categoricalCrossentropy',
  'binary_crossentropy',
  'binaryCrossentropy',
  'mean_squared_error',
  'mse',
  'meanSquaredError',
  'mean_absolute_error',
  'mae',
  'meanAbsoluteError',
  'huber',
  'huber_loss',
];
export const SPARSE_LOSSES: readonly LossName[] = ['sparse_categorical_crossentropy', 'sparseCategoricalCrossentropy'];

/**
 * The metrics compile accepts, by Keras's names and with its defaults:
 * accuracy (and its aliases, resolved per loss as Keras does); for float
 * targets the mean absolute error, the mean squared error and its root,
 * binary, categorical and top-5 categorical accuracy, precision and recall
 * at 0.5, ROC AUC (200 thresholds); for class indices sparse top-5
 * categorical accuracy.
 */
export type MetricName =
  | 'accuracy'
  | 'acc'
  | 'sparse_categorical_accuracy'
  | 'mae'
  | 'mean_absolute_error'
  | 'mse'
  | 'mean_squared_error'
  | 'rmse'
  | 'root_mean_squared_error'
  | 'binary_accuracy'
  | 'categorical_accuracy'
  | 'top_k_categorical_accuracy'
  | 'sparse_top_k_categorical_accuracy'
  | 'precision'
  | 'recall'
  | 'auc';
export const METRIC_NAMES: readonly MetricName[] = [
  'accuracy',
  'acc',
  'sparse_categorical_accuracy',
  'mae',
  'mean_absolute_error',
  'mse',
  'mean_squared_error',
  'rmse',
  'root_mean_squared_error',
  'binary_accuracy',
  'categorical_accuracy',
  'top_k_categorical_accuracy',
  'sparse_top_k_categorical_accuracy',
  'precision',
  'recall',
  'auc',
];
export const ACCURACY_NAMES: readonly MetricName[] = ['accuracy', 'acc', 'sparse_categorical_accuracy'];

/** What `model.compile(args)` takes, as in Keras. */
export interface CompileArgs {
  /** A name ('rmsprop', 'adam', …: Keras's defaults) or a configured optimizer (new Adam({ … })). */
  optimizer: OptimizerName | Optimizer;
  /** A name, or a loss object with options (new losses.BinaryCrossentropy({ fromLogits: true })). Mean over the batch. */
  loss: LossName | Loss;
  /** Reported metrics. Accuracy is always computed (as `accuracy`); 'acc' or 'sparse_categorical_accuracy' also reports it under that name, as Keras keys it. */
  metrics?: MetricName[];
}

/** Loss and metrics, keyed by name. */
export interface EvaluateResult {
  /** Mean loss over all samples. */
  loss: number;
  /** Fraction of samples whose highest output is the label. */
  accuracy: number;
  /** Accuracy again under the name compile's metrics gave it ('acc', 'sparse_categorical_accuracy'). */
  [metric: string]: number;
}

/** Options of `model.predict(x, options)`. */
export interface PredictOptions {
  /** Samples per forward pass. Default 32 (results do not depend on it). */
  batchSize?: number;
  /** Keras's and TF.js's progress setting, taken so their calls port as written; predict and evaluate print nothing. */
  verbose?: Verbosity;
}

/** Options of `model.evaluate(x, y, options)`. */
export interface EvaluateOptions extends PredictOptions {
  /** A weight per sample: each sample's loss counts that many times, as Keras's sample_weight (metrics are not weighted). */
  sampleWeight?: TensorLike;
}

/** Options of `new Sequential(layers, options)`. */
export interface SequentialOptions {
  /** Shown by summary(). Default 'sequential', 'sequential_1', … */
  name?: string;
  /**
   * The dtype policy: 'mixed_bfloat16' computes the wide products in
   * bfloat16 (see mixedPrecision). Default: the global policy when the
   * model is created.
   */
  dtypePolicy?: DTypePolicyName;
}

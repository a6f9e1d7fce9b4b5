/**
 * ferro-nn: train neural networks from TypeScript at native speed.
 *
 *   import { Sequential, Dense, mnist } from 'ferro-nn';
 */

export { Tensor, type DType, type DataTypeMap, type NestedArray, type NestedNumbers, type TensorLike, type TypedArray } from './tensor.js';
export { Regularizer, regularizers, type L1L2Options, type RegularizerIdentifier } from './regularizers.js';
export {
  Activation,
  BatchNormalization,
  Dense,
  Dropout,
  Layer,
  layers,
  type ActivationName,
  type DenseOptions,
  type InitializerName,
  type LayerOptions,
} from './layers.js';
export type { BatchNormalizationOptions } from './batch-normalization.js';
export type { DropoutOptions } from './dropout.js';
export { loadKeras as loadModel } from './saving/keras.js';
export { loadTfjs as loadLayersModel } from './saving/tfjs.js';
export { ModelCheckpoint, type ModelCheckpointOptions } from './checkpoint.js';
export { BackupAndRestore, type BackupAndRestoreOptions } from './backup.js';
export { Sequential } from './sequential.js';
export type {
  SequentialOptions,
  CompileArgs,
  EvaluateOptions,
  EvaluateResult,
  LossName,
  MetricName,
  PredictOptions,
} from './sequential-options.js';
export {
  Adagrad,
  Adam,
  AdamW,
  Nadam,
  Optimizer,
  optimizers,
  RMSprop,
  SGD,
  type AdagradOptions,
  type AdamOptions,
  type NadamOptions,
  type OptimizerName,
  type OptimizerOptions,
  type RMSpropOptions,
  type SGDOptions,
} from './optimizers.js';
export {
  BinaryCrossentropy,
  CategoricalCrossentropy,
  Huber,
  Loss,
  losses,
  MeanAbsoluteError,
  MeanSquaredError,
  SparseCategoricalCrossentropy,
  type CrossentropyOptions,
} from './losses.js';
export {
  CosineDecay,
  ExponentialDecay,
  InverseTimeDecay,
  LearningRateSchedule,
  PiecewiseConstantDecay,
  type CosineDecayOptions,
  type DecayOptions,
} from './schedules.js';
export { AbortError, type FitOptions, type Verbosity } from './fit.js';
export {
  BaseCallback,
  EarlyStopping,
  TerminateOnNaN,
  type Callback,
  type CallbackModel,
  type EarlyStoppingOptions,
  type History,
  type Logs,
} from './callbacks.js';
export {
  LearningRateScheduler,
  ReduceLROnPlateau,
  type ReduceLROnPlateauOptions,
} from './lr-callbacks.js';
export { CSVLogger, type CSVLoggerOptions } from './csv-logger.js';
export { plotHistory, historyToSvg, type PlotOptions } from './plot.js';
export { mnist, loadData, type LoadDataOptions, type MnistSplit } from './mnist.js';
export { setRandomSeed, setNumThreads, getNumThreads, kernelIsa } from './runtime.js';
export { mixedPrecision, DTYPE_POLICY_NAMES, type DTypePolicyName } from './mixed-precision.js';
export {
  FerroError,
  FerroTypeError,
  FerroValueError,
  FerroShapeError,
  FerroStateError,
  FerroBusyError,
  FerroIoError,
  FerroInternalError,
  type ErrorCode,
} from './errors.js';

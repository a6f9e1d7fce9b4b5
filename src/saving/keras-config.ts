/**
 * ferro-nn's layers, optimizers and losses in Keras 3's serialized schema
 * ({ module, class_name, config, registered_name }), both ways. Reading
 * builds objects through the public constructors only: nothing in a file is
 * ever evaluated, and a class or option ferro-nn does not have is refused
 * with ERR_FERRO_VALUE naming it.
 */

import { randomUUID } from 'node:crypto';
import { Activation } from '../activation-layer.js';
import { BatchNormalization } from '../batch-normalization.js';
import { Dropout } from '../dropout.js';
import { FerroValueError } from '../errors.js';
import { checkPolicy, type DTypePolicyName } from '../mixed-precision.js';
import type { Layer } from '../layer.js';
import { ACTIVATION_NAMES, type ActivationName, Dense, INITIALIZER_NAMES, type InitializerName } from '../layers.js';
import { BinaryCrossentropy, CategoricalCrossentropy, Huber, Loss, MeanAbsoluteError, MeanSquaredError, SparseCategoricalCrossentropy } from '../losses.js';
import type { OptimizerSpec, ScheduleSpec } from '../native.js';
import type { MetricName } from '../sequential-options.js';
import { OPTIMIZER_CLASSES, type Optimizer } from '../optimizers.js';
import { Regularizer } from '../regularizers.js';
import { CosineDecay, ExponentialDecay, InverseTimeDecay, type LearningRateSchedule, PiecewiseConstantDecay } from '../schedules.js';

/** A serialized Keras object. */
export interface KerasObject {
  module: string;
  class_name: string;
  config: Record<string, unknown>;
  registered_name: string | null;
  build_config?: { input_shape: (number | null)[] };
}

const obj = (module: string, className: string, config: Record<string, unknown>): KerasObject => ({
  module,
  class_name: className,
  config,
  registered_name: null,
});

/** Keras's serialized dtype policy. */
export const policyToKeras = (name: DTypePolicyName): KerasObject => obj('keras', 'DTypePolicy', { name });

/**
 * The policy of a layer's config (`dtype`: a DTypePolicy, or a plain name
 * as older files write it); absent means float32.
 */
export function policyFromKeras(layer: unknown): DTypePolicyName {
  const dtype = (layer as { config?: { dtype?: unknown } })?.config?.dtype;
  if (dtype === undefined || dtype === null) return 'float32';
  if (typeof dtype === 'string') return checkPolicy(dtype, 'the dtype policy');
  const [className, r] = open(dtype, 'a dtype policy');
  if (className !== 'DTypePolicy') throw new FerroValueError(`ferro-nn does not support the dtype policy class ${className}.`);
  return checkPolicy(r.string('name'), 'the dtype policy');
}

/** Keras's initializer classes by ferro-nn name, with the defaults ferro-nn uses. */
const INITIALIZERS: Record<InitializerName, [string, Record<string, unknown>]> = {
  glorot_uniform: ['GlorotUniform', { seed: null }],
  glorot_normal: ['GlorotNormal', { seed: null }],
  he_uniform: ['HeUniform', { seed: null }],
  he_normal: ['HeNormal', { seed: null }],
  lecun_uniform: ['LecunUniform', { seed: null }],
  lecun_normal: ['LecunNormal', { seed: null }],
  zeros: ['Zeros', {}],
  ones: ['Ones', {}],
  constant: ['Constant', { value: 0 }],
  random_normal: ['RandomNormal', { seed: null, mean: 0, stddev: 0.05 }],
  random_uniform: ['RandomUniform', { seed: null, minval: -0.05, maxval: 0.05 }],
  truncated_normal: ['TruncatedNormal', { seed: null, mean: 0, stddev: 0.05 }],
  orthogonal: ['Orthogonal', { seed: null, gain: 1 }],
};

function initializer(name: InitializerName): KerasObject {
  const [className, config] = INITIALIZERS[name];
  return obj('keras.initializers', className, config);
}

function regularizer(r: Regularizer | undefined): KerasObject | null {
  return r ? obj('keras.regularizers', 'L1L2', { l1: r.l1, l2: r.l2 }) : null;
}

/** Keras's config of one layer; `inputDim` is the features it is built for. */
export function layerToKeras(layer: Layer, inputDim: number, policy: DTypePolicyName = 'float32'): KerasObject {
  const base = { name: layer.name, trainable: true, dtype: policyToKeras(policy) };
  const built = (o: KerasObject): KerasObject => ({ ...o, build_config: { input_shape: [null, inputDim] } });
  if (layer instanceof Dense) {
    return built(
      obj('keras.layers', 'Dense', {
        ...base,
        units: layer.units,
        activation: layer.activation,
        use_bias: layer.useBias,
        kernel_initializer: initializer(layer.kernelInitializer),
        bias_initializer: initializer(layer.biasInitializer),
        kernel_regularizer: regularizer(layer.kernelRegularizer),
        bias_regularizer: regularizer(layer.biasRegularizer),
        kernel_constraint: null,
        bias_constraint: null,
      }),
    );
  }
  if (layer instanceof Dropout) {
    return obj('keras.layers', 'Dropout', { ...base, rate: layer.rate, seed: layer.seed ?? null, noise_shape: null });
  }
  if (layer instanceof Activation) {
    return obj('keras.layers', 'Activation', { ...base, activation: layer.activation });
  }
  if (layer instanceof BatchNormalization) {
    return built(
      obj('keras.layers', 'BatchNormalization', {
        ...base,
        axis: -1,
        momentum: layer.momentum,
        epsilon: layer.epsilon,
        center: layer.center,
        scale: layer.scale,
        beta_initializer: initializer('zeros'),
        gamma_initializer: initializer('ones'),
        moving_mean_initializer: initializer('zeros'),
        moving_variance_initializer: initializer('ones'),
        beta_regularizer: null,
        gamma_regularizer: null,
        beta_constraint: null,
        gamma_constraint: null,
        synchronized: false,
      }),
    );
  }
  throw new FerroValueError(`Cannot save a layer of class ${layer.className} in Keras's format.`);
}

/** Reads one serialized option, refusing values ferro-nn cannot represent. */
class Reader {
  constructor(
    private readonly what: string,
    private readonly config: Record<string, unknown>,
  ) {}

  /**
   * The option's value; `allowed` lists the values (compared as JSON)
   * ferro-nn supports, when it is not free. A missing key counts as null,
   * or as `undefined` where that is listed: Keras's default, for keys whose
   * explicit null Keras reads otherwise.
   */
  get(key: string, allowed?: unknown[]): unknown {
    const v = this.config[key];
    const fits = (a: unknown) => (a === undefined ? v === undefined : JSON.stringify(a) === JSON.stringify(v ?? null));
    if (allowed && !allowed.some(fits)) {
      throw new FerroValueError(
        `ferro-nn does not support ${this.what} with ${key}=${JSON.stringify(v)}. Expected one of: ${allowed.map((a) => JSON.stringify(a)).join(', ')}`,
      );
    }
    return v;
  }

  number(key: string): number | undefined {
    const v = this.config[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number') throw new FerroValueError(`Expected a number for ${this.what} ${key}. Received: ${JSON.stringify(v)}`);
    return v;
  }

  boolean(key: string): boolean | undefined {
    const v = this.config[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'boolean') throw new FerroValueError(`Expected a boolean for ${this.what} ${key}. Received: ${JSON.stringify(v)}`);
    return v;
  }

  string(key: string): string | undefined {
    const v = this.config[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') throw new FerroValueError(`Expected a string for ${this.what} ${key}. Received: ${JSON.stringify(v)}`);
    return v;
  }
}

/** Whether a parsed JSON value is an object (not null, not an array). */
export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A serialized object's class name and a reader of its config. */
export function open(value: unknown, what: string): [string, Reader] {
  if (!isObject(value)) {
    throw new FerroValueError(`Expected a serialized Keras object for ${what}. Received: ${JSON.stringify(value)?.slice(0, 80)}`);
  }
  const className = value.class_name;
  const config = value.config ?? {};
  if (typeof className !== 'string' || !isObject(config)) {
    throw new FerroValueError(`Expected class_name and config for ${what}.`);
  }
  return [className, new Reader(`${className} (${what})`, config)];
}

function activationOf(r: Reader): ActivationName {
  const name = r.get('activation') ?? 'linear';
  if (typeof name !== 'string' || !(ACTIVATION_NAMES as readonly string[]).includes(name)) {
    throw new FerroValueError(`ferro-nn does not support the activation ${JSON.stringify(name)}. Expected one of: ${ACTIVATION_NAMES.join(', ')}`);
  }
  return name as ActivationName;
}

function initializerOf(value: unknown, what: string): InitializerName {
  const [className, r] = open(value, what);
  const found = INITIALIZER_NAMES.find((n) => INITIALIZERS[n][0] === className);
  if (!found) throw new FerroValueError(`ferro-nn does not support the initializer ${className} (${what}).`);
  for (const [key, v] of Object.entries(INITIALIZERS[found][1])) r.get(key, key === 'seed' ? undefined : [v]);
  return found;
}

function regularizerOf(value: unknown, what: string): Regularizer | undefined {
  if (value === null || value === undefined) return undefined;
  const [className, r] = open(value, what);
  const l1 = r.number('l1') ?? 0;
  const l2 = r.number('l2') ?? 0;
  if (className === 'L1L2') return new Regularizer({ l1, l2 });
  if (className === 'L1') return new Regularizer({ l1 });
  if (className === 'L2') return new Regularizer({ l2 });
  throw new FerroValueError(`ferro-nn does not support the regularizer ${className} (${what}).`);
}

/** A ferro-nn layer from Keras's config; `first` layers take the model's input width. */
export function layerFromKeras(value: unknown, inputShape: number[] | undefined): Layer {
  const [className, r] = open(value, 'a layer');
  const name = r.string('name');
  const common = { ...(name === undefined ? {} : { name }), ...(inputShape ? { inputShape } : {}) };
  // Keras and TF.js default a missing trainable to true.
  r.get('trainable', [true, undefined]);
  switch (className) {
    case 'Dense':
      r.get('kernel_constraint', [null]);
      r.get('bias_constraint', [null]);
      r.get('activity_regularizer', [null]);
      return new Dense(r.number('units') ?? NaN, {
        ...common,
        activation: activationOf(r),
        useBias: r.boolean('use_bias') ?? true,
        // Keras 3's Dense defaults.
        kernelInitializer: initializerOf(r.get('kernel_initializer') ?? initializer('glorot_uniform'), 'kernel_initializer'),
        biasInitializer: initializerOf(r.get('bias_initializer') ?? initializer('zeros'), 'bias_initializer'),
        kernelRegularizer: regularizerOf(r.get('kernel_regularizer'), 'kernel_regularizer'),
        biasRegularizer: regularizerOf(r.get('bias_regularizer'), 'bias_regularizer'),
      });
    case 'Dropout': {
      r.get('noise_shape', [null]);
      const seed = r.number('seed');
      return new Dropout(r.number('rate') ?? NaN, { ...common, ...(seed === undefined ? {} : { seed }) });
    }
    case 'Activation':
      return new Activation(activationOf(r), common);
    case 'BatchNormalization':
      r.get('axis', [-1, [-1], 1, [1]]);
      r.get('synchronized', [false, null]);
      r.get('renorm', [false, null]);
      for (const [key, init] of [
        ['beta_initializer', 'zeros'],
        ['gamma_initializer', 'ones'],
        ['moving_mean_initializer', 'zeros'],
        ['moving_variance_initializer', 'ones'],
      ] as const) {
        const v = r.get(key);
        if (v !== undefined && initializerOf(v, key) !== init) {
          throw new FerroValueError(`ferro-nn does not support BatchNormalization with a ${key} other than '${init}'.`);
        }
      }
      for (const key of ['beta_regularizer', 'gamma_regularizer', 'beta_constraint', 'gamma_constraint']) r.get(key, [null]);
      return new BatchNormalization({
        ...common,
        momentum: r.number('momentum') ?? 0.99,
        epsilon: r.number('epsilon') ?? 1e-3,
        center: r.boolean('center') ?? true,
        scale: r.boolean('scale') ?? true,
      });
    default:
      throw new FerroValueError(`ferro-nn does not support the layer class ${className}.`);
  }
}

/** Keras's names of the options ferro-nn's optimizers share or have. */
const OPTIMIZER_KEYS: [keyof OptimizerSpec, string][] = [
  ['weightDecay', 'weight_decay'],
  ['clipnorm', 'clipnorm'],
  ['clipvalue', 'clipvalue'],
  ['globalClipnorm', 'global_clipnorm'],
  ['momentum', 'momentum'],
  ['nesterov', 'nesterov'],
  ['rho', 'rho'],
  ['centered', 'centered'],
  ['beta1', 'beta_1'],
  ['beta2', 'beta_2'],
  ['amsgrad', 'amsgrad'],
  ['initialAccumulatorValue', 'initial_accumulator_value'],
  ['epsilon', 'epsilon'],
];

function scheduleToKeras(s: ScheduleSpec): KerasObject {
  const config: Record<string, unknown> = { name: s.name };
  const keys: [keyof ScheduleSpec, string][] = [
    ['initialLearningRate', 'initial_learning_rate'],
    ['decaySteps', 'decay_steps'],
    ['decayRate', 'decay_rate'],
    ['staircase', 'staircase'],
    ['boundaries', 'boundaries'],
    ['values', 'values'],
    ['alpha', 'alpha'],
    ['warmupTarget', 'warmup_target'],
    ['warmupSteps', 'warmup_steps'],
  ];
  for (const [ours, theirs] of keys) if (s[ours] !== undefined) config[theirs] = s[ours];
  // Keras computes a schedule in the dtype of its initial_learning_rate (or
  // values[0]) and casts the rest to it: a rate written as 0 would make it
  // compute in int32, a warmup to 1e-3 from 0 would train at 0.
  for (const key of ['initial_learning_rate', 'decay_rate', 'alpha', 'warmup_target']) {
    if (typeof config[key] === 'number') config[key] = new PyFloat(config[key]);
  }
  if (Array.isArray(config.values)) config.values = config.values.map((v: number) => new PyFloat(v));
  return obj('keras.optimizers.schedules', s.name, config);
}

/** Keras's config of an optimizer (from the spec the native side gets). */
export function optimizerToKeras(o: Optimizer): KerasObject {
  const spec = o.spec();
  const config: Record<string, unknown> = {
    name: spec.name.toLowerCase(),
    learning_rate: spec.schedule ? scheduleToKeras(spec.schedule) : new PyFloat(spec.learningRate!),
    weight_decay: null,
    clipnorm: null,
    global_clipnorm: null,
    clipvalue: null,
    use_ema: false,
  };
  for (const [ours, theirs] of OPTIMIZER_KEYS) if (spec[ours] !== undefined) config[theirs] = spec[ours];
  if (typeof config.momentum === 'number') config.momentum = new PyFloat(config.momentum);
  return obj('keras.optimizers', spec.name, config);
}

/**
 * A number Keras must read as a Python float: it refuses an int for SGD's
 * momentum and for a constant learning_rate (isinstance(x, float)), and
 * JSON.stringify writes 0 or 1 as ints. `pythonJson` writes it as 0.0.
 */
export class PyFloat {
  constructor(readonly value: number) {}
}

/** JSON.stringify, with each PyFloat written as a float Python reads as one. */
export function pythonJson(value: unknown): string {
  // Each PyFloat becomes a string no model holds (a fresh random mark), and
  // then, quoted as JSON writes it, the float's text.
  const mark = `\u0000${randomUUID()}:`;
  const floats: string[] = [];
  let text = JSON.stringify(value, (_key, v: unknown) => {
    if (!(v instanceof PyFloat)) return v;
    // Python's json reads neither NaN nor Infinity as JSON writes them (null).
    if (!Number.isFinite(v.value)) throw new FerroValueError(`Expected a finite number to save. Received: ${v.value}`);
    const s = Object.is(v.value, -0) ? '-0' : JSON.stringify(v.value);
    floats.push(/[.e]/.test(s) ? s : `${s}.0`);
    return `${mark}${floats.length - 1}`;
  });
  floats.forEach((f, i) => (text = text.split(JSON.stringify(`${mark}${i}`)).join(f)));
  return text;
}

function scheduleFromKeras(value: unknown): LearningRateSchedule {
  const [className, r] = open(value, 'learning_rate');
  const decay = () => ({
    initialLearningRate: r.number('initial_learning_rate') ?? NaN,
    decaySteps: r.number('decay_steps') ?? NaN,
    decayRate: r.number('decay_rate') ?? NaN,
    staircase: r.boolean('staircase') ?? false,
  });
  switch (className) {
    case 'ExponentialDecay':
      return new ExponentialDecay(decay());
    case 'InverseTimeDecay':
      return new InverseTimeDecay(decay());
    case 'PiecewiseConstantDecay':
      return new PiecewiseConstantDecay(r.get('boundaries') as number[], r.get('values') as number[]);
    case 'CosineDecay': {
      const warmupTarget = r.number('warmup_target');
      return new CosineDecay({
        initialLearningRate: r.number('initial_learning_rate') ?? NaN,
        decaySteps: r.number('decay_steps') ?? NaN,
        alpha: r.number('alpha') ?? 0,
        ...(warmupTarget === undefined ? {} : { warmupTarget }),
        warmupSteps: r.number('warmup_steps') ?? 0,
      });
    }
    default:
      throw new FerroValueError(`ferro-nn does not support the learning-rate schedule ${className}.`);
  }
}

/** A ferro-nn optimizer from Keras's config. */
export function optimizerFromKeras(value: unknown): Optimizer {
  const [className, r] = open(value, 'the optimizer');
  r.get('use_ema', [false, null]);
  r.get('gradient_accumulation_steps', [null]);
  const lr = r.get('learning_rate');
  const options: Record<string, unknown> = {
    learningRate: typeof lr === 'object' && lr !== null ? scheduleFromKeras(lr) : r.number('learning_rate'),
  };
  for (const [ours, theirs] of OPTIMIZER_KEYS) {
    const v = r.get(theirs);
    if (v !== undefined && v !== null) options[ours] = v;
  }
  if (options.learningRate === undefined) delete options.learningRate;
  // Own keys only: 'constructor' or 'toString' would find Object.prototype's.
  const ctor = Object.hasOwn(OPTIMIZER_CLASSES, className) ? OPTIMIZER_CLASSES[className] : undefined;
  if (!ctor) throw new FerroValueError(`ferro-nn does not support the optimizer ${className}.`);
  // Keras writes every optimizer's shared options; each takes only its own besides.
  const own: Record<string, string[]> = {
    SGD: ['momentum', 'nesterov'],
    RMSprop: ['rho', 'momentum', 'epsilon', 'centered'],
    Adam: ['beta1', 'beta2', 'epsilon', 'amsgrad'],
    AdamW: ['beta1', 'beta2', 'epsilon', 'amsgrad'],
    Adagrad: ['initialAccumulatorValue', 'epsilon'],
    Nadam: ['beta1', 'beta2', 'epsilon'],
  };
  const shared = ['learningRate', 'weightDecay', 'clipnorm', 'clipvalue', 'globalClipnorm'];
  const kept = Object.fromEntries(Object.entries(options).filter(([k]) => shared.includes(k) || own[className]!.includes(k)));
  return ctor(kept);
}

/**
 * ferro-nn's loss names that Keras 3's losses.get does not resolve (it knows
 * class and function names and a few short aliases, not TF.js's camelCase
 * nor 'huber_loss'), by the name it does. Keras loads such a file but fails
 * at its first fit or evaluate.
 */
const KERAS_LOSS_NAMES: Record<string, string> = {
  sparseCategoricalCrossentropy: 'sparse_categorical_crossentropy',
  categoricalCrossentropy: 'categorical_crossentropy',
  binaryCrossentropy: 'binary_crossentropy',
  meanSquaredError: 'mean_squared_error',
  meanAbsoluteError: 'mean_absolute_error',
  huber_loss: 'huber',
};

/**
 * Keras 3's metric classes that take no options but a name, by the names
 * ferro-nn gives them. A metric object keeps its name, so its logs keep
 * their keys ('rmse', 'val_rmse') both in Keras and after loading back.
 */
const KERAS_METRIC_CLASSES: Record<string, readonly MetricName[]> = {
  RootMeanSquaredError: ['rmse', 'root_mean_squared_error'],
  MeanSquaredError: ['mse', 'mean_squared_error'],
  MeanAbsoluteError: ['mae', 'mean_absolute_error'],
  CategoricalAccuracy: ['categorical_accuracy'],
  SparseCategoricalAccuracy: ['sparse_categorical_accuracy'],
};

/**
 * compile's metrics as Keras 3 resolves them; null for none, as Keras writes
 * it. Keras's metrics.get does not know 'rmse', so it goes as an object.
 */
export function metricsToKeras(metrics: readonly string[]): (string | KerasObject)[] | null {
  const names = [...new Set(metrics)].map((m) =>
    m === 'rmse' ? obj('keras.metrics', 'RootMeanSquaredError', { name: m, dtype: 'float32' }) : m,
  );
  return names.length > 0 ? names : null;
}

/** A metric of compile_config: a name, or an object of a class in KERAS_METRIC_CLASSES under a name ferro-nn gives it. */
export function metricFromKeras(value: unknown): string {
  if (typeof value === 'string') return value;
  const [className, r] = open(value, 'a metric');
  const names = Object.hasOwn(KERAS_METRIC_CLASSES, className) ? KERAS_METRIC_CLASSES[className]! : [];
  const name = r.string('name');
  r.get('dtype', [undefined, 'float32']);
  if (name === undefined || !(names as readonly string[]).includes(name)) {
    throw new FerroValueError(
      `ferro-nn takes metrics by name, or as ${Object.entries(KERAS_METRIC_CLASSES)
        .map(([c, n]) => `${c} named ${n.join(' or ')}`)
        .join(', ')}. Received: ${className} named ${JSON.stringify(name)}`,
    );
  }
  return name;
}

/** Keras's serialization of a loss: its name, or a loss object with its options. */
export function lossToKeras(loss: Loss | string): string | KerasObject {
  if (typeof loss === 'string') return Object.hasOwn(KERAS_LOSS_NAMES, loss) ? KERAS_LOSS_NAMES[loss]! : loss;
  const classes: Record<string, string> = {
    sparse_categorical_crossentropy: 'SparseCategoricalCrossentropy',
    categorical_crossentropy: 'CategoricalCrossentropy',
    binary_crossentropy: 'BinaryCrossentropy',
    mean_squared_error: 'MeanSquaredError',
    mean_absolute_error: 'MeanAbsoluteError',
    huber: 'Huber',
  };
  const config: Record<string, unknown> = { name: loss.name, reduction: 'sum_over_batch_size' };
  if (loss instanceof SparseCategoricalCrossentropy) Object.assign(config, { from_logits: loss.fromLogits, ignore_class: null });
  if (loss instanceof CategoricalCrossentropy || loss instanceof BinaryCrossentropy) {
    Object.assign(config, { from_logits: loss.fromLogits, label_smoothing: loss.labelSmoothing, axis: -1 });
  }
  if (loss instanceof Huber) config.delta = 1;
  return obj('keras.losses', classes[loss.name]!, config);
}

/** A loss from Keras's serialization: a name stays a name. */
export function lossFromKeras(value: unknown): Loss | string {
  if (typeof value === 'string') return value;
  const [className, r] = open(value, 'the loss');
  r.get('reduction', ['sum_over_batch_size', undefined]);
  const fromLogits = r.boolean('from_logits') ?? false;
  const labelSmoothing = r.number('label_smoothing') ?? 0;
  switch (className) {
    case 'SparseCategoricalCrossentropy':
      r.get('ignore_class', [null]);
      return new SparseCategoricalCrossentropy({ fromLogits });
    case 'CategoricalCrossentropy':
      r.get('axis', [-1, undefined]);
      return new CategoricalCrossentropy({ fromLogits, labelSmoothing });
    case 'BinaryCrossentropy':
      r.get('axis', [-1, undefined]);
      return new BinaryCrossentropy({ fromLogits, labelSmoothing });
    case 'MeanSquaredError':
      return new MeanSquaredError();
    case 'MeanAbsoluteError':
      return new MeanAbsoluteError();
    case 'Huber':
      r.get('delta', [1, undefined]);
      return new Huber();
    default:
      throw new FerroValueError(`ferro-nn does not support the loss ${className}.`);
  }
}

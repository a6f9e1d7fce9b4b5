/**
 * Optimizers with Keras 3's semantics and defaults (the updates are in
 * crate/core/src/optimizers). Every optimizer takes the options Keras's base
 * optimizer has: decoupled `weightDecay` and one of `clipnorm`, `clipvalue`,
 * `globalClipnorm`.
 */

import { FerroValueError } from './errors.js';
import type { OptimizerSpec } from './native.js';
import {
  CosineDecay,
  ExponentialDecay,
  InverseTimeDecay,
  LearningRateSchedule,
  PiecewiseConstantDecay,
} from './schedules.js';
import { checkBoolean, checkNumber, checkOptions, optionNames } from './validate.js';

/** The options each call takes: any other key is refused (validate.ts, checkOptions). */
const OPTIMIZER_OPTIONS = ['learningRate', 'weightDecay', 'clipnorm', 'clipvalue', 'globalClipnorm'] as const;
const SGD_OPTIONS = optionNames<SGDOptions>()([...OPTIMIZER_OPTIONS, 'momentum', 'nesterov']);
const RMSPROP_OPTIONS = optionNames<RMSpropOptions>()([...OPTIMIZER_OPTIONS, 'rho', 'epsilon', 'momentum', 'centered']);
const ADAM_OPTIONS = optionNames<AdamOptions>()([...OPTIMIZER_OPTIONS, 'beta1', 'beta2', 'epsilon', 'amsgrad']);
const ADAGRAD_OPTIONS = optionNames<AdagradOptions>()([...OPTIMIZER_OPTIONS, 'initialAccumulatorValue', 'epsilon']);
const NADAM_OPTIONS = optionNames<NadamOptions>()([...OPTIMIZER_OPTIONS, 'beta1', 'beta2', 'epsilon']);

/** The optimizers compile accepts by name, each with Keras's default settings. */
export type OptimizerName = 'sgd' | 'rmsprop' | 'adam' | 'adamw' | 'adagrad' | 'nadam';
export const OPTIMIZER_NAMES: readonly OptimizerName[] = ['sgd', 'rmsprop', 'adam', 'adamw', 'adagrad', 'nadam'];

/** Options every optimizer takes, as Keras names them (camelCase). */
export interface OptimizerOptions {
  /** Step size, or a schedule of it (`new ExponentialDecay({ … })`). Default: the optimizer's own (1e-3; SGD 0.01). */
  learningRate?: number | LearningRateSchedule;
  /** Decoupled weight decay: before each update, w ← w − w·weightDecay·learningRate. Default none (AdamW: 0.004). */
  weightDecay?: number;
  /** Scales each gradient tensor to an L2 norm of at most this. */
  clipnorm?: number;
  /** Clamps each gradient element to [−clipvalue, clipvalue]. */
  clipvalue?: number;
  /** Scales all gradients together to a global L2 norm of at most this. */
  globalClipnorm?: number;
}

type Options = Record<string, unknown>;
const positive = (o: Options, key: string, fallback: number): number =>
  o[key] === undefined ? fallback : checkNumber(o[key], key, Number.MIN_VALUE);
const unit = (o: Options, key: string, fallback: number): number =>
  o[key] === undefined ? fallback : checkNumber(o[key], key, 0, 1);
const flag = (o: Options, key: string, fallback: boolean): boolean =>
  o[key] === undefined ? fallback : checkBoolean(o[key], key);
const optional = (o: Options, key: string, min: number): number | undefined =>
  o[key] === undefined || o[key] === null ? undefined : checkNumber(o[key], key, min);

/** What every optimizer shares; made by its subclasses. */
export abstract class Optimizer {
  /** Step size, or its schedule. */
  readonly learningRate: number | LearningRateSchedule;
  /** Decoupled weight decay, or undefined for none. */
  readonly weightDecay: number | undefined;
  /** Per-tensor gradient norm clip, if set. */
  readonly clipnorm: number | undefined;
  /** Elementwise gradient clip, if set. */
  readonly clipvalue: number | undefined;
  /** Global gradient norm clip, if set. */
  readonly globalClipnorm: number | undefined;
  /** Keras's class name: 'SGD', 'RMSprop', 'Adam', 'AdamW', 'Adagrad' or 'Nadam'. */
  abstract readonly className: string;

  /**
   * @param o the checked options object.
   * @param defaultLearningRate Keras's default for this optimizer.
   * @param defaultWeightDecay Keras's default decay (AdamW's 0.004), if any.
   */
  protected constructor(o: Options, defaultLearningRate: number, defaultWeightDecay?: number) {
    this.learningRate =
      o.learningRate === undefined
        ? defaultLearningRate
        : o.learningRate instanceof LearningRateSchedule
          ? o.learningRate
          : checkNumber(o.learningRate, 'learningRate', 0);
    this.weightDecay = optional(o, 'weightDecay', 0) ?? defaultWeightDecay;
    this.clipnorm = optional(o, 'clipnorm', Number.MIN_VALUE);
    this.clipvalue = optional(o, 'clipvalue', Number.MIN_VALUE);
    this.globalClipnorm = optional(o, 'globalClipnorm', Number.MIN_VALUE);
    const clips = [this.clipnorm, this.clipvalue, this.globalClipnorm].filter((v) => v !== undefined);
    if (clips.length > 1) {
      throw new FerroValueError(
        `Expected at most one of clipnorm, clipvalue and globalClipnorm. Received: ${clips.length} of them`,
      );
    }
  }

  /** @internal What the native side builds the optimizer from. */
  spec(): OptimizerSpec {
    const schedule = this.learningRate instanceof LearningRateSchedule ? this.learningRate.spec() : undefined;
    return {
      name: this.className,
      learningRate: typeof this.learningRate === 'number' ? this.learningRate : 0,
      schedule,
      weightDecay: this.weightDecay,
      clipnorm: this.clipnorm,
      clipvalue: this.clipvalue,
      globalClipnorm: this.globalClipnorm,
      ...this.ownOptions(),
    };
  }

  /** @internal The options of this optimizer alone, in the native spec's names. */
  protected abstract ownOptions(): Partial<OptimizerSpec>;

  /**
   * @internal Keras's names of the variables kept per weight, in the order
   * the native rule keeps them (its slot_names; a test holds them equal).
   */
  abstract slotNames(): string[];
}

/** Options of `new SGD(options)`. */
export interface SGDOptions extends OptimizerOptions {
  /** Momentum in [0, 1]. Default 0. */
  momentum?: number;
  /** Nesterov momentum. Default false. */
  nesterov?: boolean;
}

/** Gradient descent, with optional (Nesterov) momentum. Default learning rate 0.01. */
export class SGD extends Optimizer {
  /** 'SGD'. */
  readonly className = 'SGD';
  /** Momentum; 0 for none. */
  readonly momentum: number;
  /** Whether momentum is Nesterov's. */
  readonly nesterov: boolean;

  /** @param options the settings; each defaults to Keras's. */
  constructor(options: SGDOptions = {}) {
    const o = checkOptions(options, 'SGD', SGD_OPTIONS);
    super(o, 0.01);
    this.momentum = unit(o, 'momentum', 0);
    this.nesterov = flag(o, 'nesterov', false);
  }

  /** @internal */
  protected ownOptions(): Partial<OptimizerSpec> {
    return { momentum: this.momentum, nesterov: this.nesterov };
  }

  /** @internal */
  slotNames(): string[] {
    return this.momentum > 0 ? ['momentum'] : [];
  }
}

/** Options of `new RMSprop(options)`. */
export interface RMSpropOptions extends OptimizerOptions {
  /** Discount of the running mean of squared gradients. Default 0.9. */
  rho?: number;
  /** Added inside the square root for stability. Default 1e-7. */
  epsilon?: number;
  /** Plain (not Nesterov) momentum in [0, 1]. Default 0. */
  momentum?: number;
  /** Normalise by the gradient's estimated variance. Default false. */
  centered?: boolean;
}

/** RMSprop as Keras 3 computes it, step for step; the settings are fixed once made. */
export class RMSprop extends Optimizer {
  /** 'RMSprop'. */
  readonly className = 'RMSprop';
  /** Discount of the running mean of squared gradients. */
  readonly rho: number;
  /** Added inside the square root for stability. */
  readonly epsilon: number;
  /** Plain momentum; 0 for none. */
  readonly momentum: number;
  /** Whether the update is normalised by the gradient's estimated variance. */
  readonly centered: boolean;

  /** @param options the settings; each defaults to Keras's. */
  constructor(options: RMSpropOptions = {}) {
    const o = checkOptions(options, 'RMSprop', RMSPROP_OPTIONS);
    super(o, 1e-3);
    this.rho = unit(o, 'rho', 0.9);
    this.epsilon = positive(o, 'epsilon', 1e-7);
    this.momentum = unit(o, 'momentum', 0);
    this.centered = flag(o, 'centered', false);
  }

  /** @internal */
  protected ownOptions(): Partial<OptimizerSpec> {
    return { rho: this.rho, epsilon: this.epsilon, momentum: this.momentum, centered: this.centered };
  }

  /** @internal */
  slotNames(): string[] {
    return ['velocity', ...(this.momentum > 0 ? ['momentum'] : []), ...(this.centered ? ['average_gradient'] : [])];
  }
}

/** Options of `new Adam(options)` and `new AdamW(options)`. */
export interface AdamOptions extends OptimizerOptions {
  /** Decay of the first-moment estimate. Default 0.9. */
  beta1?: number;
  /** Decay of the second-moment estimate. Default 0.999. */
  beta2?: number;
  /** Added to the denominator for stability. Default 1e-7. */
  epsilon?: number;
  /** Use the largest second moment seen so far (AMSGrad). Default false. */
  amsgrad?: boolean;
}

/** Adam, with optional AMSGrad. Default learning rate 1e-3. */
export class Adam extends Optimizer {
  /** @internal The class as its errors name it. */
  static readonly callName: string = 'Adam';
  /** 'Adam' (or 'AdamW'). */
  readonly className: string = 'Adam';
  /** Decay of the first-moment estimate. */
  readonly beta1: number;
  /** Decay of the second-moment estimate. */
  readonly beta2: number;
  /** Added to the denominator for stability. */
  readonly epsilon: number;
  /** Whether AMSGrad is used. */
  readonly amsgrad: boolean;

  /**
   * @param options the settings; each defaults to Keras's.
   * @param defaultWeightDecay for AdamW.
   */
  constructor(options: AdamOptions = {}, defaultWeightDecay?: number) {
    // AdamW's refusals name AdamW.
    const o = checkOptions(options, (new.target as typeof Adam).callName, ADAM_OPTIONS);
    super(o, 1e-3, defaultWeightDecay);
    this.beta1 = unit(o, 'beta1', 0.9);
    this.beta2 = unit(o, 'beta2', 0.999);
    this.epsilon = positive(o, 'epsilon', 1e-7);
    this.amsgrad = flag(o, 'amsgrad', false);
  }

  /** @internal */
  protected ownOptions(): Partial<OptimizerSpec> {
    return { beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon, amsgrad: this.amsgrad };
  }

  /** @internal */
  slotNames(): string[] {
    return ['momentum', 'velocity', ...(this.amsgrad ? ['velocity_hat'] : [])];
  }
}

/** Adam with decoupled weight decay; `weightDecay` defaults to 0.004, as in Keras. */
export class AdamW extends Adam {
  /** @internal */
  static override readonly callName: string = 'AdamW';
  /** 'AdamW'. */
  override readonly className = 'AdamW';

  /** @param options the settings; each defaults to Keras's. */
  constructor(options: AdamOptions = {}) {
    super(options, 0.004);
  }
}

/** Options of `new Adagrad(options)`. */
export interface AdagradOptions extends OptimizerOptions {
  /** What each accumulator of squared gradients starts at. Default 0.1. */
  initialAccumulatorValue?: number;
  /** Added inside the square root for stability. Default 1e-7. */
  epsilon?: number;
}

/** Adagrad: per-weight rates that shrink with the squared gradients seen. */
export class Adagrad extends Optimizer {
  /** 'Adagrad'. */
  readonly className = 'Adagrad';
  /** What each accumulator starts at. */
  readonly initialAccumulatorValue: number;
  /** Added inside the square root for stability. */
  readonly epsilon: number;

  /** @param options the settings; each defaults to Keras's. */
  constructor(options: AdagradOptions = {}) {
    const o = checkOptions(options, 'Adagrad', ADAGRAD_OPTIONS);
    super(o, 1e-3);
    this.initialAccumulatorValue =
      o.initialAccumulatorValue === undefined ? 0.1 : checkNumber(o.initialAccumulatorValue, 'initialAccumulatorValue', 0);
    this.epsilon = positive(o, 'epsilon', 1e-7);
  }

  /** @internal */
  protected ownOptions(): Partial<OptimizerSpec> {
    return { initialAccumulatorValue: this.initialAccumulatorValue, epsilon: this.epsilon };
  }

  /** @internal */
  slotNames(): string[] {
    return ['accumulator'];
  }
}

/** Options of `new Nadam(options)`. */
export interface NadamOptions extends OptimizerOptions {
  /** Decay of the first-moment estimate. Default 0.9. */
  beta1?: number;
  /** Decay of the second-moment estimate. Default 0.999. */
  beta2?: number;
  /** Added to the denominator for stability. Default 1e-7. */
  epsilon?: number;
}

/** Adam with Nesterov momentum, as Keras 3 computes it. */
export class Nadam extends Optimizer {
  /** 'Nadam'. */
  readonly className = 'Nadam';
  /** Decay of the first-moment estimate. */
  readonly beta1: number;
  /** Decay of the second-moment estimate. */
  readonly beta2: number;
  /** Added to the denominator for stability. */
  readonly epsilon: number;

  /** @param options the settings; each defaults to Keras's. */
  constructor(options: NadamOptions = {}) {
    const o = checkOptions(options, 'Nadam', NADAM_OPTIONS);
    super(o, 1e-3);
    this.beta1 = unit(o, 'beta1', 0.9);
    this.beta2 = unit(o, 'beta2', 0.999);
    this.epsilon = positive(o, 'epsilon', 1e-7);
  }

  /** @internal */
  protected ownOptions(): Partial<OptimizerSpec> {
    return { beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon };
  }

  /** @internal */
  slotNames(): string[] {
    return ['momentum', 'velocity'];
  }
}

/** @internal Each optimizer class by Keras's class name, made from options (loading a saved model). */
export const OPTIMIZER_CLASSES: Record<string, (options: Record<string, unknown>) => Optimizer> = {
  SGD: (o) => new SGD(o),
  RMSprop: (o) => new RMSprop(o),
  Adam: (o) => new Adam(o),
  AdamW: (o) => new AdamW(o),
  Adagrad: (o) => new Adagrad(o),
  Nadam: (o) => new Nadam(o),
};

/** A new optimizer of this name with Keras's default settings. */
export function optimizerFromName(name: OptimizerName): Optimizer {
  switch (name) {
    case 'sgd':
      return new SGD();
    case 'rmsprop':
      return new RMSprop();
    case 'adam':
      return new Adam();
    case 'adamw':
      return new AdamW();
    case 'adagrad':
      return new Adagrad();
    case 'nadam':
      return new Nadam();
  }
}

/** Keras's `keras.optimizers` namespace: the classes, and `schedules`. */
export const optimizers = {
  SGD,
  RMSprop,
  Adam,
  AdamW,
  Adagrad,
  Nadam,
  schedules: { ExponentialDecay, InverseTimeDecay, PiecewiseConstantDecay, CosineDecay, LearningRateSchedule },
} as const;

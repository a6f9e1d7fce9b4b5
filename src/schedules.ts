/**
 * Learning-rate schedules, as Keras 3 names and computes them
 * (crate/core/src/optimizers/schedules.rs): pass one as an optimizer's
 * `learningRate`, and each step uses the rate at the optimizer's iteration
 * count before it.
 */

import type { ScheduleSpec } from './native.js';
import { FerroTypeError, FerroValueError } from './errors.js';
import { checkBoolean, checkNumber, checkOptions, describe, isArray, mapEntries, optionNames } from './validate.js';

/** The options each call takes: any other key is refused (validate.ts, checkOptions). */
const DECAY_OPTIONS = optionNames<DecayOptions>()(['initialLearningRate', 'decaySteps', 'decayRate', 'staircase']);
const COSINE_DECAY_OPTIONS = optionNames<CosineDecayOptions>()([
  'initialLearningRate',
  'decaySteps',
  'alpha',
  'warmupTarget',
  'warmupSteps',
]);

/** A learning rate that changes with the step; made by its subclasses. */
export abstract class LearningRateSchedule {
  /** @internal What the native side computes the rate from. */
  abstract spec(): ScheduleSpec;
  /** @internal The rate at step 0: what a model not built yet reports. */
  abstract rateAtStart(): number;
}

type Options = Record<string, unknown>;
const required = (o: Options, key: string, what: string, min: number): number => {
  if (o[key] === undefined) throw new FerroValueError(`Expected ${key} for ${what}. Received: none`);
  return checkNumber(o[key], key, min);
};

/** Options of `new ExponentialDecay(options)` and `new InverseTimeDecay(options)`. */
export interface DecayOptions {
  /** The rate at step 0. */
  initialLearningRate: number;
  /** Steps over which the rate decays by one `decayRate` factor (> 0). */
  decaySteps: number;
  /** The decay factor. */
  decayRate: number;
  /** Decay in whole `decaySteps` intervals. Default false. */
  staircase?: boolean;
}

/** What ExponentialDecay and InverseTimeDecay share: their options. */
abstract class DecaySchedule extends LearningRateSchedule {
  /** The settings, checked. */
  readonly config: Required<DecayOptions>;

  /**
   * @param name Keras's class name.
   * @param options the schedule's settings.
   */
  protected constructor(
    private readonly name: 'ExponentialDecay' | 'InverseTimeDecay',
    options: DecayOptions,
  ) {
    super();
    this.config = decayOptions(options, name);
  }

  /** @internal */
  spec(): ScheduleSpec {
    return { name: this.name, ...this.config };
  }

  /** @internal */
  rateAtStart(): number {
    return this.config.initialLearningRate;
  }
}

/** initialLearningRate · decayRate^(step / decaySteps). */
export class ExponentialDecay extends DecaySchedule {
  /** @param options the schedule's settings. */
  constructor(options: DecayOptions) {
    super('ExponentialDecay', options);
  }
}

/** initialLearningRate / (1 + decayRate · step / decaySteps). */
export class InverseTimeDecay extends DecaySchedule {
  /** @param options the schedule's settings. */
  constructor(options: DecayOptions) {
    super('InverseTimeDecay', options);
  }
}

function decayOptions(options: DecayOptions, what: string): Required<DecayOptions> {
  const o = checkOptions(options, what, DECAY_OPTIONS);
  return {
    initialLearningRate: required(o, 'initialLearningRate', what, 0),
    decaySteps: required(o, 'decaySteps', what, Number.MIN_VALUE),
    decayRate: required(o, 'decayRate', what, 0),
    staircase: o.staircase === undefined ? false : checkBoolean(o.staircase, 'staircase'),
  };
}

/** values[0] up to and including step boundaries[0], values[1] up to boundaries[1], …, then the last value. */
export class PiecewiseConstantDecay extends LearningRateSchedule {
  /** Increasing steps where the rate changes. */
  readonly boundaries: readonly number[];
  /** The rates: one more than boundaries. */
  readonly values: readonly number[];

  /**
   * @param boundaries increasing steps where the rate changes.
   * @param values the rates, one more than boundaries.
   */
  constructor(boundaries: readonly number[], values: readonly number[]) {
    super();
    for (const [name, list] of [['boundaries', boundaries], ['values', values]] as const) {
      if (!isArray(list)) throw new FerroTypeError(`Expected an array of numbers for ${name}. Received: ${describe(list)}`);
    }
    this.boundaries = mapEntries(boundaries, (b, i) => checkNumber(b, `boundaries[${i}]`));
    this.values = mapEntries(values, (v, i) => checkNumber(v, `values[${i}]`, 0));
    if (this.values.length !== this.boundaries.length + 1) {
      throw new FerroValueError(
        `Expected one more value than boundaries for PiecewiseConstantDecay. Received: ${this.boundaries.length} boundaries, ${this.values.length} values`,
      );
    }
  }

  /** @internal */
  spec(): ScheduleSpec {
    return { name: 'PiecewiseConstantDecay', boundaries: [...this.boundaries], values: [...this.values] };
  }

  /** @internal Keras's rule: the value after every boundary the step has passed. */
  rateAtStart(): number {
    return this.values[this.boundaries.filter((b) => 0 > b).length]!;
  }
}

/** Options of `new CosineDecay(options)`. */
export interface CosineDecayOptions {
  /** The rate at step 0. */
  initialLearningRate: number;
  /** Steps of the cosine decay (after any warmup). */
  decaySteps: number;
  /** The final rate as a fraction of the decay's starting rate. Default 0. */
  alpha?: number;
  /** With warmup: the rate reached linearly from initialLearningRate over warmupSteps. */
  warmupTarget?: number;
  /** Steps of the linear warmup. Default 0. */
  warmupSteps?: number;
}

/** A cosine from the starting rate down to alpha times it, after an optional linear warmup. */
export class CosineDecay extends LearningRateSchedule {
  /** The settings, checked. */
  readonly config: CosineDecayOptions;

  /** @param options the schedule's settings. */
  constructor(options: CosineDecayOptions) {
    super();
    const o = checkOptions(options, 'CosineDecay', COSINE_DECAY_OPTIONS);
    this.config = {
      initialLearningRate: required(o, 'initialLearningRate', 'CosineDecay', 0),
      decaySteps: required(o, 'decaySteps', 'CosineDecay', Number.MIN_VALUE),
      alpha: o.alpha === undefined ? 0 : checkNumber(o.alpha, 'alpha', 0, 1),
      warmupTarget: o.warmupTarget === undefined ? undefined : checkNumber(o.warmupTarget, 'warmupTarget', 0),
      warmupSteps: o.warmupSteps === undefined ? 0 : checkNumber(o.warmupSteps, 'warmupSteps', 0),
    };
  }

  /** @internal */
  spec(): ScheduleSpec {
    return { name: 'CosineDecay', ...this.config };
  }

  /** @internal A warmup, too, starts from initialLearningRate. */
  rateAtStart(): number {
    return this.config.initialLearningRate;
  }
}

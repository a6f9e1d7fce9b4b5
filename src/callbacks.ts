/**
 * Training callbacks with TensorFlow.js's method names, Keras's built-in
 * EarlyStopping and TerminateOnNaN, and the History fit returns.
 */

import { FerroTypeError } from './errors.js';
import { maximizes } from './metric-directions.js';
import type { Tensor, TensorLike } from './tensor.js';
import { checkBoolean, checkInt, checkName, checkNumber, checkOptions, describe, isArray, mapEntries, optionNames, reachesProxy } from './validate.js';

/** The options each call takes: any other key is refused (validate.ts, checkOptions). */
const EARLY_STOPPING_OPTIONS = optionNames<EarlyStoppingOptions>()([
  'monitor',
  'minDelta',
  'patience',
  'mode',
  'baseline',
  'restoreBestWeights',
  'startFromEpoch',
  'verbose',
]);

/** Metric values by name: loss and accuracy always, val_loss and val_accuracy when validating. */
export interface Logs {
  /** Mean loss. */
  loss: number;
  /** Fraction classified correctly. */
  accuracy: number;
  /** Mean loss on the validation data, at epoch end. */
  val_loss?: number;
  /** Accuracy on the validation data, at epoch end. */
  val_accuracy?: number;
  /** Any other metric, by its Keras name. */
  [metric: string]: number | undefined;
}

/** What a callback may do with the model it watches. */
export interface CallbackModel {
  /** Set to true to end fit after the current batch. */
  stopTraining: boolean;
  /** The learning rate the optimizer's next step uses; settable to a number. */
  learningRate: number;
  /** Copies of the weights, layer by layer: kernel then bias. */
  getWeights(): Tensor<'float32'>[];
  /** Replaces the weights; shapes as getWeights() returns them. */
  setWeights(weights: readonly TensorLike[]): void;
  /** Saves the model as a Keras 3 `.keras` archive (what ModelCheckpoint calls). */
  save(path: string): Promise<void>;
  /** Saves the weights as Keras 3's `.weights.h5` (with the optimizer's variables, as Keras). */
  saveWeights(path: string): Promise<void>;
  /** Loads weights (and the optimizer's variables, when there) saved by saveWeights. */
  loadWeights(path: string): Promise<void>;
}

/**
 * Hooks into fit, called in Keras's order. Every hook may be async: fit
 * awaits it before training goes on, and it may read or set the weights,
 * evaluate or predict meanwhile. With batch hooks, batch k's hooks finish
 * before batch k + 1 starts (a few tens of microseconds per batch); without
 * them, training runs free between epochs. A hook that throws (or rejects)
 * makes fit reject with that error. Hooks called before there are metrics
 * get a logs object `{}`, as TF.js and Keras 3 pass one: one object per
 * call, shared by the callbacks.
 */
export interface Callback {
  /** Called by fit with the model being trained, before onTrainBegin. */
  setModel?(model: CallbackModel): void | Promise<void>;
  /** Before the first epoch; `logs` is `{}`. */
  onTrainBegin?(logs?: Partial<Logs>): void | Promise<void>;
  /**
   * Logs of the last epoch, as Keras 3 passes them (TF.js passes `{}`);
   * `undefined` when no epoch ran.
   */
  onTrainEnd?(logs?: Logs): void | Promise<void>;
  /** Before each epoch; `epoch` counts from 0; `logs` is `{}`. */
  onEpochBegin?(epoch: number, logs?: Partial<Logs>): void | Promise<void>;
  /** Means over the epoch: loss, accuracy, and val_loss, val_accuracy when validating. */
  onEpochEnd?(epoch: number, logs?: Logs): void | Promise<void>;
  /** Before each batch; `batch` counts from 0 within the epoch; `logs` is `{}`. */
  onBatchBegin?(batch: number, logs?: Partial<Logs>): void | Promise<void>;
  /** Running means over the epoch so far, as Keras reports them. */
  onBatchEnd?(batch: number, logs?: Logs): void | Promise<void>;
}

/** What fit resolves to, as in Keras: per-epoch means of every metric. */
export interface History {
  /** Epoch indices, from 0. */
  epoch: number[];
  /** Each metric's value per epoch, by Keras name. */
  history: {
    loss: number[];
    accuracy: number[];
    val_loss?: number[];
    val_accuracy?: number[];
    /** Any other logged name: a metric under the name compile was given ('acc', 'val_acc'). */
    [metric: string]: number[] | undefined;
  };
}

const HOOKS = ['setModel', 'onTrainBegin', 'onTrainEnd', 'onEpochBegin', 'onEpochEnd', 'onBatchBegin', 'onBatchEnd'] as const;

/** An object or array of callback objects, checked. */
export function normalizeCallbacks(value: unknown): Callback[] {
  if (value === undefined) return [];
  const list = isArray(value) ? value : [value];
  return mapEntries(list, (cb, i) => {
    if (typeof cb !== 'object' || cb === null || reachesProxy(cb)) {
      throw new FerroTypeError(`Expected callback objects for callbacks. Received: callbacks[${i}]=${describe(cb)}`);
    }
    for (const hook of HOOKS) {
      const f = (cb as Record<string, unknown>)[hook];
      if (f !== undefined && typeof f !== 'function') {
        throw new FerroTypeError(`Expected a function for callbacks[${i}].${hook}. Received: ${describe(f)}`);
      }
    }
    return cb as Callback;
  });
}

/** A callback that keeps the model fit hands it in `this.model`. */
export abstract class BaseCallback implements Callback {
  protected model: CallbackModel | undefined;

  /** Called by fit before training starts. */
  setModel(model: CallbackModel): void {
    this.model = model;
  }
}

/** Warns that the metric a callback watches is not in the logs; `text` is Keras's warning. */
export function warnMissingMetric(text: string): void {
  process.emitWarning(text, { code: 'FERRO_NN_MISSING_MONITOR' });
}

/** The metrics in `logs`, as Keras lists them in that warning. */
export function available(logs: Logs | undefined): string {
  return Object.keys(logs ?? {}).join(',');
}

/** Options of `new EarlyStopping(options)`: Keras's arguments in camelCase. */
export interface EarlyStoppingOptions {
  /** Metric to watch. Default 'val_loss'. */
  monitor?: string;
  /** Smallest change that counts as an improvement. Default 0. */
  minDelta?: number;
  /** Epochs without improvement before stopping. Default 0. */
  patience?: number;
  /** 'min', 'max', or 'auto' (Keras 3's metric directions: min for losses and errors, max for accuracies, auc, precision, recall; other names need a mode). Default 'auto'. */
  mode?: 'auto' | 'min' | 'max';
  /** Stop unless the metric beats this value. Default none. */
  baseline?: number;
  /** At the end, put back the weights of the best epoch. Default false. */
  restoreBestWeights?: boolean;
  /** Epochs to wait before watching. Default 0. */
  startFromEpoch?: number;
  /** 1 prints when it stops or restores. Default 0. */
  verbose?: 0 | 1;
}

/** Keras's EarlyStopping: ends fit when `monitor` stops improving. */
export class EarlyStopping extends BaseCallback {
  /** The metric watched. */
  readonly monitor: string;
  /** Smallest change that counts as an improvement (its absolute value). */
  readonly minDelta: number;
  /** Epochs without improvement before stopping. */
  readonly patience: number;
  /** Whether lower ('min') or higher ('max') is better; 'auto' decides by name. */
  readonly mode: 'auto' | 'min' | 'max';
  /** The value the metric must beat, if any. */
  readonly baseline: number | undefined;
  /** Whether the best epoch's weights are put back at the end. */
  readonly restoreBestWeights: boolean;
  /** Epochs ignored at the start. */
  readonly startFromEpoch: number;
  /** 1 prints when it stops or restores. */
  readonly verbose: 0 | 1;
  /** Epoch at which training was stopped (0: not stopped). */
  stoppedEpoch = 0;
  /** Epoch of the best value so far. */
  bestEpoch = 0;
  /** The best value of the monitored metric so far. */
  best = Infinity;
  private wait = 0;
  private warned = false;
  private bestWeights: Tensor<'float32'>[] | undefined;

  /** @param options what to watch and how patiently; defaults as in Keras. */
  constructor(options: EarlyStoppingOptions = {}) {
    super();
    const o = checkOptions(options, 'EarlyStopping', EARLY_STOPPING_OPTIONS);
    if (o.monitor !== undefined && typeof o.monitor !== 'string') {
      throw new FerroTypeError(`Expected a metric name for monitor. Received: monitor=${describe(o.monitor)}`);
    }
    this.monitor = (o.monitor as string | undefined) ?? 'val_loss';
    this.minDelta = Math.abs(o.minDelta === undefined ? 0 : checkNumber(o.minDelta, 'minDelta'));
    this.patience = o.patience === undefined ? 0 : checkInt(o.patience, 'patience', 0);
    this.mode = o.mode === undefined ? 'auto' : checkName(o.mode, 'mode', ['auto', 'min', 'max'] as const);
    this.baseline = o.baseline === undefined ? undefined : checkNumber(o.baseline, 'baseline');
    this.restoreBestWeights = o.restoreBestWeights === undefined ? false : checkBoolean(o.restoreBestWeights, 'restoreBestWeights');
    this.startFromEpoch = o.startFromEpoch === undefined ? 0 : checkInt(o.startFromEpoch, 'startFromEpoch', 0);
    this.verbose = o.verbose === undefined ? 0 : (checkInt(o.verbose, 'verbose', 0, 1) as 0 | 1);
    // A name whose direction 'auto' cannot tell is refused now, not at the first epoch.
    maximizes(this.monitor, this.mode, 'EarlyStopping');
  }

  /** Whether larger values of the monitored metric are better (Keras 3's metric directions in 'auto' mode). */
  private get maximize(): boolean {
    return maximizes(this.monitor, this.mode, 'EarlyStopping');
  }

  private improves(value: number, reference: number): boolean {
    return this.maximize ? value - this.minDelta > reference : value + this.minDelta < reference;
  }

  /** Resets the watch, so the callback can serve several fits. */
  onTrainBegin(): void {
    this.wait = 0;
    this.warned = false;
    this.stoppedEpoch = 0;
    this.bestEpoch = 0;
    this.bestWeights = undefined;
    this.best = this.maximize ? -Infinity : Infinity;
  }

  /** Compares the epoch's metric with the best so far; stops training when patience runs out. */
  onEpochEnd(epoch: number, logs?: Logs): void {
    const current = logs?.[this.monitor];
    if (current === undefined && !this.warned) {
      // Once a fit, as Python's warnings module shows Keras's once.
      this.warned = true;
      warnMissingMetric(`Early stopping conditioned on metric \`${this.monitor}\` which is not available. Available metrics are: ${available(logs)}`);
    }
    if (current === undefined || epoch < this.startFromEpoch) return;
    if (this.restoreBestWeights && this.bestWeights === undefined) {
      this.bestWeights = this.model?.getWeights();
      this.bestEpoch = epoch;
    }
    this.wait += 1;
    if (this.improves(current, this.best)) {
      this.best = current;
      this.bestEpoch = epoch;
      if (this.restoreBestWeights) this.bestWeights = this.model?.getWeights();
      // Only restart the wait when both the baseline and the best are beaten.
      if (this.baseline === undefined || this.improves(current, this.baseline)) this.wait = 0;
      return;
    }
    if (this.wait >= this.patience && epoch > 0 && this.model) {
      this.stoppedEpoch = epoch;
      this.model.stopTraining = true;
    }
  }

  /** Restores the best weights when asked to, and reports the stop. */
  onTrainEnd(): void {
    if (this.stoppedEpoch > 0 && this.verbose > 0) console.log(`Epoch ${this.stoppedEpoch + 1}: early stopping`);
    if (this.restoreBestWeights && this.bestWeights && this.model) {
      if (this.verbose > 0) console.log(`Restoring model weights from the end of the best epoch: ${this.bestEpoch + 1}.`);
      this.model.setWeights(this.bestWeights);
    }
  }
}

/** Keras's TerminateOnNaN: ends fit as soon as the loss is NaN or infinite. */
export class TerminateOnNaN extends BaseCallback {
  /** Stops training after a batch whose loss is NaN or infinite. */
  onBatchEnd(batch: number, logs?: Logs): void {
    const loss = logs?.loss;
    if (loss !== undefined && !Number.isFinite(loss) && this.model) {
      console.log(`Batch ${batch}: Invalid loss, terminating training`);
      this.model.stopTraining = true;
    }
  }
}

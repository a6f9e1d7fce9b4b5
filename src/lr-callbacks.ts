/**
 * Keras's callbacks that change the learning rate between epochs:
 * ReduceLROnPlateau and LearningRateScheduler (keras/src/callbacks/). They
 * set `model.learningRate`, which an optimizer with a schedule refuses.
 */

import { available, BaseCallback, type Logs, warnMissingMetric } from './callbacks.js';
import { FerroTypeError } from './errors.js';
import { maximizes } from './metric-directions.js';
import { checkInt, checkName, checkNumber, checkOptions, describe, optionNames } from './validate.js';

/** The options each call takes: any other key is refused (validate.ts, checkOptions). */
const REDUCE_LR_OPTIONS = optionNames<ReduceLROnPlateauOptions>()([
  'monitor',
  'factor',
  'patience',
  'mode',
  'minDelta',
  'cooldown',
  'minLr',
  'verbose',
]);

/** Options of `new ReduceLROnPlateau(options)`: Keras's arguments in camelCase. */
export interface ReduceLROnPlateauOptions {
  /** Metric to watch. Default 'val_loss'. */
  monitor?: string;
  /** New rate = rate · factor (< 1). Default 0.1. */
  factor?: number;
  /** Epochs without improvement before reducing. Default 10. */
  patience?: number;
  /** 'min', 'max', or 'auto' (Keras 3's metric directions: min for losses and errors, max for accuracies, auc, precision, recall; other names need a mode). Default 'auto'. */
  mode?: 'auto' | 'min' | 'max';
  /** Smallest change that counts as an improvement. Default 1e-4. */
  minDelta?: number;
  /** Epochs to wait after a reduction before watching again. Default 0. */
  cooldown?: number;
  /** The rate never goes below this. Default 0. */
  minLr?: number;
  /** 1 prints each reduction. Default 0. */
  verbose?: 0 | 1;
}

/** Keras's ReduceLROnPlateau: lowers the learning rate when `monitor` stops improving. */
export class ReduceLROnPlateau extends BaseCallback {
  /** The settings, checked, with Keras's defaults. */
  readonly config: Required<ReduceLROnPlateauOptions>;
  /** The best value so far; none before the first epoch. */
  private best: number | undefined;
  private wait = 0;
  private cooldownCounter = 0;
  private warned = false;

  /** @param options what to watch and how to reduce; defaults as in Keras. */
  constructor(options: ReduceLROnPlateauOptions = {}) {
    super();
    const o = checkOptions(options, 'ReduceLROnPlateau', REDUCE_LR_OPTIONS);
    if (o.monitor !== undefined && typeof o.monitor !== 'string') {
      throw new FerroTypeError(`Expected a metric name for monitor. Received: monitor=${describe(o.monitor)}`);
    }
    const monitor = (o.monitor as string | undefined) ?? 'val_loss';
    this.config = {
      monitor,
      factor: o.factor === undefined ? 0.1 : checkNumber(o.factor, 'factor', 0, 1 - Number.EPSILON),
      patience: o.patience === undefined ? 10 : checkInt(o.patience, 'patience', 0),
      mode: o.mode === undefined ? 'auto' : checkName(o.mode, 'mode', ['auto', 'min', 'max'] as const),
      // Keras keeps its size only (keras/src/callbacks/monitor_callback.py).
      minDelta: Math.abs(o.minDelta === undefined ? 1e-4 : checkNumber(o.minDelta, 'minDelta')),
      cooldown: o.cooldown === undefined ? 0 : checkInt(o.cooldown, 'cooldown', 0),
      minLr: o.minLr === undefined ? 0 : checkNumber(o.minLr, 'minLr', 0),
      verbose: o.verbose === undefined ? 0 : (checkInt(o.verbose, 'verbose', 0, 1) as 0 | 1),
    };
    // A name whose direction 'auto' cannot tell is refused now, not at the first epoch.
    this.maximize = maximizes(monitor, this.config.mode, 'ReduceLROnPlateau');
  }

  /** Whether larger values of the monitored metric are better (Keras 3's metric directions in 'auto' mode). */
  private readonly maximize: boolean;

  private improves(current: number): boolean {
    if (this.best === undefined) return true;
    const { minDelta } = this.config;
    return this.maximize ? current - minDelta > this.best : current + minDelta < this.best;
  }

  /** Resets the watch, so the callback can serve several fits. */
  onTrainBegin(): void {
    this.best = undefined;
    this.wait = 0;
    this.cooldownCounter = 0;
    this.warned = false;
  }

  /**
   * Logs the epoch's rate as `learning_rate`, compares the epoch's metric
   * with the best so far, and reduces the rate when patience runs out.
   */
  onEpochEnd(epoch: number, logs?: Logs): void {
    if (!this.model) return;
    if (logs) logs.learning_rate = this.model.learningRate;
    const current = logs?.[this.config.monitor];
    if (current === undefined) {
      if (!this.warned) {
        this.warned = true;
        const { monitor } = this.config;
        warnMissingMetric(
          `Learning rate reduction is conditioned on metric \`${monitor}\` which is not available. Available metrics are: ${available(logs)}.`,
        );
      }
      return;
    }
    if (this.cooldownCounter > 0) {
      this.cooldownCounter -= 1;
      this.wait = 0;
    }
    if (this.improves(current)) {
      this.best = current;
      this.wait = 0;
      return;
    }
    if (this.cooldownCounter > 0) return;
    this.wait += 1;
    if (this.wait < this.config.patience) return;
    const old = this.model.learningRate;
    if (old > Math.fround(this.config.minLr)) {
      const lr = Math.max(old * this.config.factor, this.config.minLr);
      this.model.learningRate = lr;
      if (this.config.verbose > 0) console.log(`\nEpoch ${epoch + 1}: ReduceLROnPlateau reducing learning rate to ${lr}.`);
      this.cooldownCounter = this.config.cooldown;
      this.wait = 0;
    }
  }
}

/** Keras's LearningRateScheduler: sets the learning rate before each epoch from `schedule(epoch, lr)`. */
export class LearningRateScheduler extends BaseCallback {
  /** The rate for an epoch (from 0), given the current rate. */
  readonly schedule: (epoch: number, learningRate: number) => number;
  /** 1 prints each change. */
  readonly verbose: 0 | 1;

  /**
   * @param schedule the rate for an epoch (from 0), given the current rate.
   * @param verbose 1 prints each change.
   */
  constructor(schedule: (epoch: number, learningRate: number) => number, verbose: 0 | 1 = 0) {
    super();
    this.schedule = schedule;
    this.verbose = checkInt(verbose, 'verbose', 0, 1) as 0 | 1;
    if (typeof schedule !== 'function') {
      throw new FerroTypeError(`Expected a function (epoch, learningRate) => number for schedule. Received: ${describe(schedule)}`);
    }
  }

  /** Sets the epoch's rate. */
  onEpochBegin(epoch: number): void {
    if (!this.model) return;
    const lr = checkNumber(this.schedule(epoch, this.model.learningRate), 'the learning rate the schedule returned', 0);
    this.model.learningRate = lr;
    if (this.verbose > 0) console.log(`\nEpoch ${epoch + 1}: LearningRateScheduler setting learning rate to ${lr}.`);
  }

  /** Logs the epoch's rate as `learning_rate`, as Keras does. */
  onEpochEnd(_epoch: number, logs?: Logs): void {
    if (this.model && logs) logs.learning_rate = this.model.learningRate;
  }
}

/**
 * One fit, as one native session that this side drives. The native side
 * trains on its own threads up to the next pause — an epoch end, or each
 * batch end when there are batch callbacks — parks, and sends an event;
 * this side runs the callbacks and resumes it, or ends it. Nothing native
 * waits for a callback, so an abort settles fit within one batch even when
 * a callback never settles.
 */

import { type Callback, type CallbackModel, type History, type Logs, normalizeCallbacks } from './callbacks.js';
import { type Features, sliceRows, type Targets, toFeatures, toTargets } from './data.js';
import { FerroShapeError, FerroTypeError, FerroValueError, fromNative, native } from './errors.js';
import { sampleWeights, weightsOf } from './sample-weights.js';
import type { FitEvent, FitSession, LogEntry, NativeModel } from './native.js';
import { ProgressBar, type ProgressStream } from './progress.js';
import type { TensorLike } from './tensor.js';
import { checkBoolean, checkFraction, checkInt, checkNumber, checkOptions, describe, isArray, optionNames } from './validate.js';

/** The options each call takes: any other key is refused (validate.ts, checkOptions). */
const FIT_OPTIONS = optionNames<FitOptions>()([
  'epochs',
  'initialEpoch',
  'batchSize',
  'verbose',
  'shuffle',
  'validationSplit',
  'validationData',
  'sampleWeight',
  'classWeight',
  'callbacks',
  'signal',
]);

/** How fit reports progress: 0 silent, 1 progress bar, 2 a line per epoch, 'auto' 1 on a TTY and 2 elsewhere. */
export type Verbosity = 0 | 1 | 2 | 'auto';

/** Options of `model.fit(x, y, options)`: Keras's arguments in camelCase, plus an AbortSignal. */
export interface FitOptions {
  /** Passes over the training data. Default 1. */
  epochs?: number;
  /** The epoch to start at (Keras's initial_epoch): training runs epochs initialEpoch … epochs − 1. Default 0. */
  initialEpoch?: number;
  /** Samples per gradient step. Default 32. */
  batchSize?: number;
  /** 0 silent, 1 progress bar, 2 one line per epoch; 'auto' (default) is 1 on a TTY, else 2. */
  verbose?: Verbosity;
  /** Shuffle the training samples before each epoch. Default true. */
  shuffle?: boolean;
  /** Fraction in [0, 1) of the samples, taken from the end before shuffling, to validate on. */
  validationSplit?: number;
  /** [x, y] or [x, y, sampleWeight] to validate on after each epoch; overrides validationSplit. */
  validationData?: [TensorLike, TensorLike] | [TensorLike, TensorLike, TensorLike];
  /**
   * A weight per training sample: each sample's loss counts that many times
   * (the batch loss is still divided by the batch size, as in Keras). Not
   * with classWeight. validationSplit takes its share of these weights
   * too, and they weigh val_loss, as in Keras (class weights do not).
   */
  sampleWeight?: TensorLike;
  /** A weight per class index ({ 0: 1, 1: 5 }, or a Map); unlisted classes weigh 1. Not with sampleWeight. */
  classWeight?: Record<number, number> | ReadonlyMap<number, number>;
  /** Hooks called during training. */
  callbacks?: Callback | Callback[];
  /**
   * Aborting stops training after the current batch (at once while a
   * callback runs, even one that never settles); fit rejects with an
   * AbortError and the model keeps the weights of the last completed step.
   */
  signal?: AbortSignal;
}

/** What fit needs of the model it trains. */
export interface Trainee extends CallbackModel {
  readonly nativeModel: NativeModel;
  readonly inputDim: number;
  readonly outputUnits: number;
  /** Whether the loss takes class indices (else a float per output unit). */
  readonly sparseTargets: boolean;
  /** The name compile's metrics gave accuracy ('acc', …), when not 'accuracy'. */
  readonly accuracyAlias: string | undefined;
  /** While paused (epoch callbacks running) other calls may use the model. */
  setPaused(paused: boolean): void;
  /** Training has started with checked data: from now on the optimizer has variables (Keras builds it here). */
  optimizerStarts(): void;
}

/** The error fit rejects with when its signal aborts. */
export class AbortError extends Error {
  /** 'ABORT_ERR', as DOM and Node abort errors carry it. */
  readonly code = 'ABORT_ERR';
  /** @param message why training stopped. */
  constructor(message = 'fit() was aborted') {
    super(message);
    this.name = 'AbortError';
  }
}

interface Split {
  x: Features;
  y: Targets;
  /** Per-sample weights of the loss. */
  w?: Float32Array;
}

function checkVerbose(v: unknown, out: ProgressStream): 0 | 1 | 2 {
  const verbose = checkVerbosity(v);
  return verbose === undefined || verbose === 'auto' ? (out.isTTY ? 1 : 2) : verbose;
}

/** A Verbosity, or undefined when not given (fit, predict and evaluate take the same values). */
export function checkVerbosity(v: unknown): Verbosity | undefined {
  if (v === undefined || v === 'auto' || v === 0 || v === 1 || v === 2) return v;
  throw new FerroTypeError(`Expected 0, 1, 2 or 'auto' for verbose. Received: verbose=${describe(v)}`);
}

function checkSignal(v: unknown): AbortSignal | undefined {
  if (v === undefined) return undefined;
  if (typeof AbortSignal !== 'undefined' && v instanceof AbortSignal) return v;
  throw new FerroTypeError(`Expected an AbortSignal for signal. Received: signal=${describe(v)}`);
}

/** Training and validation rows, as views of the caller's data where possible. */
function splitData(model: Trainee, features: Features, y: unknown, o: Record<string, unknown>): { train: Split; val?: Split } {
  const targets = toTargets(y, features.rows, model.outputUnits, model.sparseTargets);
  // Checked here, before onTrainBegin and the first progress line, as
  // Keras checks its data before any callback runs.
  if (features.rows === 0) throw new FerroValueError('Expected at least one sample in the training data. Received: 0 samples');
  const all = { x: features, y: targets, w: sampleWeights(o, targets, features.rows) };
  if (o.validationData !== undefined) {
    const vd = o.validationData;
    if (!isArray(vd) || (vd.length !== 2 && vd.length !== 3)) {
      throw new FerroTypeError(`Expected [x, y] or [x, y, sampleWeight] for validationData. Received: ${describe(vd)}`);
    }
    const vx = toFeatures(vd[0], 'validationData[0]');
    const vy = toTargets(vd[1], vx.rows, model.outputUnits, model.sparseTargets, 'validationData[1]', 'validationData[0]');
    if (vx.features !== model.inputDim) {
      throw new FerroShapeError(
        `Expected validation x with ${model.inputDim} features per sample. Received: ${vx.features}`,
      );
    }
    if (vx.rows === 0) throw new FerroValueError('Expected at least one sample in validationData. Received: 0 samples');
    const vw = vd[2] === undefined ? undefined : weightsOf(vd[2], vx.rows, 'validationData[2]');
    return { train: all, val: { x: vx, y: vy, w: vw } };
  }
  const split = o.validationSplit === undefined ? 0 : checkFraction(o.validationSplit, 'validationSplit');
  if (split === 0) return { train: all };
  // Keras: the last fraction of the samples, before any shuffling.
  const rows = features.rows;
  const at = Math.floor(rows * (1 - split));
  if (at === 0 || at === rows) {
    throw new FerroValueError(
      `Expected validationSplit to leave at least one sample for training and one for validation. ` +
        `Received: validationSplit=${split} of ${rows} samples, which leaves ${at} for training and ${rows - at} for validation`,
    );
  }
  return {
    train: { x: sliceRows(features, 0, at), y: targets.slice(0, at), w: all.w?.subarray(0, at) },
    // Keras splits sample_weight with the data; class weights stay with training.
    val: { x: sliceRows(features, at, rows), y: targets.slice(at, rows), w: o.sampleWeight === undefined ? undefined : all.w?.subarray(at, rows) },
  };
}

/**
 * Logs of a native event, keyed by Keras's names: the native side sends
 * loss, accuracy and every compiled metric by name (and the same for the
 * validation data, here prefixed `val_`). When compile's metrics named
 * accuracy otherwise ('acc', as Keras keys it then), it is also there under
 * that name, so `EarlyStopping({ monitor: 'val_acc' })` sees it.
 */
function epochLogs(e: FitEvent, alias: string | undefined): Logs {
  const logs = {} as Logs; // loss and accuracy come first in every event
  const add = (entries: readonly LogEntry[], prefix: string): void => {
    for (const { name, value } of entries) {
      logs[prefix + name] = value;
      if (name === 'accuracy' && alias) logs[prefix + alias] = value;
    }
  };
  add(e.logs, '');
  if (e.valLogs) add(e.valLogs, 'val_');
  return logs;
}

/** What the progress line shows: the metrics under the names compile was given. */
function shownLogs(logs: Logs, alias: string | undefined): Partial<Record<string, number>> {
  if (!alias) return logs;
  const { accuracy: _accuracy, val_accuracy: _valAccuracy, ...rest } = logs;
  return rest;
}

/**
 * Native events in arrival order. `push` is the native callback: it runs on
 * the event loop and must never throw.
 */
class EventQueue {
  private readonly items: { error: Error | null; event?: FitEvent }[] = [];
  private wake: (() => void) | undefined;

  readonly push = (error: Error | null, event?: FitEvent): void => {
    this.items.push({ error, event });
    this.wake?.();
  };

  /** The next event; a native error rejects. */
  async next(): Promise<FitEvent> {
    while (this.items.length === 0) await new Promise<void>((resolve) => (this.wake = resolve));
    this.wake = undefined;
    const { error, event } = this.items.shift()!;
    if (error) throw fromNative(error);
    return event!;
  }
}

/** Trains `model` on x (as features already checked against it) and y. */
export async function runFit(
  model: Trainee,
  x: Features,
  y: unknown,
  options: unknown,
  out: ProgressStream = process.stdout,
): Promise<History> {
  const o = checkOptions(options, 'fit', FIT_OPTIONS);
  const epochs = o.epochs === undefined ? 1 : checkInt(o.epochs, 'epochs', 0, 2 ** 31 - 1);
  const initialEpoch = o.initialEpoch === undefined ? 0 : checkInt(o.initialEpoch, 'initialEpoch', 0, 2 ** 31 - 1);
  const batchSize = o.batchSize === undefined ? 32 : checkInt(o.batchSize, 'batchSize', 1, 2 ** 31 - 1);
  const shuffle = o.shuffle === undefined ? true : checkBoolean(o.shuffle, 'shuffle');
  const verbose = checkVerbose(o.verbose, out);
  const callbacks = normalizeCallbacks(o.callbacks);
  const signal = checkSignal(o.signal);
  const { train, val } = splitData(model, x, y, o);
  if (signal?.aborted) throw new AbortError();

  const steps = Math.ceil(train.x.rows / Math.min(batchSize, Math.max(1, train.x.rows)));
  const eachBatch = callbacks.some((cb) => cb.onBatchBegin || cb.onBatchEnd);
  const config = { epochs, batchSize, shuffle, eachBatch, initialEpoch, sampleWeight: train.w, valSampleWeight: val?.w };
  const events = new EventQueue();
  // Copies the data and claims training now, in this tick: a predict made
  // right after fit() is refused rather than breaking the fit.
  const session = native(() =>
    model.nativeModel.fitStart(train.x.input, train.y.rows, val?.x.input, val?.y.rows, config, events.push),
  );
  model.optimizerStarts();
  const bar = new ProgressBar(verbose, epochs, steps, out);
  return new FitDriver(model, session, events, callbacks, bar, steps, epochs, signal).run(initialEpoch);
}

/**
 * Calls one hook of `cb`. `noLogs` is the logs object for a hook that has no
 * metrics: `{}`, one per call of hooks(), shared by the callbacks, as TF.js's
 * CallbackList and Keras 3 pass it (a callback may add keys for the next).
 */
type Hook = (cb: Callback, noLogs: Partial<Logs>) => void | Promise<void> | undefined;

/** A callback that can move the fit's first epoch (BackupAndRestore, after onTrainBegin). */
export interface ResumesTraining {
  /** The epoch to start at, when training resumes from a backup. */
  resumeEpoch(): number | undefined;
}

/** Runs one fit's callbacks around the native session's steps. */
class FitDriver {
  private readonly history: History = { epoch: [], history: { loss: [], accuracy: [] } };
  /** Rejects with an AbortError when the signal aborts (never without a signal). */
  private readonly aborted: Promise<never>;
  private onAbort: () => void = () => undefined;
  private lastLogs: Logs | undefined;

  constructor(
    private readonly model: Trainee,
    private readonly session: FitSession,
    private readonly events: EventQueue,
    private readonly callbacks: Callback[],
    private readonly bar: ProgressBar,
    private readonly steps: number,
    private readonly epochs: number,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.aborted = new Promise<never>((_, reject) => {
      this.onAbort = () => reject(new AbortError());
    });
    this.aborted.catch(() => undefined);
    signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  async run(initialEpoch: number): Promise<History> {
    const epochs = this.epochs;
    this.model.stopTraining = false;
    try {
      this.session.parked();
      // Inside the try: a setModel that throws must still release the
      // session. Awaited as every hook is, so that an async one's rejection
      // rejects the fit instead of going unhandled (which ends the process).
      await this.hooks((cb) => cb.setModel?.(this.model));
      await this.hooks((cb, noLogs) => cb.onTrainBegin?.(noLogs));
      // A BackupAndRestore that restored a backup resumes after its epoch.
      const restored = this.callbacks.map((cb) => (cb as Partial<ResumesTraining>).resumeEpoch?.()).find((e) => e !== undefined);
      const first = restored ?? initialEpoch;
      if (restored !== undefined) native(() => this.session.setInitialEpoch(first));
      if (first < epochs) await this.beginEpoch(first);
      // Keras checks stop_training only after a batch: set before the
      // first one, it still lets that batch run.
      let finished = this.session.resume(first >= epochs, this.model.stopTraining);
      while (!finished) finished = await this.handle(await this.until(this.events.next()));
      // Training is over: an abort leaves the fit resolved, and only ends
      // the wait for a callback, so that one that never settles cannot
      // leave the model paused for good.
      await this.hooks((cb) => cb.onTrainEnd?.(this.lastLogs), 'stops waiting');
    } catch (error) {
      await this.stopNative();
      throw error;
    } finally {
      this.signal?.removeEventListener('abort', this.onAbort);
    }
    return this.history;
  }

  /** Handles one native event; true when the fit is over. */
  private async handle(e: FitEvent): Promise<boolean> {
    const logs = epochLogs(e, this.model.accuracyAlias);
    const shown = shownLogs(logs, this.model.accuracyAlias);
    if (e.kind === 'progress') {
      this.bar.batch(e.batches, shown);
      if (this.model.stopTraining) this.session.stop();
      return false;
    }
    this.session.parked();
    if (e.kind === 'batch') {
      this.bar.batch(e.batches, shown);
      await this.hooks((cb) => cb.onBatchEnd?.(e.batches - 1, logs));
      // As Keras: stop_training after a batch ends the epoch there (it is
      // still validated and reported); set before a batch, that batch runs.
      if (this.model.stopTraining) return this.session.resume(true, false);
      if (e.batches < this.steps) await this.hooks((cb, noLogs) => cb.onBatchBegin?.(e.batches, noLogs));
      return this.session.resume(false, this.model.stopTraining);
    }
    // As in Keras, History and the progress line come after the callbacks,
    // and so keep what those add to the logs (learning_rate, keys of their own).
    await this.hooks((cb) => cb.onEpochEnd?.(e.epoch, logs));
    this.record(e.epoch, logs);
    this.bar.epochEnd(shownLogs(logs, this.model.accuracyAlias), e.batches);
    if (this.model.stopTraining || e.stopped) return this.session.resume(true, false);
    if (e.epoch + 1 < this.epochs) await this.beginEpoch(e.epoch + 1);
    return this.session.resume(false, this.model.stopTraining);
  }

  private async beginEpoch(epoch: number): Promise<void> {
    this.bar.epochBegin(epoch);
    await this.hooks((cb, noLogs) => cb.onEpochBegin?.(epoch, noLogs));
    await this.hooks((cb, noLogs) => cb.onBatchBegin?.(0, noLogs));
  }

  private record(epoch: number, logs: Logs): void {
    this.lastLogs = logs;
    this.history.epoch.push(epoch);
    for (const [key, value] of Object.entries(logs)) {
      // A callback may have put anything in the logs; History keeps numbers.
      if (typeof value === 'number') (this.history.history[key as 'loss'] ??= []).push(value);
    }
  }

  /**
   * Runs `f` on every callback in order, awaiting each, with the model
   * free for them (they may read weights, evaluate, predict). An abort
   * ends the wait at once and rejects, or, when `onAbort` says so, only
   * stops waiting: the callbacks left are still called, not awaited.
   */
  private async hooks(f: Hook, onAbort: 'rejects' | 'stops waiting' = 'rejects'): Promise<void> {
    this.model.setPaused(true);
    const noLogs: Partial<Logs> = {};
    try {
      for (const cb of this.callbacks) {
        const result = f(cb, noLogs);
        if (onAbort === 'stops waiting') {
          // A rejection of the callback's own still rejects the fit.
          if (result !== undefined) await Promise.race([Promise.resolve(result), this.aborted.catch(() => undefined)]);
          continue;
        }
        if (result !== undefined) await this.until(Promise.resolve(result));
        if (this.signal?.aborted) throw new AbortError();
      }
    } finally {
      this.model.setPaused(false);
    }
  }

  /** `p`, unless the signal aborts first. */
  private until<T>(p: Promise<T>): Promise<T> {
    return this.signal ? Promise.race([p, this.aborted]) : p;
  }

  /** Ends the native session and waits until no step runs (at most one batch). */
  private async stopNative(): Promise<void> {
    if (this.session.cancel()) return;
    for (;;) {
      try {
        const e = await this.events.next();
        if (e.kind === 'cancelled') return;
      } catch {
        return;
      }
    }
  }
}

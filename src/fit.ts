/**
 * One fit, as one native call. The native loop reports progress through
 * events; at each epoch end it waits while this side prints the epoch line
 * and awaits epoch callbacks, then resumes it (or tells it to stop).
 */

import { type Callback, type CallbackModel, type History, type Logs, normalizeCallbacks } from './callbacks.js';
import { type Features, toFeatures, toLabels } from './data.js';
import { FerroShapeError, FerroTypeError, FerroValueError, nativeAsync } from './errors.js';
import { binding, type FitEvent, type FitSummary, type NativeModel } from './native.js';
import { ProgressBar, type ProgressStream } from './progress.js';
import type { TensorLike } from './tensor.js';
import { checkBoolean, checkInt, checkNumber, checkOptions, describe } from './validate.js';

/** How fit reports progress: 0 silent, 1 progress bar, 2 a line per epoch, 'auto' 1 on a TTY and 2 elsewhere. */
export type Verbosity = 0 | 1 | 2 | 'auto';

/** Options of `model.fit(x, y, options)`: Keras's arguments in camelCase, plus an AbortSignal. */
export interface FitOptions {
  /** Passes over the training data. Default 1. */
  epochs?: number;
  /** Samples per gradient step. Default 32. */
  batchSize?: number;
  /** 0 silent, 1 progress bar, 2 one line per epoch; 'auto' (default) is 1 on a TTY, else 2. */
  verbose?: Verbosity;
  /** Shuffle the training samples before each epoch. Default true. */
  shuffle?: boolean;
  /** Fraction in [0, 1) of the samples, taken from the end before shuffling, to validate on. */
  validationSplit?: number;
  /** [x, y] to validate on after each epoch; overrides validationSplit. */
  validationData?: [TensorLike, TensorLike];
  /** Hooks called during training. */
  callbacks?: Callback | Callback[];
  /** Aborting stops training after the current batch; fit rejects with an AbortError. */
  signal?: AbortSignal;
}

/** What fit needs of the model it trains. */
export interface Trainee extends CallbackModel {
  readonly nativeModel: NativeModel;
  readonly inputDim: number;
  readonly outputUnits: number;
  /** While paused (epoch callbacks running) other calls may use the model. */
  setPaused(paused: boolean): void;
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
  x: Float32Array;
  y: Int32Array;
  rows: number;
}

function checkVerbose(v: unknown, out: ProgressStream): 0 | 1 | 2 {
  if (v === undefined || v === 'auto') return out.isTTY ? 1 : 2;
  if (v === 0 || v === 1 || v === 2) return v;
  throw new FerroTypeError(`Expected 0, 1, 2 or 'auto' for verbose. Received: verbose=${describe(v)}`);
}

function checkSignal(v: unknown): AbortSignal | undefined {
  if (v === undefined) return undefined;
  if (typeof AbortSignal !== 'undefined' && v instanceof AbortSignal) return v;
  throw new FerroTypeError(`Expected an AbortSignal for signal. Received: signal=${describe(v)}`);
}

/**
 * Training and validation arrays, as views of the caller's data where
 * possible; `features` are x as the model was built for them.
 */
function splitData(model: Trainee, features: Features, y: unknown, o: Record<string, unknown>): { train: Split; val?: Split } {
  const labels = toLabels(y, features.rows, model.outputUnits);
  const all = { x: features.data, y: labels, rows: features.rows };
  if (o.validationData !== undefined) {
    const vd = o.validationData;
    if (!Array.isArray(vd) || vd.length !== 2) {
      throw new FerroTypeError(`Expected [x, y] for validationData. Received: ${describe(vd)}`);
    }
    const vx = toFeatures(vd[0], 'validationData[0]');
    const vy = toLabels(vd[1], vx.rows, model.outputUnits, 'validationData[1]');
    if (vx.features !== model.inputDim) {
      throw new FerroShapeError(
        `Expected validation x with ${model.inputDim} features per sample. Received: ${vx.features}`,
      );
    }
    return { train: all, val: { x: vx.data, y: vy, rows: vx.rows } };
  }
  const split = o.validationSplit === undefined ? 0 : checkNumber(o.validationSplit, 'validationSplit', 0, 1);
  if (split === 0) return { train: all };
  if (split >= 1) throw new FerroValueError(`Expected validationSplit in [0, 1). Received: validationSplit=${split}`);
  // Keras: the last fraction of the samples, before any shuffling.
  const at = Math.floor(all.rows * (1 - split));
  const d = model.inputDim;
  return {
    train: { x: all.x.subarray(0, at * d), y: all.y.subarray(0, at), rows: at },
    val: { x: all.x.subarray(at * d), y: all.y.subarray(at), rows: all.rows - at },
  };
}

function epochLogs(e: { loss: number; accuracy: number; valLoss?: number; valAccuracy?: number }): Logs {
  const logs: Logs = { loss: e.loss, accuracy: e.accuracy };
  if (e.valLoss !== undefined) logs.val_loss = e.valLoss;
  if (e.valAccuracy !== undefined) logs.val_accuracy = e.valAccuracy;
  return logs;
}

function toHistory(summary: FitSummary): History {
  const history: History = { epoch: [], history: { loss: [], accuracy: [] } };
  summary.epochs.forEach((e, i) => {
    history.epoch.push(i);
    history.history.loss.push(e.loss);
    history.history.accuracy.push(e.accuracy);
    if (e.valLoss !== undefined) (history.history.val_loss ??= []).push(e.valLoss);
    if (e.valAccuracy !== undefined) (history.history.val_accuracy ??= []).push(e.valAccuracy);
  });
  return history;
}

/** Trains `model` on x (as features already checked against it) and y. */
export async function runFit(
  model: Trainee,
  x: Features,
  y: unknown,
  options: unknown,
  out: ProgressStream = process.stdout,
): Promise<History> {
  const o = checkOptions(options, 'fit');
  const epochs = o.epochs === undefined ? 1 : checkInt(o.epochs, 'epochs', 0, 2 ** 31 - 1);
  const batchSize = o.batchSize === undefined ? 32 : checkInt(o.batchSize, 'batchSize', 1, 2 ** 31 - 1);
  const shuffle = o.shuffle === undefined ? true : checkBoolean(o.shuffle, 'shuffle');
  const verbose = checkVerbose(o.verbose, out);
  const callbacks = normalizeCallbacks(o.callbacks);
  const signal = checkSignal(o.signal);
  const { train, val } = splitData(model, x, y, o);
  if (signal?.aborted) throw new AbortError();

  const steps = Math.ceil(train.rows / Math.min(batchSize, Math.max(1, train.rows)));
  const bar = new ProgressBar(verbose, epochs, steps, out);
  const control = new binding.FitControl();
  const batchHooks = callbacks.some((cb) => cb.onBatchBegin || cb.onBatchEnd);
  // The first error of a callback or of event handling; set from closures.
  const state: { failure?: { error: unknown } } = {};
  const fail = (error: unknown): void => {
    state.failure ??= { error };
    control.stop();
  };
  // A function, so TypeScript does not assume the closures left it unset.
  const rethrow = (): void => {
    if (state.failure) throw state.failure.error;
  };
  const aborted = (): boolean => signal?.aborted === true;
  const onAbort = (): void => control.stop();
  signal?.addEventListener('abort', onAbort, { once: true });
  model.stopTraining = false;
  callbacks.forEach((cb) => cb.setModel?.(model));

  const each = async (f: (cb: Callback) => void | Promise<void> | undefined): Promise<void> => {
    for (const cb of callbacks) await f(cb);
  };
  // Batch hooks run while training goes on; what they leave pending is awaited at the epoch's end.
  const pending: Promise<void>[] = [];
  const batchHook = (f: (cb: Callback) => void | Promise<void> | undefined): void => {
    for (const cb of callbacks) {
      try {
        const result = f(cb);
        if (result && typeof (result as Promise<void>).then === 'function') pending.push(Promise.resolve(result).catch(fail));
      } catch (error) {
        fail(error);
      }
    }
  };
  const beginEpoch = async (epoch: number): Promise<void> => {
    bar.epochBegin(epoch);
    await each((cb) => cb.onEpochBegin?.(epoch));
    if (batchHooks) batchHook((cb) => cb.onBatchBegin?.(0));
  };
  const endEpoch = async (e: FitEvent): Promise<void> => {
    let stop = true;
    try {
      await Promise.all(pending.splice(0));
      if (state.failure || aborted()) return;
      const logs = epochLogs(e);
      bar.epochEnd(logs, e.batches);
      model.setPaused(true);
      await each((cb) => cb.onEpochEnd?.(e.epoch, logs));
      stop = model.stopTraining || e.batches < steps || e.epoch + 1 >= epochs || aborted();
      if (!stop) await beginEpoch(e.epoch + 1);
    } catch (error) {
      fail(error);
    } finally {
      model.setPaused(false);
      control.resume(stop || state.failure !== undefined);
    }
  };
  // Runs on the JS thread for each native event; it must never throw.
  const onEvent = (e: FitEvent): void => {
    try {
      if (e.kind === 'epoch') {
        void endEpoch(e);
        return;
      }
      const logs = epochLogs(e);
      bar.batch(e.batches, logs);
      if (batchHooks) {
        batchHook((cb) => cb.onBatchEnd?.(e.batches - 1, logs));
        if (e.batches < steps) batchHook((cb) => cb.onBatchBegin?.(e.batches));
      }
      if (model.stopTraining) control.stop();
    } catch (error) {
      fail(error);
    }
  };

  // Train-level hooks run before and after the native fit: the model is free then.
  const trainHook = async (f: (cb: Callback) => void | Promise<void> | undefined): Promise<void> => {
    model.setPaused(true);
    try {
      await each(f);
    } finally {
      model.setPaused(false);
    }
  };
  let summary: FitSummary;
  try {
    await trainHook((cb) => cb.onTrainBegin?.());
    if (epochs > 0) await beginEpoch(0);
    rethrow();
    const events = verbose > 0 || callbacks.length > 0 ? onEvent : undefined;
    const config = { epochs, batchSize, shuffle, syncEpochs: true, everyBatch: batchHooks };
    summary = await nativeAsync(() =>
      binding.modelFit(model.nativeModel.id, train.x, train.y, val?.x, val?.y, config, control.id, events),
    );
    await Promise.all(pending.splice(0));
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  rethrow();
  if (aborted()) throw new AbortError();
  const history = toHistory(summary);
  const last = summary.epochs.at(-1);
  await trainHook((cb) => cb.onTrainEnd?.(last ? epochLogs(last) : undefined));
  return history;
}

/** Training callbacks, with TensorFlow.js's method names, and the History fit returns. */

import { FerroTypeError } from './errors.js';
import { describe } from './validate.js';

/** Metric values by name: loss, accuracy, val_loss, val_accuracy. */
export type Logs = Record<string, number>;

/**
 * Hooks into fit. Epoch- and train-level hooks may be async: fit awaits them
 * before training goes on. A hook that throws rejects fit with that error.
 */
export interface Callback {
  onTrainBegin?(logs?: Logs): void | Promise<void>;
  onTrainEnd?(logs?: Logs): void | Promise<void>;
  onEpochBegin?(epoch: number, logs?: Logs): void | Promise<void>;
  onEpochEnd?(epoch: number, logs?: Logs): void | Promise<void>;
  onBatchBegin?(batch: number, logs?: Logs): void | Promise<void>;
  onBatchEnd?(batch: number, logs?: Logs): void | Promise<void>;
}

/** What fit resolves to, as in Keras: per-epoch means of every metric. */
export interface History {
  /** Epoch indices, from 0. */
  epoch: number[];
  history: {
    loss: number[];
    accuracy: number[];
    val_loss?: number[];
    val_accuracy?: number[];
  };
}

const HOOKS = ['onTrainBegin', 'onTrainEnd', 'onEpochBegin', 'onEpochEnd', 'onBatchBegin', 'onBatchEnd'] as const;

/** An object or array of callback objects, checked. */
export function normalizeCallbacks(value: unknown): Callback[] {
  if (value === undefined) return [];
  const list = Array.isArray(value) ? value : [value];
  return list.map((cb, i) => {
    if (typeof cb !== 'object' || cb === null) {
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

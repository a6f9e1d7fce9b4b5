/**
 * Keras 3's metric directions (a metric's `_direction`), which decide
 * 'auto' mode for every monitoring callback (keras/src/callbacks/
 * monitor_callback.py): ModelCheckpoint, EarlyStopping, ReduceLROnPlateau.
 */

import { FerroValueError } from './errors.js';

/** Metrics whose larger values are better ('up'). */
const UP = new Set([
  'accuracy',
  'acc',
  'binary_accuracy',
  'categorical_accuracy',
  'sparse_categorical_accuracy',
  'top_k_categorical_accuracy',
  'sparse_top_k_categorical_accuracy',
  'auc',
  'precision',
  'recall',
]);
/** Metrics (and the loss) whose smaller values are better ('down'). */
const DOWN = new Set(['loss', 'mae', 'mean_absolute_error', 'mse', 'mean_squared_error', 'rmse', 'root_mean_squared_error']);

/** Keras's 'auto' mode: whether larger values of `monitor` are better; unknown names need a mode. */
export function maximizes(monitor: string, mode: 'auto' | 'min' | 'max', who: string): boolean {
  if (mode !== 'auto') return mode === 'max';
  const name = monitor.replace(/^val_/, '');
  if (UP.has(name)) return true;
  if (DOWN.has(name)) return false;
  throw new FerroValueError(
    `${who} cannot tell whether monitor='${monitor}' should be maximized or minimized. Pass mode: 'max' or mode: 'min'.`,
  );
}

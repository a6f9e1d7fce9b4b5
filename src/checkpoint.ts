/** ModelCheckpoint: Keras's callback that saves the model (or its weights) as it trains. */

import { dirname } from 'node:path';
import { BaseCallback, type Logs } from './callbacks.js';
import { FerroValueError } from './errors.js';
import { makeDir, refuseUrl } from './saving/files.js';
import { maximizes } from './metric-directions.js';
import { checkBoolean, checkInt, checkName, checkNumber, checkOptions, checkString, optionNames } from './validate.js';

/** The options each call takes: any other key is refused (validate.ts, checkOptions). */
const MODEL_CHECKPOINT_OPTIONS = optionNames<ModelCheckpointOptions>()([
  'filepath',
  'monitor',
  'saveBestOnly',
  'saveWeightsOnly',
  'mode',
  'saveFreq',
  'initialValueThreshold',
  'verbose',
]);

/** Options of `new ModelCheckpoint(options)`: Keras's arguments in camelCase. */
export interface ModelCheckpointOptions {
  /**
   * Where to save, formatted as Python's str.format with `epoch` (from 1),
   * `batch` (with an integer saveFreq) and every logged metric:
   * 'ckpt-{epoch:02d}-{val_loss:.3f}.keras'. Ends in `.keras`, or in
   * `.weights.h5` with saveWeightsOnly.
   */
  filepath: string;
  /** The metric saveBestOnly compares. Default 'val_loss'. */
  monitor?: string;
  /** Save only when `monitor` improves on the best so far. Default false. */
  saveBestOnly?: boolean;
  /** Save the weights alone (`.weights.h5`). Default false. */
  saveWeightsOnly?: boolean;
  /** 'min', 'max', or 'auto' (min for losses and errors, max for accuracy, AUC, precision, recall). Default 'auto'. */
  mode?: 'auto' | 'min' | 'max';
  /** 'epoch', or a number of batches between saves. Default 'epoch'. */
  saveFreq?: 'epoch' | number;
  /** With saveBestOnly, the value to beat at first. Default none. */
  initialValueThreshold?: number;
  /** 1 prints Keras's line for each save (or each epoch that did not improve). Default 0. */
  verbose?: 0 | 1;
}

/** A `{name}` or `{name:spec}` field of a checkpoint path. */
const FIELD = /\{(\w+)(?::([^}]*))?\}/g;

/**
 * The largest width and precision a field may have: JavaScript's toFixed
 * and toExponential take at most 100 digits, and a wider field would only
 * pad the file name past what file systems take (255 bytes).
 */
const MAX_SPEC_DIGITS = 100;

/** A field's spec, parsed: zero-padding, width, precision and type (d, f or e). */
function parseSpec(spec: string, template: string): { zero: boolean; width: number; precision?: number; kind: string } {
  const m = /^(0?)(\d*)(?:\.(\d+))?([dfe])$/.exec(spec);
  const width = Number(m?.[2] || 0);
  const precision = m?.[3] === undefined ? undefined : Number(m[3]);
  if (!m || width > MAX_SPEC_DIGITS || (precision ?? 0) > MAX_SPEC_DIGITS) {
    throw new FerroValueError(
      `Unsupported format spec '${spec}' in the checkpoint path. Expected d, f or e with a width and precision of at most ${MAX_SPEC_DIGITS}, ` +
        `as in {epoch:02d}, {val_loss:.3f} or {loss:.2e}. Received: filepath=${JSON.stringify(template)}`,
    );
  }
  return { zero: m[1] === '0', width, precision, kind: m[4]! };
}

/** Refuses a path whose format specs formatPath could not honour, before any epoch runs. */
function checkTemplate(template: string): void {
  for (const [, , spec] of template.matchAll(FIELD)) if (spec) parseSpec(spec, template);
}

/** Python's str.format for the fields a checkpoint path uses: {name}, {name:02d}, {name:.3f}, {name:.2e}. */
export function formatPath(template: string, values: Record<string, number>): string {
  return template.replace(FIELD, (_, name: string, spec: string | undefined) => {
    const v = values[name];
    if (v === undefined) {
      throw new FerroValueError(
        `Failed to format the checkpoint path "${template}": no value for {${name}}. Available: ${Object.keys(values).join(', ')}`,
      );
    }
    if (!spec) return String(v);
    const { zero, width: w, precision, kind } = parseSpec(spec, template);
    const text =
      kind === 'd'
        ? String(Math.trunc(v))
        : kind === 'f'
          ? v.toFixed(precision ?? 6)
          : v.toExponential(precision ?? 6).replace(/e([+-])(\d)$/, 'e$10$2');
    if (text.length >= w) return text;
    return zero && !text.startsWith('-') ? text.padStart(w, '0') : text.padStart(w, zero ? '0' : ' ');
  });
}

/** Keras's ModelCheckpoint: saves the model (or weights) every epoch or every few batches, or only its best. */
export class ModelCheckpoint extends BaseCallback {
  /** The path template. */
  readonly filepath: string;
  /** The metric saveBestOnly compares. */
  readonly monitor: string;
  /** Whether only improvements are saved. */
  readonly saveBestOnly: boolean;
  /** Whether only weights are saved. */
  readonly saveWeightsOnly: boolean;
  /** Whether larger or smaller values are better, or decided by name. */
  readonly mode: 'auto' | 'min' | 'max';
  /** 'epoch' or batches between saves. */
  readonly saveFreq: 'epoch' | number;
  /** Whether each save is reported on stdout. */
  readonly verbose: 0 | 1;
  /** The best value seen (or the initial threshold). */
  best: number | undefined;
  private batchesSinceSave = 0;
  private epoch = 0;

  /** @param options filepath, monitor, saveBestOnly, saveWeightsOnly, mode, saveFreq, initialValueThreshold, verbose. */
  constructor(options: ModelCheckpointOptions) {
    super();
    const o = checkOptions(options, 'ModelCheckpoint', MODEL_CHECKPOINT_OPTIONS);
    this.filepath = checkString(o.filepath, 'filepath');
    refuseUrl(this.filepath);
    checkTemplate(this.filepath);
    this.monitor = o.monitor === undefined ? 'val_loss' : checkString(o.monitor, 'monitor');
    this.saveBestOnly = o.saveBestOnly === undefined ? false : checkBoolean(o.saveBestOnly, 'saveBestOnly');
    this.saveWeightsOnly = o.saveWeightsOnly === undefined ? false : checkBoolean(o.saveWeightsOnly, 'saveWeightsOnly');
    this.mode = o.mode === undefined ? 'auto' : checkName(o.mode, 'mode', ['auto', 'min', 'max'] as const);
    this.saveFreq = o.saveFreq === undefined || o.saveFreq === 'epoch' ? 'epoch' : checkInt(o.saveFreq, 'saveFreq', 1);
    this.best = o.initialValueThreshold === undefined ? undefined : checkNumber(o.initialValueThreshold, 'initialValueThreshold');
    this.verbose = o.verbose === undefined ? 0 : (checkInt(o.verbose, 'verbose', 0, 1) as 0 | 1);
    const ending = this.saveWeightsOnly ? '.weights.h5' : '.keras';
    if (!this.filepath.endsWith(ending)) {
      throw new FerroValueError(
        `Expected a filepath ending in ${ending}${this.saveWeightsOnly ? ' (saveWeightsOnly)' : ''}, as Keras 3 requires. Received: ${this.filepath}`,
      );
    }
  }

  /** Checks the monitor's direction up front, as Keras does when the model is set. */
  onTrainBegin(): void {
    if (this.saveBestOnly) maximizes(this.monitor, this.mode, 'ModelCheckpoint');
    this.batchesSinceSave = 0;
  }

  /** Tracks the epoch for batch-frequency paths. */
  onEpochBegin(epoch: number): void {
    this.epoch = epoch;
  }

  /** Saves every `saveFreq` batches when it is a number. */
  async onBatchEnd(batch: number, logs?: Logs): Promise<void> {
    if (this.saveFreq === 'epoch') return;
    this.batchesSinceSave += 1;
    if (this.batchesSinceSave < this.saveFreq) return;
    this.batchesSinceSave = 0;
    await this.saveIf({ epoch: this.epoch + 1, batch: batch + 1, ...numbers(logs) });
  }

  /** Saves at the end of each epoch when saveFreq is 'epoch'. */
  async onEpochEnd(epoch: number, logs?: Logs): Promise<void> {
    if (this.saveFreq === 'epoch') await this.saveIf({ epoch: epoch + 1, ...numbers(logs) });
  }

  private async saveIf(values: Record<string, number>): Promise<void> {
    const path = formatPath(this.filepath, values);
    const say = (text: string): void => {
      if (this.verbose) process.stdout.write(`\nEpoch ${values.epoch}: ${text}\n`);
    };
    const current = values[this.monitor];
    if (this.saveBestOnly && current === undefined) {
      // Keras 3 warns and saves anyway.
      process.emitWarning(`ModelCheckpoint can save best model only with ${this.monitor} available.`);
      say(`saving model to ${path}`);
    } else if (this.saveBestOnly && current !== undefined) {
      const up = maximizes(this.monitor, this.mode, 'ModelCheckpoint');
      const best = this.best === undefined ? 'None' : this.best.toFixed(5);
      if (this.best !== undefined && !(up ? current > this.best : current < this.best)) {
        say(`${this.monitor} did not improve from ${best}`);
        return;
      }
      say(`${this.monitor} improved from ${best} to ${current.toFixed(5)}, saving model to ${path}`);
      this.best = current;
    } else {
      say(`saving model to ${path}`);
    }
    await makeDir(dirname(path));
    await (this.saveWeightsOnly ? this.model!.saveWeights(path) : this.model!.save(path));
  }
}

function numbers(logs: Logs | undefined): Record<string, number> {
  return Object.fromEntries(Object.entries(logs ?? {}).filter((e): e is [string, number] => typeof e[1] === 'number'));
}

/** Keras's CSVLogger: one row of epoch logs per epoch, in a CSV file. */

import { existsSync, readFileSync } from 'node:fs';
import { BaseCallback, type Logs } from './callbacks.js';
import { FerroIoError, FerroTypeError } from './errors.js';
import { writeAtomically } from './saving/atomic-write.js';
import { refuseUrl } from './saving/files.js';
import { checkBoolean, checkOptions, checkString, describe, optionNames } from './validate.js';

/** The options each call takes: any other key is refused (validate.ts, checkOptions). */
const CSV_LOGGER_OPTIONS = optionNames<CSVLoggerOptions>()(['separator', 'append']);

/** Options of `new CSVLogger(filename, options)`. */
export interface CSVLoggerOptions {
  /** Between fields. Default ','. */
  separator?: string;
  /** Add to an existing file (its header kept) instead of replacing it. Default false. */
  append?: boolean;
}

/**
 * Writes `epoch` and every log value (keys sorted, as Keras does) after each
 * epoch. The file is rewritten whole and atomically (saving/atomic-write.ts:
 * a crash never leaves a half-written row, a symbolic link is written
 * through, the file keeps its permissions).
 */
export class CSVLogger extends BaseCallback {
  /** The CSV file. */
  readonly filename: string;
  /** Between fields. */
  readonly separator: string;
  /** Whether rows are added to an existing file. */
  readonly append: boolean;
  private lines: string[] = [];
  private keys: string[] | undefined;

  /**
   * @param filename the CSV file to write.
   * @param options separator and append mode.
   */
  constructor(filename: string, options: CSVLoggerOptions = {}) {
    super();
    if (typeof filename !== 'string' || filename.length === 0) {
      throw new FerroTypeError(`Expected a file name for CSVLogger. Received: ${describe(filename)}`);
    }
    const o = checkOptions(options, 'CSVLogger', CSV_LOGGER_OPTIONS);
    refuseUrl(filename);
    this.filename = filename;
    this.separator = o.separator === undefined ? ',' : checkString(o.separator, 'separator');
    this.append = o.append === undefined ? false : checkBoolean(o.append, 'append');
  }

  /**
   * Starts the file: empty, or what it holds when appending. It is written
   * at once, as Keras opens it here: a fit with no epoch leaves an empty
   * file, and a path that cannot be written fails before training.
   */
  async onTrainBegin(): Promise<void> {
    this.keys = undefined;
    let previous = '';
    try {
      if (this.append && existsSync(this.filename)) previous = readFileSync(this.filename, 'utf8');
    } catch (error) {
      throw new FerroIoError(`Could not read the CSV log ${this.filename} to append to: ${(error as Error).message}`);
    }
    this.lines = previous.split(/\r?\n/).filter((line) => line.length > 0);
    await this.write();
  }

  /** Writes the epoch's row (and, first, the header, unless appending to a file that has one). */
  async onEpochEnd(epoch: number, logs: Logs = { loss: NaN, accuracy: NaN }): Promise<void> {
    if (this.keys === undefined) {
      this.keys = Object.keys(logs).sort();
      if (this.lines.length === 0) this.lines.push(['epoch', ...this.keys].join(this.separator));
    }
    // Another callback may have put anything in the logs: Keras writes str(value).
    const value = (key: string): string => {
      const v: unknown = logs[key];
      return v === undefined ? 'NA' : typeof v === 'number' ? pythonFloat(v) : String(v);
    };
    this.lines.push([String(epoch), ...this.keys.map(value)].join(this.separator));
    await this.write();
  }

  private async write(): Promise<void> {
    const text = this.lines.length === 0 ? '' : `${this.lines.join('\r\n')}\r\n`;
    await writeAtomically(this.filename, new TextEncoder().encode(text));
  }
}

/**
 * A number as Python's repr writes a float, so that the file is Keras's
 * byte for byte: '1.0' not '1', '1e-05' not '0.00001', 'nan', 'inf'.
 */
export function pythonFloat(v: number): string {
  if (Number.isNaN(v)) return 'nan';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  if (Object.is(v, -0)) return '-0.0';
  const [mantissa, power] = v.toExponential().split('e') as [string, string];
  const exp = Number(power);
  if (exp < -4 || exp >= 16) return `${mantissa}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  const fixed = String(v);
  return Number.isInteger(v) ? `${fixed}.0` : fixed;
}

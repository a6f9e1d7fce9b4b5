/**
 * Keras 3's progress output (keras/src/utils/progbar.py), line for line:
 *   verbose 1: "Epoch 1/5" then a bar redrawn in place,
 *     "469/469 ━━━━━━━━━━━━━━━━━━━━ 1s 2ms/step - accuracy: 0.9243 - loss: 0.2614"
 *   verbose 2: one line per epoch, "469/469 - 1s - 2ms/step - accuracy: … - loss: …"
 * On a stream that is not a TTY, verbose 1 prints only the finished bar, in
 * plain text: no carriage returns or colour codes in CI logs.
 */

export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
}

const BAR_WIDTH = 20;
const REDRAW_INTERVAL_MS = 50;

/** Python's f"{v:.4e}": two-digit, signed exponent. */
function exponential(v: number): string {
  return v.toExponential(4).replace(/e([+-])(\d)$/, 'e$10$2');
}

/**
 * A metric value as Keras shows it, with Python's formats: 'nan', 'inf' and
 * '-inf' for the non-finite values (a diverging loss), and every digit of
 * a large one (f"{1e21:.4f}" where JavaScript's toFixed switches to 1e+21).
 */
export function formatValue(v: number, keepSmallFixed = false): string {
  if (Number.isNaN(v)) return 'nan';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  const fixed = keepSmallFixed ? v > 1e-3 : Math.abs(v) > 1e-3;
  if (!fixed) return exponential(v);
  // From 1e21 on a double is a whole number, which BigInt writes exactly.
  return Math.abs(v) < 1e21 ? v.toFixed(4) : `${BigInt(v)}.0000`;
}

/** "612us/step", "4ms/step" or "2s/step". */
export function formatStepTime(seconds: number): string {
  if (seconds >= 1 || seconds === 0) return `${seconds.toFixed(0)}s/step`;
  if (seconds >= 1e-3) return `${(seconds * 1e3).toFixed(0)}ms/step`;
  return `${(seconds * 1e6).toFixed(0)}us/step`;
}

function eta(seconds: number): string {
  const s = Math.floor(seconds);
  const two = (n: number): string => String(n).padStart(2, '0');
  if (seconds > 3600) return `${Math.floor(s / 3600)}:${two(Math.floor((s % 3600) / 60))}:${two(s % 60)}`;
  if (seconds > 60) return `${Math.floor(s / 60)}:${two(s % 60)}`;
  return `${s}s`;
}

/** Logs in Keras 3's order: metrics alphabetically, validation ones last. */
export function orderedLogs(logs: Partial<Record<string, number>>): [string, number][] {
  // A callback may have put anything in the logs; only numbers are shown.
  const entries = Object.entries(logs).filter((e): e is [string, number] => typeof e[1] === 'number');
  const train = entries.filter(([k]) => !k.startsWith('val_')).sort(([a], [b]) => a.localeCompare(b));
  const val = entries.filter(([k]) => k.startsWith('val_')).sort(([a], [b]) => a.localeCompare(b));
  return [...train, ...val];
}

export class ProgressBar {
  private readonly dynamic: boolean;
  private start = 0;
  private afterFirstStep: number | undefined;
  private lastDraw = 0;
  private prevWidth = 0;

  constructor(
    private readonly verbose: 0 | 1 | 2,
    private readonly epochs: number,
    private readonly steps: number,
    private readonly out: ProgressStream,
  ) {
    this.dynamic = verbose === 1 && out.isTTY === true;
  }

  epochBegin(epoch: number): void {
    if (this.verbose === 0) return;
    this.out.write(`Epoch ${epoch + 1}/${this.epochs}\n`);
    this.start = performance.now();
    this.afterFirstStep = undefined;
    this.lastDraw = 0;
    this.prevWidth = 0;
  }

  /** Running logs after `step` batches of the epoch. */
  batch(step: number, logs: Partial<Record<string, number>>): void {
    if (!this.dynamic || step >= this.steps) return;
    const now = performance.now();
    const perStep = this.stepSeconds(step, now);
    if (now - this.lastDraw < REDRAW_INTERVAL_MS) return;
    this.lastDraw = now;
    this.draw(step, `${eta(perStep * (this.steps - step))}`, perStep, logs, false);
  }

  /** Final logs of the epoch (validation included) after `steps` batches (fewer when stopped early). */
  epochEnd(logs: Partial<Record<string, number>>, steps = this.steps): void {
    if (this.verbose === 0) return;
    const now = performance.now();
    const perStep = this.stepSeconds(steps, now);
    const elapsed = `${((now - this.start) / 1e3).toFixed(0)}s`;
    if (this.verbose === 2) {
      const metrics = orderedLogs(logs).map(([k, v]) => ` - ${k}: ${formatValue(v, true)}`);
      this.out.write(`${this.count(steps)} - ${elapsed} - ${formatStepTime(perStep)}${metrics.join('')}\n`);
      return;
    }
    this.draw(steps, elapsed, perStep, logs, true);
  }

  private count(step: number): string {
    return `${String(step).padStart(String(this.steps).length)}/${this.steps}`;
  }

  private stepSeconds(step: number, now: number): number {
    if (step === 0) return 0;
    if (step === 1 && this.afterFirstStep === undefined) this.afterFirstStep = now;
    if (this.afterFirstStep !== undefined && step > 1 && now > this.afterFirstStep) {
      return (now - this.afterFirstStep) / 1e3 / (step - 1);
    }
    return (now - this.start) / 1e3 / step;
  }

  private draw(step: number, time: string, perStep: number, logs: Partial<Record<string, number>>, final: boolean): void {
    const done = Math.floor((BAR_WIDTH * step) / Math.max(1, this.steps));
    const style = (code: string, text: string): string => (this.dynamic ? `\x1b[${code}m${text}\x1b[0m` : text);
    const bar =
      style('1', this.count(step)) +
      ' ' +
      (done > 0 ? style('32', '━'.repeat(done)) : '') +
      style('37', '━'.repeat(BAR_WIDTH - done));
    const metrics = orderedLogs(logs)
      .map(([k, v]) => ` - ${k}: ${formatValue(v)}`)
      .join('');
    const line = `${bar} ${style('1', time)} ${formatStepTime(perStep)}${metrics}`;
    if (!this.dynamic) {
      if (final) this.out.write(`${line}\n`);
      return;
    }
    // Visible width, without the colour codes, to blank out a longer previous line.
    const width = line.replace(/\x1b\[[0-9;]*m/g, '').length;
    const pad = ' '.repeat(Math.max(0, this.prevWidth - width));
    this.prevWidth = width;
    this.out.write(`\r${line}${pad}${final ? '\n' : ''}`);
  }
}

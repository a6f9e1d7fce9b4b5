/**
 * ReduceLROnPlateau, LearningRateScheduler and CSVLogger against Keras:
 * golden/keras-callbacks.json comes from Keras 3.15.1's own callbacks driven
 * by scripted epoch logs (golden/keras_callbacks.py), then each is used in a
 * real fit.
 */
import { lstatSync, mkdtempSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import {
  EarlyStopping,
  CSVLogger,
  Dense,
  FerroStateError,
  FerroValueError,
  LearningRateScheduler,
  ReduceLROnPlateau,
  type ReduceLROnPlateauOptions,
  SGD,
  Sequential,
  optimizers,
} from '../src/index.js';
import type { CallbackModel, Logs } from '../src/callbacks.js';
import { pythonFloat } from '../src/csv-logger.js';
import { blobs } from './helpers.js';

const golden = JSON.parse(readFileSync(new URL('./golden/keras-callbacks.json', import.meta.url), 'utf8')) as {
  series: number[];
  reduce_lr: Record<string, { config: Record<string, number | string>; rates: number[]; logged: number[] }>;
  auto: Record<string, { values: number[]; trace: (number | boolean)[] }>;
  csv: string;
};

/** A model stand-in whose learning rate is stored in float32, as a Keras optimizer variable is. */
function fakeModel(): CallbackModel {
  let lr = 1;
  return {
    stopTraining: false,
    get learningRate() {
      return lr;
    },
    set learningRate(v: number) {
      lr = Math.fround(v);
    },
    getWeights: () => [],
    setWeights: () => undefined,
    save: async () => undefined,
    saveWeights: async () => undefined,
    loadWeights: async () => undefined,
  };
}

describe('ReduceLROnPlateau follows Keras 3', () => {
  for (const [name, run] of Object.entries(golden.reduce_lr)) {
    it(name, () => {
      const c = run.config;
      const options: ReduceLROnPlateauOptions = {
        monitor: c.monitor as string | undefined,
        mode: c.mode as 'max' | undefined,
        patience: c.patience as number | undefined,
        factor: c.factor as number | undefined,
        cooldown: c.cooldown as number | undefined,
        minLr: c.min_lr as number | undefined,
        minDelta: c.min_delta as number | undefined,
      };
      const callback = new ReduceLROnPlateau(options);
      const model = fakeModel();
      callback.setModel(model);
      callback.onTrainBegin();
      golden.series.forEach((v, epoch) => {
        const logs: Logs = { loss: 0, accuracy: 0, val_loss: v, val_accuracy: 1 - v };
        callback.onEpochEnd(epoch, logs);
        expect(model.learningRate).toBeCloseTo(run.rates[epoch]!, 10);
        expect(logs.learning_rate).toBeCloseTo(run.logged[epoch]!, 10);
      });
    });
  }

  it('refuses what Keras refuses', () => {
    expect(() => new ReduceLROnPlateau({ factor: 1 })).toThrow(FerroValueError);
    expect(() => new ReduceLROnPlateau({ monitor: 'val_mystery' })).toThrow(/mode/);
  });

  it('lowers the rate of a real fit, which the next steps use', async () => {
    const { x, y } = blobs(60);
    const model = new Sequential([new Dense(3, { activation: 'softmax', inputDim: 6 })]);
    model.compile({ optimizer: new SGD({ learningRate: 0.5 }), loss: 'sparse_categorical_crossentropy' });
    const rates: number[] = [];
    // Monitoring the training loss with an impossible min_delta: every epoch counts as a plateau.
    const reduce = new ReduceLROnPlateau({ monitor: 'loss', patience: 1, factor: 0.5, minDelta: 10 });
    const h = await model.fit(x, y, { epochs: 4, verbose: 0, callbacks: [reduce, { onEpochEnd: () => void rates.push(model.learningRate) }] });
    expect(rates.map((r) => Number(r.toFixed(6)))).toEqual([0.5, 0.25, 0.125, 0.0625]);
    // As in Keras, History records what the callbacks wrote: each epoch's rate before its reduction.
    expect(h.history.learning_rate!.map((r) => Number(r.toFixed(6)))).toEqual([0.5, 0.5, 0.25, 0.125]);
  });

  it('warns once a fit, in Keras words, when the metric it watches is missing', async () => {
    const { x, y } = blobs(60);
    const model = new Sequential([new Dense(3, { activation: 'softmax', inputDim: 6 })]);
    model.compile({ optimizer: 'sgd', loss: 'sparse_categorical_crossentropy' });
    const warnings: unknown[] = [];
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation((w) => void warnings.push(w));
    try {
      await model.fit(x, y, { epochs: 3, verbose: 0, callbacks: [new ReduceLROnPlateau(), new EarlyStopping()] });
    } finally {
      warn.mockRestore();
    }
    expect(warnings).toEqual([
      'Learning rate reduction is conditioned on metric `val_loss` which is not available. Available metrics are: loss,accuracy,learning_rate.',
      'Early stopping conditioned on metric `val_loss` which is not available. Available metrics are: loss,accuracy,learning_rate',
    ]);
  });
});

describe("'auto' mode decides by Keras 3's metric directions, as Keras does", () => {
  // auc, precision and recall rise; mae falls: the same trace from mirrored values.
  for (const [name, run] of Object.entries(golden.auto)) {
    it(name, () => {
      const [kind, metric] = name.split('/') as [string, string];
      const monitor = `val_${metric}`;
      const callback = kind === 'reduce_lr' ? new ReduceLROnPlateau({ monitor, patience: 1, factor: 0.5 }) : new EarlyStopping({ monitor, patience: 2 });
      const model = fakeModel();
      callback.setModel(model);
      callback.onTrainBegin();
      const trace: (number | boolean)[] = [];
      for (const [epoch, value] of run.values.entries()) {
        callback.onEpochEnd(epoch, { loss: 0, accuracy: 0, val_loss: 1, [monitor]: value });
        trace.push(kind === 'reduce_lr' ? model.learningRate : model.stopTraining);
        if (model.stopTraining) break;
      }
      expect(trace.length).toBe(run.trace.length);
      trace.forEach((t, i) => (typeof t === 'number' ? expect(t).toBeCloseTo(run.trace[i] as number, 10) : expect(t).toBe(run.trace[i])));
    });
  }

  it('a name whose direction cannot be told needs a mode, for both callbacks', () => {
    expect(() => new EarlyStopping({ monitor: 'val_mystery' })).toThrow(expect.objectContaining({ code: 'ERR_FERRO_VALUE', message: expect.stringContaining("mode: 'max'") }));
    expect(new EarlyStopping({ monitor: 'val_mystery', mode: 'max' }).mode).toBe('max');
  });
});

describe('LearningRateScheduler', () => {
  it('sets each epoch’s rate before it; a rate of 0 leaves the weights unchanged', async () => {
    const { x, y } = blobs(60);
    const model = new Sequential([new Dense(3, { activation: 'softmax', inputDim: 6 })]);
    model.compile({ optimizer: new SGD({ learningRate: 0.1 }), loss: 'sparse_categorical_crossentropy' });
    const seen: number[] = [];
    let before: number[] = [];
    const check = {
      onEpochBegin: (epoch: number) => {
        if (epoch === 1) before = model.getWeights().flatMap((w) => Array.from(w.data));
      },
      onEpochEnd: (epoch: number) => {
        seen.push(model.learningRate);
        if (epoch === 1) expect(model.getWeights().flatMap((w) => Array.from(w.data))).toEqual(before);
      },
    };
    const schedule = new LearningRateScheduler((epoch, lr) => (epoch === 1 ? 0 : lr * 2));
    const h = await model.fit(x, y, { epochs: 3, verbose: 0, callbacks: [schedule, check] });
    expect(seen.map((r) => Number(r.toFixed(6)))).toEqual([0.2, 0, 0]);
    expect(h.history.learning_rate!.map((r) => Number(r.toFixed(6)))).toEqual([0.2, 0, 0]);
  });

  it('cannot set a rate that follows a schedule (as in Keras)', async () => {
    const model = new Sequential([new Dense(2, { activation: 'softmax', inputDim: 2 })]);
    const lr = new optimizers.schedules.ExponentialDecay({ initialLearningRate: 0.1, decaySteps: 1, decayRate: 0.5 });
    model.compile({ optimizer: new SGD({ learningRate: lr }), loss: 'sparse_categorical_crossentropy' });
    model.build([null, 2]);
    expect(model.learningRate).toBeCloseTo(0.1, 7);
    expect(() => (model.learningRate = 0.01)).toThrow(FerroStateError);
  });
});

describe('CSVLogger', () => {
  it('formats numbers as Python does', () => {
    const cases: [number, string][] = [[1, '1.0'], [0.5, '0.5'], [1e-5, '1e-05'], [1.5e-7, '1.5e-07'], [0.0001, '0.0001'],
      [1e16, '1e+16'], [123456.75, '123456.75'], [NaN, 'nan'], [-Infinity, '-inf'], [-0, '-0.0'], [0.1 + 0.2, '0.30000000000000004']];
    for (const [v, want] of cases) expect(pythonFloat(v)).toBe(want);
  });

  it('writes what Keras writes', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'ferro-csv-')), 'log.csv');
    const logger = new CSVLogger(file, { separator: ';' });
    await logger.onTrainBegin();
    for (const [epoch, v] of [0.5, 0.25, 0.125].entries()) await logger.onEpochEnd(epoch, { loss: v, accuracy: 1 - v, val_loss: v * 2 });
    expect(readFileSync(file, 'utf8')).toBe(golden.csv);
  });

  it('writes what another callback put in the logs as Keras does, str(value)', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'ferro-csv-')), 'log.csv');
    const logger = new CSVLogger(file);
    await logger.onTrainBegin();
    await logger.onEpochEnd(0, { loss: 0.5, accuracy: 0.75, note: 'warm' as never });
    expect(readFileSync(file, 'utf8')).toBe('epoch,accuracy,loss,note\r\n0,0.75,0.5,warm\r\n');
  });

  it('opens the file when training begins, as Keras does, and writes through a symbolic link keeping its mode', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferro-csv-'));
    const { x, y } = blobs(12);
    const model = new Sequential([new Dense(3, { activation: 'softmax', inputDim: 6 })]);
    model.compile({ optimizer: 'sgd', loss: 'sparse_categorical_crossentropy' });
    // No epoch: Keras's on_train_begin has created the (empty) file.
    await model.fit(x, y, { epochs: 0, verbose: 0, callbacks: new CSVLogger(join(dir, 'none.csv')) });
    expect(readFileSync(join(dir, 'none.csv'), 'utf8')).toBe('');
    writeFileSync(join(dir, 'target.csv'), 'old\r\n', { mode: 0o600 });
    symlinkSync('target.csv', join(dir, 'link.csv'));
    await model.fit(x, y, { epochs: 1, verbose: 0, callbacks: new CSVLogger(join(dir, 'link.csv')) });
    expect(lstatSync(join(dir, 'link.csv')).isSymbolicLink()).toBe(true);
    expect(readFileSync(join(dir, 'target.csv'), 'utf8')).toMatch(/^epoch,accuracy,loss\r\n0,/);
    expect(statSync(join(dir, 'target.csv')).mode & 0o777).toBe(0o600);
  });

  it('logs a real fit, and appends to it keeping one header', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'ferro-csv-')), 'fit.csv');
    const { x, y } = blobs(40);
    const model = new Sequential([new Dense(3, { activation: 'softmax', inputDim: 6 })]);
    model.compile({ optimizer: 'sgd', loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] });
    const h = await model.fit(x, y, { epochs: 2, verbose: 0, callbacks: new CSVLogger(file) });
    await model.fit(x, y, { epochs: 1, verbose: 0, callbacks: new CSVLogger(file, { append: true }) });
    const lines = readFileSync(file, 'utf8').trim().split('\r\n');
    expect(lines[0]).toBe('epoch,accuracy,loss');
    expect(lines).toHaveLength(4);
    expect(lines[1]).toBe(`0,${pythonFloat(h.history.accuracy[0]!)},${pythonFloat(h.history.loss[0]!)}`);
    expect(lines[3]!.startsWith('0,')).toBe(true);
  });
});

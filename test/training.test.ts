/** fit as a Keras user expects it: progress output, callbacks, abort, concurrency, a free event loop. */
import * as tf from '@tensorflow/tfjs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  AbortError,
  type Callback,
  Dense,
  type FitOptions,
  EarlyStopping,
  FerroBusyError,
  type Logs,
  mnist,
  RMSprop,
  Sequential,
  setRandomSeed,
  Tensor,
  type TensorLike,
  TerminateOnNaN,
} from '../src/index.js';
import { blobs, maxAbsDiff } from './helpers.js';

function model(learningRate = 0.01): Sequential {
  const m = new Sequential([new Dense(16, { activation: 'relu' }), new Dense(3, { activation: 'softmax' })]);
  m.compile({ optimizer: new RMSprop({ learningRate }), loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] });
  return m;
}

/** Everything written to stdout while `run` runs, with stdout's TTY flag set to `tty`. */
async function captureStdout(tty: boolean, run: () => Promise<unknown>): Promise<string[]> {
  const writes: string[] = [];
  const wasTTY = process.stdout.isTTY;
  process.stdout.isTTY = tty;
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    writes.push(String(chunk));
    return true;
  });
  try {
    await run();
  } finally {
    spy.mockRestore();
    process.stdout.isTTY = wasTTY;
  }
  return writes;
}

afterEach(() => vi.restoreAllMocks());

describe('progress output', () => {
  it('prints one Keras 3 line per epoch in verbose 2, with validation metrics last', async () => {
    const m = model();
    const { x, y } = blobs(200);
    let history: Awaited<ReturnType<Sequential['fit']>> | undefined;
    const out = await captureStdout(false, async () => {
      history = await m.fit(x, y, { epochs: 2, batchSize: 50, verbose: 2, validationSplit: 0.2 });
    });
    const lines = out.join('').split('\n').filter(Boolean);
    expect(lines).toHaveLength(4);
    expect(lines[0]).toBe('Epoch 1/2');
    expect(lines[2]).toBe('Epoch 2/2');
    const h = history!.history;
    const f = (v: number): string => v.toFixed(4);
    for (const e of [0, 1]) {
      // Keras: "4/4 - 0s - 3ms/step - accuracy: … - loss: … - val_accuracy: … - val_loss: …"
      const expected = new RegExp(
        `^4/4 - \\d+s - \\d+(us|ms|s)/step - accuracy: ${f(h.accuracy[e]!)} - loss: ${f(h.loss[e]!)}` +
          ` - val_accuracy: ${f(h.val_accuracy![e]!)} - val_loss: ${f(h.val_loss![e]!)}$`,
      );
      expect(lines[2 * e + 1]).toMatch(expected);
    }
  });

  it("'auto' is 2 off a TTY, and verbose 1 then writes no control characters", async () => {
    const { x, y } = blobs(120);
    for (const verbose of ['auto', 1] as const) {
      const out = (await captureStdout(false, () => model().fit(x, y, { epochs: 2, batchSize: 40, verbose }))).join('');
      expect(out).not.toMatch(/[\r\x1b\b]/);
      if (verbose === 'auto') expect(out).toMatch(/^3\/3 - \d+s - /m);
      else expect(out).toMatch(/^3\/3 ━{20} \d+s \d+(us|ms|s)\/step - accuracy: \d\.\d{4} - loss: \d\.\d{4}$/m);
    }
  });

  it('writes a diverging loss as Keras does: inf, nan and every digit of a huge value', async () => {
    // Python's f"{v:.4f}" / f"{v:.4e}": 'inf', 'nan', '1630926…496.0000',
    // where JavaScript writes 'Infinity', 'NaN' and '1.6309…e+59'.
    const m = new Sequential([new Dense(1, { inputDim: 1, kernelInitializer: 'ones' })]);
    m.compile({ optimizer: 'sgd', loss: 'mse', metrics: ['accuracy'] });
    const x = [[1e19], [1e19]];
    let history: Awaited<ReturnType<Sequential['fit']>> | undefined;
    const out = (
      await captureStdout(false, async () => {
        history = await m.fit(x, [0, 0], { epochs: 4, batchSize: 2, verbose: 2, shuffle: false });
      })
    ).join('');
    const loss = history!.history.loss;
    expect(loss[0]).toBeGreaterThan(1e37);
    expect(loss.slice(1)).toEqual([Infinity, Infinity, NaN]);
    const shown = [...out.matchAll(/ - loss: (\S+)$/gm)].map((r) => r[1]);
    expect(shown).toEqual([`${BigInt(loss[0]!)}.0000`, 'inf', 'inf', 'nan']);
    expect(out).not.toMatch(/Infinity|NaN/);
  });

  it('redraws a coloured bar in place on a TTY, with an ETA while running', async () => {
    const [[images, labels]] = await mnist.loadData();
    const x = images.slice(0, 6000).reshape([6000, 784]).asType('float32').div(255);
    const m = new Sequential([new Dense(256, { activation: 'relu' }), new Dense(10, { activation: 'softmax' })]);
    m.compile({ optimizer: 'rmsprop', loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] });
    // A slow batch callback stretches the epoch so the bar is redrawn mid-way.
    const slow: Callback = { onBatchEnd: () => void Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 8) };
    const out = (await captureStdout(true, () => m.fit(x, labels.slice(0, 6000), { epochs: 1, batchSize: 128, verbose: 'auto', callbacks: slow }))).join('');
    expect(out.startsWith('Epoch 1/1\n')).toBe(true);
    const frames = out.split('\r').slice(1);
    expect(frames.length).toBeGreaterThan(2);
    const plain = (s: string): string => s.replace(/\x1b\[[0-9;]*m/g, '');
    // Mid-epoch: count, bar, ETA, time per step, running metrics in alphabetical order.
    expect(plain(frames[0]!)).toMatch(/^ ?\d+\/47 ━{20} \d+(:\d\d)?s? \d+(us|ms|s)\/step - accuracy: \d\.\d{4} - loss: \d\.\d{4}/);
    expect(frames.at(-1)).toContain('\x1b[32m━');
    expect(plain(frames.at(-1)!)).toMatch(/^47\/47 ━{20} \d+s \d+(us|ms|s)\/step - accuracy: \d\.\d{4} - loss: \d\.\d{4}\s*\n$/);
  });
});

describe('callbacks', () => {
  it('data that leave no sample to train or validate on are refused before onTrainBegin or any output, as Keras does', async () => {
    // Keras's train_validation_split raises before any callback; here the
    // native side found it after onTrainBegin and 'Epoch 1/3' had run.
    const x = [[1, 2], [3, 4]];
    const none = new Tensor(new Float32Array(0), [0, 2]);
    const cases: [TensorLike, TensorLike, FitOptions, RegExp][] = [
      [x, [0, 1], { validationSplit: 1e-17 }, /leaves 2 for training and 0 for validation/],
      [x, [0, 1], { validationSplit: 0.99 }, /leaves 0 for training and 2 for validation/],
      [x, [0, 1], { validationData: [none, new Tensor(new Int32Array(0), [0])] }, /at least one sample in validationData/],
      [none, new Tensor(new Int32Array(0), [0]), {}, /at least one sample in the training data/],
    ];
    for (const [xs, ys, options, message] of cases) {
      const m = model();
      const calls: string[] = [];
      const out = await captureStdout(false, () =>
        expect(m.fit(xs, ys, { epochs: 3, verbose: 2, ...options, callbacks: { onTrainBegin: () => void calls.push('onTrainBegin') } })).rejects.toMatchObject({
          code: 'ERR_FERRO_VALUE',
          message: expect.stringMatching(message),
        }),
      );
      expect(calls).toEqual([]);
      expect(out).toEqual([]);
    }
  });

  it('calls every hook in Keras order, batch hooks on every batch, with the logs History keeps', async () => {
    const m = model();
    const { x, y } = blobs(90);
    const calls: string[] = [];
    const epochLogs: Logs[] = [];
    const cb: Callback = {
      onTrainBegin: () => void calls.push('trainBegin'),
      onEpochBegin: (e) => void calls.push(`epochBegin ${e}`),
      onBatchBegin: (b) => void calls.push(`batchBegin ${b}`),
      onBatchEnd: (b, logs) => {
        calls.push(`batchEnd ${b}`);
        expect(Object.keys(logs!).sort()).toEqual(['accuracy', 'loss']);
      },
      onEpochEnd: (e, logs) => {
        calls.push(`epochEnd ${e}`);
        epochLogs.push(logs!);
      },
      onTrainEnd: (logs) => {
        calls.push('trainEnd');
        expect(logs).toEqual(epochLogs.at(-1));
      },
    };
    const h = await m.fit(x, y, { epochs: 2, batchSize: 30, verbose: 0, callbacks: [cb] });
    const epoch = (e: number): string[] => [
      `epochBegin ${e}`,
      ...[0, 1, 2].flatMap((b) => [`batchBegin ${b}`, `batchEnd ${b}`]),
      `epochEnd ${e}`,
    ];
    expect(calls).toEqual(['trainBegin', ...epoch(0), ...epoch(1), 'trainEnd']);
    expect(epochLogs.map((l) => l.loss)).toEqual(h.history.loss);
    expect(epochLogs.map((l) => l.accuracy)).toEqual(h.history.accuracy);
  });

  it('passes every hook a logs object, {} where there are no metrics yet, as TensorFlow.js does', async () => {
    const { x, y } = blobs(12);
    // The arguments of the hooks without metrics, as JSON when called; the
    // first callback marks the logs object, which the second sees: one object per call, shared.
    const record = (calls: string[]): Callback[] => {
      const hook = (name: string) => (...args: unknown[]) => void calls.push(`${name} ${JSON.stringify(args)}`);
      const mark = { onEpochBegin: (epoch: number, logs?: Partial<Logs>) => void (logs!.mark = epoch) };
      return [mark, { onTrainBegin: hook('trainBegin'), onEpochBegin: hook('epochBegin'), onBatchBegin: hook('batchBegin'), onTrainEnd: hook('trainEnd') }];
    };
    const ours: string[] = [];
    const theirs: string[] = [];
    await model().fit(x, y, { epochs: 2, batchSize: 6, verbose: 0, callbacks: record(ours) });
    await model().fit(x, y, { epochs: 0, verbose: 0, callbacks: record(ours) });
    const tm = tf.sequential({ layers: [tf.layers.dense({ units: 3, activation: 'softmax', inputShape: [6] })] });
    tm.compile({ optimizer: 'rmsprop', loss: 'sparseCategoricalCrossentropy' });
    const [tx, ty] = [tf.tensor(x.data, [12, 6]), tf.tensor(Float32Array.from(y.data))];
    for (const epochs of [2, 0]) {
      await tm.fit(tx, ty, { epochs, batchSize: 6, verbose: 0, callbacks: record(theirs) as tf.CustomCallbackArgs[] });
    }
    // onTrainEnd gets the last epoch's logs, as Keras 3 passes them, where TF.js passes {};
    // with no epoch, undefined (its type stays Logs | undefined), where both pass {}.
    const end = theirs.indexOf('trainEnd [{}]');
    expect(ours[end]).toMatch(/^trainEnd \[\{"loss":\d/);
    expect(ours.splice(end, 1, theirs[end]!)).toHaveLength(1);
    expect(ours.at(-1)).toBe('trainEnd [null]');
    expect(ours.splice(-1, 1, theirs.at(-1)!)).toHaveLength(1);
    expect(ours).toEqual(theirs);
    expect(ours).toEqual(expect.arrayContaining(['trainBegin [{}]', 'epochBegin [1,{"mark":1}]', 'batchBegin [1,{}]']));
  });

  it('awaits async epoch hooks before the next epoch, which may evaluate and read weights', async () => {
    const m = model();
    const { x, y } = blobs(120);
    const seen: number[] = [];
    let finished = -1;
    await m.fit(x, y, {
      epochs: 3,
      batchSize: 40,
      verbose: 0,
      callbacks: {
        onEpochBegin: (e) => {
          expect(finished).toBe(e - 1);
        },
        onEpochEnd: async (e) => {
          await new Promise((r) => setTimeout(r, 30));
          const { loss } = await m.evaluate(x, y);
          seen.push(loss);
          expect(m.getWeights()).toHaveLength(4);
          finished = e;
        },
      },
    });
    expect(seen).toHaveLength(3);
    expect(finished).toBe(2);
  });

  it('rejects fit with the error a hook throws, and leaves the model usable', async () => {
    const { x, y } = blobs(120);
    for (const cb of [
      { onEpochEnd: () => Promise.reject(new Error('epoch hook failed')) },
      { onBatchEnd: (b: number) => { if (b === 1) throw new Error('batch hook failed'); } },
      { onTrainBegin: () => { throw new Error('train hook failed'); } },
    ] as Callback[]) {
      const m = model();
      await expect(m.fit(x, y, { epochs: 3, batchSize: 20, verbose: 0, callbacks: cb })).rejects.toThrow(/hook failed/);
      expect((await m.predict(x.slice(0, 2))).shape).toEqual([2, 3]);
      await expect(m.fit(x, y, { epochs: 1, verbose: 0 })).resolves.toBeDefined();
    }
  });

  it('settles fit only after the epoch-end hooks of an epoch stopped mid-way, then leaves the model idle', async () => {
    // stopTraining from a batch hook stops the native loop at once; the
    // stopped epoch's onEpochEnd still runs (as in Keras) and must finish
    // before onTrainEnd and before fit settles.
    const m = model();
    const { x, y } = blobs(120);
    const order: string[] = [];
    const cb: Callback = {
      onBatchEnd: (b) => {
        if (b === 1) m.stopTraining = true;
      },
      onEpochEnd: async (epoch) => {
        await new Promise((resolve) => setTimeout(resolve, 50));
        order.push(`epochEnd ${epoch}`);
      },
      onTrainEnd: () => void order.push('trainEnd'),
    };
    const h = await m.fit(x, y, { epochs: 3, batchSize: 20, verbose: 0, callbacks: cb });
    order.push('fit settled');
    expect(h.epoch).toEqual([0]);
    expect(order).toEqual(['epochEnd 0', 'trainEnd', 'fit settled']);
    expect((await m.predict(x.slice(0, 2))).shape).toEqual([2, 3]);
    await expect(m.fit(x, y, { epochs: 1, verbose: 0 })).resolves.toBeDefined();
  });

  it('EarlyStopping stops after `patience` epochs without improvement and restores the best weights', async () => {
    const m = model();
    const { x, y } = blobs(120);
    const afterEpoch: Float32Array[][] = [];
    const record: Callback = { onEpochEnd: () => void afterEpoch.push(m.getWeights().map((w) => w.data.slice())) };
    // minDelta 10: no later epoch can count as an improvement on the first.
    const stop = new EarlyStopping({ monitor: 'loss', minDelta: 10, patience: 1, restoreBestWeights: true });
    const h = await m.fit(x, y, { epochs: 10, batchSize: 40, verbose: 0, callbacks: [record, stop] });
    expect(h.epoch).toEqual([0, 1]);
    expect(stop.stoppedEpoch).toBe(1);
    expect(stop.bestEpoch).toBe(0);
    m.getWeights().forEach((w, i) => expect(maxAbsDiff(w.data, afterEpoch[0]![i]!)).toBe(0));
  });

  it('EarlyStopping follows Keras on a scripted series of logs', () => {
    const fake = {
      stopTraining: false,
      learningRate: 0.001,
      getWeights: () => [],
      setWeights: () => {},
      save: async () => {},
      saveWeights: async () => {},
      loadWeights: async () => {},
    };
    const run = (values: number[], options: ConstructorParameters<typeof EarlyStopping>[0]): number | undefined => {
      const es = new EarlyStopping(options);
      fake.stopTraining = false;
      es.setModel(fake);
      es.onTrainBegin();
      for (const [epoch, v] of values.entries()) {
        es.onEpochEnd(epoch, { loss: 0, accuracy: 0, val_loss: v, val_accuracy: 1 - v });
        if (fake.stopTraining) return epoch;
      }
      return undefined;
    };
    expect(run([1, 0.9, 0.95, 0.96, 0.8], { patience: 2 })).toBe(3);
    expect(run([1, 0.9, 0.95, 0.8, 0.85], { patience: 2 })).toBeUndefined();
    expect(run([1, 0.99, 0.98], { minDelta: 0.05 })).toBe(1);
    expect(run([0.5, 0.4, 0.3], { monitor: 'val_accuracy', patience: 0 })).toBeUndefined(); // accuracy rises: 'auto' is max
    // Keras resets the wait only when the baseline is beaten too, but never stops on an improving epoch.
    expect(run([1, 0.9, 0.9, 0.9], { baseline: 0.5, patience: 2 })).toBe(2);
    expect(run([1, 0.9, 0.9, 0.9], { patience: 2 })).toBe(3);
    expect(run([1, 0.9, 0.8, 0.7], { baseline: 0.5, patience: 2 })).toBeUndefined();
    expect(run([1, 2, 3], { startFromEpoch: 5 })).toBeUndefined();
  });

  it('TerminateOnNaN ends training on the first batch whose loss is not finite', async () => {
    const m = model();
    const { x, y } = blobs(90);
    const bad = x.data.slice();
    bad[0] = Number.NaN;
    const h = await m.fit(new Tensor(bad, x.shape), y, {
      epochs: 5,
      batchSize: 30,
      shuffle: false,
      verbose: 0,
      callbacks: new TerminateOnNaN(),
    });
    expect(h.epoch).toEqual([0]);
    expect(Number.isNaN(h.history.loss[0])).toBe(true);
  });
});

describe('abort and concurrency', () => {
  it('rejects at once with an AbortError for an already-aborted signal, and trains nothing', async () => {
    const m = model();
    const { x, y } = blobs(60);
    await m.predict(x.slice(0, 1));
    const before = m.getWeights();
    const err = await m.fit(x, y, { signal: AbortSignal.abort(), verbose: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AbortError);
    expect((err as Error).name).toBe('AbortError');
    m.getWeights().forEach((w, i) => expect(maxAbsDiff(w.data, before[i]!.data)).toBe(0));
  });

  it('stops between batches on abort, keeps a usable model, and trains again', async () => {
    const m = model();
    const { x, y } = blobs(3000);
    const controller = new AbortController();
    let batches = 0;
    const cb: Callback = { onBatchEnd: () => void (++batches === 5 && controller.abort()) };
    const err = await m
      .fit(x, y, { epochs: 50, batchSize: 10, verbose: 0, signal: controller.signal, callbacks: cb })
      .catch((e: unknown) => e);
    expect((err as Error).name).toBe('AbortError');
    expect(batches).toBeLessThan(50 * 300);
    expect(m.getWeights().every((w) => w.data.every(Number.isFinite))).toBe(true);
    const h = await m.fit(x, y, { epochs: 1, verbose: 0 });
    expect(h.epoch).toEqual([0]);
  });

  it('refuses a second fit, trainOnBatch, evaluate or predict while a fit trains (ERR_FERRO_BUSY)', async () => {
    const m = model();
    const { x, y } = blobs(2000);
    const training = m.fit(x, y, { epochs: 20, batchSize: 8, verbose: 0 });
    const settle = 'The model is training: wait for fit() or trainOnBatch() to settle';
    // Only the calls an epoch callback may make are pointed there.
    for (const [call, hint] of [
      [() => m.fit(x, y, { verbose: 0 }), ' before calling fit().'],
      [() => m.trainOnBatch(x, y), ' before calling trainOnBatch().'],
      [() => m.evaluate(x, y), ' (or call evaluate() from an epoch callback).'],
      [() => m.predict(x), ' (or call predict() from an epoch callback).'],
    ] as const) {
      const err = await call().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(FerroBusyError);
      expect((err as FerroBusyError).code).toBe('ERR_FERRO_BUSY');
      expect((err as FerroBusyError).message).toBe(settle + hint);
    }
    expect(() => m.getWeights()).toThrow(`${settle} (or call getWeights() from an epoch callback).`);
    expect(() => m.compile({ optimizer: 'rmsprop', loss: 'sparse_categorical_crossentropy' })).toThrow(`${settle} before calling compile().`);
    expect(() => m.dispose()).toThrow(`${settle} before calling dispose().`);
    await training;
    expect((await m.evaluate(x, y)).accuracy).toBeGreaterThan(0.8);
  });

  it('trains separate models concurrently with the same results as one after the other', async () => {
    const { x, y } = blobs(600);
    // Weights are drawn when a model is built: build each right after seeding.
    const make = (): Sequential => {
      setRandomSeed(5);
      const m = model();
      m.build([null, 6]);
      return m;
    };
    const opts = { epochs: 3, batchSize: 32, verbose: 0 as const, shuffle: false };
    const [a, b] = [make(), make()];
    await Promise.all([a.fit(x, y, opts), b.fit(x, y, opts)]);
    const c = make();
    await c.fit(x, y, opts);
    for (const other of [b, c]) {
      other.getWeights().forEach((w, i) => expect(maxAbsDiff(w.data, a.getWeights()[i]!.data)).toBe(0));
    }
  });

  it('keeps the event loop responsive during fit, evaluate and predict', async () => {
    const [[images, labels]] = await mnist.loadData();
    const x = images.slice(0, 20000).reshape([20000, 784]).asType('float32').div(255);
    const y = labels.slice(0, 20000);
    const m = new Sequential([new Dense(512, { activation: 'relu' }), new Dense(10, { activation: 'softmax' })]);
    m.compile({ optimizer: 'rmsprop', loss: 'sparse_categorical_crossentropy' });
    const ticks: number[] = [];
    const timer = setInterval(() => ticks.push(performance.now()), 5);
    const start = performance.now();
    try {
      await m.fit(x, y, { epochs: 3, batchSize: 64, verbose: 0 });
      await m.evaluate(x, y);
      await m.predict(x);
    } finally {
      clearInterval(timer);
    }
    const elapsed = performance.now() - start;
    // Lenient on purpose: a noisy machine may delay ticks, but a blocked loop gives none.
    expect(ticks.length).toBeGreaterThan(Math.min(20, elapsed / 50));
    const gaps = ticks.slice(1).map((t, i) => t - ticks[i]!);
    expect(Math.max(...gaps)).toBeLessThan(1000);
  });
});

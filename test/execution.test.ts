/**
 * The native execution model, in-process: inputs are copied at the call,
 * batch callbacks stop training on time, a fit claims the model in the
 * tick it is called, and inference calls run side by side.
 * (Ways of ending a process mid-fit are in lifecycle.test.ts.)
 */
import { getEventListeners } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AbortError, Dense, FerroStateError, loadModel, RMSprop, Sequential, setRandomSeed, Tensor } from '../src/index.js';

const FEATURES = 12;

function model(seed = 5): Sequential {
  setRandomSeed(seed);
  const m = new Sequential([new Dense(16, { activation: 'relu' }), new Dense(3, { activation: 'softmax' })]);
  m.compile({ optimizer: new RMSprop({ learningRate: 0.01 }), loss: 'sparse_categorical_crossentropy' });
  m.build([null, FEATURES]);
  return m;
}

function data(rows: number, buffer?: ArrayBuffer): { x: Float32Array; y: Int32Array } {
  const x = buffer ? new Float32Array(buffer, 0, rows * FEATURES) : new Float32Array(rows * FEATURES);
  x.forEach((_, i) => (x[i] = Math.sin(i * 1.7) * 0.5));
  const y = new Int32Array(rows).map((_, i) => (x[i * FEATURES]! > 0 ? 1 : i % 3));
  return { x, y };
}

const tensors = (d: { x: Float32Array; y: Int32Array }): [Tensor<'float32'>, Tensor<'int32'>] => [
  new Tensor(d.x, [d.y.length, FEATURES]),
  new Tensor(d.y, [d.y.length]),
];

const weights = (m: Sequential): number[][] => m.getWeights().map((w) => Array.from(w.data));
/** A resizable ArrayBuffer, typed here since the project's lib (ES2022) predates them. */
const ResizableBuffer = ArrayBuffer as unknown as new (
  length: number,
  options: { maxByteLength: number },
) => ArrayBuffer & { resize(length: number): void };

/** Moves `buffer` away, as a postMessage with a transfer list does: views of it are detached. */
const transfer = (buffer: ArrayBufferLike): void => void structuredClone(buffer, { transfer: [buffer as ArrayBuffer] });
const gc = (): void => (globalThis as { gc?: () => void }).gc?.();

describe('inputs are copied when a call is made', () => {
  const opts = { epochs: 3, batchSize: 16, verbose: 0 as const };

  it('a fit trains on the data as it was at the call: transferred, shrunk or rewritten buffers change nothing', async () => {
    const reference = model();
    await reference.fit(...tensors(data(300)), opts);

    // Transferred away (and collected) right after the call.
    const moved = model();
    const d1 = data(300);
    const fit1 = moved.fit(...tensors(d1), opts);
    transfer(d1.x.buffer);
    transfer(d1.y.buffer);
    gc();
    await fit1;
    expect(weights(moved)).toEqual(weights(reference));

    // A resizable buffer shrunk to nothing right after the call.
    const shrunk = model();
    const buffer = new ResizableBuffer(300 * FEATURES * 4, { maxByteLength: 300 * FEATURES * 4 });
    const fit2 = shrunk.fit(...tensors(data(300, buffer)), opts);
    buffer.resize(0);
    await fit2;
    expect(weights(shrunk)).toEqual(weights(reference));

    // Labels rewritten out of range and features overwritten with NaN by a
    // callback while training goes on.
    const rewritten = model();
    const d3 = data(300);
    const onEpochEnd = (): void => {
      d3.y.fill(99);
      d3.x.fill(NaN);
    };
    await rewritten.fit(...tensors(d3), { ...opts, callbacks: { onEpochEnd } });
    expect(weights(rewritten)).toEqual(weights(reference));
  });

  it('predict and evaluate read the rows as they were at the call', async () => {
    const m = model();
    const d = data(64);
    const [x, y] = tensors(d);
    const want = Array.from((await m.predict(x)).data);
    const wantLoss = (await m.evaluate(x, y)).loss;
    const predicting = m.predict(x);
    const evaluating = m.evaluate(x, y);
    transfer(d.x.buffer);
    gc();
    expect(Array.from((await predicting).data)).toEqual(want);
    expect((await evaluating).loss).toBe(wantLoss);
  });
});

describe('batch callbacks and stopping on time', () => {
  // 2000 batches of 8 rows per epoch, not shuffled, so the steps fit takes
  // can be replayed with trainOnBatch.
  const rows = 16000;
  const stepsTaken = async (steps: number): Promise<number[][]> => {
    const m = model();
    const d = data(rows);
    for (let s = 0; s < steps; s++) {
      const x = new Tensor(d.x.slice(s * 8 * FEATURES, (s + 1) * 8 * FEATURES), [8, FEATURES]);
      await m.trainOnBatch(x, d.y.slice(s * 8, (s + 1) * 8));
    }
    return weights(m);
  };

  it('stopTraining in onBatchEnd of batch 10 stops after exactly 11 steps', async () => {
    const m = model();
    const ends: number[] = [];
    const onBatchEnd = (batch: number): void => {
      ends.push(batch);
      if (batch === 10) m.stopTraining = true;
    };
    const h = await m.fit(...tensors(data(rows)), { epochs: 2, batchSize: 8, shuffle: false, verbose: 0, callbacks: { onBatchEnd } });
    expect(ends).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(h.epoch).toEqual([0]);
    expect(weights(m)).toEqual(await stepsTaken(11));
  });

  it('abort() from onBatchEnd of batch 10 rejects with AbortError after exactly 11 steps', async () => {
    const m = model();
    const controller = new AbortController();
    const onBatchEnd = (batch: number): void => {
      if (batch === 10) controller.abort();
    };
    const fit = m.fit(...tensors(data(rows)), {
      epochs: 1,
      batchSize: 8,
      shuffle: false,
      verbose: 0,
      signal: controller.signal,
      callbacks: { onBatchEnd },
    });
    await expect(fit).rejects.toBeInstanceOf(AbortError);
    expect(weights(m)).toEqual(await stepsTaken(11));
  });

  it("batch k's async onBatchEnd finishes before batch k + 1 trains", async () => {
    const m = model();
    const seen: string[] = [];
    const onBatchBegin = (batch: number): void => void seen.push(`begin ${batch}`);
    const onBatchEnd = async (batch: number): Promise<void> => {
      const before = weights(m);
      await new Promise((resolve) => setTimeout(resolve, 1));
      expect(weights(m)).toEqual(before);
      seen.push(`end ${batch}`);
    };
    await m.fit(...tensors(data(40)), { epochs: 2, batchSize: 8, verbose: 0, callbacks: { onBatchBegin, onBatchEnd } });
    const expected = [0, 1, 2, 3, 4].flatMap((b) => [`begin ${b}`, `end ${b}`]);
    expect(seen).toEqual([...expected, ...expected]);
  });

  it('abort() settles fit while an epoch or batch callback never settles, and the model works after', async () => {
    for (const hook of ['onEpochEnd', 'onBatchEnd', 'onEpochBegin'] as const) {
      const m = model();
      const controller = new AbortController();
      const callbacks = { [hook]: () => new Promise<void>(() => {}) };
      const fit = m.fit(...tensors(data(200)), { epochs: 5, batchSize: 20, verbose: 0, signal: controller.signal, callbacks });
      setTimeout(() => controller.abort(), 50);
      const t0 = performance.now();
      await expect(fit).rejects.toBeInstanceOf(AbortError);
      expect(performance.now() - t0).toBeLessThan(5000);
      expect((await m.predict(tensors(data(4))[0])).shape).toEqual([4, 3]);
      await expect(m.fit(...tensors(data(40)), { epochs: 1, verbose: 0 })).resolves.toBeDefined();
    }
  });

  it('abort() settles a finished fit whose onTrainEnd never settles: resolved, and the model works after', async () => {
    const m = model();
    const controller = new AbortController();
    const ended: string[] = [];
    // The abort comes once training is over, from inside the hook that never settles.
    const never = (): Promise<void> => {
      queueMicrotask(() => controller.abort());
      return new Promise<void>(() => {});
    };
    const callbacks = [{ onTrainEnd: never }, { onTrainEnd: () => void ended.push('second') }];
    const fit = m.fit(...tensors(data(40)), { epochs: 2, verbose: 0, signal: controller.signal, callbacks });
    await expect(fit).resolves.toMatchObject({ epoch: [0, 1] });
    expect(ended).toEqual(['second']);
    await expect(m.fit(...tensors(data(40)), { epochs: 1, verbose: 0 })).resolves.toBeDefined();
    m.dispose();
  });

  it('a setModel that throws rejects fit with its error and leaves the model usable', async () => {
    const m = model();
    const setModel = (): void => {
      throw new Error('setModel boom');
    };
    await expect(m.fit(...tensors(data(40)), { verbose: 0, callbacks: { setModel } })).rejects.toThrow('setModel boom');
    await expect(m.fit(...tensors(data(40)), { epochs: 1, verbose: 0 })).resolves.toBeDefined();
    await expect(m.trainOnBatch(...tensors(data(8)))).resolves.toBeDefined();
    m.dispose();
  });

  it('an async setModel is awaited before onTrainBegin, and its rejection rejects fit', async () => {
    const m = model();
    const order: string[] = [];
    const setModel = async (): Promise<void> => {
      await new Promise((r) => setTimeout(r, 20));
      order.push('setModel');
    };
    const onTrainBegin = (): void => void order.push('onTrainBegin');
    await m.fit(...tensors(data(40)), { epochs: 1, verbose: 0, callbacks: { setModel, onTrainBegin } });
    expect(order).toEqual(['setModel', 'onTrainBegin']);
    const failing = async (): Promise<void> => {
      await null;
      throw new Error('async setModel boom');
    };
    await expect(m.fit(...tensors(data(40)), { verbose: 0, callbacks: { setModel: failing } })).rejects.toThrow('async setModel boom');
    await expect(m.fit(...tensors(data(40)), { epochs: 1, verbose: 0 })).resolves.toBeDefined();
    m.dispose();
  });
});

describe('stop_training as Keras 3 reads it', () => {
  // Keras 3's fit loop: on_epoch_begin; per batch on_train_batch_begin,
  // train, on_train_batch_end, then `if stop_training: break`; validation;
  // on_epoch_end; `if stop_training: break`. A flag set before a batch
  // therefore still lets that batch run, and a stopped epoch is validated.
  const trace = async (setAt: string): Promise<{ calls: string[]; keys: string[] }> => {
    const m = model();
    const calls: string[] = [];
    const hook = (name: string) => (arg?: unknown) => {
      const call = arg === undefined || typeof arg === 'object' ? name : `${name}(${arg})`;
      calls.push(call);
      if (call === setAt) m.stopTraining = true;
    };
    const callbacks = {
      onTrainBegin: hook('trainBegin'),
      onTrainEnd: hook('trainEnd'),
      onEpochBegin: hook('epochBegin'),
      onEpochEnd: hook('epochEnd'),
      onBatchBegin: hook('batchBegin'),
      onBatchEnd: hook('batchEnd'),
    };
    const [x, y] = tensors(data(32));
    const h = await m.fit(x, y, { epochs: 3, batchSize: 8, verbose: 0, validationData: [x, y], callbacks });
    return { calls, keys: Object.keys(h.history).sort() };
  };
  const epoch = (e: number, batches: number): string[] => [
    `epochBegin(${e})`,
    ...Array.from({ length: batches }, (_, b) => [`batchBegin(${b})`, `batchEnd(${b})`]).flat(),
    `epochEnd(${e})`,
  ];

  it.each([
    ['trainBegin', [...epoch(0, 1)]],
    ['epochBegin(1)', [...epoch(0, 4), ...epoch(1, 1)]],
    ['batchBegin(2)', [...epoch(0, 3)]],
    ['batchEnd(1)', [...epoch(0, 2)]],
    ['batchEnd(3)', [...epoch(0, 4)]],
    ['epochEnd(1)', [...epoch(0, 4), ...epoch(1, 4)]],
  ])('set in %s', async (setAt, expected) => {
    const { calls, keys } = await trace(setAt);
    expect(calls).toEqual(['trainBegin', ...expected, 'trainEnd']);
    // Every epoch, stopped or not, is validated.
    expect(keys).toEqual(['accuracy', 'loss', 'val_accuracy', 'val_loss']);
  });
});

describe('abort signals', () => {
  it('a signal reused for many fits holds no listener after each', async () => {
    const controller = new AbortController();
    const [x, y] = tensors(data(32));
    for (let i = 0; i < 12; i++) {
      await model().fit(x, y, { epochs: 1, verbose: 0, signal: controller.signal });
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    }
  });

  it('an abort during onTrainEnd leaves the finished fit resolved', async () => {
    const controller = new AbortController();
    const [x, y] = tensors(data(32));
    const onTrainEnd = async (): Promise<void> => {
      controller.abort();
      await new Promise((resolve) => setTimeout(resolve, 1));
    };
    const h = await model().fit(x, y, { epochs: 2, verbose: 0, signal: controller.signal, callbacks: { onTrainEnd } });
    expect(h.epoch).toEqual([0, 1]);
  });

  it('an abort during an epoch\'s validation pass ends it between chunks, not at its end', async () => {
    // One training batch per epoch, then a validation pass of ~1.5k chunks
    // (hundreds of ms): the abort lands in it. Compared with the same
    // pass's own duration, so that a slow host does not decide the test.
    const d = 256;
    // Its values do not matter, only the work: a fill is quick to make.
    const vx = new Tensor(new Float32Array(100_000 * d).fill(0.1), [100_000, d]);
    const vy = new Tensor(new Int32Array(100_000).map((_, i) => i % 10), [100_000]);
    const x = new Tensor(new Float32Array(64 * d).map((_, i) => Math.sin(i)), [64, d]);
    const y = new Tensor(new Int32Array(64).map((_, i) => i % 10), [64]);
    const m = new Sequential([new Dense(512, { activation: 'relu' }), new Dense(512, { activation: 'relu' }), new Dense(10, { activation: 'softmax' })]);
    m.compile({ optimizer: 'adam', loss: 'sparse_categorical_crossentropy' });
    m.build([null, d]);
    let start = performance.now();
    await m.evaluate(vx, vy, { batchSize: 64 });
    const pass = performance.now() - start;
    const controller = new AbortController();
    const onEpochEnd = (epoch: number): void => {
      if (epoch === 0) setTimeout(() => ((start = performance.now()), controller.abort()), 20);
    };
    const fit = m.fit(x, y, { epochs: 100, batchSize: 64, verbose: 0, validationData: [vx, vy], signal: controller.signal, callbacks: { onEpochEnd } });
    await expect(fit).rejects.toThrow(AbortError);
    expect(performance.now() - start).toBeLessThan(pass / 4);
    m.dispose();
  });
});

describe('ordering and concurrency', () => {
  it('saving reads the model beside running predicts and evaluates, trained or not', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferro-save-beside-'));
    for (const trained of [false, true]) {
      const m = model();
      if (trained) await m.fit(...tensors(data(40)), { epochs: 1, verbose: 0 });
      const [x, y] = tensors(data(4000));
      const file = join(dir, `${trained}.keras`);
      const [, , saved] = await Promise.all([m.predict(x), m.evaluate(x, y), m.save(file), m.saveWeights(join(dir, `${trained}.weights.h5`))]);
      expect(saved).toBeUndefined();
      const loaded = await loadModel(file);
      expect(loaded.getWeights().map((w) => Array.from(w.data))).toEqual(m.getWeights().map((w) => Array.from(w.data)));
      expect(loaded.optimizerIterations).toBe(m.optimizerIterations);
    }
  });

  it('fit() claims the model in its own tick: a predict made right after is refused, the fit goes on', async () => {
    const m = model();
    const [x, y] = tensors(data(400));
    const fit = m.fit(x, y, { epochs: 2, batchSize: 16, verbose: 0 });
    await expect(m.predict(x)).rejects.toMatchObject({ code: 'ERR_FERRO_BUSY' });
    await expect(fit).resolves.toMatchObject({ epoch: [0, 1] });
  });

  it('while a predict runs, changing the model is refused with ERR_FERRO_BUSY (README errors) and a fit waits', async () => {
    const m = model();
    // Large enough that the predict is still running after the calls below (each takes microseconds).
    const [x, y] = tensors(data(200_000));
    const busy = expect.objectContaining({ code: 'ERR_FERRO_BUSY' });
    const running = m.predict(x);
    expect(() => m.setWeights(m.getWeights())).toThrow(busy);
    expect(() => m.compile({ optimizer: 'sgd', loss: 'sparse_categorical_crossentropy' })).toThrow(busy);
    // Not only setWeights and compile: setting the learning rate (and loadWeights, which ends in the same calls).
    expect(() => (m.learningRate = 0.5)).toThrow(busy);
    // A fit is not refused: it waits for the predict, then trains.
    const fit = m.fit(x.slice(0, 64), y.slice(0, 64), { epochs: 1, verbose: 0 });
    await running;
    await expect(fit).resolves.toMatchObject({ epoch: [0] });
  });

  it('64 overlapping predicts and evaluates on one model all succeed, with the single-call results', async () => {
    const m = model();
    const [x, y] = tensors(data(50));
    const want = Array.from((await m.predict(x)).data);
    const wantLoss = (await m.evaluate(x, y)).loss;
    const calls = Array.from({ length: 64 }, (_, i) => (i % 4 === 3 ? m.evaluate(x, y) : m.predict(x)));
    const results = await Promise.all(calls);
    results.forEach((r, i) => {
      if (i % 4 === 3) expect((r as { loss: number }).loss).toBe(wantLoss);
      else expect(Array.from((r as Tensor).data)).toEqual(want);
    });
  });

  it('a small predict is computed at the call, on this thread; a burst in one tick is shared with the pool, with the same bits', async () => {
    const m = model();
    const [x] = tensors(data(2));
    const original = m.getWeights();
    const want = Array.from((await m.predict(x)).data);
    // Two rows of this model are far below the work worth splitting: the
    // call has read the model by the time it returns, so changing the
    // weights right after is allowed and does not change its result.
    const early = m.predict(x);
    m.setWeights(original.map((w) => w.mul(2)));
    expect(Array.from((await early).data)).toEqual(want);
    m.setWeights(original);
    // The first call of a burst runs here, the rest on the pool's threads.
    const burst = await Promise.all(Array.from({ length: 5 }, () => m.predict(x)));
    for (const out of burst) expect(Array.from(out.data)).toEqual(want);
  });

  it('only one or two rows are computed at the call, and FERRO_NN_PREDICT_ON_CALLER=0 sends them to the pool too', async () => {
    const m = model();
    // The native call sequential.ts makes first: rows now, or null for the pool.
    const native = (m as unknown as { model: { predictHere(x: { values: Float32Array }, rows: number, batchSize: number): Float32Array | null } }).model;
    const here = (rows: number) => native.predictHere({ values: data(rows).x }, rows, 32);
    expect(here(1)).toHaveLength(3);
    expect(here(2)).toHaveLength(6);
    expect(here(3)).toBeNull();
    const [x] = tensors(data(2));
    const want = Array.from((await m.predict(x)).data);
    process.env.FERRO_NN_PREDICT_ON_CALLER = '0';
    try {
      expect(here(1)).toBeNull();
      expect(Array.from((await m.predict(x)).data)).toEqual(want);
    } finally {
      delete process.env.FERRO_NN_PREDICT_ON_CALLER;
    }
    expect(here(1)).toHaveLength(3);
  });

  it('dispose() while predicts run lets them finish, then refuses new calls', async () => {
    const m = model();
    const [x] = tensors(data(500));
    const running = Array.from({ length: 8 }, () => m.predict(x, { batchSize: 7 }));
    m.dispose();
    const done = await Promise.all(running);
    expect(done.every((t) => t.shape[0] === 500)).toBe(true);
    await expect(m.predict(x)).rejects.toBeInstanceOf(FerroStateError);
  });
});

describe('subnormal floats', () => {
  // ferro-nn's threads flush subnormals to zero, as TensorFlow's and XLA's
  // do (crate/core/src/subnormals.rs); JavaScript's thread must not.
  it('native arithmetic flushes them as Keras on TensorFlow or JAX does; JavaScript keeps them', async () => {
    const m = new Sequential([new Dense(1, { useBias: false, inputDim: 1 })]);
    m.build([null, 1]);
    m.setWeights([new Tensor(new Float32Array([1e-20]), [1, 1])]);
    const x = new Tensor(new Float32Array([1e-20, 1e-17]), [2, 1]);
    // One call runs on this thread (small), one on the pool (made before
    // the first returned): both flush, and this thread keeps subnormals.
    const outs = await Promise.all([m.predict(x), m.predict(x)]);
    // 1e-40 is below float32's smallest normal (1.18e-38); 1e-37 is not.
    for (const out of outs) expect(Array.from(out.data)).toEqual([0, Math.fround(Math.fround(1e-20) * Math.fround(1e-17))]);
    expect(new Float32Array([1e-40])[0]).toBeGreaterThan(0);
    m.compile({ optimizer: 'sgd', loss: 'mse' });
    await m.fit(new Tensor(new Float32Array([1]), [1, 1]), new Tensor(new Float32Array([0]), [1, 1]), { verbose: 0 });
    const smallestNormal = Number('2.2250738585072014e-308');
    expect(smallestNormal / 2).toBeGreaterThan(0);
    expect(new Float32Array([1e-40])[0]).toBeGreaterThan(0);
  });
});

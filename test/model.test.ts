import { describe, expect, it } from 'vitest';
import {
  Dense,
  FerroBusyError,
  FerroShapeError,
  FerroStateError,
  FerroValueError,
  layers,
  RMSprop,
  Sequential,
  setRandomSeed,
  Tensor,
} from '../src/index.js';
import { accuracy, blobs, crossentropy, forward, type Matrix, maxAbsDiff, rows } from './helpers.js';

function model(learningRate = 1e-3): Sequential {
  const m = new Sequential([new Dense(16, { activation: 'relu' }), new layers.Dense(3, { activation: 'softmax' })]);
  m.compile({ optimizer: new RMSprop({ learningRate }), loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] });
  return m;
}

/** The model's weights as float64 [kernel, bias, activation] triples. */
function asLayers(m: Sequential): [Matrix, number[], string][] {
  const w = m.getWeights();
  return (m.layers as Dense[]).map((l, i) => [rows(w[2 * i]!.data, l.units), Array.from(w[2 * i + 1]!.data), l.activation]);
}

describe('Sequential', () => {
  it('builds on first use with Keras weight shapes and Glorot-uniform kernels', () => {
    setRandomSeed(1);
    const m = new Sequential([new Dense(512, { activation: 'relu' }), new Dense(10, { activation: 'softmax' })]);
    expect(m.getWeights()).toEqual([]);
    m.build([null, 784]);
    const w = m.getWeights();
    expect(w.map((t) => t.shape)).toEqual([[784, 512], [512], [512, 10], [10]]);
    expect(m.countParams()).toBe(407050);
    const limit = Math.sqrt(6 / (784 + 512));
    const k = w[0]!.data;
    expect(k.reduce((a, v) => Math.max(a, Math.abs(v)), 0)).toBeLessThanOrEqual(limit);
    const variance = k.reduce((s, v) => s + v * v, 0) / k.length;
    expect(variance / (limit * limit / 3)).toBeCloseTo(1, 1);
    expect(w[1]!.data.every((v) => v === 0)).toBe(true);
    expect(m.layers[0]!.getWeights()[0]!.shape).toEqual([784, 512]);
  });

  it('predicts and evaluates what a float64 forward pass gives', async () => {
    const m = model();
    const { x, y } = blobs(50);
    const p = await m.predict(x, { batchSize: 7 });
    expect(p.shape).toEqual([50, 3]);
    const want = forward(rows(x.data, 6), asLayers(m));
    expect(maxAbsDiff(p.data, want.flat())).toBeLessThan(1e-6);
    const r = await m.evaluate(x, y, { batchSize: 16 });
    expect(r.loss).toBeCloseTo(crossentropy(want, Array.from(y.data)), 5);
    expect(r.accuracy).toBeCloseTo(accuracy(want, Array.from(y.data)), 10);
    // Nested arrays work wherever tensors do. (Two rows take the one-row
    // product, fifty the packed GEMM: their sums may round differently.)
    const nested = await m.predict(rows(x.data, 6).slice(0, 2));
    expect(maxAbsDiff(nested.data, want.slice(0, 2).flat())).toBeLessThan(1e-6);
  });

  it('fits and returns a History with one entry per epoch', async () => {
    setRandomSeed(7);
    const m = model(0.01);
    const { x, y } = blobs(600);
    const h = await m.fit(x, y, { epochs: 8, batchSize: 32, verbose: 0 });
    expect(h.epoch).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(Object.keys(h.history).sort()).toEqual(['accuracy', 'loss']);
    expect(h.history.loss).toHaveLength(8);
    expect(h.history.loss[7]!).toBeLessThan(h.history.loss[0]!);
    expect(h.history.accuracy[7]!).toBeGreaterThan(0.8);
    const r = await m.evaluate(x, y);
    expect(r.accuracy).toBeGreaterThan(0.8);
  });

  it('reports validation metrics from validationSplit and validationData', async () => {
    const m = model();
    const { x, y } = blobs(200);
    const h = await m.fit(x, y, { epochs: 2, batchSize: 50, verbose: 0, validationSplit: 0.25 });
    expect(Object.keys(h.history).sort()).toEqual(['accuracy', 'loss', 'val_accuracy', 'val_loss']);
    // Keras takes the last 25% before shuffling: evaluating them directly gives val_loss.
    const tail = await m.evaluate(x.slice(150), y.slice(150));
    expect(h.history.val_loss![1]!).toBeCloseTo(tail.loss, 6);
    const h2 = await m.fit(x.slice(0, 100), y.slice(0, 100), {
      verbose: 0,
      validationData: [x.slice(100), y.slice(100)],
    });
    const rest = await m.evaluate(x.slice(100), y.slice(100));
    expect(h2.history.val_accuracy![0]!).toBeCloseTo(rest.accuracy, 10);
  });

  it('round-trips weights through getWeights and setWeights', async () => {
    const a = model();
    const b = model();
    const { x } = blobs(10);
    await a.predict(x);
    await b.predict(x);
    b.setWeights(a.getWeights());
    expect(maxAbsDiff((await a.predict(x)).data, (await b.predict(x)).data)).toBe(0);
    const kernel = new Tensor(new Float32Array(6 * 16).fill(0.5), [6, 16]);
    b.layers[0]!.setWeights([kernel, new Tensor(new Float32Array(16), [16])]);
    expect(b.getWeights()[0]!.data.every((v) => v === 0.5)).toBe(true);
    expect(() => b.setWeights(a.getWeights().slice(1))).toThrow(FerroShapeError);
    expect(() => b.setWeights([kernel, kernel, kernel, kernel])).toThrow(FerroShapeError);
    expect(() => new Dense(3).setWeights([])).toThrow(FerroStateError);
  });

  it("a layer's weights exist as soon as the first layer declares inputDim, as in Keras", async () => {
    // Keras builds Sequential([Dense(4, input_shape=(3,)), …]) when it is
    // created: layers[0].get_weights() and set_weights() work at once.
    const m = new Sequential([new Dense(4, { inputDim: 3 }), new layers.BatchNormalization(), new Dense(1)]);
    expect(m.layers.map((l) => l.countParams())).toEqual([16, 16, 5]);
    expect(m.layers.map((l) => l.getWeights().map((w) => w.shape))).toEqual([[[3, 4], [4]], [[4], [4], [4], [4]], [[4, 1], [1]]]);
    m.layers[1]!.setWeights([[2, 2, 2, 2], [1, 1, 1, 1], [0, 0, 0, 0], [1, 1, 1, 1]]);
    expect(Array.from(m.getWeights()[2]!.data)).toEqual([2, 2, 2, 2]);
    const fresh = new Sequential([new Dense(2, { inputDim: 2, name: 'fresh' })]);
    fresh.layers[0]!.setWeights([[[1, 0], [0, 1]], [0, 0]]);
    expect(Array.from((await fresh.predict([[3, 4]])).data)).toEqual([3, 4]);
    // Without a declared input there is nothing to build from yet.
    const later = new Sequential([new Dense(2)]);
    expect(later.layers[0]!.getWeights()).toEqual([]);
    expect(later.layers[0]!.countParams()).toBe(0);
    expect(() => later.layers[0]!.setWeights([])).toThrow(FerroStateError);
    expect(later.built).toBe(false);
  });

  it("a layer of a disposed model refuses getWeights and setWeights as the model does, built or not", () => {
    // Unbuilt, the layer read as if its model could still be built: [] and
    // 'build or fit its model', where model.getWeights() said disposed.
    for (const declared of [false, true]) {
      const layer = new Dense(2, declared ? { inputDim: 3 } : {});
      const m = new Sequential([layer]);
      m.dispose();
      expect(() => m.getWeights()).toThrow(/has been disposed/);
      expect(() => layer.getWeights()).toThrow(/has been disposed/);
      expect(() => layer.setWeights([])).toThrow(/has been disposed/);
    }
  });

  it('refuses a layer that is already in another model, built or not', async () => {
    // A layer keeps one input width and finds its weights through one model:
    // in two unbuilt models, building the second broke the first.
    const shared = new Dense(2);
    const a = new Sequential([shared]);
    expect(() => new Sequential([shared])).toThrow(FerroStateError);
    expect(() => new Sequential().add(shared)).toThrow(/already belongs to a model/);
    a.build([null, 3]);
    expect(a.getWeights()[0]!.shape).toEqual([3, 2]);
    expect((await a.predict([[1, 2, 3]])).shape).toEqual([1, 2]);
    // A model whose constructor failed keeps none of its layers.
    const free = new Dense(2, { name: 'free' });
    expect(() => new Sequential([free, new Dense(2, { name: 'free' })])).toThrow(FerroValueError);
    expect(new Sequential([free]).layers[0]).toBe(free);
  });

  it('trainOnBatch returns the batch loss before the step and then improves it', async () => {
    const m = model();
    const { x, y } = blobs(64);
    const before = await m.evaluate(x, y);
    const first = await m.trainOnBatch(x, y);
    expect(first.loss).toBeCloseTo(before.loss, 6);
    expect(first.accuracy).toBeCloseTo(before.accuracy, 10);
    let last = first;
    for (let i = 0; i < 20; i++) last = await m.trainOnBatch(x, y);
    expect(last.loss).toBeLessThan(first.loss);
  });

  it('refuses misuse with coded errors', async () => {
    const m = new Sequential([new Dense(4), new Dense(3, { activation: 'softmax' })]);
    const { x, y } = blobs(8);
    await expect(m.fit(x, y)).rejects.toThrow(FerroStateError); // not compiled
    m.compile({ optimizer: new RMSprop({ learningRate: 0.01 }), loss: 'sparseCategoricalCrossentropy' });
    await expect(m.fit(x, y.slice(0, 4), { verbose: 0 })).rejects.toThrow(FerroShapeError);
    const bad = new Tensor(new Int32Array([0, 1, 2, 3, 0, 1, 2, 0]), [8]);
    await expect(m.fit(x, bad, { verbose: 0 })).rejects.toThrow(/y\[3\]=3/);
    await expect(m.fit(x, y, { batchSize: 0 })).rejects.toThrow(FerroValueError);
    const training = m.fit(x, y, { epochs: 50, verbose: 0 });
    await expect(m.fit(x, y, { verbose: 0 })).rejects.toThrow(FerroBusyError);
    await expect(m.evaluate(x, y)).rejects.toThrow(FerroBusyError);
    await training;
    await expect(m.predict(new Tensor(new Float32Array(10), [2, 5]))).rejects.toThrow(FerroShapeError);
    expect(() => m.add(new Dense(2))).toThrow(FerroStateError);
  });

  it('takes inputShape as TensorFlow.js spells inputDim', async () => {
    const m = new Sequential([new Dense(3, { inputShape: [5] })]);
    expect(m.layers[0]!.inputDim).toBe(5);
    expect(() => m.build([null, 4])).toThrow(FerroShapeError);
    m.build([null, 5]);
    expect(m.getWeights()[0]!.shape).toEqual([5, 3]);
    expect(new Dense(3, { inputShape: [5], inputDim: 5 }).inputDim).toBe(5);
    expect(() => new Dense(3, { inputShape: [5], inputDim: 4 })).toThrow(/inputDim=4, inputShape=\[5\]/);
    expect(() => new Dense(3, { inputShape: [28, 28] })).toThrow(FerroValueError);
    expect(() => new Dense(3, { inputShape: [0] })).toThrow(FerroValueError);
    expect(() => new Dense(3, { inputShape: 5 as never })).toThrow(expect.objectContaining({ code: 'ERR_FERRO_TYPE' }));
    expect(() => new Dense(3, { inputShape: new Proxy([5], {}) })).toThrow(expect.objectContaining({ code: 'ERR_FERRO_TYPE' }));
  });

  it('takes 10⁵ layers in linear time (a loaded config may hold that many)', () => {
    // A scan of the layers for each new name took ~20 s here (quadratic);
    // the test's timeout catches that.
    const m = new Sequential(Array.from({ length: 100_000 }, () => new layers.Activation('relu')));
    expect(m.layers).toHaveLength(100_000);
    expect(() => m.add(new layers.Activation('relu', { name: m.layers[50_000]!.name }))).toThrow(FerroValueError);
  }, 10_000);

  it('leaves a model as it was when compile is refused, built or not (as Keras)', async () => {
    const x = new Tensor(Float32Array.from({ length: 40 * 5 }, (_, i) => Math.sin(i)), [40, 5]);
    const y = new Tensor(Int32Array.from({ length: 40 }, (_, i) => i % 3), [40]);
    const m = new Sequential([new Dense(3, { activation: 'softmax' })]);
    m.compile({ optimizer: new RMSprop({ learningRate: 0.05 }), loss: 'sparse_categorical_crossentropy', metrics: ['accuracy'] });
    await m.fit(x, y, { verbose: 0, batchSize: 8 });
    const before = { iterations: m.optimizerIterations, lr: m.learningRate, weights: m.getWeights().map((w) => Array.from(w.data)) };
    // A top-k metric over class ids does not fit a loss over one-hot targets.
    const refused: Parameters<Sequential['compile']>[0] = {
      optimizer: 'adam',
      loss: 'categorical_crossentropy',
      metrics: ['sparse_top_k_categorical_accuracy'],
    };
    expect(() => m.compile(refused)).toThrow(expect.objectContaining({ code: 'ERR_FERRO_VALUE' }));
    expect(m.optimizerIterations).toBe(before.iterations);
    expect(m.learningRate).toBeCloseTo(0.05, 7);
    // Still the first compile: class ids train, and the optimizer goes on from its state.
    const history = await m.fit(x, y, { verbose: 0, batchSize: 8 });
    expect(Object.keys(history.history).sort()).toEqual(['accuracy', 'loss']);
    expect(m.optimizerIterations).toBe(before.iterations + 5);
    expect(m.getWeights().map((w) => Array.from(w.data))).not.toEqual(before.weights);

    // Unbuilt: refused at compile, not at the first fit's build.
    const u = new Sequential([new Dense(3, { activation: 'softmax' })]);
    u.compile({ optimizer: 'rmsprop', loss: 'sparse_categorical_crossentropy' });
    expect(() => u.compile({ ...refused, loss: 'mse' })).toThrow(expect.objectContaining({ code: 'ERR_FERRO_VALUE' }));
    await expect(u.fit(x, y, { verbose: 0 })).resolves.toBeDefined();
    m.dispose();
    u.dispose();
  });
});

/**
 * Keras 3's `.keras` archive and `.weights.h5` file: files Keras 3.15.1
 * wrote (test/fixtures/keras, made by test/golden/keras_saving.py) load and
 * predict as Keras did; what ferro-nn writes loads back identically (and
 * into real Keras: `npm run test:interop`); bad files get coded errors.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  copyFileSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { strToU8, unzipSync, zipSync } from 'fflate';
import { describe, expect, it, vi } from 'vitest';
import {
  Activation,
  Adam,
  BatchNormalization,
  CSVLogger,
  Dense,
  BackupAndRestore,
  Dropout,
  loadLayersModel,
  loadModel,
  mnist,
  ModelCheckpoint,
  optimizers,
  regularizers,
  Sequential,
  setRandomSeed,
  Tensor,
} from '../src/index.js';
import { PyFloat, pythonJson } from '../src/saving/keras-config.js';
import { stateFromVars } from '../src/saving/optimizer-vars.js';
import { maxAbsDiff, runCapped } from './helpers.js';

const fixture = (name: string): string => new URL(`./fixtures/keras/${name}`, import.meta.url).pathname;
const golden = JSON.parse(readFileSync(new URL('./golden/keras-saving.json', import.meta.url), 'utf8')) as {
  x: number[][];
  predict: number[][];
  resume: { y: number[]; iterations: number; weights: number[][] };
};
const flat = (a: number[][]): number[] => a.flat();
const dir = mkdtempSync(join(tmpdir(), 'ferro-saving-'));

function everyLayerKind(): Sequential {
  setRandomSeed(11);
  const model = new Sequential(
    [
      new Dense(6, { activation: 'gelu', inputShape: [4], kernelRegularizer: regularizers.l2(0.01) }),
      new Dropout(0.25, { seed: 3 }),
      new BatchNormalization({ momentum: 0.9, center: false }),
      new Activation('silu'),
      new Dense(3, { activation: 'softmax', biasInitializer: 'ones' }),
    ],
    { name: 'round_trip' },
  );
  const lr = new optimizers.schedules.ExponentialDecay({ initialLearningRate: 0.01, decaySteps: 10, decayRate: 0.9 });
  model.compile({ optimizer: new Adam({ learningRate: lr, clipnorm: 1 }), loss: 'sparse_categorical_crossentropy', metrics: ['acc'] });
  return model;
}

describe('Keras 3 files', () => {
  it('a .keras archive written by Keras loads and predicts as Keras did', async () => {
    const model = await loadModel(fixture('keras-made.keras'));
    expect(model.name).toBe('keras_made');
    expect(model.layers.map((l) => l.className)).toEqual(['Dense', 'Dropout', 'BatchNormalization', 'Activation', 'Dense']);
    const p = await model.predict(new Tensor(golden.x));
    expect(maxAbsDiff(p.data, flat(golden.predict))).toBeLessThan(1e-6);
    // Compiled as Keras saved it: it trains on.
    const before = (await model.evaluate(new Tensor(golden.x), [0, 1, 2, 0, 1, 2, 0, 1, 2, 0])).loss;
    await model.fit(new Tensor(golden.x), [0, 1, 2, 0, 1, 2, 0, 1, 2, 0], { epochs: 20, verbose: 0 });
    expect((await model.evaluate(new Tensor(golden.x), [0, 1, 2, 0, 1, 2, 0, 1, 2, 0])).loss).toBeLessThan(before);
  });

  it("Keras's saved optimizer state resumes in ferro-nn: one more step gives Keras's weights", async () => {
    const model = await loadModel(fixture('keras-resume.keras'));
    expect(model.optimizerIterations).toBe(golden.resume.iterations - 1);
    await model.trainOnBatch(new Tensor(golden.x), golden.resume.y);
    expect(model.optimizerIterations).toBe(golden.resume.iterations);
    model.getWeights().forEach((w, i) => expect(maxAbsDiff(w.data, golden.resume.weights[i]!), `weight ${i}`).toBeLessThan(1e-5));
  });

  it("Keras's npz weights (jax and numpy backends) load as the h5 ones, optimizer state included", async () => {
    // keras-npz.keras is keras-resume.keras one Keras step later.
    const npz = await loadModel(fixture('keras-npz.keras'));
    expect(npz.optimizerIterations).toBe(golden.resume.iterations);
    npz.getWeights().forEach((w, i) => expect(maxAbsDiff(w.data, golden.resume.weights[i]!), `weight ${i}`).toBe(0));
    const stepped = await loadModel(fixture('keras-resume.keras'));
    await stepped.trainOnBatch(new Tensor(golden.x), golden.resume.y);
    const [a, b] = [npz.optimizerState(), stepped.optimizerState()];
    expect(a.slots.map((s) => s.name)).toEqual(b.slots.map((s) => s.name));
    a.slots.forEach((s, i) => expect(maxAbsDiff(s.data, [...b.slots[i]!.data]), s.name).toBeLessThan(1e-5));
    // The numpy backend pickles plain numpy arrays; the same model as the h5 archive, exactly.
    const [numpy, h5] = await Promise.all([loadModel(fixture('keras-npz-numpy.keras')), loadModel(fixture('keras-resume.keras'))]);
    expect(numpy.optimizerIterations).toBe(h5.optimizerIterations);
    numpy.getWeights().forEach((w, i) => expect(maxAbsDiff(w.data, [...h5.getWeights()[i]!.data]), `weight ${i}`).toBe(0));
    numpy.optimizerState().slots.forEach((s, i) => expect([...s.data], s.name).toEqual([...h5.optimizerState().slots[i]!.data]));
  });

  it("Keras's .weights.h5 loads into the same architecture", async () => {
    const model = await loadModel(fixture('keras-made.keras'));
    const other = everyLayerKindLike(model);
    await other.loadWeights(fixture('keras-made.weights.h5'));
    expect(maxAbsDiff((await other.predict(new Tensor(golden.x))).data, flat(golden.predict))).toBeLessThan(1e-6);
  });

  it('what ferro-nn saves loads back with the same layers, weights, predictions and compile settings', async () => {
    const model = everyLayerKind();
    const x = new Tensor(golden.x);
    await model.fit(x, [0, 1, 2, 0, 1, 2, 0, 1, 2, 0], { epochs: 3, verbose: 0 });
    const path = join(dir, 'model.keras');
    await model.save(path);
    const back = await loadModel(path);
    expect(back.summary()).toBe(model.summary());
    back.getWeights().forEach((w, i) => expect(Array.from(w.data)).toEqual(Array.from(model.getWeights()[i]!.data)));
    expect(Array.from((await back.predict(x)).data)).toEqual(Array.from((await model.predict(x)).data));
    const layer = back.layers[0] as Dense;
    expect([layer.activation, layer.kernelRegularizer?.l2]).toEqual(['gelu', 0.01]);
    expect((back.layers[1] as Dropout).seed).toBe(3);
    expect((back.layers[2] as BatchNormalization).center).toBe(false);
    // The optimizer resumes: same step count, so the schedule gives the same rate.
    expect(back.optimizerIterations).toBe(3);
    expect(back.learningRate).toBe(model.learningRate);
    const logs = await back.evaluate(x, [0, 1, 2, 0, 1, 2, 0, 1, 2, 0]);
    expect(Object.keys(logs)).toContain('acc');
    // Only the archive is left in the directory: the write went through a temporary file.
    expect(readdirSync(dir).filter((f) => f.startsWith('.'))).toEqual([]);
  });

  it("loss and metric names are written as Keras 3's losses.get and metrics.get resolve them, and load back", async () => {
    // What Keras 3.15's get() resolves (checked with real Keras; npm run test:interop evaluates one such file).
    // 'rmse' goes as an object that keeps the name, so the logs keep their keys.
    const rmse = { module: 'keras.metrics', class_name: 'RootMeanSquaredError', config: { name: 'rmse', dtype: 'float32' }, registered_name: null };
    const cases: [string, string[], string, unknown[] | null][] = [
      ['sparseCategoricalCrossentropy', ['acc'], 'sparse_categorical_crossentropy', ['acc']],
      ['categoricalCrossentropy', [], 'categorical_crossentropy', null],
      ['binaryCrossentropy', ['binary_accuracy'], 'binary_crossentropy', ['binary_accuracy']],
      ['meanSquaredError', ['rmse', 'root_mean_squared_error'], 'mean_squared_error', [rmse, 'root_mean_squared_error']],
      ['meanAbsoluteError', ['mae'], 'mean_absolute_error', ['mae']],
      ['huber_loss', ['rmse'], 'huber', [rmse]],
      ['mse', ['mse'], 'mse', ['mse']],
    ];
    const path = join(dir, 'names.keras');
    for (const [loss, metrics, kerasLoss, kerasMetrics] of cases) {
      const model = new Sequential([new Dense(3, { inputShape: [4], activation: 'softmax' })]);
      model.compile({ optimizer: 'adam', loss: loss as never, metrics: metrics as never });
      model.build([null, 4]);
      await model.save(path);
      const config = JSON.parse(new TextDecoder().decode(unzipSync(readFileSync(path))['config.json'])) as { compile_config: Record<string, unknown> };
      expect([config.compile_config.loss, config.compile_config.metrics]).toEqual([kerasLoss, kerasMetrics]);
      const back = await loadModel(path);
      expect(back.compileConfig()).toMatchObject({ loss: kerasLoss, metrics: [...new Set(metrics)] });
    }
  });


  it('fit 2 epochs, save, load, fit 3 more: the same weights as 5 epochs straight, for every optimizer', async () => {
    const x = new Tensor(golden.x);
    const y = [0, 1, 2, 0, 1, 2, 0, 1, 2, 0];
    const makers = [
      () => new Adam({ learningRate: 0.01, amsgrad: true }),
      () => new optimizers.Nadam({ learningRate: 0.01 }),
      () => new optimizers.RMSprop({ momentum: 0.5, centered: true }),
      () => new optimizers.SGD({ learningRate: 0.05, momentum: 0.9 }),
      () => new optimizers.Adagrad(),
    ];
    for (const make of makers) {
      const build = (): Sequential => {
        const m = everyLayerKind();
        m.compile({ optimizer: make(), loss: 'sparse_categorical_crossentropy' });
        return m;
      };
      const straight = build();
      await straight.fit(x, y, { epochs: 5, batchSize: 4, shuffle: false, verbose: 0 });
      const first = build();
      await first.fit(x, y, { epochs: 2, batchSize: 4, shuffle: false, verbose: 0 });
      const path = join(dir, 'resume.keras');
      await first.save(path);
      const resumed = await loadModel(path);
      await resumed.fit(x, y, { epochs: 3, batchSize: 4, shuffle: false, verbose: 0 });
      const name = make().className;
      expect(resumed.optimizerIterations, name).toBe(15);
      resumed.getWeights().forEach((w, i) => expect(Array.from(w.data), `${name} weight ${i}`).toEqual(Array.from(straight.getWeights()[i]!.data)));
    }
  });

  it('save() writes the model as it was when called, whatever the caller changes before awaiting', async () => {
    const model = new Sequential([new Dense(2, { inputShape: [3] })], { name: 'snapshot' });
    model.compile({ optimizer: new Adam({ learningRate: 0.01 }), loss: 'mse', metrics: ['mae'] });
    model.build([null, 3]);
    const weights = model.getWeights().map((w) => Array.from(w.data));
    const [path, weightsPath] = [join(dir, 'snapshot.keras'), join(dir, 'snapshot.weights.h5')];
    const saving = [model.save(path), model.saveWeights(weightsPath)];
    model.compile({ optimizer: 'sgd', loss: 'mae' });
    model.setWeights(model.getWeights().map((w) => new Tensor(new Float32Array(w.size).fill(5), [...w.shape])));
    await Promise.all(saving);
    const loaded = await loadModel(path);
    expect(loaded.compileConfig()).toMatchObject({ optimizer: { className: 'Adam' }, loss: 'mse', metrics: ['mae'] });
    expect(loaded.getWeights().map((w) => Array.from(w.data))).toEqual(weights);
    await model.loadWeights(weightsPath);
    expect(model.getWeights().map((w) => Array.from(w.data))).toEqual(weights);
  });

  it('the optimizer step count round-trips exactly past 2^24 and 2^31 (int64, as Keras keeps it)', async () => {
    const model = new Sequential([new Dense(1, { inputShape: [2] })]);
    model.compile({ optimizer: 'adam', loss: 'mse' });
    model.build([null, 2]);
    const state = model.optimizerState();
    const path = join(dir, 'iterations.keras');
    for (const iterations of [2 ** 24 + 1, 2 ** 31 + 5, 2 ** 53]) {
      model.setOptimizerState({ ...state, iterations });
      await model.save(path);
      expect((await loadModel(path)).optimizerIterations).toBe(iterations);
    }
  });

  it('an int32 step count, as Keras on JAX writes it, reads back exactly past 2^24', async () => {
    const { writeH5 } = await import('../src/saving/h5.js');
    const model = new Sequential([new Dense(1, { inputShape: [2] })]);
    model.compile({ optimizer: 'sgd', loss: 'mse' });
    model.build([null, 2]);
    const path = join(dir, 'int32-iterations.weights.h5');
    const [kernel, bias] = model.getWeights();
    writeFileSync(path, await writeH5([
      ['', 'seq', []],
      ['layers/dense', 'dense', [{ shape: [2, 1], data: kernel!.data }, { shape: [1], data: bias!.data }]],
      ['optimizer', 'sgd', [{ shape: [], data: Int32Array.of(2 ** 24 + 1) }, { shape: [], data: Float32Array.of(0.01) }]],
    ]));
    await model.loadWeights(path);
    expect(model.optimizerIterations).toBe(2 ** 24 + 1);
  });

  it('saveWeights / loadWeights round-trip, and refuse other architectures', async () => {
    const a = everyLayerKind();
    a.build([null, 4]);
    const path = join(dir, 'w.weights.h5');
    await a.saveWeights(path);
    const b = everyLayerKind();
    b.build([null, 4]);
    await b.loadWeights(path);
    b.getWeights().forEach((w, i) => expect(Array.from(w.data)).toEqual(Array.from(a.getWeights()[i]!.data)));
    const narrow = new Sequential([new Dense(5, { inputShape: [4] }), new Dense(3)]);
    narrow.build([null, 4]);
    await expect(narrow.loadWeights(path)).rejects.toMatchObject({ code: 'ERR_FERRO_VALUE' });
    await expect(a.saveWeights(join(dir, 'w.h5'))).rejects.toMatchObject({ code: 'ERR_FERRO_VALUE' });
  });

  it('a model whose first layer declares its input saves and loads before anything else builds it, as in Keras', async () => {
    const declared = (): Sequential => new Sequential([new Dense(3, { inputDim: 2, activation: 'relu' }), new Dense(2)]);
    const x = new Tensor([[0.5, -1], [2, 0.25]]);
    const saved = declared();
    await saved.save(join(dir, 'declared.keras'));
    expect(saved.built).toBe(true);
    const loaded = await loadModel(join(dir, 'declared.keras'));
    expect((await loaded.predict(x)).toArray()).toEqual((await saved.predict(x)).toArray());
    const weighed = declared();
    await weighed.saveWeights(join(dir, 'declared.weights.h5'));
    const into = declared();
    await into.loadWeights(join(dir, 'declared.weights.h5'));
    into.getWeights().forEach((w, i) => expect(w.toArray()).toEqual(weighed.getWeights()[i]!.toArray()));
    // A bad path is refused before anything is built.
    const fresh = declared();
    await expect(fresh.save(join(dir, 'declared.txt'))).rejects.toMatchObject({ code: 'ERR_FERRO_VALUE' });
    expect(fresh.built).toBe(false);
  });

  it('loading lists each group once: the names it reads grow linearly with the layers', async () => {
    // Each variable's lookup listed the `layers` group from the file's root,
    // n² names for n layers: 1,000 Dense layers took 3 s for loadWeights and
    // 6 s for loadModel. Counted, not timed: h5wasm's Group.keys() is patched
    // in the module instance src/saving/h5.ts imports.
    const { default: h5 } = await import('h5wasm');
    const keys = h5.Group.prototype.keys;
    let names = 0;
    h5.Group.prototype.keys = function (this: InstanceType<typeof h5.Group>): string[] {
      const got = keys.call(this);
      names += got.length;
      return got;
    };
    const read = async (n: number): Promise<number> => {
      const m = new Sequential([new Dense(2, { inputDim: 2 }), ...Array.from({ length: n - 1 }, () => new Dense(2))]);
      m.build([null, 2]);
      const path = join(dir, `deep-${n}.weights.h5`);
      await m.saveWeights(path);
      names = 0;
      await m.loadWeights(path);
      return names;
    };
    try {
      const [small, large] = [await read(100), await read(400)];
      expect(small).toBeGreaterThan(100);
      // Linear: 4 times as many; before, 15 times.
      expect(large / small).toBeLessThan(5);
    } finally {
      h5.Group.prototype.keys = keys;
    }
  });
});

/** A model shaped like Keras's fixture (names included), freshly initialised. */
function everyLayerKindLike(model: Sequential): Sequential {
  const m = new Sequential([
    new Dense(6, { activation: 'gelu', inputShape: [4], name: model.layers[0]!.name }),
    new Dropout(0.25, { name: model.layers[1]!.name }),
    new BatchNormalization({ momentum: 0.9, name: model.layers[2]!.name }),
    new Activation('silu', { name: model.layers[3]!.name }),
    new Dense(3, { activation: 'softmax', name: model.layers[4]!.name }),
  ]);
  m.build([null, 4]);
  return m;
}

describe('the JSON Keras reads', () => {
  it('writes the numbers Keras checks as floats with a point (SGD momentum 0, learning rate 1)', () => {
    const value = { a: new PyFloat(0), b: new PyFloat(1), c: new PyFloat(0.25), d: new PyFloat(1e21), e: new PyFloat(-0), f: [new PyFloat(-2)], g: new PyFloat(5e-324), n: 3 };
    const text = pythonJson(value);
    expect(text).toBe('{"a":0.0,"b":1.0,"c":0.25,"d":1e+21,"e":-0.0,"f":[-2.0],"g":5e-324,"n":3}');
    expect(Object.is(JSON.parse(text).e, -0)).toBe(true);
    // JSON would write null, which Python reads as None, not a float.
    for (const bad of [NaN, Infinity, -Infinity]) {
      expect(() => pythonJson({ bad: new PyFloat(bad) })).toThrow(expect.objectContaining({ code: 'ERR_FERRO_VALUE' }));
    }
    // Strings are left alone, whatever they hold.
    const odd = { name: '\u0000 0', other: 'x:0' };
    expect(pythonJson(odd)).toBe(JSON.stringify(odd));
  });

  it("a saved .keras holds SGD's momentum and a constant rate as floats", async () => {
    const m = new Sequential([new Dense(2, { inputShape: [3] })]);
    m.compile({ optimizer: new optimizers.SGD({ learningRate: 1 }), loss: 'mse' });
    m.build([null, 3]);
    const path = join(mkdtempSync(join(tmpdir(), 'ferro-pyfloat-')), 'm.keras');
    await m.save(path);
    const text = new TextDecoder().decode(unzipSync(readFileSync(path))['config.json']);
    expect(text).toContain('"learning_rate":1.0');
    expect(text).toContain('"momentum":0.0');
    m.dispose();
  });

  it('a saved .keras holds the rates of a schedule as floats, so Keras does not compute it in int32', async () => {
    const { CosineDecay, PiecewiseConstantDecay } = optimizers.schedules;
    const cosine = new CosineDecay({ initialLearningRate: 0, decaySteps: 10, alpha: 0, warmupTarget: 1, warmupSteps: 4 });
    const piecewise = new PiecewiseConstantDecay([2], [1, 0]);
    for (const [schedule, want] of [
      [cosine, ['"initial_learning_rate":0.0', '"alpha":0.0', '"warmup_target":1.0', '"decay_steps":10', '"warmup_steps":4']],
      [piecewise, ['"values":[1.0,0.0]', '"boundaries":[2]']],
    ] as const) {
      const m = new Sequential([new Dense(2, { inputShape: [3] })]);
      m.compile({ optimizer: new optimizers.SGD({ learningRate: schedule }), loss: 'mse' });
      m.build([null, 3]);
      const path = join(mkdtempSync(join(tmpdir(), 'ferro-pyfloat-')), 'm.keras');
      await m.save(path);
      const text = new TextDecoder().decode(unzipSync(readFileSync(path))['config.json']);
      for (const w of want) expect(text).toContain(w);
      m.dispose();
    }
  });
});

describe('bad files', () => {
  /** The fixture with config.json replaced by `edit(config)`. */
  function withConfig(edit: (config: Record<string, any>) => void): string {
    const members = unzipSync(readFileSync(fixture('keras-made.keras')));
    const config = JSON.parse(new TextDecoder().decode(members['config.json'])) as Record<string, any>;
    edit(config);
    members['config.json'] = strToU8(JSON.stringify(config));
    const path = join(dir, `edited-${Math.random().toString(36).slice(2)}.keras`);
    writeFileSync(path, zipSync(members));
    return path;
  }

  it("metric objects Keras writes load under their names; others are refused with what ferro-nn takes", async () => {
    const metric = (className: string, name: string, extra = {}) => ({ module: 'keras.metrics', class_name: className, config: { name, dtype: 'float32', ...extra } });
    const withMetrics = (metrics: unknown[]): string =>
      withConfig((c) => {
        c.compile_config.loss = 'mean_squared_error';
        c.compile_config.metrics = metrics;
      });
    const loaded = await loadModel(withMetrics([metric('MeanSquaredError', 'mean_squared_error'), metric('RootMeanSquaredError', 'rmse'), 'mae']));
    expect(loaded.compileConfig()!.metrics).toEqual(['mean_squared_error', 'rmse', 'mae']);
    for (const [bad, said] of [
      [metric('Precision', 'precision', { thresholds: 0.7 }), 'Received: Precision named "precision"'],
      [metric('MeanSquaredError', 'my_mse'), 'Received: MeanSquaredError named "my_mse"'],
      [metric('RootMeanSquaredError', 'rmse', { dtype: 'float64' }), 'dtype="float64"'],
      [7, 'Expected a serialized Keras object for a metric'],
    ] as const) {
      await expect(loadModel(withMetrics([bad]))).rejects.toThrow(expect.objectContaining({ code: 'ERR_FERRO_VALUE', message: expect.stringContaining(said) }));
    }
  });

  const loadFile = fileURLToPath(new URL('./fixtures/load-file.mts', import.meta.url));
  /** The outcome of loading `path` in a child that is killed past 30 s or 1.5 GiB. */
  async function loadInChild(kind: 'model' | 'weights' | 'layers', path: string): Promise<{ ok?: true; code?: string; message?: string }> {
    const r = await runCapped([loadFile, kind, path], 30_000, 1536);
    expect(r.killed, `killed (peak ${r.peakMiB} MiB): ${r.stderr}`).toBeUndefined();
    return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { ok?: true; code?: string; message?: string };
  }

  it('a few KB of config claiming a huge model is refused before the model is built', { timeout: 60_000 }, async () => {
    // 30000 inputs into Dense(30000): 900240003 parameters (3.6 GB, and twice
    // that in Adam's slots), which the fixture's 26 KB of weights cannot hold.
    const huge = withConfig((c) => {
      c.config.layers[0].config.batch_shape = [null, 30000];
      c.config.layers[1].config.units = 30000;
    });
    expect(await loadInChild('model', huge)).toMatchObject({
      code: 'ERR_FERRO_VALUE',
      message: expect.stringMatching(/^Expected a model\.weights\.h5 of at least 3600960012 bytes .* Received: \d+ bytes/),
    });
  });

  it('a device or a FIFO where a file belongs is refused without reading it', { timeout: 120_000 }, async () => {
    const at = mkdtempSync(join(dir, 'special-'));
    const links: ['model' | 'weights' | 'layers', string][] = [
      ['model', join(at, 'zero.keras')],
      ['weights', join(at, 'zero.weights.h5')],
    ];
    for (const [, path] of links) symlinkSync('/dev/zero', path);
    const tfjs = join(at, 'tfjs');
    cpSync(new URL('./fixtures/tfjs', import.meta.url), tfjs, { recursive: true });
    rmSync(join(tfjs, 'model.json'));
    symlinkSync('/dev/zero', join(tfjs, 'model.json'));
    links.push(['layers', join(tfjs, 'model.json')]);
    for (const [kind, path] of links) {
      expect(await loadInChild(kind, path), path).toMatchObject({
        code: 'ERR_FERRO_IO',
        message: `Expected a regular file at ${path}. Received: a character device`,
      });
    }
    // No writer ever opens it: reading it would wait for ever.
    const fifo = join(at, 'fifo.keras');
    execFileSync('mkfifo', [fifo]);
    expect(await loadInChild('model', fifo)).toMatchObject({ code: 'ERR_FERRO_IO', message: `Expected a regular file at ${fifo}. Received: a FIFO` });
  });

  it('HDF5 links out of the file, and chunks larger than their dataset, are refused before anything is read', { timeout: 180_000 }, async () => {
    const hostile = fileURLToPath(new URL('./fixtures/h5-hostile.mts', import.meta.url));
    const at = mkdtempSync(join(dir, 'h5-'));
    const write = async (...args: string[]) => expect((await runCapped([hostile, ...args], 60_000, 3072)).status).toBe(0);
    // The vars of a model saved elsewhere on the host, and a FIFO (opening it would block inside wasm).
    const elsewhere = join(at, 'elsewhere.weights.h5');
    const model = new Sequential([new Dense(2, { inputShape: [3] })]);
    model.build([null, 3]);
    await model.saveWeights(elsewhere);
    const fifo = join(at, 'fifo.h5');
    execFileSync('mkfifo', [fifo]);
    for (const target of [elsewhere, fifo]) {
      const path = join(at, `external-${target === fifo ? 'fifo' : 'file'}.weights.h5`);
      await write('external', path, target);
      expect(await loadInChild('weights', path)).toMatchObject({
        code: 'ERR_FERRO_VALUE',
        message: `Expected groups and datasets stored in ${path}. Received: an external link /layers/dense/vars -> ${target}:/vars`,
      });
    }
    // External raw data (test/fixtures/keras/h5_external_raw.py): HDF5 only
    // sees an in-memory file system, so the host file is never read.
    writeFileSync('/tmp/ferro-nn-external-raw.bin', new Float32Array(6).fill(7));
    const external = fixture('external-raw.weights.h5');
    expect(await loadInChild('weights', external)).toMatchObject({ code: 'ERR_FERRO_IO', message: expect.stringContaining(external) });
    const soft = join(at, 'soft.weights.h5');
    await write('soft', soft);
    expect(await loadInChild('weights', soft)).toMatchObject({ code: 'ERR_FERRO_VALUE', message: expect.stringContaining('a soft link /layers/dense/vars -> /elsewhere') });
    const chunks = join(at, 'chunks.weights.h5');
    await write('chunks', chunks);
    expect(await loadInChild('weights', chunks)).toMatchObject({
      code: 'ERR_FERRO_VALUE',
      message: `Expected chunks no larger than the dataset [3, 2]. Received: chunks [8192, 8192] in ${chunks}: /layers/dense/vars/0`,
    });
  });

  it('JSON nested deeper than 64 levels is refused with a coded error, wherever it is', async () => {
    const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
    const members = unzipSync(readFileSync(fixture('keras-made.keras')));
    const text = new TextDecoder().decode(members['config.json']);
    for (const [key, n] of [['"noise_shape": null', 10_000], ['"metrics": ["accuracy"]', 70], ['"noise_shape": null', 50]] as const) {
      expect(text).toContain(key);
      members['config.json'] = strToU8(text.replace(key, `${key.split(':')[0]}: ${deep(n)}`));
      const path = join(dir, `deep-${n}.keras`);
      writeFileSync(path, zipSync(members));
      // 50 levels pass the parser's bound and reach the config reader, which refuses the value itself.
      await expect(loadModel(path)).rejects.toMatchObject({
        code: 'ERR_FERRO_VALUE',
        message: n > 64 ? `Expected ${path}: config.json nested at most 64 levels deep. Received: more than 64 levels` : expect.stringContaining('noise_shape'),
      });
    }
  });

  it('loadWeights changes nothing when any part of the file is refused', async () => {
    const { writeH5 } = await import('../src/saving/h5.js');
    const model = new Sequential([new Dense(2, { inputShape: [3] })]);
    model.compile({ optimizer: 'adam', loss: 'mse' });
    model.build([null, 3]);
    const before = model.getWeights().map((t) => Array.from(t.data));
    const state = model.optimizerState();
    const f = (v: number, ...shape: number[]) => ({ shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(v) });
    // Valid new weights (9s), with an optimizer state that is refused.
    for (const [iteration, rate, refused] of [[1.5, 0.001, 'iteration count'], [2, Number.NaN, 'learning rate'], [2, -1, 'learning rate']] as const) {
      const path = join(dir, `refused-${iteration}-${rate}.weights.h5`);
      writeFileSync(path, await writeH5([
        ['', 'seq', []],
        ['layers/dense', 'dense', [f(9, 3, 2), f(9, 2)]],
        ['optimizer', 'adam', [{ shape: [], data: Float32Array.of(iteration) }, { shape: [], data: Float32Array.of(rate) }, f(1, 3, 2), f(1, 3, 2), f(1, 2), f(1, 2)]],
      ]));
      await expect(model.loadWeights(path)).rejects.toMatchObject({ code: 'ERR_FERRO_VALUE', message: expect.stringContaining(refused) });
      expect(model.getWeights().map((t) => Array.from(t.data))).toEqual(before);
      expect(model.optimizerState()).toEqual(state);
      expect(model.learningRate).toBeCloseTo(0.001, 7);
    }
  });

  it('refuse what ferro-nn does not support, naming the class or option', async () => {
    const conv = withConfig((c) => (c.config.layers[1].class_name = 'Conv2D'));
    await expect(loadModel(conv)).rejects.toMatchObject({ code: 'ERR_FERRO_VALUE', message: expect.stringContaining('Conv2D') });
    const noise = withConfig((c) => (c.config.layers[2].config.noise_shape = [null, 1]));
    await expect(loadModel(noise)).rejects.toMatchObject({ code: 'ERR_FERRO_VALUE', message: expect.stringContaining('noise_shape') });
    const functional = withConfig((c) => (c.class_name = 'Functional'));
    await expect(loadModel(functional)).rejects.toMatchObject({ code: 'ERR_FERRO_VALUE' });
    const code = withConfig((c) => (c.config.layers[4].config.activation = { class_name: 'Lambda', config: { function: 'os.system' } }));
    await expect(loadModel(code)).rejects.toMatchObject({ code: 'ERR_FERRO_VALUE' });
  });

  it("keys Keras defaults may be missing: initializers, trainable, a loss's reduction, axis and delta", async () => {
    const path = withConfig((c) => {
      for (const l of c.config.layers) {
        delete l.config.trainable;
        delete l.config.kernel_initializer;
        delete l.config.bias_initializer;
      }
      c.compile_config.loss = { module: 'keras.losses', class_name: 'CategoricalCrossentropy', config: { name: 'categorical_crossentropy', from_logits: false } };
    });
    const model = await loadModel(path);
    const dense = model.layers.filter((l): l is Dense => l instanceof Dense);
    expect(dense.map((d) => [d.kernelInitializer, d.biasInitializer])).toEqual([
      ['glorot_uniform', 'zeros'],
      ['glorot_uniform', 'zeros'],
    ]);
    expect(maxAbsDiff((await model.predict(new Tensor(golden.x))).data, flat(golden.predict))).toBeLessThan(1e-6);
    expect(model.compileConfig()?.loss).toMatchObject({ name: 'categorical_crossentropy' });
    model.dispose();
    // Present, they are still checked: Keras reads trainable: null as false.
    for (const trainable of [false, null, 'true']) {
      const odd = withConfig((c) => (c.config.layers[1].config.trainable = trainable));
      await expect(loadModel(odd)).rejects.toMatchObject({ code: 'ERR_FERRO_VALUE', message: expect.stringContaining(`trainable=${JSON.stringify(trainable)}`) });
    }
  });

  it("an optimizer class_name naming an Object.prototype member is refused as unsupported", async () => {
    for (const name of ['constructor', 'toString', 'hasOwnProperty', '__proto__', 'valueOf']) {
      const path = withConfig((c) => (c.compile_config.optimizer.class_name = name));
      await expect(loadModel(path), name).rejects.toMatchObject({ code: 'ERR_FERRO_VALUE', message: `ferro-nn does not support the optimizer ${name}.` });
      // With only the options every optimizer shares, nothing inherited is called either.
      const shared = withConfig((c) => {
        c.compile_config.optimizer.class_name = name;
        c.compile_config.optimizer.config = { learning_rate: 0.01 };
      });
      await expect(loadModel(shared), name).rejects.toMatchObject({ code: 'ERR_FERRO_VALUE', message: `ferro-nn does not support the optimizer ${name}.` });
    }
  });

  it('a config naming two layers the same is refused, as Keras refuses such a model', async () => {
    // Keras finds weights by layer name; the fixture's layers are dense, dropout, …, dense_1.
    const twice = withConfig((c) => (c.config.layers[5].config.name = 'dense'));
    await expect(loadModel(twice)).rejects.toMatchObject({ code: 'ERR_FERRO_VALUE', message: expect.stringContaining("named 'dense'") });
  });

  it("names Keras 3 refuses: '/' in a layer's or model's name when created or loaded", async () => {
    const message = `Expected a layer name without '/', as Keras 3 refuses it in names. Received: name="block/dense"`;
    expect(() => new Dense(2, { name: 'block/dense' })).toThrow(expect.objectContaining({ code: 'ERR_FERRO_VALUE', message }));
    expect(() => new Dropout(0.5, { name: 'block/dense' })).toThrow(expect.objectContaining({ code: 'ERR_FERRO_VALUE', message }));
    const slashed = withConfig((c) => (c.config.layers[1].config.name = 'block/dense'));
    await expect(loadModel(slashed)).rejects.toMatchObject({ code: 'ERR_FERRO_VALUE', message });
    expect(() => new Sequential([], { name: 'block/model' })).toThrow(
      expect.objectContaining({
        code: 'ERR_FERRO_VALUE',
        message: `Expected a model name without '/', as Keras 3 refuses it in names. Received: name="block/model"`,
      }),
    );
    const path = join(dir, 'slashed.keras');
    // Names Keras takes, however unusual, still save and load.
    for (const name of ['my dense', 'dénse', 'a.b-c']) {
      const ok = new Sequential([new Dense(2, { inputShape: [3], name })], { name });
      ok.build([null, 3]);
      await ok.save(path);
      expect((await loadModel(path)).layers.map((l) => l.name)).toEqual([name]);
    }
  });

  it("a layer named as Keras names the InputLayer: the saved InputLayer takes a name no layer has", async () => {
    const model = new Sequential([
      new Dense(2, { inputShape: [3], name: 'input_layer' }),
      new Dense(2, { name: 'input_layer_1' }),
      new Dense(2, { name: 'input_layer_3' }),
    ]);
    model.build([null, 3]);
    const path = join(dir, 'input-layer.keras');
    await model.save(path);
    const config = JSON.parse(new TextDecoder().decode(unzipSync(readFileSync(path))['config.json'])) as { config: { layers: { config: { name: string } }[] } };
    // Keras refuses two operations of one name (checked with Keras 3.15: "The name "input_layer" is used 2 times in the model").
    expect(config.config.layers.map((l) => l.config.name)).toEqual(['input_layer_2', 'input_layer', 'input_layer_1', 'input_layer_3']);
    expect((await loadModel(path)).layers.map((l) => l.name)).toEqual(['input_layer', 'input_layer_1', 'input_layer_3']);
  });

  it('a weight of 2 GiB or more, which h5wasm cannot hold, is refused by name on save and load, not called damaged', async () => {
    // Crafted so that nothing near 2 GiB is allocated: the shapes claim the
    // size (65536 × 8192 float32 = 2^31 bytes), the data is a stand-in.
    const { saveKeras, saveWeightsH5 } = await import('../src/saving/keras.js');
    const { readH5 } = await import('../src/saving/h5.js');
    const limit = "under 2 GiB (2147483648 bytes), with HDF5's own buffers. Received: 2147483648 bytes in";
    const dense = new Dense(8192, { useBias: false, name: 'wide' });
    dense.builtInputDim = 65536;
    const big = {
      name: 'big',
      built: true,
      layers: [dense],
      dtypePolicy: 'float32',
      getWeights: () => [{ shape: [65536, 8192], data: new Float32Array(1) }],
      compileConfig: () => undefined,
    } as unknown as Parameters<typeof saveKeras>[0];
    const where = "'wide' (layers/dense/vars/0, shape [65536, 8192])";
    for (const [save, path] of [[saveKeras, join(dir, 'big.keras')], [saveWeightsH5, join(dir, 'big.weights.h5')]] as const) {
      await expect(save(big, path)).rejects.toMatchObject({ code: 'ERR_FERRO_VALUE', message: expect.stringContaining(`${limit} ${where}`) });
      expect(existsSync(path)).toBe(false);
    }
    // A file declaring such a weight (chunked and never written, so it stays small):
    // refused when its shapes are checked, before a model is built for it.
    const h5wasm = (await import('h5wasm/node')).default;
    await h5wasm.ready;
    const path = join(dir, 'declared.weights.h5');
    const file = new h5wasm.File(path, 'w');
    const vars = file.create_group('layers').create_group('dense').create_group('vars');
    vars.create_attribute('name', 'wide');
    vars.create_dataset({ name: '0', data: new Float32Array(8192), shape: [1, 8192], maxshape: [null, 8192], chunks: [1, 8192], dtype: '<f' });
    (vars.get('0') as InstanceType<typeof h5wasm.Dataset>).resize([65536, 8192]);
    file.close();
    const bytes = readFileSync(path);
    expect(bytes.length).toBeLessThan(2 ** 20);
    for (const read of ['check', 'vars'] as const) {
      await expect(readH5(bytes, path, (r) => r[read]('layers/dense', [[65536, 8192]], "layer 'wide'"))).rejects.toMatchObject({
        code: 'ERR_FERRO_VALUE',
        message: expect.stringContaining(`${limit} ${path}: layer 'wide' variable 0`),
      });
    }
  });

  it('weights of the wrong dtype are refused', async () => {
    const { writeH5 } = await import('../src/saving/h5.js');
    const members = unzipSync(readFileSync(fixture('keras-made.keras')));
    // The fixture's layers, with the first Dense kernel [4, 6] stored as int32.
    const f = (...shape: number[]) => ({ shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) });
    members['model.weights.h5'] = new Uint8Array(await writeH5([
      ['layers/dense', 'dense', [{ shape: [4, 6], data: new Int32Array(24) }, f(6)]],
      ['layers/dropout', 'dropout', []],
      ['layers/batch_normalization', 'batch_normalization', [f(6), f(6), f(6), f(6)]],
      ['layers/activation', 'activation', []],
      ['layers/dense_1', 'dense_1', [f(6, 3), f(3)]],
    ]));
    const path = join(dir, 'ints.keras');
    writeFileSync(path, zipSync(members));
    await expect(loadModel(path)).rejects.toMatchObject({ code: 'ERR_FERRO_VALUE', message: expect.stringContaining('dtype') });
  });

  it("a Keras npz archive whose pickle names another class is refused by name, never run", async () => {
    const members = unzipSync(readFileSync(fixture('keras-npz.keras')));
    const npz = unzipSync(members['model.weights.npz']!);
    const dense = npz['layers/dense.npy']!;
    const at = Buffer.from(dense).indexOf('keras.src.backend');
    // Same length, so the pickle stays well-formed: only the class differs.
    npz['layers/dense.npy'] = Uint8Array.from([...dense.subarray(0, at), ...strToU8('subprocess.Popen.'), ...dense.subarray(at + 17)]);
    members['model.weights.npz'] = zipSync(npz);
    const path = join(dir, 'evil-npz.keras');
    writeFileSync(path, zipSync(members));
    await expect(loadModel(path)).rejects.toMatchObject({ code: 'ERR_FERRO_VALUE', message: expect.stringContaining('refused global subprocess.Popen.') });
  });

  it('a damaged HDF5 file gets ERR_FERRO_IO with HDF5\'s reason, and nothing on stderr', async () => {
    const model = new Sequential([new Dense(2, { inputShape: [3] })]);
    model.build([null, 3]);
    const path = join(dir, 'garbage.weights.h5');
    writeFileSync(path, Uint8Array.from({ length: 4096 }, (_, i) => (i * 131 + 7) % 251));
    const writes = vi.spyOn(process.stderr, 'write');
    const warns = vi.spyOn(console, 'warn');
    try {
      await expect(model.loadWeights(path)).rejects.toMatchObject({
        code: 'ERR_FERRO_IO',
        message: expect.stringMatching(/is not a readable HDF5 file: (?!.*HDF5-DIAG).+/),
      });
      expect(writes).not.toHaveBeenCalled();
      expect(warns).not.toHaveBeenCalled();
    } finally {
      writes.mockRestore();
      warns.mockRestore();
    }
  });

  it('shapes that disagree with the config, truncated and missing files get coded errors', async () => {
    const wider = withConfig((c) => (c.config.layers[1].config.units = 7));
    await expect(loadModel(wider)).rejects.toMatchObject({ code: 'ERR_FERRO_VALUE', message: expect.stringContaining('shape') });
    const bytes = readFileSync(fixture('keras-made.keras'));
    const truncated = join(dir, 'truncated.keras');
    writeFileSync(truncated, bytes.subarray(0, bytes.length >> 1));
    await expect(loadModel(truncated)).rejects.toMatchObject({ code: 'ERR_FERRO_IO' });
    await expect(loadModel(join(dir, 'absent.keras'))).rejects.toMatchObject({ code: 'ERR_FERRO_IO' });
    const members = unzipSync(bytes);
    members['model.weights.h5'] = members['model.weights.h5']!.subarray(0, 600);
    const badH5 = join(dir, 'bad-h5.keras');
    writeFileSync(badH5, zipSync(members));
    await expect(loadModel(badH5)).rejects.toMatchObject({ code: expect.stringMatching(/ERR_FERRO_(IO|VALUE)/) });
  });

  it('an optimizer iteration count that is negative, fractional or beyond 2^53 is refused', () => {
    const slots = (count: number): Float32Array[] => [Float32Array.of(count), Float32Array.of(0.001), new Float32Array(4), new Float32Array(2)];
    for (const count of [-1, 1.5, 2 ** 53 * 4, 1e30, Number.NaN]) {
      expect(() => stateFromVars('RMSprop', ['velocity'], 2, slots(count), true)).toThrow(
        expect.objectContaining({ code: 'ERR_FERRO_VALUE', message: expect.stringContaining(String(Math.fround(count))) }),
      );
    }
    expect(stateFromVars('RMSprop', ['velocity'], 2, slots(2 ** 24), true).state.iterations).toBe(2 ** 24);
  });

  it('zip bombs are refused, or inflated no further than declared', async () => {
    const members = unzipSync(readFileSync(fixture('keras-made.keras')));
    // 64 MiB of zeros (64 KiB compressed) declared as such: refused before inflating.
    const bytes = zipSync({ ...members, 'config.json': new Uint8Array(64 * 2 ** 20) }, { level: 9 });
    const bomb = join(dir, 'bomb.keras');
    writeFileSync(bomb, bytes);
    // The same, declaring 100 bytes: only 100 are inflated, and they are not a config.
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i + 28 < bytes.length; i++) {
      const sig = view.getUint32(i, true);
      if (sig === 0x04034b50 && view.getUint32(i + 22, true) === 64 * 2 ** 20) view.setUint32(i + 22, 100, true);
      if (sig === 0x02014b50 && view.getUint32(i + 24, true) === 64 * 2 ** 20) view.setUint32(i + 24, 100, true);
    }
    const liar = join(dir, 'liar.keras');
    writeFileSync(liar, bytes);
    const rss = process.memoryUsage().rss;
    await expect(loadModel(bomb)).rejects.toMatchObject({ code: 'ERR_FERRO_IO', message: expect.stringContaining('declares') });
    await expect(loadModel(liar)).rejects.toMatchObject({ code: expect.stringMatching(/ERR_FERRO_(IO|VALUE)/) });
    expect(process.memoryUsage().rss - rss).toBeLessThan(48 * 2 ** 20);
  });

  it('weights larger than the model in config.json could use are refused before inflating', async () => {
    const members = unzipSync(readFileSync(fixture('keras-made.keras')));
    // 96 MiB of zeros (96 KiB compressed) as the weights of a model of a few dozen parameters.
    const bomb = join(dir, 'weights-bomb.keras');
    writeFileSync(bomb, zipSync({ ...members, 'model.weights.h5': new Uint8Array(96 * 2 ** 20) }, { level: 9 }));
    const rss = process.memoryUsage().rss;
    await expect(loadModel(bomb)).rejects.toMatchObject({
      code: 'ERR_FERRO_IO',
      message: expect.stringMatching(/model\.weights\.h5 declares 100663296 bytes; at most \d+ are accepted/),
    });
    expect(process.memoryUsage().rss - rss).toBeLessThan(48 * 2 ** 20);
  });

  it('a .weights.h5 larger than the model could use is refused before it is read', async () => {
    const model = await loadModel(fixture('keras-made.keras'));
    const big = join(dir, 'big.weights.h5');
    writeFileSync(big, new Uint8Array(17 * 2 ** 20));
    await expect(model.loadWeights(big)).rejects.toMatchObject({ code: 'ERR_FERRO_IO', message: expect.stringMatching(/holds 17825792 bytes; at most \d+ are accepted/) });
    model.dispose();
  });

  it('a process killed mid-save leaves a whole file, the old one or the new one', { timeout: 60_000 }, async () => {
    // Every save goes through writeAtomically; this kills a process that
    // overwrites one file with 32 MiB at a time, where a plain write would
    // be caught half done.
    const { spawn } = await import('node:child_process');
    const path = join(dir, 'contested.bin');
    const child = fileURLToPath(new URL('./fixtures/save-loop.mts', import.meta.url));
    for (let round = 0; round < 3; round++) {
      const p = spawn(process.execPath, ['--import', 'tsx', child, path], { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((resolve) => p.stdout!.once('data', () => resolve()));
      // Kill it somewhere in its loop of saves (a 1.6 MB save takes a few ms).
      await new Promise((r) => setTimeout(r, 20 + Math.random() * 200));
      p.kill('SIGKILL');
      await new Promise((r) => p.once('exit', r));
      const bytes = readFileSync(path);
      expect(bytes.length).toBe(32 * 2 ** 20);
      expect(bytes.every((b) => b === bytes[0])).toBe(true);
    }
  });

  it('a save keeps the file\'s mode, writes through a link, takes any name the disk does, and clears strays', async () => {
    const model = everyLayerKind();
    model.build([null, 4]);
    const sub = mkdtempSync(join(dir, 'atomic-'));
    const weights = (m: { getWeights(): { data: ArrayLike<number> }[] }): number[][] => m.getWeights().map((w) => Array.from(w.data));
    const holdsTheModel = async (p: string): Promise<void> => expect(weights(await loadModel(p))).toEqual(weights(model));
    const privateFile = join(sub, 'private.keras');
    await model.save(privateFile);
    chmodSync(privateFile, 0o600);
    await model.save(privateFile);
    expect(statSync(privateFile).mode & 0o777).toBe(0o600);
    // A link is written through: it stays a link, and its target gets the save.
    const target = join(sub, 'real.keras');
    const link = join(sub, 'link.keras');
    writeFileSync(target, 'old');
    symlinkSync(target, link);
    await model.save(link);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    await holdsTheModel(target);
    // The longest name the file system takes: the temporary name stays short.
    const long = join(sub, `${'m'.repeat(249)}.keras`);
    await model.save(long);
    await holdsTheModel(long);
    // A temporary file of a process that is gone, from a minute ago, goes;
    // a fresh one, which may be a save under way, stays.
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const stray = join(sub, `.ferro-${gone.stdout}-0badf00d.tmp`);
    const fresh = join(sub, `.ferro-${gone.stdout}-f00dcafe.tmp`);
    writeFileSync(stray, 'left by a killed save');
    writeFileSync(fresh, 'being written');
    utimesSync(stray, new Date(Date.now() - 120_000), new Date(Date.now() - 120_000));
    await model.save(privateFile);
    expect(existsSync(stray)).toBe(false);
    expect(existsSync(fresh)).toBe(true);
    expect(readdirSync(sub).sort()).toEqual(['.ferro-' + gone.stdout + '-f00dcafe.tmp', 'link.keras', `${'m'.repeat(249)}.keras`, 'private.keras', 'real.keras']);
  });

  it('a path that is not a string is ERR_FERRO_TYPE, as in save(), and a Proxy is never touched', async () => {
    let trapped = false;
    const proxy = new Proxy({}, { get: () => ((trapped = true), 'x.keras'), getPrototypeOf: () => ((trapped = true), null) });
    for (const [path, received] of [[123, '123'], [Symbol('p'), 'Symbol(p)'], [undefined, 'undefined'], [proxy, 'a Proxy']] as const) {
      await expect(loadModel(path as never)).rejects.toMatchObject({ code: 'ERR_FERRO_TYPE', message: `Expected a string for path. Received: path=${received}` });
    }
    expect(trapped).toBe(false);
  });

  it('a failed save leaves the previous file intact', async () => {
    const model = everyLayerKind();
    model.build([null, 4]);
    const path = join(dir, 'kept.keras');
    copyFileSync(fixture('keras-made.keras'), path);
    await expect(model.save(join(dir, 'no-such-dir', 'x.keras'))).rejects.toMatchObject({ code: 'ERR_FERRO_IO' });
    expect(readFileSync(path).equals(readFileSync(fixture('keras-made.keras')))).toBe(true);
    expect(existsSync(join(dir, 'no-such-dir'))).toBe(false);
    await expect(model.save(join(dir, 'model.json'))).rejects.toMatchObject({ code: 'ERR_FERRO_VALUE' });
  });

  it('a save never replaces a FIFO, or a stream named through /proc: ERR_FERRO_IO, and they stay as they were', async () => {
    const model = everyLayerKind();
    model.build([null, 4]);
    const sub = mkdtempSync(join(dir, 'not-files-'));
    const fifo = join(sub, 'fifo.keras');
    execFileSync('mkfifo', [fifo]);
    const link = join(sub, 'link.weights.h5');
    symlinkSync(fifo, link);
    for (const save of [() => model.save(fifo), () => model.saveWeights(link)]) {
      await expect(save()).rejects.toMatchObject({ code: 'ERR_FERRO_IO', message: expect.stringMatching(/expected a regular file, or none yet, at .*found a FIFO$/) });
    }
    const small = new Sequential([new Dense(2)]);
    small.compile({ optimizer: 'sgd', loss: 'mse' });
    const x = new Tensor(new Float32Array(8), [4, 2]);
    await expect(small.fit(x, x, { verbose: 0, callbacks: [new CSVLogger(fifo)] })).rejects.toMatchObject({ code: 'ERR_FERRO_IO' });
    expect(lstatSync(fifo).isFIFO()).toBe(true);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    // /proc/self/fd/N names the file behind a descriptor (as /dev/stdout
    // does): a rename there would replace a redirect's file.
    const logged = join(sub, 'log.txt');
    writeFileSync(logged, 'output so far\n');
    const fd = openSync(logged, 'a');
    const stdout = join(sub, 'stdout.keras');
    symlinkSync(`/proc/self/fd/${fd}`, stdout);
    try {
      await expect(model.save(stdout)).rejects.toMatchObject({ code: 'ERR_FERRO_IO', message: expect.stringMatching(/expected a path outside \/proc/) });
    } finally {
      closeSync(fd);
    }
    expect(readFileSync(logged, 'utf8')).toBe('output so far\n');
    expect(readdirSync(sub).sort()).toEqual(['fifo.keras', 'link.weights.h5', 'log.txt', 'stdout.keras']);
  });

  it('a URL where a path belongs is refused with ERR_FERRO_VALUE: nothing fetched, no local folder made', async () => {
    const model = everyLayerKind();
    model.build([null, 4]);
    const cwd = process.cwd();
    const sub = mkdtempSync(join(dir, 'urls-'));
    process.chdir(sub);
    try {
      const url = expect.stringMatching(/^Expected a path on this machine; ferro-nn does not fetch or upload URLs \((https?|s3):\/\/\)/);
      const refused = { code: 'ERR_FERRO_VALUE', message: url };
      await expect(loadModel('http://127.0.0.1:9/m.keras')).rejects.toMatchObject(refused);
      await expect(loadLayersModel('https://example.com/model.json')).rejects.toMatchObject(refused);
      await expect(model.loadWeights('HTTPS://example.com/m.weights.h5')).rejects.toMatchObject({ code: 'ERR_FERRO_VALUE' });
      await expect(model.save('http://example.com/m.keras')).rejects.toMatchObject(refused);
      await expect(model.save('file://https://example.com/dir')).rejects.toMatchObject(refused);
      await expect(model.saveWeights('s3://bucket/m.weights.h5')).rejects.toMatchObject(refused);
      await expect(model.exportOnnx('https://example.com/m.onnx')).rejects.toMatchObject(refused);
      // Callbacks that write refuse when made, not after an epoch of training.
      expect(() => new CSVLogger('http://example.com/log.csv')).toThrow(expect.objectContaining(refused));
      expect(() => new ModelCheckpoint({ filepath: 'https://example.com/m-{epoch}.keras' })).toThrow(expect.objectContaining(refused));
      expect(() => new BackupAndRestore({ backupDir: 's3://bucket/backup' })).toThrow(expect.objectContaining(refused));
      await expect(mnist.loadData({ path: 'https://example.com/mnist' })).rejects.toMatchObject(refused);
      // A Windows drive ('C://…') is a path, not a URL: read as one (and missing here).
      await expect(loadModel('C://models/m.keras')).rejects.toMatchObject({ code: 'ERR_FERRO_IO' });
      // 'file://' is TensorFlow.js's folder prefix, not a path for the other formats.
      const file = { code: 'ERR_FERRO_VALUE', message: expect.stringMatching(/^Expected a plain path: 'file:\/\/' names a TensorFlow\.js model/) };
      await expect(loadModel(`file://${join(sub, 'm.keras')}`)).rejects.toMatchObject(file);
      await expect(model.saveWeights(`file://${join(sub, 'm.weights.h5')}`)).rejects.toMatchObject(file);
      expect(readdirSync(sub)).toEqual([]);
    } finally {
      process.chdir(cwd);
    }
  });
});
